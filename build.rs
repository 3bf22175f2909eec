//! Build script: generates include/ducq.h (C ABI issue).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
