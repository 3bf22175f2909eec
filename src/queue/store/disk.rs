//! [`DiskStore`]: queues in one redb file (`<data dir>/queues.redb`). redb
//! is an embedded, pure-Rust, ACID key-value store with copy-on-write
//! B-trees and checksummed commit slots: a commit either survives a crash
//! whole or not at all, and a file left by a killed process is repaired
//! when it is opened. One write transaction per `commit`, with one fsync.
//!
//! Tables: `queues` (qid → name, config text, next id), `messages`
//! ((qid, id) → enqueue time, payload) and `deliveries` ((qid, id) →
//! count, only for messages handed out at least once, so an enqueue
//! writes one record), and `records` (key → bytes: state other parts of
//! the server keep durable in the same commits, MQTT persistent sessions).
//!
//! After a failed commit redb refuses further work on that handle; the
//! next commit reopens the file (which repairs it) and tries again, so a
//! disk that was full works again once space returns.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, TableDefinition};

use super::{Op, SavedMsg, SavedQueue, Snapshot, Store, StoreError};

const QUEUES: TableDefinition<u64, (&str, &str, u64)> = TableDefinition::new("queues");
const MESSAGES: TableDefinition<(u64, u64), (u64, &[u8])> = TableDefinition::new("messages");
const DELIVERIES: TableDefinition<(u64, u64), u32> = TableDefinition::new("deliveries");
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

/// The file name inside the data directory.
pub const FILE_NAME: &str = "queues.redb";

/// Queues in a redb file.
pub struct DiskStore {
    path: PathBuf,
    db: Option<Database>,
}

impl std::fmt::Debug for DiskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskStore")
            .field("path", &self.path)
            .finish()
    }
}

fn is_full(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EFBIG) | Some(libc::EDQUOT)
    )
}

fn store_error(e: impl Into<redb::Error>) -> StoreError {
    let e: redb::Error = e.into();
    let full = match &e {
        redb::Error::Io(io) => is_full(io),
        _ => false,
    };
    StoreError {
        text: e.to_string(),
        full,
    }
}

impl DiskStore {
    /// Opens (creating it and `dir` when missing) the store in `dir`. A
    /// file left by a crash is repaired here. Fails when another process
    /// has it open.
    pub fn open(dir: &Path) -> Result<DiskStore, StoreError> {
        let mut store = DiskStore::lazy(dir);
        store.db()?;
        Ok(store)
    }

    /// The store in `dir`, touching nothing yet: an existing file is
    /// opened by `load`, a missing one (and `dir`) created by the first
    /// commit — a server that never uses queues leaves no data directory.
    pub fn lazy(dir: &Path) -> DiskStore {
        DiskStore {
            path: dir.join(FILE_NAME),
            db: None,
        }
    }

    fn open_file(path: &Path) -> Result<Database, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError {
                text: format!("{}: {e}", dir.display()),
                full: is_full(&e),
            })?;
        }
        let db = Database::create(path).map_err(|e| {
            let mut err = store_error(e);
            err.text = format!("{}: {}", path.display(), err.text);
            err
        })?;
        // Tables exist from the first open on, so readers never miss one.
        let tx = db.begin_write().map_err(store_error)?;
        tx.open_table(QUEUES).map_err(store_error)?;
        tx.open_table(MESSAGES).map_err(store_error)?;
        tx.open_table(DELIVERIES).map_err(store_error)?;
        tx.open_table(RECORDS).map_err(store_error)?;
        tx.commit().map_err(store_error)?;
        Ok(db)
    }

    /// The database, reopened (and so repaired) after a failure.
    fn db(&mut self) -> Result<&Database, StoreError> {
        if self.db.is_none() {
            self.db = Some(Self::open_file(&self.path)?);
        }
        self.db.as_ref().ok_or_else(|| StoreError {
            text: "store closed".into(),
            full: false,
        })
    }

    fn write(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        let tx = self.db()?.begin_write().map_err(store_error)?;
        {
            let mut queues = tx.open_table(QUEUES).map_err(store_error)?;
            let mut msgs = tx.open_table(MESSAGES).map_err(store_error)?;
            let mut counts = tx.open_table(DELIVERIES).map_err(store_error)?;
            let mut records = tx.open_table(RECORDS).map_err(store_error)?;
            for op in ops {
                match op {
                    Op::PutQueue {
                        qid,
                        name,
                        config,
                        next_id,
                    } => {
                        queues
                            .insert(*qid, (&**name, config.as_str(), *next_id))
                            .map_err(store_error)?;
                    }
                    Op::DelQueue { qid } => {
                        queues.remove(*qid).map_err(store_error)?;
                        let all = (*qid, 0)..=(*qid, u64::MAX);
                        msgs.retain_in(all.clone(), |_, _| false)
                            .map_err(store_error)?;
                        counts.retain_in(all, |_, _| false).map_err(store_error)?;
                    }
                    Op::PutMsg {
                        qid,
                        id,
                        unix_ms,
                        deliveries,
                        payload,
                    } => {
                        msgs.insert((*qid, *id), (*unix_ms, &**payload))
                            .map_err(store_error)?;
                        if *deliveries > 0 {
                            counts
                                .insert((*qid, *id), *deliveries)
                                .map_err(store_error)?;
                        }
                    }
                    Op::DelMsg { qid, id } => {
                        msgs.remove((*qid, *id)).map_err(store_error)?;
                        counts.remove((*qid, *id)).map_err(store_error)?;
                    }
                    Op::PutRecord { key, bytes } => {
                        records.insert(&**key, &**bytes).map_err(store_error)?;
                    }
                    Op::DelRecord { key } => {
                        records.remove(&**key).map_err(store_error)?;
                    }
                    Op::Deliveries { qid, id, n } => {
                        // Only for a message still there: a count must not
                        // outlive its message.
                        if msgs.get((*qid, *id)).map_err(store_error)?.is_some() {
                            counts.insert((*qid, *id), *n).map_err(store_error)?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(store_error)
    }

    fn read(&mut self) -> Result<Snapshot, StoreError> {
        let tx = self.db()?.begin_read().map_err(store_error)?;
        let queues = tx.open_table(QUEUES).map_err(store_error)?;
        let msgs = tx.open_table(MESSAGES).map_err(store_error)?;
        let counts = tx.open_table(DELIVERIES).map_err(store_error)?;
        let mut delivered: HashMap<(u64, u64), u32> = HashMap::new();
        for row in counts.iter().map_err(store_error)? {
            let (k, v) = row.map_err(store_error)?;
            delivered.insert(k.value(), v.value());
        }
        let mut snapshot = Snapshot::default();
        for row in queues.iter().map_err(store_error)? {
            let (k, v) = row.map_err(store_error)?;
            let qid = k.value();
            let (name, config, next_id) = v.value();
            let mut saved = SavedQueue {
                qid,
                name: name.to_string(),
                config: config.to_string(),
                next_id,
                msgs: Vec::new(),
            };
            for row in msgs
                .range((qid, 0)..=(qid, u64::MAX))
                .map_err(store_error)?
            {
                let (k, v) = row.map_err(store_error)?;
                let (_, id) = k.value();
                let (unix_ms, payload) = v.value();
                saved.msgs.push(SavedMsg {
                    id,
                    unix_ms,
                    deliveries: delivered.get(&(qid, id)).copied().unwrap_or(0),
                    payload: payload.to_vec(),
                });
            }
            snapshot.queues.push(saved);
        }
        // A file written before records existed has no such table.
        match tx.open_table(RECORDS) {
            Ok(records) => {
                for row in records.iter().map_err(store_error)? {
                    let (k, v) = row.map_err(store_error)?;
                    snapshot
                        .records
                        .push((k.value().to_string(), v.value().to_vec()));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(store_error(e)),
        }
        Ok(snapshot)
    }
}

impl Store for DiskStore {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        if self.db.is_none() && !self.path.exists() {
            return Ok(Snapshot::default());
        }
        let result = self.read();
        if result.is_err() {
            self.db = None;
        }
        result
    }

    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let result = self.write(ops);
        if result.is_err() {
            // redb refuses a handle after an I/O error; start afresh.
            self.db = None;
        }
        result
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ducq-disk-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn put(qid: u64, id: u64, p: &[u8]) -> Op {
        Op::PutMsg {
            qid,
            id,
            unix_ms: 1000 + id,
            deliveries: 0,
            payload: Rc::from(p),
        }
    }

    fn queue(qid: u64, name: &str, next_id: u64) -> Op {
        Op::PutQueue {
            qid,
            name: Rc::from(name),
            config: "visibility=30 max_deliveries=10".into(),
            next_id,
        }
    }

    #[test]
    fn commits_survive_reopening() {
        let d = dir("reopen");
        {
            let mut s = DiskStore::open(&d).unwrap();
            assert_eq!(s.load().unwrap(), Snapshot::default());
            s.commit(&[queue(1, "a", 3), put(1, 1, b"one"), put(1, 2, b"\0two")])
                .unwrap();
            s.commit(&[queue(2, "b", 1), put(2, 7, b"x")]).unwrap();
            s.commit(&[
                Op::Deliveries {
                    qid: 1,
                    id: 2,
                    n: 4,
                },
                Op::DelMsg { qid: 1, id: 1 },
                // A count for a message already gone is not kept.
                Op::Deliveries {
                    qid: 1,
                    id: 1,
                    n: 9,
                },
                Op::DelQueue { qid: 2 },
            ])
            .unwrap();
            assert!(s.describe().ends_with(FILE_NAME));
        }
        let mut s = DiskStore::open(&d).unwrap();
        let snap = s.load().unwrap();
        assert_eq!(
            snap.queues,
            [SavedQueue {
                qid: 1,
                name: "a".into(),
                config: "visibility=30 max_deliveries=10".into(),
                next_id: 3,
                msgs: vec![SavedMsg {
                    id: 2,
                    unix_ms: 1002,
                    deliveries: 4,
                    payload: b"\0two".to_vec(),
                }],
            }]
        );
        // Acknowledging removes the count too.
        s.commit(&[Op::DelMsg { qid: 1, id: 2 }]).unwrap();
        assert!(s.load().unwrap().queues[0].msgs.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_second_opener_is_refused() {
        let d = dir("locked");
        let _first = DiskStore::open(&d).unwrap();
        let err = DiskStore::open(&d).unwrap_err();
        assert!(err.text.contains(FILE_NAME), "{err}");
        assert!(!err.full);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_empty_commit_writes_nothing() {
        let d = dir("empty");
        let mut s = DiskStore::open(&d).unwrap();
        let before = std::fs::metadata(d.join(FILE_NAME))
            .unwrap()
            .modified()
            .unwrap();
        s.commit(&[]).unwrap();
        let after = std::fs::metadata(d.join(FILE_NAME))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn lazy_creates_nothing_until_the_first_commit() {
        let d = dir("lazy");
        let mut s = DiskStore::lazy(&d);
        assert_eq!(s.load().unwrap(), Snapshot::default());
        assert!(!d.exists());
        s.commit(&[]).unwrap();
        assert!(!d.exists());
        s.commit(&[queue(1, "a", 1)]).unwrap();
        assert!(d.join(FILE_NAME).exists());
        drop(s);
        // An existing file is read by load.
        let mut s = DiskStore::lazy(&d);
        assert_eq!(s.load().unwrap().queues.len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let d = dir("notadir");
        std::fs::write(&d, b"a file").unwrap();
        let err = DiskStore::open(&d).unwrap_err();
        assert!(err.text.contains(&d.display().to_string()), "{err}");
        let _ = std::fs::remove_file(&d);
    }
}
