//! The client over a scripted stream (no socket): how its input buffer
//! grows and shrinks, PING answers, NACKs, ACK waits. These run in both
//! builds: with `std` and as the portable core (`--no-default-features`).

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use super::io::{self, ErrorKind, Read, Write};
use super::{Client, Error, Stream, DEFAULT_READ_CHUNK};
use crate::proto::State;
use crate::transport::tcp::TcpCodec;

/// Serves canned server bytes, one script entry per read at most, and
/// records what the client asked for and wrote.
#[derive(Default)]
struct Script {
    incoming: VecDeque<Vec<u8>>,
    /// The buffer length of every read.
    asked: Vec<usize>,
    written: Vec<u8>,
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked.push(buf.len());
        let Some(front) = self.incoming.front_mut() else {
            // Nothing more scripted: the read times out.
            return Err(ErrorKind::WouldBlock.into());
        };
        let n = front.len().min(buf.len());
        buf[..n].copy_from_slice(&front[..n]);
        front.drain(..n);
        if front.is_empty() {
            self.incoming.pop_front();
        }
        Ok(n)
    }
}

impl Write for Script {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for Script {
    fn set_read_timeout(&mut self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    TcpCodec::frame(body)
}

fn client(incoming: &[Vec<u8>], max: usize) -> Client<Script> {
    let script = Script {
        incoming: incoming.iter().cloned().collect(),
        ..Script::default()
    };
    Client::from_io(script, alloc::boxed::Box::new(TcpCodec::client(max)), None).unwrap()
}

#[test]
fn small_messages_keep_the_buffer_at_one_chunk() {
    let msg = [b'x'; 256];
    let mut body = b"pub r\n".to_vec();
    body.extend_from_slice(&msg);
    let wire: Vec<Vec<u8>> = (0..20).map(|_| frame(&body)).collect();
    let mut c = client(&wire, 1 << 20);
    for _ in 0..20 {
        assert_eq!(c.receive().unwrap(), body);
        assert!(c.input.capacity() <= DEFAULT_READ_CHUNK);
    }
    assert!(c.stream.asked.iter().all(|&n| n == DEFAULT_READ_CHUNK));
    assert_eq!(c.stream.asked.len(), 20);
}

#[test]
fn a_large_frame_gets_room_for_its_rest_then_gives_it_back() {
    let body = [b'y'; 5000];
    let wire = frame(&body);
    let after = frame(b"ACK");
    let mut c = client(&[wire.clone(), after], 1 << 20);
    c.set_read_chunk(100);
    assert_eq!(c.receive().unwrap(), body);
    // One chunk, which shows the header, then exactly the rest of it.
    assert_eq!(c.stream.asked[..2], [100, wire.len() - 100]);
    assert_eq!(c.receive().unwrap(), b"ACK");
    assert!(c.input.capacity() <= 100, "{}", c.input.capacity());
}

#[test]
fn the_chunk_is_configurable_and_never_zero() {
    let mut c = client(&[frame(b"ACK")], 64);
    c.set_read_chunk(0);
    assert_eq!(c.read_chunk, 1);
    c.set_read_chunk(16);
    assert_eq!(c.receive().unwrap(), b"ACK");
    assert_eq!(c.stream.asked, [16]);
}

#[test]
fn a_frame_over_the_codec_limit_is_skipped_without_buffering_it() {
    let big = [b'z'; 4000];
    let mut c = client(&[frame(&big), frame(b"pub r\nsmall")], 1000);
    c.set_read_chunk(256);
    assert_eq!(c.receive().unwrap(), b"pub r\nsmall");
    assert!(c.input.capacity() <= 256, "{}", c.input.capacity());
    // Nothing goes back: a NACK would reach the server as a command.
    assert!(c.stream.written.is_empty());
}

#[test]
fn pings_are_answered_and_a_nack_is_decoded() {
    let mut c = client(
        &[
            frame(b"PING _\nping"),
            frame(b"NACK *\n15\nmessage invalid"),
        ],
        1024,
    );
    match c.publish("", b"x") {
        Err(Error::Nack { state, text }) => {
            assert_eq!(state, State::EMsgInv);
            assert_eq!(text, "message invalid");
        }
        other => panic!("expected a NACK, got {other:?}"),
    }
    let mut expect = frame(b"pub \nx");
    expect.extend(frame(b"PONG _\nping"));
    assert_eq!(c.stream.written, expect);
}

#[test]
fn nothing_arriving_is_a_timeout_and_a_close_is_closed() {
    let mut c = client(&[], 1024);
    assert!(matches!(c.receive(), Err(Error::Timeout)));
    let mut c = client(&[frame(b"pub a\n1")], 1024);
    c.stream.incoming.push_back(Vec::new());
    assert_eq!(c.receive().unwrap(), b"pub a\n1");
    assert!(matches!(c.receive(), Err(Error::Closed)));
    assert!(matches!(c.receive(), Err(Error::Closed)));
}
