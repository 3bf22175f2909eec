//! The host's files: the paths it was given (a folder, or one file), the
//! commands each file defines, and loading, reloading and unloading them
//! when the folder watcher reports a change. Each file runs in an
//! environment of its own whose `commands` and `channels` tables collect
//! what it defines, so reloading or deleting a file replaces or removes
//! exactly its commands and channels.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use mlua::{ChunkMode, Function, Table, Value};

use super::channels::{self, LuaChannel};
use super::host::LuaCommands;
use super::report::{describe, Loaded, LuaError};
use super::watch::Change;
use crate::server::{rules, Level};

/// One command a file defines.
pub(super) struct Command {
    pub(super) name: String,
    pub(super) doc: String,
    pub(super) exec: Function,
    pub(super) file: PathBuf,
}

/// A file that loaded, with what it defines.
pub(super) struct FileEntry {
    /// Load order: on a name defined twice, the latest load wins.
    seq: u64,
    /// Hash of the source, to skip rewrites that change nothing.
    hash: u64,
    commands: Vec<Rc<Command>>,
    pub(super) channels: Vec<Rc<LuaChannel>>,
}

/// What a file defines: its commands (name, doc, function) and channels.
type Defined = (Vec<(String, String, Function)>, Vec<LuaChannel>);

/// A path given to `add_path`: a folder, or one file in a folder.
pub(super) struct Root {
    dir: PathBuf,
    only: Option<OsString>,
    wd: Option<i32>,
}

impl Root {
    fn accepts(&self, name: &OsStr) -> bool {
        match &self.only {
            Some(file) => file == name,
            None => is_script_name(name),
        }
    }
}

/// `x.lua`, not a hidden or backup file (`.x.lua.swp`, `x.lua~`, `4913`).
fn is_script_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    b.len() > 4 && b.ends_with(b".lua") && !b.starts_with(b".")
}

/// A name a client can send as a command word.
fn is_command_name(name: &str) -> bool {
    rules::check_command_name(name.as_bytes()).is_ok()
}

impl LuaCommands {
    /// Loads every `.lua` file of a folder (in name order) and watches the
    /// folder, or loads one file and watches it. Files that fail to load are
    /// logged and listed in the report; the path is watched all the same.
    pub fn add_path(&mut self, path: &Path) -> Result<Loaded, LuaError> {
        let io_err = |source| LuaError::Io {
            path: path.to_path_buf(),
            source,
        };
        let full = fs::canonicalize(path).map_err(io_err)?;
        let meta = fs::metadata(&full).map_err(io_err)?;
        let (dir, only) = if meta.is_dir() {
            (full.clone(), None)
        } else {
            let dir = full.parent().map(Path::to_path_buf).unwrap_or_default();
            (dir, full.file_name().map(OsStr::to_os_string))
        };
        let wd = match self.watcher.as_mut().map(|w| w.watch(&dir)) {
            Some(Ok(wd)) => Some(wd),
            Some(Err(e)) => {
                let text = format!("no hot reload for {}: {e}", dir.display());
                self.note(Level::Warn, text);
                None
            }
            None => None,
        };
        let root = Root { dir, only, wd };
        let files = if root.only.is_some() {
            vec![full]
        } else {
            scan(&root).map_err(io_err)?
        };
        let what = if wd.is_some() { "watching" } else { "loading" };
        self.note(Level::Info, format!("{what} {}", path.display()));
        self.roots.push(root);

        let mut report = Loaded::default();
        for file in files {
            match self.load_file(&file) {
                Ok(n) => {
                    report.files += 1;
                    report.commands += n;
                }
                Err(e) => report.failed.push(e),
            }
        }
        Ok(report)
    }

    /// Loads (or reloads) one file. Returns its number of commands, or the
    /// reason it failed; on failure its previous commands stay.
    pub(super) fn load_file(&mut self, path: &Path) -> Result<usize, String> {
        let source = match fs::read(path) {
            Ok(s) => s,
            Err(e) => {
                let text = format!("{}: cannot read: {e}", path.display());
                self.note(Level::Error, text.clone());
                return Err(text);
            }
        };
        let mut h = DefaultHasher::new();
        source.hash(&mut h);
        let hash = h.finish();
        if let Some(old) = self.files.get(path) {
            if old.hash == hash {
                return Ok(old.commands.len());
            }
        }
        let (defined, defined_channels) = match self.run_file(path, &source) {
            Ok(d) => d,
            Err(e) => {
                let keep = if self.files.contains_key(path) {
                    "; its previous version stays"
                } else {
                    ""
                };
                let text = format!("failed to load {}{keep}", e);
                self.note(Level::Error, text);
                return Err(e);
            }
        };

        let mut names = Vec::new();
        let mut commands = Vec::new();
        for (name, doc, exec) in defined {
            if rules::is_core_command(name.as_bytes()) {
                let text = format!(
                    "{}: '{name}' is a core command and cannot be replaced; ignored",
                    path.display()
                );
                self.note(Level::Warn, text);
                continue;
            }
            if let Some(other) = self.index.get(name.as_bytes()) {
                if other.file != path {
                    let text = format!(
                        "{}: '{name}' replaces the command of {}",
                        path.display(),
                        other.file.display()
                    );
                    self.note(Level::Warn, text);
                }
            }
            names.push(name.clone());
            commands.push(Rc::new(Command {
                name,
                doc,
                exec,
                file: path.to_path_buf(),
            }));
        }
        self.seq += 1;
        let channel_names: Vec<String> = defined_channels.iter().map(|c| c.name.clone()).collect();
        let entry = FileEntry {
            seq: self.seq,
            hash,
            commands,
            channels: defined_channels.into_iter().map(Rc::new).collect(),
        };
        let old = self.files.insert(path.to_path_buf(), entry);
        self.reindex();
        let had_channels = old.as_ref().is_some_and(|o| !o.channels.is_empty());
        self.channels_changed |= had_channels || !channel_names.is_empty();

        let verb = if old.is_some() { "reloaded" } else { "loaded" };
        let mut text = format!("{verb} {}: ", path.display());
        if names.is_empty() && channel_names.is_empty() {
            text.push_str("no command");
        } else {
            text.push_str(&names.join(", "));
        }
        if !channel_names.is_empty() {
            let sep = if names.is_empty() { "" } else { "; " };
            text.push_str(&format!("{sep}channels: {}", channel_names.join(", ")));
        }
        if let Some(old) = old {
            let gone: Vec<&str> = old
                .commands
                .iter()
                .map(|c| c.name.as_str())
                .filter(|n| !names.iter().any(|m| m == n))
                .collect();
            if !gone.is_empty() {
                text.push_str(&format!(" (removed: {})", gone.join(", ")));
            }
        }
        self.note(Level::Info, text);
        Ok(names.len())
    }

    /// Runs a file in an environment of its own and returns the commands it
    /// defines: its `commands` entries, or, for a file in the original's
    /// oldest style that fills no `commands` or `channels` entry, each
    /// global function it defines (named after the function, with no doc);
    /// and the channels of its `channels` table.
    fn run_file(&mut self, path: &Path, source: &[u8]) -> Result<Defined, String> {
        let lua = &self.lua;
        let fail = |e: mlua::Error| {
            let text = describe(&e);
            if text.starts_with(&path.display().to_string()) {
                text
            } else {
                format!("{}: {text}", path.display())
            }
        };
        let env = lua.create_table().map_err(fail)?;
        env.set_metatable(Some(self.env_mt.clone())).map_err(fail)?;
        let table = lua.create_table().map_err(fail)?;
        env.raw_set("commands", table.clone()).map_err(fail)?;
        env.raw_set("channels", lua.create_table().map_err(fail)?)
            .map_err(fail)?;
        self.budget.reset(self.limits.instructions);
        lua.load(source)
            .set_name(format!("@{}", path.display()))
            .set_mode(ChunkMode::Text)
            .set_environment(env.clone())
            .exec()
            .map_err(fail)?;

        let mut out = Vec::new();
        let mut warnings = Vec::new();
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair.map_err(fail)?;
            let name = match &key {
                Value::String(s) => s.to_str().ok().map(|s| s.to_string()),
                _ => None,
            };
            let Some(name) = name.filter(|n| is_command_name(n)) else {
                warnings.push(format!(
                    "commands[{}] is not a valid command name",
                    key.to_string().unwrap_or_default()
                ));
                continue;
            };
            match value {
                Value::Function(f) => out.push((name, String::new(), f)),
                Value::Table(t) => {
                    let exec = t.get::<Value>("exec").map_err(fail)?;
                    let doc = t.get::<Value>("doc").map_err(fail)?;
                    let doc = match doc {
                        Value::Nil => String::new(),
                        v => v.to_string().unwrap_or_default(),
                    };
                    match exec {
                        Value::Function(f) => out.push((name, doc, f)),
                        _ => warnings.push(format!("commands.{name} has no exec function")),
                    }
                }
                _ => warnings.push(format!("commands.{name} is not a table with exec")),
            }
        }
        // A file may also assign `channels = { … }` as a whole.
        let (defined_channels, channel_warnings) = match env.raw_get::<Value>("channels") {
            Ok(Value::Table(t)) => channels::read(&t, path),
            Ok(Value::Nil) => (Vec::new(), Vec::new()),
            Ok(other) => (
                Vec::new(),
                vec![format!("channels is a {}, not a table", other.type_name())],
            ),
            Err(e) => return Err(fail(e)),
        };
        warnings.extend(channel_warnings);
        let no_channels = env
            .raw_get::<Option<Table>>("channels")
            .ok()
            .flatten()
            .is_none_or(|t| t.is_empty());
        if out.is_empty() && table.is_empty() && no_channels {
            for pair in env.pairs::<Value, Value>() {
                let (key, value) = pair.map_err(fail)?;
                if let (Value::String(k), Value::Function(f)) = (key, value) {
                    match k.to_str() {
                        Ok(n) if is_command_name(&n) => out.push((n.to_string(), String::new(), f)),
                        _ => {}
                    }
                }
            }
        }
        for w in warnings {
            self.note(Level::Warn, format!("{}: {w}", path.display()));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((out, defined_channels))
    }

    /// Removes the commands of a file that is gone.
    fn unload(&mut self, path: &Path) {
        if let Some(old) = self.files.remove(path) {
            self.reindex();
            self.channels_changed |= !old.channels.is_empty();
            let names: Vec<&str> = old.commands.iter().map(|c| c.name.as_str()).collect();
            let text = format!("unloaded {}: {}", path.display(), names.join(", "));
            self.note(Level::Info, text);
        }
    }

    /// The loaded files, oldest load first.
    pub(super) fn files_by_load_order(&self) -> Vec<&FileEntry> {
        let mut entries: Vec<&FileEntry> = self.files.values().collect();
        entries.sort_by_key(|e| e.seq);
        entries
    }

    /// Rebuilds name → command, the latest load of a name winning.
    fn reindex(&mut self) {
        let entries: Vec<Rc<Command>> = self
            .files_by_load_order()
            .into_iter()
            .flat_map(|e| e.commands.iter().cloned())
            .collect();
        self.index.clear();
        for c in entries {
            self.index.insert(c.name.as_bytes().to_vec(), c);
        }
    }

    /// Reads the watcher and reloads or removes what changed.
    pub(super) fn reload(&mut self) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let changes = match watcher.drain() {
            Ok(c) => c,
            Err(e) => {
                self.note(Level::Error, format!("reading the folder watcher: {e}"));
                return;
            }
        };
        let mut affected = BTreeSet::new();
        let mut rescan: Vec<usize> = Vec::new();
        for change in changes {
            match change {
                Change::File { wd, name } => {
                    for r in self.roots.iter().filter(|r| r.wd == Some(wd)) {
                        if r.accepts(&name) {
                            affected.insert(r.dir.join(&name));
                        }
                    }
                }
                Change::Gone { wd } => {
                    for (i, r) in self.roots.iter_mut().enumerate() {
                        if r.wd == Some(wd) {
                            r.wd = None;
                            rescan.push(i);
                        }
                    }
                }
                Change::Overflow => rescan.extend(0..self.roots.len()),
            }
        }
        rescan.sort_unstable();
        rescan.dedup();
        let mut stopped = Vec::new();
        for i in rescan {
            let root = &self.roots[i];
            if root.wd.is_none() {
                stopped.push(format!(
                    "stopped watching {} (moved or removed)",
                    root.dir.display()
                ));
            }
            if let Ok(found) = scan(root) {
                affected.extend(found);
            }
            for p in self.files.keys() {
                let known = p.parent() == Some(root.dir.as_path())
                    && p.file_name().is_some_and(|n| root.accepts(n));
                if known {
                    affected.insert(p.clone());
                }
            }
        }
        for text in stopped {
            self.note(Level::Warn, text);
        }
        for path in affected {
            if path.is_file() {
                let _ = self.load_file(&path);
            } else {
                self.unload(&path);
            }
        }
    }
}

/// The script files of a root, in name order.
fn scan(root: &Root) -> io::Result<Vec<PathBuf>> {
    if let Some(only) = &root.only {
        let p = root.dir.join(only);
        return Ok(if p.is_file() { vec![p] } else { Vec::new() });
    }
    let mut out = Vec::new();
    for entry in fs::read_dir(&root.dir)? {
        let entry = entry?;
        let p = entry.path();
        if is_script_name(&entry.file_name()) && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_names() {
        for ok in ["a.lua", "echo.lua", "x.y.lua"] {
            assert!(is_script_name(OsStr::new(ok)), "{ok}");
        }
        for no in [
            ".a.lua",
            ".x.lua.swp",
            "x.lua~",
            "4913",
            ".lua",
            "a.luac",
            "#a.lua#",
        ] {
            assert!(!is_script_name(OsStr::new(no)), "{no}");
        }
    }
}
