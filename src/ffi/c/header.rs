//! What the two build scripts that write C headers share: `build.rs`
//! (include/ducq.h, the whole C API) and crates/ducq-embedded/build.rs
//! (include/ducq_client.h, the device library's view of it). Both include
//! this file with `#[path]`, next to `src/proto/state.rs` as their `state`
//! module, so the version macros, the state enum and the way a committed
//! header is updated are written once. It is not a module of the library
//! and must not grow into one: build-time text only.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::state;

/// The version macros, from the building crate's version, each on its own
/// line after a blank one.
pub fn version_macros() -> String {
    let version = |part: &str| env::var(format!("CARGO_PKG_VERSION_{part}")).expect("version");
    format!(
        "\n/** Version of the ducq library these declarations belong to. */\n\
         #define DUCQ_VERSION_MAJOR {}\n\
         #define DUCQ_VERSION_MINOR {}\n\
         #define DUCQ_VERSION_PATCH {}\n\
         #define DUCQ_VERSION \"{}\"\n",
        version("MAJOR"),
        version("MINOR"),
        version("PATCH"),
        env::var("CARGO_PKG_VERSION").expect("version"),
    )
}

/// `typedef enum ducq_state { ... } ducq_state;` from the state table.
pub fn state_enum() -> String {
    let mut s = String::from(
        "/**\n * A ducq state code: `DUCQ_OK` (0) is success, `DUCQ_PROTOCOL` (1) and\n \
         * `DUCQ_NACK` (2) describe a received message, and every code from\n \
         * `DUCQ_ERROR` (3) up is an error. The names, numbers and texts of 0 to\n \
         * 23 are the original's and never change; codes after 23 are ducq's\n \
         * (24 `DUCQ_EACCESS`), and `ducq_state_tostr` folds only numbers no\n \
         * code holds to `DUCQ_UNKNOWN`.\n */\ntypedef enum ducq_state {\n",
    );
    for st in state::ALL {
        let _ = write!(
            s,
            "    /** {} */\n    {} = {},\n",
            st.text(),
            st.name(),
            st.code()
        );
    }
    s.push_str("} ducq_state;\n");
    s
}

/// Writes a generated header into the source tree when it changed,
/// atomically, so two builds running at once never leave a half-written
/// file. A read-only source tree (a packaged crate) only gets a warning.
pub fn update_committed(path: &Path, text: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == text) {
        return;
    }
    let dir = path.parent().expect("include dir");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a header name");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = fs::create_dir_all(dir)
        .and_then(|()| fs::write(&tmp, text))
        .and_then(|()| fs::rename(&tmp, path));
    match result {
        Ok(()) => println!("cargo:warning=include/{name} was regenerated: commit the change"),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            println!("cargo:warning=could not update include/{name}: {e}");
        }
    }
}
