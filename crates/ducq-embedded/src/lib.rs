//! ducq's device library, `libducq_embedded.a`: the client half of ducq's
//! C API for a small device (ESP32-C3/C6 and the like), built `no_std` from
//! ducq's portable core (protocol, codecs, blocking client). The platform
//! supplies the network as a socket layer, a table of C functions (see
//! `layer`); the ESP-IDF component in `ports/esp-idf` has one over lwIP's
//! sockets, with `ducq_new_tcp` on top of it.
//!
//! # Layout
//! - `sys`: memory through the C library's `malloc`/`free`/`realloc`, and
//!   panics ending in `abort()` (the library is built with `panic = abort`).
//! - `types`: the C declarations the header shares with `ducq.h`.
//! - `layer`: the socket-layer table and the byte stream over it.
//! - `handle`: a client handle: where it connects, its limits, its client.
//! - `exports`: every exported function (the device's C API), and nothing
//!   else: each converts and checks, then calls `handle` or the core.
//!
//! It must not hold protocol logic (that is the core's) nor reach for an
//! operating system: everything outside the CPU comes through the layer.
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

extern crate alloc;

pub mod exports;
pub mod handle;
pub mod layer;
mod sys;
pub mod types;
