//! Password verification off the reactor thread: argon2 is costly on
//! purpose (tens of milliseconds), so checks go to one worker thread over
//! a channel and come back through another, the reactor's waker telling it
//! to look. The thread starts at the first check and ends when the hub
//! drops its end of the channel. It must not touch the hub: it gets
//! strings and returns a verdict.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use crate::server::conn::ConnId;

/// One check to make.
pub(super) struct Job {
    pub(super) conn: ConnId,
    pub(super) user: String,
    pub(super) password: Vec<u8>,
    pub(super) phc: Option<String>,
    pub(super) received: Instant,
}

/// Its verdict.
pub(super) struct Verdict {
    pub(super) conn: ConnId,
    pub(super) user: String,
    pub(super) ok: bool,
    pub(super) received: Instant,
}

fn judge(job: Job) -> Verdict {
    let ok = job
        .phc
        .as_deref()
        .is_some_and(|phc| super::verify_password(phc, &job.password));
    Verdict {
        conn: job.conn,
        user: job.user,
        ok,
        received: job.received,
    }
}

/// The reactor's end of the worker.
#[derive(Default)]
pub(super) struct Verifier {
    waker: Option<Arc<mio::Waker>>,
    tx: Option<Sender<Job>>,
    rx: Option<Receiver<Verdict>>,
    /// Verdicts computed here when no worker could be started.
    local: Vec<Verdict>,
    /// Jobs sent and not yet answered.
    pub(super) in_flight: usize,
}

impl Verifier {
    pub(super) fn set_waker(&mut self, waker: Arc<mio::Waker>) {
        self.waker = Some(waker);
    }

    /// Sends `job` to the worker (starting it if needed). Without a waker
    /// (a hub not driven by a reactor) or a thread, it is judged here.
    pub(super) fn submit(&mut self, job: Job) {
        self.in_flight += 1;
        if self.tx.is_none() {
            self.start();
        }
        let job = match &self.tx {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        self.tx = None;
        self.local.push(judge(job));
    }

    fn start(&mut self) {
        let Some(waker) = self.waker.clone() else {
            return;
        };
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let (done_tx, done_rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("ducq-auth".into())
            .spawn(move || {
                for job in job_rx {
                    if done_tx.send(judge(job)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            });
        if spawned.is_ok() {
            self.tx = Some(job_tx);
            self.rx = Some(done_rx);
        }
    }

    /// The next verdict that is ready, if any.
    pub(super) fn poll(&mut self) -> Option<Verdict> {
        if let Some(v) = self.local.pop() {
            self.in_flight = self.in_flight.saturating_sub(1);
            return Some(v);
        }
        let rx = self.rx.as_ref()?;
        match rx.try_recv() {
            Ok(v) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                Some(v)
            }
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                // The worker died: forget it; the next job starts another.
                self.tx = None;
                self.rx = None;
                self.in_flight = 0;
                None
            }
        }
    }
}
