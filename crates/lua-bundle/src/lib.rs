//! Carries the vendored Lua 5.4 into ducq's static library (see build.rs).
//! No code: depending on this crate is what matters.
#![no_std]
