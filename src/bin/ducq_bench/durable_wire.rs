//! The clients `durable` measures with, hand-encoded over blocking
//! sockets: ducq queues (`enq`/`qsub`/`qack`) and `serve`/`req`; NATS
//! JetStream (stream and durable pull consumer through `$JS.API`, publish
//! acks, `+ACK`) and core request/reply; Redis Streams (XADD, XREADGROUP,
//! XACK over RESP2). Only what the benchmark needs.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::durable::IO_TIMEOUT;

/// Bytes of the stamp at the start of each payload.
pub const STAMP: usize = 24;

/// A payload of `size` bytes: send time (ns since `epoch`) and sequence
/// number in hex, then padding.
pub fn stamped(epoch: Instant, seq: usize, size: usize) -> Vec<u8> {
    let mut p = format!(
        "{:016x}{:08x}",
        epoch.elapsed().as_nanos() as u64,
        seq as u32
    )
    .into_bytes();
    p.resize(size.max(STAMP), b'x');
    p
}

/// The sequence number and send time of a stamped payload.
pub fn unstamp(p: &[u8]) -> Option<(usize, u64)> {
    let t = std::str::from_utf8(p.get(..16)?).ok()?;
    let s = std::str::from_utf8(p.get(16..STAMP)?).ok()?;
    Some((
        usize::from_str_radix(s, 16).ok()?,
        u64::from_str_radix(t, 16).ok()?,
    ))
}

fn err(e: std::io::Error) -> String {
    e.to_string()
}

/// A blocking connection with buffered reads and writes.
pub struct Conn {
    r: BufReader<TcpStream>,
    w: BufWriter<TcpStream>,
}

impl Conn {
    fn connect(addr: SocketAddr) -> Result<Conn, String> {
        let s =
            TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("{addr}: {e}"))?;
        s.set_nodelay(true).map_err(err)?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(err)?;
        let w = s.try_clone().map_err(err)?;
        Ok(Conn {
            r: BufReader::with_capacity(256 << 10, s),
            w: BufWriter::with_capacity(256 << 10, w),
        })
    }
    fn put(&mut self, b: &[u8]) -> Result<(), String> {
        self.w.write_all(b).map_err(err)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.w.flush().map_err(err)
    }
    /// Whether more input is already buffered.
    fn buffered(&self) -> bool {
        !self.r.buffer().is_empty()
    }
    fn line(&mut self) -> Result<Vec<u8>, String> {
        let mut l = Vec::new();
        if self.r.read_until(b'\n', &mut l).map_err(err)? == 0 {
            return Err("connection closed".into());
        }
        while l.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            l.pop();
        }
        Ok(l)
    }
    fn exact(&mut self, n: usize) -> Result<Vec<u8>, String> {
        let mut b = vec![0; n];
        self.r.read_exact(&mut b).map_err(err)?;
        Ok(b)
    }
    /// A ducq TCP frame.
    fn ducq_put(&mut self, body: &[u8]) -> Result<(), String> {
        self.put(format!("{}\n", body.len()).as_bytes())?;
        self.put(body)
    }
    fn ducq_next(&mut self) -> Result<Vec<u8>, String> {
        let l = self.line()?;
        let n: usize = std::str::from_utf8(&l)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad ducq frame")?;
        self.exact(n)
    }
    fn ducq_call(&mut self, body: &[u8]) -> Result<Vec<u8>, String> {
        self.ducq_put(body)?;
        self.flush()?;
        self.ducq_next()
    }
}

/// A durable queue implementation under test.
pub trait Durable {
    /// Makes an empty queue (deleting an earlier one).
    fn setup(&self, window: usize) -> Result<(), String>;
    /// A producer connection.
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String>;
    /// A consumer connection holding up to `window` unacknowledged.
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String>;
}

/// Enqueues, answered once durable.
pub trait Producer {
    /// Buffers one enqueue.
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String>;
    /// Sends what is buffered.
    fn flush(&mut self) -> Result<(), String>;
    /// Waits for the next enqueue's confirmation.
    fn confirm(&mut self) -> Result<(), String>;
}

/// Receives and acknowledges.
pub trait Consumer {
    /// The next messages (at least one), each acknowledged.
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String>;
    /// Ends cleanly (acks sent).
    fn close(&mut self) -> Result<(), String>;
}

/// A request/reply implementation under test.
pub trait Rpc {
    /// A serving member, ready to serve when returned.
    fn member(&self) -> Result<Box<dyn Member + Send>, String>;
    /// A requester.
    fn requester(&self) -> Result<Box<dyn Requester>, String>;
}

/// Echoes requests until its connection ends.
pub trait Member {
    /// Serves.
    fn serve(&mut self) -> Result<(), String>;
}

/// Sends requests and reads replies.
pub trait Requester {
    /// Buffers request `i`.
    fn request(&mut self, i: usize, payload: &[u8]) -> Result<(), String>;
    /// Sends what is buffered.
    fn flush(&mut self) -> Result<(), String>;
    /// The next reply's payload.
    fn reply(&mut self) -> Result<Vec<u8>, String>;
}

// ------------------------------------------------------------------ ducq

const DQ: &str = "bench";

/// ducq's durable queues.
pub struct DucqQueue(pub SocketAddr);

struct DucqProducer(Conn);
struct DucqConsumer(Conn);

impl Durable for DucqQueue {
    fn setup(&self, _: usize) -> Result<(), String> {
        let mut c = Conn::connect(self.0)?;
        c.ducq_call(format!("qdel {DQ}\n").as_bytes())?;
        let r = c.ducq_call(format!("qcreate {DQ}\nvisibility=60 max_deliveries=0").as_bytes())?;
        (r == b"ACK")
            .then_some(())
            .ok_or_else(|| format!("qcreate: {}", String::from_utf8_lossy(&r)))
    }
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String> {
        Ok(Box::new(DucqProducer(Conn::connect(self.0)?)))
    }
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String> {
        let mut c = Conn::connect(self.0)?;
        let r = c.ducq_call(format!("qsub {DQ}\n{window}").as_bytes())?;
        if r != b"ACK" {
            return Err(format!("qsub: {}", String::from_utf8_lossy(&r)));
        }
        Ok(Box::new(DucqConsumer(c)))
    }
}

impl Producer for DucqProducer {
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String> {
        let mut m = format!("enq {DQ}\n").into_bytes();
        m.extend_from_slice(payload);
        self.0.ducq_put(&m)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn confirm(&mut self) -> Result<(), String> {
        let r = self.0.ducq_next()?;
        r.iter()
            .all(u8::is_ascii_digit)
            .then_some(())
            .ok_or_else(|| format!("enq: {}", String::from_utf8_lossy(&r)))
    }
}

impl Consumer for DucqConsumer {
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        loop {
            let m = self.0.ducq_next()?;
            if let Some(rest) = m.strip_prefix(format!("qmsg {DQ}\n").as_bytes()) {
                let nl = rest.iter().position(|&b| b == b'\n').ok_or("bad qmsg")?;
                let id = rest[..nl].split(|&b| b == b' ').next().unwrap_or_default();
                let mut ack = format!("qack {DQ}\n").into_bytes();
                ack.extend_from_slice(id);
                self.0.ducq_put(&ack)?;
                out.push(rest[nl + 1..].to_vec());
            } else if m != b"ACK" {
                return Err(format!("consumer got {}", String::from_utf8_lossy(&m)));
            }
            if !out.is_empty() && !self.0.buffered() {
                self.0.flush()?;
                return Ok(out);
            }
        }
    }
    fn close(&mut self) -> Result<(), String> {
        self.0.flush()
    }
}

/// ducq's serve/req.
pub struct DucqRpc(pub SocketAddr);

struct DucqMember(Conn);
struct DucqRequester(Conn);

impl Rpc for DucqRpc {
    fn member(&self) -> Result<Box<dyn Member + Send>, String> {
        let mut c = Conn::connect(self.0)?;
        let r = c.ducq_call(b"serve bench.rpc\n")?;
        (r == b"ACK").then_some(()).ok_or("serve refused")?;
        Ok(Box::new(DucqMember(c)))
    }
    fn requester(&self) -> Result<Box<dyn Requester>, String> {
        Ok(Box::new(DucqRequester(Conn::connect(self.0)?)))
    }
}

impl Member for DucqMember {
    fn serve(&mut self) -> Result<(), String> {
        loop {
            let m = self.0.ducq_next()?;
            let rest = m.strip_prefix(b"req bench.rpc\n").ok_or("not a request")?;
            let nl = rest.iter().position(|&b| b == b'\n').ok_or("bad request")?;
            let mut rep = b"rep ".to_vec();
            rep.extend_from_slice(&rest[..nl]);
            rep.extend_from_slice(&rest[nl..]);
            self.0.ducq_put(&rep)?;
            if !self.0.buffered() {
                self.0.flush()?;
            }
        }
    }
}

impl Requester for DucqRequester {
    fn request(&mut self, i: usize, payload: &[u8]) -> Result<(), String> {
        let mut m = format!("req bench.rpc\nc{i}\n").into_bytes();
        m.extend_from_slice(payload);
        self.0.ducq_put(&m)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn reply(&mut self) -> Result<Vec<u8>, String> {
        let m = self.0.ducq_next()?;
        if !m.starts_with(b"rep ") {
            return Err(format!("requester got {}", String::from_utf8_lossy(&m)));
        }
        let nl = m.iter().position(|&b| b == b'\n').ok_or("bad rep")?;
        Ok(m[nl + 1..].to_vec())
    }
}

// ------------------------------------------------------------------ NATS

/// A NATS message: subject, sid, reply subject, whether it had headers
/// (a JetStream status), payload.
struct NatsMsg {
    sid: u64,
    reply: Option<String>,
    status: bool,
    payload: Vec<u8>,
}

fn nats_connect(addr: SocketAddr) -> Result<Conn, String> {
    let mut c = Conn::connect(addr)?;
    let info = c.line()?;
    if !info.starts_with(b"INFO") {
        return Err("no NATS INFO".into());
    }
    c.put(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\nPING\r\n")?;
    c.flush()?;
    loop {
        let l = c.line()?;
        if l == b"PONG" {
            return Ok(c);
        }
        if l.starts_with(b"-ERR") {
            return Err(String::from_utf8_lossy(&l).into_owned());
        }
    }
}

fn nats_pub(
    c: &mut Conn,
    subject: &str,
    reply: Option<&str>,
    payload: &[u8],
) -> Result<(), String> {
    let head = match reply {
        Some(r) => format!("PUB {subject} {r} {}\r\n", payload.len()),
        None => format!("PUB {subject} {}\r\n", payload.len()),
    };
    c.put(head.as_bytes())?;
    c.put(payload)?;
    c.put(b"\r\n")
}

fn nats_next(c: &mut Conn) -> Result<NatsMsg, String> {
    loop {
        let l = c.line()?;
        let text = String::from_utf8_lossy(&l).into_owned();
        let f: Vec<&str> = text.split(' ').collect();
        match f.first().copied() {
            Some("PING") => {
                c.put(b"PONG\r\n")?;
                c.flush()?;
            }
            Some("MSG") | Some("HMSG") => {
                let hmsg = f[0] == "HMSG";
                let n = f.len();
                let (reply, total, hdr) = if hmsg {
                    let r = (n == 6).then(|| f[3].to_string());
                    (
                        r,
                        f[n - 1],
                        f[n - 2].parse::<usize>().map_err(|_| "bad HMSG")?,
                    )
                } else {
                    ((n == 5).then(|| f[3].to_string()), f[n - 1], 0)
                };
                let total: usize = total.parse().map_err(|_| "bad MSG length")?;
                let body = c.exact(total + 2)?;
                let sid = f.get(2).and_then(|s| s.parse().ok()).ok_or("bad sid")?;
                let status = hmsg && body.starts_with(b"NATS/1.0 ") && total == hdr;
                return Ok(NatsMsg {
                    sid,
                    reply,
                    status,
                    payload: body[hdr..total].to_vec(),
                });
            }
            Some("-ERR") => return Err(text),
            _ => {}
        }
    }
}

/// A `$JS.API` call: the JSON answer.
fn js_api(c: &mut Conn, subject: &str, json: &str) -> Result<String, String> {
    c.put(b"SUB _INBOX.api 99\r\n")?;
    nats_pub(c, subject, Some("_INBOX.api"), json.as_bytes())?;
    c.flush()?;
    loop {
        let m = nats_next(c)?;
        if m.sid == 99 {
            // Unsubscribed only once answered: earlier, the answer is lost.
            c.put(b"UNSUB 99\r\n")?;
            return Ok(String::from_utf8_lossy(&m.payload).into_owned());
        }
    }
}

/// NATS JetStream, a work-queue stream on file storage.
pub struct JetStream(pub SocketAddr);

struct JsProducer(Conn);
struct JsConsumer {
    c: Conn,
    window: usize,
    outstanding: usize,
}

impl Durable for JetStream {
    fn setup(&self, window: usize) -> Result<(), String> {
        let mut c = nats_connect(self.0)?;
        js_api(&mut c, "$JS.API.STREAM.DELETE.BENCH", "")?;
        let r = js_api(
            &mut c,
            "$JS.API.STREAM.CREATE.BENCH",
            r#"{"name":"BENCH","subjects":["bench"],"storage":"file","retention":"workqueue"}"#,
        )?;
        if r.contains("\"error\"") {
            return Err(format!("stream create: {r}"));
        }
        let cfg = format!(
            r#"{{"stream_name":"BENCH","config":{{"durable_name":"C","ack_policy":"explicit","ack_wait":60000000000,"max_ack_pending":{}}}}}"#,
            window * 4
        );
        let r = js_api(&mut c, "$JS.API.CONSUMER.DURABLE.CREATE.BENCH.C", &cfg)?;
        if r.contains("\"error\"") {
            return Err(format!("consumer create: {r}"));
        }
        Ok(())
    }
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String> {
        let mut c = nats_connect(self.0)?;
        c.put(b"SUB _INBOX.p 2\r\n")?;
        Ok(Box::new(JsProducer(c)))
    }
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String> {
        let mut c = nats_connect(self.0)?;
        c.put(b"SUB _INBOX.f 3\r\n")?;
        Ok(Box::new(JsConsumer {
            c,
            window,
            outstanding: 0,
        }))
    }
}

impl Producer for JsProducer {
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String> {
        nats_pub(&mut self.0, "bench", Some("_INBOX.p"), payload)
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn confirm(&mut self) -> Result<(), String> {
        let m = nats_next(&mut self.0)?;
        let text = String::from_utf8_lossy(&m.payload);
        (m.sid == 2 && text.contains("\"seq\""))
            .then_some(())
            .ok_or_else(|| format!("publish ack: {text}"))
    }
}

impl JsConsumer {
    fn pull(&mut self) -> Result<(), String> {
        let want = self.window - self.outstanding;
        let req = format!(r#"{{"batch":{want},"expires":5000000000}}"#);
        nats_pub(
            &mut self.c,
            "$JS.API.CONSUMER.MSG.NEXT.BENCH.C",
            Some("_INBOX.f"),
            req.as_bytes(),
        )?;
        self.outstanding = self.window;
        Ok(())
    }
}

impl Consumer for JsConsumer {
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String> {
        let mut out = Vec::new();
        loop {
            if self.outstanding <= self.window / 2 {
                self.pull()?;
                self.c.flush()?;
            }
            let m = nats_next(&mut self.c)?;
            if m.sid != 3 {
                continue;
            }
            if m.status {
                // The pull expired or was refused: its rest is void.
                self.outstanding = 0;
                continue;
            }
            self.outstanding = self.outstanding.saturating_sub(1);
            if let Some(r) = &m.reply {
                nats_pub(&mut self.c, r, None, b"")?;
            }
            out.push(m.payload);
            if !self.c.buffered() {
                self.c.flush()?;
                return Ok(out);
            }
        }
    }
    fn close(&mut self) -> Result<(), String> {
        self.c.flush()
    }
}

/// NATS core request/reply.
pub struct NatsRpc(pub SocketAddr);

struct NatsMember(Conn);
struct NatsRequester(Conn);

impl Rpc for NatsRpc {
    fn member(&self) -> Result<Box<dyn Member + Send>, String> {
        let mut c = nats_connect(self.0)?;
        c.put(b"SUB bench.rpc 1\r\nPING\r\n")?;
        c.flush()?;
        while c.line()? != b"PONG" {}
        Ok(Box::new(NatsMember(c)))
    }
    fn requester(&self) -> Result<Box<dyn Requester>, String> {
        let mut c = nats_connect(self.0)?;
        c.put(b"SUB _INBOX.r.* 2\r\n")?;
        Ok(Box::new(NatsRequester(c)))
    }
}

impl Member for NatsMember {
    fn serve(&mut self) -> Result<(), String> {
        loop {
            let m = nats_next(&mut self.0)?;
            let reply = m.reply.ok_or("request without reply subject")?;
            nats_pub(&mut self.0, &reply, None, &m.payload)?;
            if !self.0.buffered() {
                self.0.flush()?;
            }
        }
    }
}

impl Requester for NatsRequester {
    fn request(&mut self, i: usize, payload: &[u8]) -> Result<(), String> {
        nats_pub(
            &mut self.0,
            "bench.rpc",
            Some(&format!("_INBOX.r.{i}")),
            payload,
        )
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn reply(&mut self) -> Result<Vec<u8>, String> {
        loop {
            let m = nats_next(&mut self.0)?;
            if m.sid == 2 {
                return Ok(m.payload);
            }
        }
    }
}

// ----------------------------------------------------------------- Redis

#[derive(Debug)]
enum Resp {
    Text(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

fn resp_put(c: &mut Conn, parts: &[&[u8]]) -> Result<(), String> {
    c.put(format!("*{}\r\n", parts.len()).as_bytes())?;
    for p in parts {
        c.put(format!("${}\r\n", p.len()).as_bytes())?;
        c.put(p)?;
        c.put(b"\r\n")?;
    }
    Ok(())
}

fn resp_next(c: &mut Conn) -> Result<Resp, String> {
    let l = c.line()?;
    let (t, rest) = l.split_first().ok_or("empty RESP line")?;
    let num = || -> Result<i64, String> {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "bad RESP number".to_string())
    };
    match t {
        b'+' => Ok(Resp::Text(rest.to_vec())),
        b'-' => Err(format!("redis: {}", String::from_utf8_lossy(rest))),
        b':' => Ok(Resp::Int(num()?)),
        b'$' => match num()? {
            n if n < 0 => Ok(Resp::Bulk(None)),
            n => {
                let mut b = c.exact(n as usize + 2)?;
                b.truncate(n as usize);
                Ok(Resp::Bulk(Some(b)))
            }
        },
        b'*' => match num()? {
            n if n < 0 => Ok(Resp::Array(None)),
            n => (0..n)
                .map(|_| resp_next(c))
                .collect::<Result<Vec<_>, _>>()
                .map(|v| Resp::Array(Some(v))),
        },
        _ => Err("unknown RESP type".into()),
    }
}

fn redis_call(c: &mut Conn, parts: &[&[u8]]) -> Result<Resp, String> {
    resp_put(c, parts)?;
    c.flush()?;
    resp_next(c)
}

/// Redis Streams with an append-only file synced `everysec` or `always`.
pub struct RedisStream(pub SocketAddr, pub &'static str);

struct RedisProducer(Conn);
struct RedisConsumer {
    c: Conn,
    window: usize,
    acks: Vec<Vec<u8>>,
}

impl Durable for RedisStream {
    fn setup(&self, _: usize) -> Result<(), String> {
        let mut c = Conn::connect(self.0)?;
        for (k, v) in [
            (&b"appendonly"[..], &b"yes"[..]),
            (b"appendfsync", self.1.as_bytes()),
        ] {
            match redis_call(&mut c, &[b"CONFIG", b"SET", k, v])? {
                Resp::Text(ok) if ok == b"OK" => {}
                other => return Err(format!("CONFIG SET: {other:?}")),
            }
        }
        // Switching AOF on rewrites the file in the background first.
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let Resp::Bulk(Some(info)) = redis_call(&mut c, &[b"INFO", b"persistence"])? else {
                return Err("INFO".into());
            };
            let info = String::from_utf8_lossy(&info);
            if info.contains("aof_enabled:1") && info.contains("aof_rewrite_in_progress:0") {
                break;
            }
            if Instant::now() > deadline {
                return Err("AOF never ready".into());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        redis_call(&mut c, &[b"DEL", b"bench"])?;
        redis_call(
            &mut c,
            &[b"XGROUP", b"CREATE", b"bench", b"g", b"$", b"MKSTREAM"],
        )?;
        Ok(())
    }
    fn producer(&self) -> Result<Box<dyn Producer + Send>, String> {
        Ok(Box::new(RedisProducer(Conn::connect(self.0)?)))
    }
    fn consumer(&self, window: usize) -> Result<Box<dyn Consumer>, String> {
        Ok(Box::new(RedisConsumer {
            c: Conn::connect(self.0)?,
            window,
            acks: Vec::new(),
        }))
    }
}

impl Producer for RedisProducer {
    fn enqueue(&mut self, payload: &[u8]) -> Result<(), String> {
        resp_put(&mut self.0, &[b"XADD", b"bench", b"*", b"p", payload])
    }
    fn flush(&mut self) -> Result<(), String> {
        self.0.flush()
    }
    fn confirm(&mut self) -> Result<(), String> {
        match resp_next(&mut self.0)? {
            Resp::Bulk(Some(_)) => Ok(()),
            other => Err(format!("XADD: {other:?}")),
        }
    }
}

impl RedisConsumer {
    fn send_acks(&mut self) -> Result<bool, String> {
        if self.acks.is_empty() {
            return Ok(false);
        }
        let mut parts: Vec<&[u8]> = vec![b"XACK", b"bench", b"g"];
        parts.extend(self.acks.iter().map(|a| a.as_slice()));
        resp_put(&mut self.c, &parts)?;
        self.acks.clear();
        Ok(true)
    }
}

impl Consumer for RedisConsumer {
    fn receive(&mut self) -> Result<Vec<Vec<u8>>, String> {
        loop {
            let acked = self.send_acks()?;
            let count = self.window.to_string();
            resp_put(
                &mut self.c,
                &[
                    b"XREADGROUP",
                    b"GROUP",
                    b"g",
                    b"c",
                    b"COUNT",
                    count.as_bytes(),
                    b"BLOCK",
                    b"5000",
                    b"STREAMS",
                    b"bench",
                    b">",
                ],
            )?;
            self.c.flush()?;
            if acked {
                resp_next(&mut self.c)?;
            }
            let Resp::Array(Some(streams)) = resp_next(&mut self.c)? else {
                continue;
            };
            let mut out = Vec::new();
            for s in streams {
                let Resp::Array(Some(mut kv)) = s else {
                    continue;
                };
                let Some(Resp::Array(Some(entries))) = kv.pop() else {
                    continue;
                };
                for e in entries {
                    let Resp::Array(Some(mut e)) = e else {
                        continue;
                    };
                    let fields = e.pop();
                    let Some(Resp::Bulk(Some(id))) = e.pop() else {
                        continue;
                    };
                    if let Some(Resp::Array(Some(mut f))) = fields {
                        if let Some(Resp::Bulk(Some(p))) = f.pop() {
                            out.push(p);
                        }
                    }
                    self.acks.push(id);
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }
    fn close(&mut self) -> Result<(), String> {
        if self.send_acks()? {
            self.c.flush()?;
            if let Resp::Int(n) = resp_next(&mut self.c)? {
                if n < 0 {
                    return Err("XACK".into());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        let epoch = Instant::now();
        let p = stamped(epoch, 77, 40);
        assert_eq!(p.len(), 40);
        let (seq, _) = unstamp(&p).unwrap();
        assert_eq!(seq, 77);
        assert_eq!(stamped(epoch, 1, 3).len(), STAMP);
        assert_eq!(unstamp(b"short"), None);
    }
}
