//! Builds the vendored Lua 5.4 and links it *bundled*: rustc then copies its
//! objects into every static library that depends on this crate, with an
//! index rustc writes itself. mlua links the same Lua "not bundled", which
//! is fine for Rust binaries but leaves `libducq.a` without the lua_*
//! symbols a C program needs. It also tells ducq's build script where the
//! matching Lua headers are (`DEP_DUCQ_LUA_INCLUDE`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let artifacts = lua_src::Build::new().build(lua_src::Lua54);
    println!(
        "cargo:rustc-link-search=native={}",
        artifacts.lib_dir().display()
    );
    for lib in artifacts.libs() {
        println!("cargo:rustc-link-lib=static={lib}");
    }
    println!("cargo:include={}", artifacts.include_dir().display());
}
