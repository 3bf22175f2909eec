//! The blocking client's queue and request/reply calls (PROTOCOL.md §14):
//! enqueue, consume with acknowledgement, fetch, take, list; serve a route,
//! answer requests, send requests. Replies a call waits for are told apart
//! from deliveries that arrive meanwhile, which wait in the receive queue.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Client, Error, Stream};
use crate::proto::message::{self, classify, nack_state, nack_text, Kind};
use crate::proto::queue::{Delivered, QueueLine};
use crate::proto::{Message, State};

/// A message handed out by a queue (`qmsg Q\n<id> <deliveries>\n<payload>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// Its queue.
    pub queue: String,
    /// Its id, for `ack`.
    pub id: u64,
    /// How often it has been handed out, this time included.
    pub deliveries: u32,
    /// What was enqueued.
    pub payload: Vec<u8>,
}

impl QueueMessage {
    /// Reads a `qmsg`; `None` for anything else.
    pub fn parse(msg: &[u8]) -> Option<QueueMessage> {
        let d = Delivered::parse(msg)?;
        Some(QueueMessage {
            queue: String::from_utf8_lossy(d.queue).into_owned(),
            id: d.id,
            deliveries: d.deliveries,
            payload: d.payload.to_vec(),
        })
    }
}

/// One line of `lsq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: String,
    /// Messages not yet acknowledged.
    pub depth: u64,
    /// Of those, waiting to be handed out.
    pub ready: u64,
    /// Of those, handed out and not yet acknowledged.
    pub in_flight: u64,
    /// Attached consumers.
    pub consumers: u64,
    /// Age of the oldest message, zero when empty.
    pub oldest: Duration,
}

impl QueueInfo {
    /// Reads an `lsq` line `name,depth,ready,in_flight,consumers,oldest_ms`.
    pub fn parse(line: &[u8]) -> Option<QueueInfo> {
        let q = QueueLine::parse(line)?;
        Some(QueueInfo {
            name: String::from_utf8(q.name.to_vec()).ok()?,
            depth: q.depth,
            ready: q.ready,
            in_flight: q.in_flight,
            consumers: q.consumers,
            oldest: Duration::from_millis(q.oldest_ms),
        })
    }
}

/// A request handed to a serving member (`req R\nTOKEN\nP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The route it was sent to.
    pub route: String,
    /// The server's token for it, for `reply`.
    pub token: String,
    /// What the requester sent.
    pub payload: Vec<u8>,
}

impl Request {
    /// Reads a `req`; `None` for anything else.
    pub fn parse(msg: &[u8]) -> Option<Request> {
        let m = Message::parse(msg).ok()?;
        if m.command != b"req" || !m.has_newline {
            return None;
        }
        let (token, payload) = split_line(m.payload);
        Some(Request {
            route: String::from_utf8_lossy(m.route).into_owned(),
            token: String::from_utf8(token.to_vec()).ok()?,
            payload: payload.to_vec(),
        })
    }
}

/// The answer to a request: `rep CORR\nP`, or `NACK CORR\n<code>\n<text>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The member's reply.
    Ok {
        /// The requester's correlation id.
        corr: String,
        /// The reply.
        payload: Vec<u8>,
    },
    /// No member, the member failed or left, or refused.
    Err {
        /// The requester's correlation id (`*` when the request was unreadable).
        corr: String,
        /// 19 no serving member, 10 member gone, 3 the member's error, …
        state: State,
        /// The text (the member's own for 3).
        text: String,
    },
}

impl Reply {
    /// Reads a reply to a request; `None` for anything else.
    pub fn parse(msg: &[u8]) -> Option<Reply> {
        let m = Message::parse(msg).ok()?;
        let corr = String::from_utf8_lossy(m.route).into_owned();
        match m.command {
            b"rep" if m.has_newline => Some(Reply::Ok {
                corr,
                payload: m.payload.to_vec(),
            }),
            b"NACK" => Some(Reply::Err {
                corr,
                state: nack_state(msg).unwrap_or(State::Unknown),
                text: nack_text(msg),
            }),
            _ => None,
        }
    }

    /// The correlation id.
    pub fn corr(&self) -> &str {
        match self {
            Reply::Ok { corr, .. } | Reply::Err { corr, .. } => corr,
        }
    }
}

/// Correlation ids of `request`, unique in the process.
static NEXT_CORR: AtomicU64 = AtomicU64::new(1);

fn split_line(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().position(|&b| b == b'\n') {
        Some(i) => (p.get(..i).unwrap_or(&[]), p.get(i + 1..).unwrap_or(&[])),
        None => (p, &[]),
    }
}

/// Messages that are not replies to a command: they wait in the queue.
fn is_unsolicited(msg: &[u8]) -> bool {
    [&b"qmsg "[..], b"req ", b"rep ", b"pub ", b"publish "]
        .iter()
        .any(|p| msg.starts_with(p))
        || (msg.starts_with(b"NACK ") && !msg.starts_with(b"NACK *"))
}

impl<S: Stream> Client<S> {
    /// The next reply to a command, keeping deliveries, requests and
    /// replies to requests that arrive first for later `receive` calls.
    fn command_reply(&mut self) -> Result<Vec<u8>, Error> {
        let mut held = Vec::new();
        let result = loop {
            match self.receive() {
                Ok(m) if is_unsolicited(&m) => held.push(m),
                Ok(m) => match classify(&m) {
                    Kind::Nack(state) => {
                        break Err(Error::Nack {
                            state,
                            text: nack_text(&m),
                        })
                    }
                    _ => break Ok(m),
                },
                Err(e) => break Err(e),
            }
        };
        for m in held.into_iter().rev() {
            self.unreceive(m);
        }
        result
    }

    fn command_ack(&mut self) -> Result<(), Error> {
        let m = self.command_reply()?;
        if classify(&m) == Kind::Ack {
            Ok(())
        } else {
            Err(Error::Protocol(String::from_utf8_lossy(&m).into_owned()))
        }
    }

    /// A `PARTS` … `END` reply. What comes before `PARTS` may be
    /// unsolicited (kept for `receive`); between `PARTS` and `END`
    /// everything is the reply's, `qmsg`s included (the messages of a
    /// `qget` or `qtake`): the server sends them together.
    fn command_parts(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        let mut held = Vec::new();
        let mut parts: Option<Vec<Vec<u8>>> = None;
        let result = loop {
            let m = match self.receive() {
                Ok(m) => m,
                Err(e) => break Err(e),
            };
            let Some(items) = parts.as_mut() else {
                if is_unsolicited(&m) {
                    held.push(m);
                    continue;
                }
                match classify(&m) {
                    Kind::Parts => parts = Some(Vec::new()),
                    Kind::Nack(state) => {
                        break Err(Error::Nack {
                            state,
                            text: nack_text(&m),
                        })
                    }
                    _ => break Err(Error::Protocol(String::from_utf8_lossy(&m).into_owned())),
                }
                continue;
            };
            if classify(&m) == Kind::End {
                break Ok(parts.take().unwrap_or_default());
            }
            items.push(m);
        };
        for m in held.into_iter().rev() {
            self.unreceive(m);
        }
        result
    }

    /// Enqueues `payload` in `queue` (created with defaults when missing);
    /// returns its id once the server has made it durable.
    pub fn enqueue(&mut self, queue: &str, payload: &[u8]) -> Result<u64, Error> {
        self.emit("enq", queue, payload)?;
        let m = self.command_reply()?;
        std::str::from_utf8(&m)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Protocol(String::from_utf8_lossy(&m).into_owned()))
    }

    /// Creates `queue`, or changes its options (`"visibility=5
    /// max_deliveries=3 dlq=NAME"`, any subset).
    pub fn create_queue(&mut self, queue: &str, options: &str) -> Result<(), Error> {
        self.emit("qcreate", queue, options.as_bytes())?;
        self.command_ack()
    }

    /// Deletes `queue` and every message in it.
    pub fn delete_queue(&mut self, queue: &str) -> Result<(), Error> {
        self.emit("qdel", queue, b"")?;
        self.command_ack()
    }

    /// Becomes a consumer of `queue`, accepting `prefetch` unacknowledged
    /// messages at once; they arrive through `next_delivery`.
    pub fn consume(&mut self, queue: &str, prefetch: u32) -> Result<(), Error> {
        self.emit("qsub", queue, prefetch.to_string().as_bytes())?;
        self.command_ack()
    }

    /// Stops consuming `queue`; what this client held is handed out again.
    pub fn cancel(&mut self, queue: &str) -> Result<(), Error> {
        self.emit("qunsub", queue, b"")?;
        self.command_ack()
    }

    /// The next message handed to this consumer (other messages that
    /// arrive meanwhile are kept for `receive`).
    pub fn next_delivery(&mut self) -> Result<QueueMessage, Error> {
        self.next_matching(QueueMessage::parse)
    }

    fn next_matching<T>(&mut self, f: impl Fn(&[u8]) -> Option<T>) -> Result<T, Error> {
        let mut held = Vec::new();
        let result = loop {
            match self.receive() {
                Ok(m) => match f(&m) {
                    Some(x) => break Ok(x),
                    None => held.push(m),
                },
                Err(e) => break Err(e),
            }
        };
        for m in held.into_iter().rev() {
            self.unreceive(m);
        }
        result
    }

    /// Acknowledges message `id` of `queue`, once the server has made the
    /// removal durable.
    pub fn ack(&mut self, queue: &str, id: u64) -> Result<(), Error> {
        self.emit("qack", queue, id.to_string().as_bytes())?;
        self.command_ack()
    }

    /// Fetches up to `n` ready messages without consuming: acknowledge each
    /// with `ack` before the queue's visibility timeout.
    pub fn fetch(&mut self, queue: &str, n: usize) -> Result<Vec<QueueMessage>, Error> {
        self.emit("qget", queue, n.to_string().as_bytes())?;
        parse_all(self.command_parts()?)
    }

    /// Removes and returns up to `n` ready messages, unacknowledged (at most
    /// once), once their removal is durable.
    pub fn take(&mut self, queue: &str, n: usize) -> Result<Vec<QueueMessage>, Error> {
        self.emit("qtake", queue, n.to_string().as_bytes())?;
        parse_all(self.command_parts()?)
    }

    /// Every queue with its counts.
    pub fn queues(&mut self) -> Result<Vec<QueueInfo>, Error> {
        self.send(b"lsq")?;
        self.command_parts()?
            .iter()
            .map(|l| {
                QueueInfo::parse(l)
                    .ok_or_else(|| Error::Protocol(String::from_utf8_lossy(l).into_owned()))
            })
            .collect()
    }

    /// Serves `route`: requests to it come through `next_request`.
    pub fn serve(&mut self, route: &str) -> Result<(), Error> {
        self.emit("serve", route, b"")?;
        self.command_ack()
    }

    /// The next request for a route this client serves.
    pub fn next_request(&mut self) -> Result<Request, Error> {
        self.next_matching(Request::parse)
    }

    /// Answers request `token` with `payload`.
    pub fn reply(&mut self, token: &str, payload: &[u8]) -> Result<(), Error> {
        self.emit("rep", token, payload)
    }

    /// Answers request `token` with an error the requester sees as
    /// `NACK CORR\n3\n<text>`.
    pub fn reply_error(&mut self, token: &str, text: &str) -> Result<(), Error> {
        self.emit("rerr", token, text.as_bytes())
    }

    /// Sends a request without waiting: its reply (`Reply`, with `corr`)
    /// comes through `next_reply`. `corr` is any token without whitespace.
    pub fn send_request(&mut self, route: &str, corr: &str, payload: &[u8]) -> Result<(), Error> {
        let mut body = corr.as_bytes().to_vec();
        body.push(b'\n');
        body.extend_from_slice(payload);
        self.emit("req", route, &body)
    }

    /// The next reply to a request this client sent.
    pub fn next_reply(&mut self) -> Result<Reply, Error> {
        self.next_matching(Reply::parse)
    }

    /// Sends a request and waits up to `timeout` for its reply. A member's
    /// error, no member, or a member that left is `Error::Nack`.
    pub fn request(
        &mut self,
        route: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, Error> {
        let corr = format!("r{}", NEXT_CORR.fetch_add(1, Ordering::Relaxed));
        self.send_request(route, &corr, payload)?;
        let deadline = Instant::now() + timeout;
        let saved = self.timeout;
        let result = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(Error::Timeout);
            }
            if let Err(e) = self.set_timeout(Some(left)) {
                break Err(e);
            }
            match self.next_reply() {
                Ok(r) if r.corr() != corr => continue,
                Ok(Reply::Ok { payload, .. }) => break Ok(payload),
                Ok(Reply::Err { state, text, .. }) => break Err(Error::Nack { state, text }),
                Err(e) => break Err(e),
            }
        };
        let _ = self.set_timeout(saved);
        result
    }
}

fn parse_all(parts: Vec<Vec<u8>>) -> Result<Vec<QueueMessage>, Error> {
    parts
        .iter()
        .map(|m| {
            QueueMessage::parse(m)
                .ok_or_else(|| Error::Protocol(String::from_utf8_lossy(m).into_owned()))
        })
        .collect()
}

/// `enq Q\nP` as sent: for clients that pipeline enqueues themselves.
pub fn enqueue_message(queue: &str, payload: &[u8]) -> Vec<u8> {
    message::format(b"enq", queue.as_bytes(), payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        assert_eq!(
            QueueMessage::parse(b"qmsg jobs\n12 3\nhello\nworld"),
            Some(QueueMessage {
                queue: "jobs".into(),
                id: 12,
                deliveries: 3,
                payload: b"hello\nworld".to_vec()
            })
        );
        assert_eq!(QueueMessage::parse(b"qmsg jobs\n12\nx"), None);
        assert_eq!(QueueMessage::parse(b"pub jobs\n12 3\nx"), None);
        assert_eq!(
            QueueInfo::parse(b"a/b,5,3,2,1,1500\n"),
            Some(QueueInfo {
                name: "a/b".into(),
                depth: 5,
                ready: 3,
                in_flight: 2,
                consumers: 1,
                oldest: Duration::from_millis(1500)
            })
        );
        assert_eq!(QueueInfo::parse(b"a,1,2\n"), None);
        assert_eq!(
            Request::parse(b"req svc\n17\nbody"),
            Some(Request {
                route: "svc".into(),
                token: "17".into(),
                payload: b"body".to_vec()
            })
        );
        assert_eq!(
            Reply::parse(b"rep c1\nout"),
            Some(Reply::Ok {
                corr: "c1".into(),
                payload: b"out".to_vec()
            })
        );
        assert_eq!(
            Reply::parse(b"NACK c1\n19\nconnection not found"),
            Some(Reply::Err {
                corr: "c1".into(),
                state: State::ENotFound,
                text: "connection not found".into()
            })
        );
        assert!(is_unsolicited(b"NACK c1\n19\nx"));
        assert!(!is_unsolicited(b"NACK *\n19\nx"));
        assert!(!is_unsolicited(b"42"));
        assert_eq!(enqueue_message("q", b"p"), b"enq q\np");
    }
}
