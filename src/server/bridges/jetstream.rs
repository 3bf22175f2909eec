//! The JetStream mirror of durable queues, for a NATS bridge
//! (docs/BRIDGES.md): which queues are mirrored and where
//! ([`JetStreamConfig`]), and the messages on their way ([`Mirror`]).
//!
//! Every message committed to a mirrored queue is published with `HPUB`
//! to `<prefix>.<queue>` (`/` → `.`), with a `Nats-Msg-Id` header unique
//! to this broker's run (`<broker id>-<number>`), and a reply inbox: it
//! counts as mirrored when JetStream's PubAck comes back on the inbox.
//! What a connection left unacknowledged is sent again, same id, on the
//! next one; JetStream drops the copy it already stored (`duplicate`).
//! On each connection the bridge first asks `$JS.API.STREAM.CREATE` for
//! the stream (unless `stream_create=false`): one that exists with
//! another configuration is kept as the operator made it.
//!
//! Sans-IO: it encodes into the buffer it is given and reads the replies
//! the NATS codec hands it. It must not touch a socket or the hub.

use std::collections::VecDeque;
use std::rc::Rc;

use crate::proto::route;

/// Mirror publications awaiting their PubAck at once, per connection.
const WINDOW: usize = 256;
/// The reply token of the stream-create request.
const CREATE: &[u8] = b"c";
/// JetStream's error code for a stream name in use with another config.
const STREAM_EXISTS: &str = "10058";

/// Which queues a NATS bridge mirrors, and to which stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// Queue name patterns (ducq patterns: `*`, `+`, `#`); none: no mirror.
    pub queues: Vec<String>,
    /// The stream's name.
    pub stream: String,
    /// Subjects are `<prefix>.<queue>`.
    pub prefix: String,
    /// The bridge creates the stream (subjects `<prefix>.>`, file
    /// storage) when it does not exist.
    pub create: bool,
}

impl Default for JetStreamConfig {
    fn default() -> JetStreamConfig {
        JetStreamConfig {
            queues: Vec::new(),
            stream: "DUCQ_QUEUES".into(),
            prefix: "ducq.queue".into(),
            create: true,
        }
    }
}

impl JetStreamConfig {
    /// Sets `key` (`mirror`, `stream`, `stream_prefix`, `stream_create`);
    /// `Ok(false)` when the key is not one of these.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        match key {
            "mirror" => self.queues.push(value.to_string()),
            "stream" => self.stream = value.to_string(),
            "stream_prefix" => self.prefix = value.to_string(),
            "stream_create" => {
                self.create = match value {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(format!("{key}: '{value}' is not true or false")),
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether anything is mirrored.
    pub fn is_on(&self) -> bool {
        !self.queues.is_empty()
    }

    /// Checks the settings of bridge `name`, of a NATS bridge or not.
    pub fn check(&self, name: &str, nats: bool) -> Result<(), String> {
        if !self.is_on() {
            return Ok(());
        }
        if !nats {
            return Err(format!(
                "bridge {name}: only a nats bridge mirrors queues (mirror=)"
            ));
        }
        let token = |t: &str| !t.is_empty() && !t.contains(['.', '*', '>', ' ', '\t']);
        if !token(&self.stream) || self.stream.len() > 64 {
            return Err(format!(
                "bridge {name}: stream name '{}': 1 to 64 characters, no '.', '*', '>' or spaces",
                self.stream
            ));
        }
        if !self.prefix.split('.').all(token) {
            return Err(format!(
                "bridge {name}: stream_prefix '{}' is not a NATS subject without wildcards",
                self.prefix
            ));
        }
        match self
            .queues
            .iter()
            .find(|p| p.is_empty() || p.contains('\n'))
        {
            Some(bad) => Err(format!("bridge {name}: invalid mirror pattern {bad:?}")),
            None => Ok(()),
        }
    }

    /// Whether queue `name` is mirrored.
    pub fn mirrors(&self, name: &str) -> bool {
        self.queues
            .iter()
            .any(|p| route::matches(p.as_bytes(), name.as_bytes()))
    }

    /// The subject of queue `name`'s messages: `<prefix>.<name>`, its `/`
    /// becoming `.` (a `.` stays one: `jobs.dlq` and `jobs/dlq` share a
    /// subject; the `Ducq-Queue` header tells them apart). `None` when a
    /// level is empty.
    pub fn subject(&self, name: &str) -> Option<String> {
        let tail = name.replace('/', ".");
        if tail.split('.').any(str::is_empty) {
            return None;
        }
        Some(format!("{}.{tail}", self.prefix))
    }
}

/// A message on its way to the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    /// Its number in this mirror (its `Nats-Msg-Id` is made from it).
    number: u64,
    subject: String,
    queue: Rc<str>,
    id: u64,
    payload: Rc<[u8]>,
}

/// What a mirror counted since the server started. Message counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MirrorCounters {
    /// Published to JetStream (sent again included).
    pub sent: u64,
    /// Acknowledged by JetStream (duplicates included): mirrored.
    pub acked: u64,
    /// Acknowledged as a duplicate (the stream had it already).
    pub duplicates: u64,
    /// Refused by JetStream (an error PubAck), not sent again.
    pub rejected: u64,
    /// Unacknowledged when a connection ended, hence sent again.
    pub resent: u64,
    /// Not mirrored: the buffer was full.
    pub dropped: u64,
    /// Not mirrored: the queue name makes no subject.
    pub unmappable: u64,
}

/// The messages of one bridge's mirror: waiting, and sent but not yet
/// acknowledged. It outlives the bridge's connections.
pub struct Mirror {
    cfg: JetStreamConfig,
    /// Makes `Nats-Msg-Id`s unique across brokers and runs.
    broker: u64,
    next_number: u64,
    waiting: VecDeque<Pending>,
    /// Sent on this connection: its reply token, the message.
    unacked: VecDeque<(u64, Pending)>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// This connection's reply inbox, `_INBOX.<random>.`.
    inbox: String,
    next_reply: u64,
    /// The server's largest payload.
    max_payload: usize,
    /// The stream is there: publications may flow on this connection.
    ready: bool,
    /// Counts.
    pub counters: MirrorCounters,
    /// Lines for the log, taken by the manager.
    pub notes: Vec<String>,
}

impl Mirror {
    /// A mirror per `cfg` for broker `broker`, keeping at most
    /// `max_messages` messages and `max_bytes` payload bytes.
    pub fn new(cfg: JetStreamConfig, broker: u64, max_messages: usize, max_bytes: usize) -> Mirror {
        Mirror {
            cfg,
            broker,
            next_number: 1,
            waiting: VecDeque::new(),
            unacked: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            inbox: String::new(),
            next_reply: 1,
            max_payload: 1 << 20,
            ready: false,
            counters: MirrorCounters::default(),
            notes: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &JetStreamConfig {
        &self.cfg
    }

    /// Takes a committed enqueue when its queue is mirrored.
    pub fn offer(&mut self, queue: &Rc<str>, id: u64, payload: &Rc<[u8]>) {
        if !self.cfg.mirrors(queue) {
            return;
        }
        let Some(subject) = self.cfg.subject(queue) else {
            self.counters.unmappable += 1;
            return;
        };
        let count = self.waiting.len() + self.unacked.len();
        if count >= self.max_messages || self.bytes + payload.len() > self.max_bytes {
            self.counters.dropped += 1;
            return;
        }
        self.bytes += payload.len();
        let number = self.next_number;
        self.next_number += 1;
        self.waiting.push_back(Pending {
            number,
            subject,
            queue: Rc::clone(queue),
            id,
            payload: Rc::clone(payload),
        });
    }

    /// Messages not sent yet, and sent but not acknowledged.
    pub fn depths(&self) -> (usize, usize) {
        (self.waiting.len(), self.unacked.len())
    }

    /// Whether the stream is known to be there on this connection.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// A connection's handshake: its inbox (`_INBOX.<token>.`, the caller
    /// subscribes to `_INBOX.<token>.*`), the server's `max_payload`, and
    /// the stream-create request when the bridge creates the stream.
    pub fn begin(&mut self, token: &str, max_payload: usize, out: &mut Vec<u8>) {
        self.inbox = format!("_INBOX.{token}.");
        self.next_reply = 1;
        self.max_payload = max_payload;
        self.ready = !self.cfg.create;
        if self.cfg.create {
            let body = format!(
                "{{\"name\":\"{}\",\"subjects\":[\"{}.>\"],\"retention\":\"limits\",\
                 \"storage\":\"file\",\"discard\":\"old\",\"duplicate_window\":120000000000}}",
                self.cfg.stream, self.cfg.prefix
            );
            let head = format!(
                "PUB $JS.API.STREAM.CREATE.{} {}c {}\r\n",
                self.cfg.stream,
                self.inbox,
                body.len()
            );
            out.extend_from_slice(head.as_bytes());
            out.extend_from_slice(body.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Whether `subject` is a reply to this connection's inbox.
    pub fn is_reply(&self, subject: &[u8]) -> bool {
        !self.inbox.is_empty() && subject.starts_with(self.inbox.as_bytes())
    }

    /// A reply on the inbox: `status` is the header status (`503`: no
    /// responders), `body` the JSON. An error ends the connection.
    pub fn reply(
        &mut self,
        subject: &[u8],
        status: Option<&str>,
        body: &[u8],
    ) -> Result<(), String> {
        let token = subject.get(self.inbox.len()..).unwrap_or_default();
        if token == CREATE {
            return self.created(status, body);
        }
        let n: u64 = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or("a reply on the inbox to nothing the bridge asked")?;
        let Some(at) = self.unacked.iter().position(|(r, _)| *r == n) else {
            return Ok(()); // an answer to a message already counted
        };
        if status == Some("503") {
            let subject = self.unacked.get(at).map(|(_, p)| p.subject.clone());
            return Err(format!(
                "no JetStream stream takes subject {}",
                subject.unwrap_or_default()
            ));
        }
        let Some((_, p)) = self.unacked.remove(at) else {
            return Ok(());
        };
        self.bytes -= p.payload.len();
        if contains(body, "\"error\"") {
            self.counters.rejected += 1;
            let why = json_field(body, "description").unwrap_or_default();
            self.notes.push(format!(
                "JetStream refused message {} of queue {}: {why}",
                p.id, p.queue
            ));
        } else {
            self.counters.acked += 1;
            if json_field(body, "duplicate").as_deref() == Some("true") {
                self.counters.duplicates += 1;
            }
        }
        Ok(())
    }

    /// The answer to the stream-create request.
    fn created(&mut self, status: Option<&str>, body: &[u8]) -> Result<(), String> {
        if status == Some("503") {
            return Err("JetStream is not enabled on the server (nothing answers its API)".into());
        }
        if contains(body, "\"error\"") {
            let why = json_field(body, "description").unwrap_or_default();
            if json_field(body, "err_code").as_deref() != Some(STREAM_EXISTS) {
                return Err(format!(
                    "JetStream did not create stream {}: {why}",
                    self.cfg.stream
                ));
            }
            self.notes.push(format!(
                "stream {} exists with another configuration: used as it is ({why})",
                self.cfg.stream
            ));
        }
        self.ready = true;
        Ok(())
    }

    /// Publishes what waits, while the window has room. Returns how many.
    pub fn drain(&mut self, out: &mut Vec<u8>) -> usize {
        let mut n = 0;
        while self.ready && self.unacked.len() < WINDOW {
            let Some(p) = self.waiting.pop_front() else {
                break;
            };
            if p.payload.len() > self.max_payload {
                self.bytes -= p.payload.len();
                self.counters.rejected += 1;
                self.notes.push(format!(
                    "message {} of queue {} is over the server's max_payload: not mirrored",
                    p.id, p.queue
                ));
                continue;
            }
            let reply = self.next_reply;
            self.next_reply += 1;
            self.encode(&p, reply, out);
            self.counters.sent += 1;
            self.unacked.push_back((reply, p));
            n += 1;
        }
        n
    }

    /// `HPUB <subject> <inbox><reply> <header bytes> <total bytes>`.
    fn encode(&self, p: &Pending, reply: u64, out: &mut Vec<u8>) {
        let headers = format!(
            "NATS/1.0\r\nNats-Msg-Id: {:016x}-{}\r\nDucq-Queue: {}\r\nDucq-Id: {}\r\n\r\n",
            self.broker, p.number, p.queue, p.id
        );
        let head = format!(
            "HPUB {} {}{reply} {} {}\r\n",
            p.subject,
            self.inbox,
            headers.len(),
            headers.len() + p.payload.len()
        );
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(headers.as_bytes());
        out.extend_from_slice(&p.payload);
        out.extend_from_slice(b"\r\n");
    }

    /// Takes over what `old` (the same bridge before a reload changed it)
    /// had not got acknowledged, when both publish to the same stream and
    /// subjects; otherwise those messages are counted dropped in `old`.
    pub fn take_over(&mut self, old: &mut Mirror) {
        old.connection_ended();
        let same = old.cfg.stream == self.cfg.stream && old.cfg.prefix == self.cfg.prefix;
        while let Some(p) = old.waiting.pop_front() {
            old.bytes -= p.payload.len();
            if same && self.cfg.mirrors(&p.queue) {
                // Same ids: JetStream drops what it already has.
                self.bytes += p.payload.len();
                self.waiting.push_back(p);
            } else {
                old.counters.dropped += 1;
            }
        }
        // Every number `old` gave out, those taken over included, is below
        // its next one: new messages cannot reuse an id taken over.
        self.next_number = self.next_number.max(old.next_number);
    }

    /// The connection ended: what it left unacknowledged goes first on the
    /// next one, same ids. Returns how many.
    pub fn connection_ended(&mut self) -> usize {
        self.ready = false;
        self.inbox.clear();
        let n = self.unacked.len();
        while let Some((_, p)) = self.unacked.pop_back() {
            self.waiting.push_front(p);
        }
        self.counters.resent += n as u64;
        n
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The raw text of a scalar field of a JSON object (`"key":value`, the
/// first one anywhere), quotes removed from a string. Enough for the few
/// fields of `INFO` and the JetStream replies read here.
pub fn json_field(json: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(json).ok()?;
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text.get(at..)?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return Some(s.split('"').next()?.to_string());
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest.get(..end)?.trim().to_string())
}

#[cfg(test)]
#[path = "jetstream_tests.rs"]
mod tests;
