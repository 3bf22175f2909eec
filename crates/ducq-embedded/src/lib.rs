//! ducq's device library, `libducq_embedded.a`: the client half of ducq's
//! C API for a small device (ESP32-C3/C6 and the like). The API is the
//! portable core's own (`ducq::ffi` built without `std`: the same code
//! `libducq.a` runs, in the original C API's forms); this crate links it
//! into a static library and adds what only a device needs. The platform
//! supplies the network as a socket layer (`ducq_socket_vtbl`); the
//! ESP-IDF component in `ports/esp-idf` has one over lwIP's sockets, with
//! `ducq_new_tcp` and `ducq_new_ws_client` on top of it.
//!
//! # Layout
//! - `sys`: memory through the C library's `malloc`/`free`/`realloc`, and
//!   panics ending in `abort()` (the library is built with `panic = abort`).
//! - `device`: the device's own export (`ducq_seed_entropy`) and the
//!   declarations of the port's constructors.
//!
//! It must not hold protocol or C API logic (that is the core's) nor reach
//! for an operating system: everything outside the CPU comes through the
//! socket layer.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// The C API lives in the core: linking it in is what exports it.
extern crate ducq;

pub mod device;
mod sys;
