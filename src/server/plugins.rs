//! Command plugins: shared objects that each export `struct ducq_cmd_t
//! command` (`{ const char *name; const char *doc; exec }`), the original
//! library's way to add commands (`ducq-server --commands DIR`,
//! `ducq_dispatcher_load_commands_path`). This module finds and opens them
//! and checks what they export before anything reads it: a file that is not
//! a shared object, has no `command`, exports something else under that name
//! (a function, a smaller object) or whose strings do not point into loaded
//! memory is refused with a reason, never read blindly. Running `exec` is
//! the C command set's business (`ffi::command`).
//!
//! Loading runs the object's initialisers: only load folders you trust.

use std::ffi::{c_char, c_void, CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::log::Level;
use super::rules;

/// The layout of `struct ducq_cmd_t` as a plugin exports it.
#[repr(C)]
struct RawCommand {
    name: *const c_char,
    doc: *const c_char,
    exec: *const c_void,
}

/// Longest name or doc read from a plugin; a longer string is refused.
const MAX_TEXT: usize = 4096;

/// An open shared object, closed when the last command from it is dropped.
pub struct Library {
    handle: *mut c_void,
    path: PathBuf,
}

impl Library {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: a handle from dlopen, closed once, after every command
        // taken from it (they hold this library) is gone.
        unsafe { libc::dlclose(self.handle) };
    }
}

/// One command a plugin exports, checked and copied.
pub struct Plugin {
    /// The command word.
    pub name: String,
    /// Its `lscmd` line.
    pub doc: String,
    /// The address of its `exec` function (non-null, inside a loaded
    /// object); the caller gives it its C type.
    pub exec: *const c_void,
    /// The object it lives in: keep it as long as `exec` may be called.
    pub library: Rc<Library>,
}

/// The latest `dlerror` text.
fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated thread-local string
    // valid until the next dl call on this thread; it is copied at once.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        return "unknown dlopen error".into();
    }
    // SAFETY: as above.
    unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
}

/// The loaded segment (of any object in the process) holding `addr`: its
/// `PF_*` flags and its end address.
fn segment(addr: usize) -> Option<(u32, usize)> {
    struct Search {
        addr: usize,
        found: Option<(u32, usize)>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: usize,
        data: *mut c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info for the call and our
        // own `Search` as data.
        let (info, search) = unsafe { (&*info, &mut *data.cast::<Search>()) };
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: `dlpi_phdr` holds `dlpi_phnum` program headers.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type != libc::PT_LOAD {
                continue;
            }
            let start = (info.dlpi_addr as usize).wrapping_add(ph.p_vaddr as usize);
            let end = start.wrapping_add(ph.p_memsz as usize);
            if start <= search.addr && search.addr < end {
                search.found = Some((ph.p_flags, end));
                return 1;
            }
        }
        0
    }
    let mut search = Search { addr, found: None };
    // SAFETY: `visit` matches the callback type and only reads the headers
    // it is given; `search` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.found
}

/// Whether `p` points into executable code of a loaded object.
fn is_code(p: *const c_void) -> bool {
    segment(p as usize).is_some_and(|(flags, _)| flags & libc::PF_X != 0)
}

/// Checks that `command` is a data object at least as large as a
/// `struct ducq_cmd_t` (the usual mistake is a function named `command`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn check_symbol(sym: *const c_void) -> Result<(), String> {
    const RTLD_DL_SYMENT: libc::c_int = 1;
    const STT_OBJECT: u8 = 1;
    // SAFETY: an all-zero Dl_info is valid; dladdr1 only writes to it.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let mut entry: *mut c_void = std::ptr::null_mut();
    // SAFETY: `sym` came from dlsym; dladdr1 writes a pointer to the
    // symbol's ELF entry (in the object's loaded symbol table) to `entry`.
    let found = unsafe { libc::dladdr1(sym, &mut info, &mut entry, RTLD_DL_SYMENT) };
    if found == 0 || entry.is_null() {
        return Err("'command' is not inside the object".into());
    }
    // SAFETY: a non-null entry points to the Elf64_Sym of the symbol.
    let sym = unsafe { &*entry.cast::<libc::Elf64_Sym>() };
    let kind = sym.st_info & 0xf;
    let size = std::mem::size_of::<RawCommand>() as u64;
    if kind != STT_OBJECT || sym.st_size < size {
        let what = if kind == 2 {
            "a function"
        } else {
            "not a struct"
        };
        return Err(format!(
            "'command' is {what} ({} bytes), not a struct ducq_cmd_t",
            sym.st_size
        ));
    }
    Ok(())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn check_symbol(sym: *const c_void) -> Result<(), String> {
    if segment(sym as usize).is_some() {
        Ok(())
    } else {
        Err("'command' is not inside the object".into())
    }
}

/// Reads a NUL-terminated string a plugin points to, only within readable
/// loaded segments.
fn read_text(p: *const c_char, what: &str) -> Result<String, String> {
    read_text_within(p, what, segment)
}

/// `read_text` with the lookup of the memory that may be read: `within(a)`
/// gives the flags and the end of the readable range holding address `a`,
/// and must only name memory that can be read (the loaded segments; a
/// test's own buffer).
fn read_text_within(
    p: *const c_char,
    what: &str,
    within: impl Fn(usize) -> Option<(u32, usize)>,
) -> Result<String, String> {
    let outside = || format!("its {what} points outside loaded memory");
    let mut bytes = Vec::new();
    let mut at = p as usize;
    while bytes.len() <= MAX_TEXT {
        let (flags, end) = within(at).ok_or_else(outside)?;
        if flags & libc::PF_R == 0 {
            return Err(outside());
        }
        while at < end && bytes.len() <= MAX_TEXT {
            // SAFETY: `at` lies in readable memory (`within` said so up to
            // `end`), so reading one byte there cannot fault.
            let b = unsafe { (at as *const u8).read() };
            if b == 0 {
                return String::from_utf8(bytes).map_err(|_| format!("its {what} is not UTF-8"));
            }
            bytes.push(b);
            at += 1;
        }
    }
    Err(format!("its {what} is longer than {MAX_TEXT} bytes"))
}

/// Opens one plugin and checks its `command`.
pub fn load_file(path: &Path) -> Result<Plugin, String> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated path; loading runs the object's initialisers,
    // which is what loading a plugin folder asks for.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(dl_error());
    }
    let library = Rc::new(Library {
        handle,
        path: path.to_path_buf(),
    });
    // SAFETY: a live handle and a NUL-terminated symbol name.
    let sym = unsafe { libc::dlsym(handle, c"command".as_ptr()) };
    if sym.is_null() {
        return Err("no symbol 'command'".into());
    }
    check_symbol(sym)?;
    // SAFETY: `sym` is a data object of at least `RawCommand`'s size inside
    // the loaded object (checked above); its fields are plain pointers, read
    // by value and checked before use.
    let raw = unsafe { sym.cast::<RawCommand>().read_unaligned() };
    if raw.name.is_null() {
        return Err("its name is NULL".into());
    }
    let name = read_text(raw.name, "name")?;
    rules::check_command_name(name.as_bytes())
        .map_err(|_| format!("its name '{name}' is not a command word"))?;
    let doc = if raw.doc.is_null() {
        String::new()
    } else {
        read_text(raw.doc, "doc")?
    };
    if raw.exec.is_null() {
        return Err(format!("'{name}' has no exec function (NULL)"));
    }
    if !is_code(raw.exec) {
        return Err(format!("'{name}': exec does not point to code"));
    }
    Ok(Plugin {
        name,
        doc,
        exec: raw.exec,
        library,
    })
}

/// Loads every `*.so` of `dir`, in name order. Each file loaded or refused
/// is reported through `log` with its path (and the reason); a command
/// named like a core command is refused. Fails only when `dir` cannot be
/// read.
pub fn load_dir(dir: &Path, mut log: impl FnMut(Level, String)) -> io::Result<Vec<Plugin>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "so") && p.is_file())
        .collect();
    files.sort();
    let mut loaded = Vec::new();
    for path in files {
        match load_file(&path) {
            Ok(p) if rules::is_core_command(p.name.as_bytes()) => log(
                Level::Warn,
                format!(
                    "refused {}: '{}' is a core command and cannot be replaced",
                    path.display(),
                    p.name
                ),
            ),
            Ok(p) => {
                log(
                    Level::Info,
                    format!("loaded command '{}' from {}", p.name, path.display()),
                );
                loaded.push(p);
            }
            Err(e) => log(Level::Error, format!("refused {}: {e}", path.display())),
        }
    }
    Ok(loaded)
}

#[cfg(test)]
#[path = "plugins_tests.rs"]
mod tests;
