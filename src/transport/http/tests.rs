//! Tests of the HTTP transport as a whole: requests in, ducq messages
//! out, replies in, responses out.
//! Over 600 lines because it is only tests (no code of the transport),
//! one per behaviour of the request state machine.

use super::*;
use crate::proto::message::nack;
use crate::proto::State;
use crate::transport::{decode_all, SharedEncoding, Step, Transport};

fn http() -> HttpOrWs {
    HttpOrWs::new(HttpLimits {
        max_head: 1024,
        max_body: 64,
        max_message: 1024,
    })
}

/// Feeds `input`; returns messages, bytes written back, closed, bytes used.
fn drive(t: &mut HttpOrWs, input: &[u8]) -> (Vec<Vec<u8>>, String, bool, usize) {
    let mut buf = input.to_vec();
    let (mut msgs, mut out) = (Vec::new(), Vec::new());
    let d = decode_all(t, &mut buf, &mut out, |_, m, _| msgs.push(m.into_owned()));
    (
        msgs,
        String::from_utf8_lossy(&out).into(),
        d.closed,
        d.consumed,
    )
}

fn answer(t: &mut HttpOrWs, replies: &[&[u8]]) -> String {
    let mut out = Vec::new();
    for r in replies {
        t.encode(r, &mut out);
    }
    String::from_utf8_lossy(&out).into()
}

/// One request, its ducq message and the response to `replies`.
fn exchange(req: &str, replies: &[&[u8]]) -> (Vec<Vec<u8>>, String, HttpOrWs) {
    let mut t = http();
    let (msgs, early, closed, _) = drive(&mut t, req.as_bytes());
    assert!(!closed, "{early}");
    let resp = answer(&mut t, replies);
    (msgs, early + &resp, t)
}

fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("")
}

#[test]
fn pub_becomes_a_ducq_message_and_ack_a_200() {
    let (msgs, resp, t) = exchange(
        "POST /pub/a%2Fb/c%20d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        &[b"ACK"],
    );
    assert_eq!(msgs, vec![b"pub a/b/c d\nhello".to_vec()]);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Content-Type: application/json\r\n"));
    assert!(resp.contains("Connection: keep-alive\r\n"));
    assert_eq!(body(&resp), "{\"ok\":true}");
    assert!(!t.close_after_flush());
    assert_eq!(t.name(), "HTTP");
}

#[test]
fn body_split_across_reads() {
    let mut t = http();
    let req = b"POST /pub/r HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    for n in 0..req.len() {
        let mut t2 = http();
        let (msgs, _, closed, used) = drive(&mut t2, &req[..n]);
        assert!(msgs.is_empty() && !closed && used == 0, "{n}");
    }
    // Resumed on the same codec, a byte more each time.
    for n in 0..req.len() {
        assert_eq!(drive(&mut t, &req[..n]).0.len(), 0);
    }
    assert_eq!(drive(&mut t, req).0, vec![b"pub r\nhello".to_vec()]);
}

#[test]
fn nack_maps_to_status_and_json() {
    for (state, status) in [
        (State::EMsgInv, "400"),
        (State::EMsgSize, "413"),
        (State::EMax, "429"),
        (State::ENoCmd, "404"),
        (State::ENotFound, "404"),
        (State::ELua, "500"),
        (State::Error, "500"),
    ] {
        let (_, resp, _) = exchange("POST /cmd/x/r HTTP/1.1\r\n\r\n", &[&nack(state)]);
        assert!(resp.starts_with(&format!("HTTP/1.1 {status} ")), "{resp}");
        assert_eq!(
            body(&resp),
            format!(
                "{{\"error\":\"{}\",\"code\":{}}}",
                state.text(),
                state.code()
            )
        );
    }
}

#[test]
fn cmd_with_and_without_route() {
    let (msgs, resp, _) = exchange("POST /cmd/epoch HTTP/1.1\r\n\r\n", &[b"1700000000"]);
    assert_eq!(msgs, vec![b"epoch".to_vec()]);
    assert!(resp.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    assert_eq!(body(&resp), "1700000000");
    let (msgs, _, _) = exchange(
        "POST /cmd/unsub/a%2Fb HTTP/1.1\r\nContent-Length: 3\r\n\r\nid1",
        &[b"ACK"],
    );
    assert_eq!(msgs, vec![b"unsub a/b\nid1".to_vec()]);
    let (msgs, _, _) = exchange(
        "POST /cmd/mine HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
        &[b"ACK"],
    );
    assert_eq!(msgs, vec![b"mine\nhi".to_vec()]);
}

#[test]
fn last_returns_the_payload_or_204() {
    let (msgs, resp, _) = exchange("GET /last/a/b HTTP/1.1\r\n\r\n", &[b"pub a/b\n21.5"]);
    assert_eq!(msgs, vec![b"last a/b\n".to_vec()]);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(resp.contains("X-Ducq-Route: a/b\r\n"));
    assert_eq!(body(&resp), "21.5");
    let (_, resp, _) = exchange("GET /last/none HTTP/1.1\r\n\r\n", &[b"ACK"]);
    assert!(resp.starts_with("HTTP/1.1 204 No Content\r\n"));
    assert!(!resp.contains("Content-Length"));
}

#[test]
fn last_with_n_asks_for_history_as_json() {
    let mut t = http();
    let (msgs, _, _, _) = drive(&mut t, b"GET /last/a/b?x=1&n=3 HTTP/1.1\r\n\r\n");
    assert_eq!(msgs, vec![b"last a/b\n3".to_vec()]);
    answer(&mut t, &[b"pub a/b\n1", b"pub a/b\n2"]);
    let mut out = Vec::new();
    t.after_dispatch(&mut out);
    let resp = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(
        body(&resp),
        r#"[{"route":"a/b","payload":"1"},{"route":"a/b","payload":"2"}]"#
    );
    let (_, resp, _) = exchange("GET /last/a/b?n=1 HTTP/1.1\r\n\r\n", &[b"ACK"]);
    assert_eq!(body(&resp), "[]");
    for bad in ["?n=", "?n=x", "?n=-1", "?n=1.5"] {
        let mut t = http();
        let req = format!("GET /last/a{bad} HTTP/1.1\r\n\r\n");
        let (msgs, out, _, _) = drive(&mut t, req.as_bytes());
        assert!(msgs.is_empty(), "{bad}");
        assert!(out.starts_with("HTTP/1.1 400 "), "{bad}: {out}");
        assert_eq!(body(&out), r#"{"error":"n must be a number"}"#);
    }
    // A + or # pattern answers JSON too.
    for (path, route) in [("a/%2B", "a/+"), ("a/+", "a/+"), ("a/%23", "a/#")] {
        let req = format!("GET /last/{path} HTTP/1.1\r\n\r\n");
        let (msgs, resp, _) = exchange(&req, &[b"ACK"]);
        assert_eq!(msgs, vec![format!("last {route}\n").into_bytes()]);
        assert_eq!(body(&resp), "[]", "{path}");
    }
}

#[test]
fn last_on_a_pattern_returns_every_match_as_json() {
    let mut t = http();
    let (msgs, early, closed, _) = drive(&mut t, b"GET /last/s%2F* HTTP/1.1\r\n\r\n");
    assert!(early.is_empty() && !closed);
    assert_eq!(msgs, vec![b"last s/*\n".to_vec()]);
    // Nothing is sent until the command has returned.
    let partial = answer(&mut t, &[b"pub s/a\n1", b"pub s/b\nsay \"hi\"\nbye"]);
    assert_eq!(partial, "");
    let mut out = Vec::new();
    t.after_dispatch(&mut out);
    let resp = String::from_utf8_lossy(&out).into_owned();
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("Content-Type: application/json\r\n"));
    assert_eq!(
        body(&resp),
        r#"[{"route":"s/a","payload":"1"},{"route":"s/b","payload":"say \"hi\"\nbye"}]"#
    );
    // The connection serves the next request as usual.
    let (msgs, _, _, _) = drive(&mut t, b"GET /last/x HTTP/1.1\r\n\r\n");
    assert_eq!(msgs, vec![b"last x\n".to_vec()]);
    // No match: an empty array, not 204.
    let (_, resp, _) = exchange("GET /last/none/* HTTP/1.1\r\n\r\n", &[b"ACK"]);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert_eq!(body(&resp), "[]");
    // A refusal is still an error.
    let (_, resp, _) = exchange(
        "GET /last/a* HTTP/1.1\r\n\r\n",
        &[b"NACK a*\n18\nroute too long"],
    );
    assert!(resp.starts_with("HTTP/1.1 500"), "{resp}");
}

#[test]
fn lscmd_and_lsconn_become_json_arrays() {
    let (msgs, resp, _) = exchange(
        "GET /lscmd HTTP/1.1\r\n\r\n",
        &[
            b"PARTS",
            b"\"lscmd\",\"list \\\"commands\\\"\"\n",
            b"\"pub\",\"publish\"\n",
            b"END",
        ],
    );
    assert_eq!(msgs, vec![b"lscmd".to_vec()]);
    assert_eq!(
        body(&resp),
        r#"[{"name":"lscmd","doc":"list \\\"commands\\\""},{"name":"pub","doc":"publish"}]"#
    );
    let (msgs, resp, _) = exchange(
        "GET /lsconn HTTP/1.1\r\n\r\n",
        &[b"PARTS", b"TCP:1.2.3.4:5,a/*\n", b"WS:1.2.3.4:6,\n", b"END"],
    );
    assert_eq!(msgs, vec![b"lsconn".to_vec()]);
    assert_eq!(
        body(&resp),
        r#"[{"id":"TCP:1.2.3.4:5","route":"a/*"},{"id":"WS:1.2.3.4:6","route":""}]"#
    );
    let (_, resp, _) = exchange("GET /lscmd HTTP/1.1\r\n\r\n", &[b"PARTS", b"END"]);
    assert_eq!(body(&resp), "[]");
}

#[test]
fn sub_becomes_an_event_stream() {
    let (msgs, resp, mut t) = exchange("GET /sub/a/* HTTP/1.1\r\n\r\n", &[b"ACK"]);
    assert_eq!(msgs, vec![b"sub a/*\n".to_vec()]);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(resp.contains("Content-Type: text/event-stream\r\n"));
    assert!(!resp.contains("Content-Length"));
    assert_eq!(t.shared_encoding(), Some(SharedEncoding::SseEvent));
    let ev = answer(
        &mut t,
        &[b"pub a/b\nhello", b"pub a/c\nl1\nl2\r\nl3", b"LOG line"],
    );
    assert_eq!(
        ev,
        "event: a/b\ndata: hello\n\n\
         event: a/c\ndata: l1\ndata: l2\ndata: l3\n\n\
         data: LOG line\n\n"
    );
    let mut out = Vec::new();
    assert!(!t.keepalive(&mut out));
    assert_eq!(out, b": keepalive\n\n");
    // Whatever the peer sends now is ignored.
    let (msgs, _, closed, used) = drive(&mut t, b"GET /lscmd HTTP/1.1\r\n\r\n");
    assert!(msgs.is_empty() && !closed && used == 23);
    assert!(!t.close_after_flush());
}

#[test]
fn sub_refused_is_an_error_response() {
    let (_, resp, t) = exchange("GET /sub/x HTTP/1.1\r\n\r\n", &[&nack(State::EMsgInv)]);
    assert!(resp.starts_with("HTTP/1.1 400 "));
    assert_eq!(t.shared_encoding(), None);
}

#[test]
fn empty_payload_event() {
    let mut out = Vec::new();
    sse_event(b"pub r\n", &mut out);
    assert_eq!(out, b"event: r\ndata: \n\n");
}

#[test]
fn pipelined_requests_wait_their_turn() {
    let mut t = http();
    let reqs = "GET /lscmd HTTP/1.1\r\n\r\nPOST /pub/r HTTP/1.1\r\nContent-Length: 1\r\n\r\nx";
    let mut buf = reqs.as_bytes().to_vec();
    let (msgs, _, _, used) = drive(&mut t, &buf);
    assert_eq!(msgs, vec![b"lscmd".to_vec()]);
    // Still waiting for the lscmd reply: the second request stays put.
    let mut out = Vec::new();
    assert_eq!(t.decode(&mut buf[used..], &mut out), Step::need_more());
    answer(&mut t, &[b"PARTS", b"END"]);
    let (msgs, _, _, _) = drive(&mut t, &buf[used..]);
    assert_eq!(msgs, vec![b"pub r\nx".to_vec()]);
    buf.clear();
}

#[test]
fn connection_close_and_http_1_0() {
    let (_, resp, t) = exchange(
        "GET /lscmd HTTP/1.1\r\nConnection: close\r\n\r\n",
        &[b"PARTS", b"END"],
    );
    assert!(resp.contains("Connection: close\r\n"));
    assert!(t.close_after_flush());
    let (_, resp, t) = exchange("GET /lscmd HTTP/1.0\r\n\r\n", &[b"PARTS", b"END"]);
    assert!(resp.contains("Connection: close\r\n"));
    assert!(t.close_after_flush());
    let (_, resp, t) = exchange(
        "GET /lscmd HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        &[b"PARTS", b"END"],
    );
    assert!(resp.contains("Connection: keep-alive\r\n"));
    assert!(!t.close_after_flush());
}

#[test]
fn unknown_path_and_wrong_method() {
    let mut t = http();
    let req = b"GET /nope HTTP/1.1\r\n\r\n";
    let (msgs, out, closed, used) = drive(&mut t, req);
    assert!(msgs.is_empty() && !closed && used == req.len());
    assert!(out.starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert_eq!(body(&out), "{\"error\":\"unknown path\"}");
    // The connection is still good.
    let (msgs, out, _, _) = drive(&mut t, b"GET /pub/x HTTP/1.1\r\n\r\n");
    assert!(msgs.is_empty());
    assert!(out.starts_with("HTTP/1.1 405 "));
    assert!(out.contains("Allow: POST\r\n"));
    for (req, status) in [
        ("POST /lscmd HTTP/1.1\r\n\r\n", "405"),
        ("GET /pub HTTP/1.1\r\n\r\n", "404"),
        ("POST /pub/ HTTP/1.1\r\n\r\n", "400"),
        ("POST /pub/a%0Ab HTTP/1.1\r\n\r\n", "400"),
        ("POST /pub/a%zz HTTP/1.1\r\n\r\n", "400"),
        ("POST /cmd/a%20b/r HTTP/1.1\r\n\r\n", "400"),
        ("GET nope HTTP/1.1\r\n\r\n", "404"),
    ] {
        let (msgs, out, _, _) = drive(&mut http(), req.as_bytes());
        assert!(msgs.is_empty());
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{req}: {out}"
        );
    }
}

#[test]
fn error_with_an_unread_body_closes() {
    let (msgs, out, closed, _) = drive(
        &mut http(),
        b"POST /nope HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(msgs.is_empty() && closed);
    assert!(out.starts_with("HTTP/1.1 404 ") && out.contains("Connection: close"));
}

#[test]
fn oversized_body_is_413_from_the_header() {
    // Only the head has arrived; the answer does not wait for the body.
    let (msgs, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nContent-Length: 65\r\n\r\n",
    );
    assert!(msgs.is_empty() && closed);
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    let (_, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    );
    assert!(closed && out.starts_with("HTTP/1.1 413 "));
    // Exactly the limit is fine.
    let req = format!(
        "POST /pub/r HTTP/1.1\r\nContent-Length: 64\r\n\r\n{}",
        "x".repeat(64)
    );
    let (msgs, _, closed, _) = drive(&mut http(), req.as_bytes());
    assert!(!closed && msgs.len() == 1);
}

#[test]
fn oversized_or_malformed_head() {
    let mut req = b"GET /lscmd HTTP/1.1\r\nX: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 2000));
    let (_, out, closed, _) = drive(&mut http(), &req);
    assert!(closed && out.starts_with("HTTP/1.1 431 "), "{out}");
    let (_, out, closed, _) = drive(&mut http(), b"GET /lscmd HTTP/9.9\r\n\r\n");
    assert!(closed && out.starts_with("HTTP/1.1 400 "));
    for bad in [
        "POST /pub/r HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST /pub/r HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST /pub/r HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let (_, out, closed, _) = drive(&mut http(), bad.as_bytes());
        assert!(closed && out.starts_with("HTTP/1.1 400 "), "{bad}: {out}");
    }
    let (_, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    );
    assert!(closed && out.starts_with("HTTP/1.1 501 "));
}

#[test]
fn chunked_bodies() {
    let req = "POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
               5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    let mut t = http();
    for n in 0..req.len() - 4 {
        assert!(drive(&mut t, &req.as_bytes()[..n]).0.is_empty(), "{n}");
    }
    let (msgs, _, closed, used) = drive(&mut t, req.as_bytes());
    assert!(!closed);
    assert_eq!(msgs, vec![b"pub r\nhello world".to_vec()]);
    assert_eq!(used, req.len() - 4);
    // Declared sizes past the limit are refused before the data comes.
    let (_, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n",
    );
    assert!(!closed, "{out}");
    let (_, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
    );
    assert!(closed && out.starts_with("HTTP/1.1 413 "));
    let (_, out, closed, _) = drive(
        &mut http(),
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
    );
    assert!(closed && out.starts_with("HTTP/1.1 400 "));
}

/// Found in review, shown by the split-anywhere oracle
/// (`tests/prop_ws_http.rs`, `chunked_overhead_split_anywhere`): a
/// chunked body whose chunk lines (extensions) passed the buffering
/// bound was accepted when it came in one read and refused with 413
/// when it came in two.
#[test]
fn chunked_overhead_bound_does_not_depend_on_reads() {
    let mut req = b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
    req.extend(std::iter::repeat_n(b'e', 1200));
    req.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
    let (msgs, out, closed, _) = drive(&mut http(), &req);
    assert!(
        msgs.is_empty() && closed && out.starts_with("HTTP/1.1 413 "),
        "{out}"
    );
    let mut t = http();
    let mut buf = req[..1215].to_vec();
    let (msgs, out, closed, _) = drive(&mut t, &buf);
    assert!(
        msgs.is_empty() && closed && out.starts_with("HTTP/1.1 413 "),
        "{out}"
    );
    // Extensions within the bound are fine, in one read or many.
    let small =
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=1\r\nx\r\n0\r\n\r\n";
    let (msgs, _, closed, _) = drive(&mut http(), small);
    assert!(!closed && msgs == vec![b"pub r\nx".to_vec()]);
    let mut t = http();
    buf.clear();
    let mut got = Vec::new();
    for &b in small.iter() {
        buf.push(b);
        let (msgs, _, closed, used) = drive(&mut t, &buf);
        assert!(!closed);
        buf.drain(..used);
        got.extend(msgs);
    }
    assert_eq!(got, vec![b"pub r\nx".to_vec()]);
}

/// Found by the `http_request` fuzz target (its input, minus the two
/// configuration bytes): a chunked body that turns malformed only past
/// the bound was answered 400 when it came whole and 413 when it came
/// byte by byte. Now only the bytes within the bound are read: 413.
#[test]
fn chunked_error_past_the_bound_does_not_depend_on_reads() {
    let input: &[u8] = b"POST /pub/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nhello\r\n6;eHTTP/1.1 100 \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\
        \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\
        \xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffContinue\r\n\r\n\rx\xc0\r \n";
    let limits = HttpLimits {
        max_head: 96,
        max_body: 16,
        max_message: 256,
    };
    let (msgs, whole, closed, _) = drive(&mut HttpOrWs::new(limits), input);
    assert!(msgs.is_empty() && closed);
    let mut t = HttpOrWs::new(limits);
    let mut buf = Vec::new();
    let mut split = String::new();
    for &b in input {
        buf.push(b);
        let (msgs, out, closed, used) = drive(&mut t, &buf);
        assert!(msgs.is_empty());
        split.push_str(&out);
        if closed {
            break;
        }
        buf.drain(..used);
    }
    assert_eq!(whole, split);
    assert!(whole.starts_with("HTTP/1.1 413 "), "{whole}");
}

#[test]
fn expect_continue_gets_an_interim_answer() {
    let mut t = http();
    let head = b"POST /pub/r HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    let (msgs, out, _, _) = drive(&mut t, head);
    assert!(msgs.is_empty());
    assert_eq!(out, "HTTP/1.1 100 Continue\r\n\r\n");
    let mut full = head.to_vec();
    full.extend_from_slice(b"ok");
    let (msgs, out, _, _) = drive(&mut t, &full);
    assert_eq!(msgs, vec![b"pub r\nok".to_vec()]);
    assert!(out.is_empty(), "sent once");
}

#[test]
fn options_preflight() {
    let (msgs, out, closed, _) = drive(&mut http(), b"OPTIONS /pub/r HTTP/1.1\r\n\r\n");
    assert!(msgs.is_empty() && !closed);
    assert!(out.starts_with("HTTP/1.1 204 ") && out.contains("Access-Control-Allow-Methods"));
    // An allowed page's preflight: it may POST with credentials.
    let req = b"OPTIONS /pub/r HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n\
        Access-Control-Request-Method: POST\r\n\
        Access-Control-Request-Headers: authorization,content-type\r\n\r\n";
    let (msgs, out, closed, _) = drive(&mut http(), req);
    assert!(msgs.is_empty() && !closed);
    assert_eq!(
        out,
        "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Methods: GET, POST\r\n\
         Access-Control-Allow-Headers: Authorization, Content-Type\r\n\
         Access-Control-Allow-Origin: http://localhost:3000\r\nVary: Origin\r\n\
         Connection: keep-alive\r\n\r\n"
    );
    // Another site's page: no CORS header, so its browser sends nothing.
    let foreign =
        b"OPTIONS /pub/r HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n\r\n";
    let (_, out, _, _) = drive(&mut http(), foreign);
    assert!(
        out.starts_with("HTTP/1.1 204 ") && !out.contains("Access-Control-Allow-Origin"),
        "{out}"
    );
}

#[test]
fn upgrade_becomes_websocket_and_keeps_trailing_frames() {
    let mut t = http();
    let mut wire = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    let mut frame = Vec::new();
    super::super::ws::frame::encode_frame(&mut frame, 1, b"lscmd", Some([9, 8, 7, 6]));
    wire.extend(frame);
    let (msgs, out, closed, _) = drive(&mut t, &wire);
    assert!(!closed);
    assert!(out.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert_eq!(msgs, vec![b"lscmd".to_vec()]);
    assert_eq!(t.name(), "WS");
    assert_eq!(t.shared_encoding(), Some(SharedEncoding::WsServerFrame));
    let mut out = Vec::new();
    t.encode(b"PARTS", &mut out);
    assert_eq!(out, b"\x81\x05PARTS");
    // A bad upgrade is a 400 and a close.
    let (_, out, closed, _) = drive(
        &mut http(),
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    assert!(closed && out.starts_with("HTTP/1.1 400 "));
}

#[test]
fn unsolicited_messages_are_dropped() {
    let mut t = http();
    assert!(answer(&mut t, &[b"pub a\nb"]).is_empty());
}

#[test]
fn random_garbage_never_panics() {
    let mut gen = super::super::ws::frame::MaskGen::from_seed(0xbad);
    let seeds: [&[u8]; 4] = [
        b"POST /pub/r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /cmd/x/y HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
        b"GET /sub/a HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n",
    ];
    for round in 0..3000u64 {
        let mut wire = seeds[(round % 4) as usize].to_vec();
        let n = gen.next_u64() % 48;
        for _ in 0..n {
            let b = gen.next_u64() as u8;
            // Mix in bytes that matter to the parsers.
            wire.push(match b % 8 {
                0 => b'\r',
                1 => b'\n',
                2 => b'0' + b % 10,
                _ => b,
            });
        }
        if round % 3 == 0 {
            let at = (gen.next_u64() as usize) % wire.len();
            wire[at] = gen.next_u64() as u8;
        }
        let mut t = http();
        let _ = drive(&mut t, &wire);
        let mut out = Vec::new();
        t.encode(b"ACK", &mut out);
        t.encode(b"pub a\nb", &mut out);
    }
}

#[test]
fn metrics_stats_and_dashboard_files_are_bodies_of_their_type() {
    let cases: [(&str, &[u8], &[u8], &str); 5] = [
        (
            "/metrics",
            b"metrics",
            b"# HELP x y\nx 1\n",
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        ("/stats", b"stats", b"{\"a\":1}", "application/json"),
        (
            "/",
            b"dashboard index.html\n",
            b"<!doctype html>",
            "text/html; charset=utf-8",
        ),
        (
            "/dashboard/app.js",
            b"dashboard app.js\n",
            b"'use strict';",
            "text/javascript; charset=utf-8",
        ),
        (
            "/dashboard/app.css?v=2",
            b"dashboard app.css\n",
            b"body{}",
            "text/css; charset=utf-8",
        ),
    ];
    for (path, msg, reply, media) in cases {
        let (msgs, resp, _) = exchange(&format!("GET {path} HTTP/1.1\r\n\r\n"), &[reply]);
        assert_eq!(msgs, vec![msg.to_vec()], "{path}");
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(
            resp.contains(&format!("\r\nContent-Type: {media}\r\n")),
            "{resp}"
        );
        assert!(resp.contains("\r\nCache-Control: no-cache\r\n"), "{resp}");
        assert_eq!(body(&resp).as_bytes(), reply, "{path}");
    }
    // No dashboard, or no such file: 404.
    let (_, resp, _) = exchange("GET / HTTP/1.1\r\n\r\n", &[b"NACK *\n17\ncommand unknown"]);
    assert!(resp.starts_with("HTTP/1.1 404 "), "{resp}");
    let (_, resp, _) = exchange(
        "GET /dashboard/x.js HTTP/1.1\r\n\r\n",
        &[b"NACK *\n19\nconnection not found"],
    );
    assert_eq!(body(&resp), r#"{"error":"not found","code":19}"#);
    // Read-only endpoints.
    let (_, resp, _) = exchange("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &[]);
    assert!(resp.starts_with("HTTP/1.1 405 "), "{resp}");
    assert!(resp.contains("\r\nAllow: GET\r\n"), "{resp}");
    let (_, resp, _) = exchange("GET /metrics/x HTTP/1.1\r\n\r\n", &[]);
    assert!(resp.starts_with("HTTP/1.1 404 "), "{resp}");
}
