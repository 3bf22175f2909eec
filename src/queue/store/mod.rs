//! Where queues are kept: the [`Store`] trait, the changes one commit
//! writes ([`Op`]), what recovery reads back ([`Snapshot`]), and the two
//! stores — [`MemStore`] (nothing is kept: `--data-dir none`) and
//! [`DiskStore`] (one redb file). A store never decides anything about
//! queues; it writes what it is given, all or nothing, and reads it back.

use std::fmt;
use std::rc::Rc;

mod disk;

pub use disk::DiskStore;

/// A queue's number: names are looked up once, records are keyed by it.
pub type Qid = u64;

/// One change; the changes of a turn are committed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A queue was created, reconfigured, or its next id moved on.
    PutQueue {
        /// Its number.
        qid: Qid,
        /// Its name.
        name: Rc<str>,
        /// Its configuration, as `Config`'s text.
        config: String,
        /// The id its next message gets.
        next_id: u64,
    },
    /// A queue and every message in it are gone.
    DelQueue {
        /// Its number.
        qid: Qid,
    },
    /// A message was enqueued.
    PutMsg {
        /// Its queue.
        qid: Qid,
        /// Its id.
        id: u64,
        /// When it was enqueued, in unix milliseconds.
        unix_ms: u64,
        /// Deliveries so far (0, or more for a dead letter moved on).
        deliveries: u32,
        /// What was enqueued.
        payload: Rc<[u8]>,
    },
    /// A message was acknowledged, taken or moved away.
    DelMsg {
        /// Its queue.
        qid: Qid,
        /// Its id.
        id: u64,
    },
    /// A record kept beside the queues for another part of the server
    /// (an MQTT persistent session), replaced whole: the store only keeps
    /// its bytes, under its key.
    PutRecord {
        /// Its key (unique across every kind of record).
        key: Rc<str>,
        /// Its bytes, as their owner encoded them.
        bytes: Rc<[u8]>,
    },
    /// A record is gone.
    DelRecord {
        /// Its key.
        key: Rc<str>,
    },
    /// A message was handed out again; its count so far.
    Deliveries {
        /// Its queue.
        qid: Qid,
        /// Its id.
        id: u64,
        /// Deliveries so far.
        n: u32,
    },
}

/// Leaves out of `ops` each delivery count whose message is removed
/// later in the same batch: the removal deletes the count too, so writing
/// it first is wasted B-tree work. A consumer that keeps up acknowledges a
/// message in the turn after it was handed out, the turn whose commit
/// carries its count, so this spares most messages two of the five record
/// writes they would cost (count lookup-and-insert).
pub fn drop_counts_removed_later(ops: &mut Vec<Op>) {
    // From the end: a count is dropped when a removal of its message
    // comes after it.
    let mut removed = std::collections::HashSet::new();
    let mut keep: Vec<bool> = ops
        .iter()
        .rev()
        .map(|op| match op {
            Op::DelMsg { qid, id } => {
                removed.insert((*qid, *id));
                true
            }
            Op::Deliveries { qid, id, .. } => !removed.contains(&(*qid, *id)),
            _ => true,
        })
        .collect();
    keep.reverse();
    let mut k = keep.into_iter();
    ops.retain(|_| k.next().unwrap_or(true));
}

/// A message as read back on recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMsg {
    /// Its id.
    pub id: u64,
    /// When it was enqueued, in unix milliseconds.
    pub unix_ms: u64,
    /// Deliveries recorded for it.
    pub deliveries: u32,
    /// What was enqueued.
    pub payload: Vec<u8>,
}

/// A queue as read back on recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQueue {
    /// Its number.
    pub qid: Qid,
    /// Its name.
    pub name: String,
    /// Its configuration text.
    pub config: String,
    /// The id its next message gets.
    pub next_id: u64,
    /// Its messages, by id.
    pub msgs: Vec<SavedMsg>,
}

/// Everything a store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every queue, by number.
    pub queues: Vec<SavedQueue>,
    /// Every record (`Op::PutRecord`), by key.
    pub records: Vec<(String, Vec<u8>)>,
}

/// A store that failed: what the operating system or the file said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    /// What went wrong, for the log.
    pub text: String,
    /// The device is full (`ENOSPC`, or a file-size limit): the commit can
    /// succeed once space returns.
    pub full: bool,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        if self.full {
            f.write_str(" (no space left)")?;
        }
        Ok(())
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_is_dropped_only_when_its_message_is_removed_later() {
        let count = |qid, id| Op::Deliveries { qid, id, n: 2 };
        let del = |qid, id| Op::DelMsg { qid, id };
        let mut ops = vec![
            count(1, 1),
            count(1, 2),
            count(2, 1),
            del(1, 1),
            // Removed before its count: the count stays (the disk store
            // then writes it only if the message is still there).
            del(1, 3),
            count(1, 3),
            del(2, 9),
        ];
        drop_counts_removed_later(&mut ops);
        assert_eq!(
            ops,
            [
                count(1, 2),
                count(2, 1),
                del(1, 1),
                del(1, 3),
                count(1, 3),
                del(2, 9)
            ]
        );
    }

    #[test]
    fn data_dir_specs() {
        assert_eq!(for_data_dir("none").describe(), "memory (not durable)");
        assert_eq!(
            for_data_dir("some/where").describe(),
            format!("some/where/{}", disk::FILE_NAME)
        );
        let mut m = MemStore;
        m.commit(&[Op::DelQueue { qid: 1 }]).unwrap();
        assert_eq!(m.load().unwrap(), Snapshot::default());
    }
}

/// Durable storage of queues. `commit` writes a turn's changes as one
/// transaction: when it returns `Ok` they survive a crash, when it returns
/// `Err` none of them was made (a store that cannot promise this must not
/// implement the trait).
pub trait Store {
    /// Reads back everything (on start).
    fn load(&mut self) -> Result<Snapshot, StoreError>;
    /// Makes `ops` durable, all or nothing.
    fn commit(&mut self, ops: &[Op]) -> Result<(), StoreError>;
    /// What the store is, for the log (`memory`, `ducq-data/queues.redb`).
    fn describe(&self) -> String;
}

/// The store `--data-dir SPEC` names: `none` keeps queues in memory
/// only; anything else is a directory holding `queues.redb`, opened when
/// it exists and created by the first commit otherwise.
pub fn for_data_dir(spec: &str) -> Box<dyn Store> {
    if spec == "none" {
        Box::new(MemStore)
    } else {
        Box::new(DiskStore::lazy(std::path::Path::new(spec)))
    }
}

/// The data directory when none is given.
pub const DEFAULT_DATA_DIR: &str = "./ducq-data";

/// Keeps nothing: queues live in memory only and are empty after a restart.
#[derive(Debug, Default)]
pub struct MemStore;

impl Store for MemStore {
    fn load(&mut self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    fn commit(&mut self, _: &[Op]) -> Result<(), StoreError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (not durable)".into()
    }
}
