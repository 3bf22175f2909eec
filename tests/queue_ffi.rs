//! Issue 15: queues and request/reply from C — a C program built against
//! `include/ducq.h` and `libducq.a` (gcc, `-Wall -Wextra -Werror`) enqueues,
//! consumes, acknowledges and sends requests to a live server.

mod ffi_util;
mod util;

use std::process::Command;

use ducq::client::Client;
use util::{TestServer, WAIT};

const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>
#include <inttypes.h>
#include "ducq.h"

#define CHECK(expr, want) do { enum ducq_state s_ = (expr); \
    if (s_ != (want)) { printf("FAIL %s: %d\n", #expr, (int)s_); return 1; } } while (0)

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    struct ducq_i *d = ducq_new_tcp("127.0.0.1", argv[1]);
    CHECK(ducq_conn(d), DUCQ_OK);
    uint64_t id = 0, got = 0;
    uint32_t n = 0;
    char buf[64];
    size_t size;

    CHECK(ducq_enqueue(d, "jobs", "hello\0world", 11, &id), DUCQ_OK);
    printf("enqueued %" PRIu64 "\n", id);
    CHECK(ducq_enqueue(d, "bad name", "x", 1, &id), DUCQ_EMSGINV);
    CHECK(ducq_consume(d, "jobs", 1), DUCQ_OK);
    /* Too small: the size needed, and the message stays. */
    size = 4;
    CHECK(ducq_next_delivery(d, &got, &n, buf, &size), DUCQ_EMSGSIZE);
    printf("needed %zu\n", size);
    size = sizeof buf;
    CHECK(ducq_next_delivery(d, &got, &n, buf, &size), DUCQ_OK);
    printf("delivered %" PRIu64 " %" PRIu32 " %zu %s+%s\n", got, n, size, buf, buf + 6);
    CHECK(ducq_queue_ack(d, "jobs", got), DUCQ_OK);
    CHECK(ducq_queue_ack(d, "jobs", got), DUCQ_ENOTFOUND);

    size = sizeof buf;
    CHECK(ducq_request(d, "upper", "shout", 5, 5000, buf, &size), DUCQ_OK);
    printf("reply %s\n", buf);
    size = sizeof buf;
    CHECK(ducq_request(d, "nobody", "x", 1, 5000, buf, &size), DUCQ_ENOTFOUND);
    CHECK(ducq_enqueue(NULL, "jobs", "x", 1, &id), DUCQ_ENULL);
    ducq_free(d);
    printf("done\n");
    return 0;
}
"#;

#[test]
fn c_program_enqueues_consumes_acks_and_requests() {
    let srv = TestServer::start();
    let addr = srv.addr.to_string();
    // A member answering in upper case, in Rust.
    let (ready, serving) = std::sync::mpsc::channel();
    let a = addr.clone();
    std::thread::spawn(move || {
        let mut m = Client::connect(&a, WAIT).unwrap();
        m.serve("upper").unwrap();
        ready.send(()).unwrap();
        m.set_timeout(None).unwrap();
        while let Ok(r) = m.next_request() {
            m.reply(&r.token, &r.payload.to_ascii_uppercase()).unwrap();
        }
    });
    serving.recv_timeout(WAIT).unwrap();

    let dir = std::env::temp_dir().join(format!("ducq-queue-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("queue.c");
    let exe = dir.join("queue");
    std::fs::write(&src, PROGRAM).unwrap();
    ffi_util::compile_c(&src, &exe, &[]);
    let out = Command::new(&exe)
        .arg(srv.addr.port().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text,
        "enqueued 1\nneeded 12\ndelivered 1 1 11 hello+world\nreply SHOUT\ndone\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
