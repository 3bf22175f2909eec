//! `durable`'s NATS clients: JetStream (a work-queue stream on file
//! storage and a durable pull consumer through `$JS.API`, publish acks,
//! `+ACK`) and core request/reply, hand-encoded. Only what the benchmark
//! needs.

use std::net::SocketAddr;

use super::durable_wire::{Conn, Consumer, Durable, Member, Producer, Requester, Rpc};

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
