//! Fuzz target: the adapter that makes a protocol written in C (a
//! `ducq_proto_vtbl`) a `Transport`, driven by a deliberately misbehaving
//! fake protocol written here as `extern "C"` functions, so no C compiler
//! is needed.
//!
//! Input layout: byte 0 is the server's largest message, byte 1 the number
//! of scripted decode calls, then 4 bytes per call, then the stream. Each
//! call's script says what the fake returns (any `int`, not just the three
//! documented values), how many bytes it claims to have consumed (often
//! more than it was given, up to `usize::MAX`), how long a message and how
//! many reply bytes it tries to append. The fake reads every byte it is
//! offered, so AddressSanitizer catches an adapter that lies about the
//! input's length. Checked: the adapter never reports more consumed than
//! given, a message always consumes bytes and fits the largest message,
//! unknown results close, greetings and encodings reach the output, and
//! every connection the fake opened is closed exactly once. It must not
//! depend on anything but the input.
#![no_main]

use std::ffi::{c_char, c_int, c_void};

use ducq::ffi::proto::ducq_buf_append;
use ducq::transport::c_vtable::{ducq_buf, ducq_proto_vtbl, CProtocol, RawDecoded};
use ducq::transport::Decoded;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/oracle/mod.rs"]
mod oracle;

/// One decode call's behaviour.
#[derive(Debug, Clone, Copy)]
struct Call {
    result: c_int,
    consumed: usize,
    message: usize,
    reply: usize,
}

impl Call {
    fn from_bytes(b: [u8; 4]) -> Call {
        let result = match b[0] {
            0..=99 => 0,
            100..=199 => 1,
            200..=239 => 2,
            // Garbage results: negative, just past the enum, huge.
            240..=247 => -i32::from(b[0] - 239),
            248..=251 => i32::from(b[0] - 245),
            252 => c_int::MAX,
            253 => c_int::MIN,
            _ => i32::from(b[1]) << 8,
        };
        let consumed = match b[1] {
            // Small claims, within or just past the input.
            0..=199 => usize::from(b[1]),
            200..=249 => usize::MAX - usize::from(b[1] - 200),
            _ => 1 << (usize::from(b[1] - 250) * 12),
        };
        Call {
            result,
            consumed,
            message: usize::from(b[2]) * 2,
            reply: usize::from(b[3]),
        }
    }
}

/// The fake protocol's shared state (`ctx`).
struct Fake {
    script: Vec<Call>,
    next: usize,
    opened: usize,
    closed: usize,
    /// Sum of every input byte offered, so reads cannot be optimised away.
    checksum: u64,
}

/// A connection's state (`conn`), to check it comes back unchanged.
struct FakeConn {
    id: usize,
}

unsafe extern "C" fn fake_open(ctx: *mut c_void, out: *mut ducq_buf) -> *mut c_void {
    // SAFETY: ctx is the `Fake` given at registration, alive for the run.
    let fake = unsafe { &mut *ctx.cast::<Fake>() };
    fake.opened += 1;
    // A greeting bigger than the largest message is refused by the buffer.
    let greeting = [b'G'; 300];
    // SAFETY: `out` is lent for this call; the data is readable.
    let _ = unsafe { ducq_buf_append(out, greeting.as_ptr().cast(), (fake.opened * 100).min(300)) };
    Box::into_raw(Box::new(FakeConn { id: fake.opened })).cast()
}

unsafe extern "C" fn fake_decode(
    ctx: *mut c_void,
    conn: *mut c_void,
    input: *const c_char,
    len: usize,
    consumed: *mut usize,
    message: *mut ducq_buf,
    out: *mut ducq_buf,
) -> RawDecoded {
    // SAFETY: ctx and conn are what registration and `fake_open` gave.
    let (fake, conn) = unsafe { (&mut *ctx.cast::<Fake>(), &*conn.cast::<FakeConn>()) };
    assert!(
        conn.id >= 1 && conn.id <= fake.opened,
        "foreign conn pointer"
    );
    // SAFETY: the adapter promises `len` readable bytes at `input`.
    let bytes = unsafe { std::slice::from_raw_parts(input.cast::<u8>(), len) };
    fake.checksum = bytes
        .iter()
        .fold(fake.checksum, |s, &b| s.wrapping_add(u64::from(b)));
    let Some(&call) = fake.script.get(fake.next) else {
        // Script over: wait for more input, which never comes.
        // SAFETY: a valid out-pointer for the call.
        unsafe { *consumed = 0 };
        return RawDecoded(0);
    };
    fake.next += 1;
    let body: Vec<u8> = (0..call.message).map(|i| b'a' + (i % 26) as u8).collect();
    // SAFETY: buffers lent for this call; data readable; out-pointer valid.
    unsafe {
        let _ = ducq_buf_append(message, body.as_ptr().cast(), body.len());
        let _ = ducq_buf_append(out, bytes.as_ptr().cast(), call.reply.min(len));
        *consumed = call.consumed;
    }
    RawDecoded(call.result)
}

unsafe extern "C" fn fake_encode(
    _ctx: *mut c_void,
    _conn: *mut c_void,
    msg: *const c_char,
    len: usize,
    out: *mut ducq_buf,
) {
    let head = [b'<'];
    // SAFETY: lent buffer; `msg` readable for `len` bytes (adapter contract).
    unsafe {
        let _ = ducq_buf_append(out, head.as_ptr().cast(), 1);
        let _ = ducq_buf_append(out, msg.cast(), len);
    }
}

unsafe extern "C" fn fake_close(ctx: *mut c_void, conn: *mut c_void) {
    // SAFETY: ctx is the `Fake`; conn came from `fake_open` and is released
    // here, once (the adapter's contract, checked by the counts).
    let fake = unsafe { &mut *ctx.cast::<Fake>() };
    fake.closed += 1;
    drop(unsafe { Box::from_raw(conn.cast::<FakeConn>()) });
}

fuzz_target!(|data: &[u8]| {
    let [max, calls, rest @ ..] = data else {
        return;
    };
    let max = usize::from(*max);
    let script_len = (usize::from(*calls) * 4).min(rest.len() / 4 * 4);
    let (script, stream) = rest.split_at(script_len);
    let mut fake = Fake {
        script: script
            .chunks_exact(4)
            .map(|c| Call::from_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        next: 0,
        opened: 0,
        closed: 0,
        checksum: 0,
    };
    let vtbl = ducq_proto_vtbl {
        name: c"FUZZ".as_ptr(),
        open: Some(fake_open),
        decode: Some(fake_decode),
        encode: Some(fake_encode),
        close: Some(fake_close),
    };
    let ctx: *mut c_void = (&mut fake as *mut Fake).cast();
    // SAFETY: the functions are valid for `ctx` while `fake` lives, which
    // outlasts every transport made below.
    let proto = unsafe { CProtocol::new(&vtbl, ctx, max) }.expect("complete vtable");
    let factory = proto.factory();
    {
        let mut t = factory();
        assert_eq!(t.name(), "FUZZ");
        let mut greeting = Vec::new();
        t.open(&mut greeting);
        assert!(greeting.len() <= max);
        assert!(greeting.iter().all(|&b| b == b'G'));

        // Feeding in two halves gives the adapter two chances to misread
        // lengths; `feed` checks `consumed` and empty messages.
        let (a, b) = stream.split_at(stream.len() / 2);
        let fed = oracle::feed(&mut *t, &[a, b]);
        // An empty message is the C side's bug, passed on for the
        // dispatcher to refuse; a long one must have been cut off.
        for m in &fed.messages {
            assert!(m.len() <= max, "message of {}", m.len());
        }
        let mut out = Vec::new();
        t.encode(b"ACK", &mut out);
        assert_eq!(out, b"<ACK");
        // A second connection of the same protocol is independent.
        let mut t2 = factory();
        let mut buf = stream.to_vec();
        let len = buf.len();
        let step = t2.decode(&mut buf, &mut Vec::new());
        assert!(step.consumed <= len);
        if let Decoded::Message(m) = step.decoded {
            assert!(m.len() <= max);
        }
    }
    drop(factory);
    assert_eq!(fake.opened, fake.closed, "connections opened and closed");
    std::hint::black_box(fake.checksum);
});
