//! `durable`'s Redis Streams client: XADD, XREADGROUP, XACK over RESP2,
//! with the append-only file switched on (`everysec` or `always`).
//! Hand-encoded; only what the benchmark needs.

use std::net::SocketAddr;
use std::time::Instant;

use super::durable::IO_TIMEOUT;
use super::durable_wire::{Conn, Consumer, Durable, Producer};

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
