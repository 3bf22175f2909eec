//! Access lists beyond pub and sub, against a real `ducq-server` started
//! from a configuration file: a queue's or a service's name is a route —
//! `enq` and `req` publish to it; `qsub`, `qget`, `qtake`, `qack` and
//! `serve` subscribe to it; `qcreate` and `qdel` need both (and a named
//! dead-letter queue publish rights on it); `to ID` publishes to the
//! receiver as `lsconn` lists it; `forget` of a pattern needs publish
//! rights on all it matches. A refused request keeps its correlation id.

mod secure_util;

use std::time::Duration;

use ducq::client::queue::Reply;
use ducq::client::{Client, Error};
use secure_util::*;

struct Setup {
    _dir: TempDir,
    s: Server,
}

fn setup() -> Setup {
    let pw = hash("pw");
    let toml = [
        listener("tcp", ""),
        memory_queues(),
        user("producer", Some(&pw), &["jobs/*", "svc/time", "x/+"], &[]),
        user(
            "consumer",
            Some(&pw),
            &["producer@*"],
            &["jobs/*", "svc/time"],
        ),
        user("owner", Some(&pw), &["jobs/*"], &["jobs/*"]),
        admin("root", &pw),
        anonymous(&["public/*"], &["public/*"]),
        auth(0.05, ""),
    ]
    .concat();
    let (_dir, s) = config_server("aclcmd", &toml, &[""]);
    Setup { _dir, s }
}

/// A client of `s`, logged in as `user` (every user's password is "pw"),
/// or anonymous when `user` is empty.
fn login(s: &Server, user: &str) -> Client {
    secure_util::login(&s.addr("", 0), user, "pw")
}

/// The raw reply to one command.
fn ask(c: &mut Client, cmd: &str, route: &str, payload: &str) -> String {
    c.emit(cmd, route, payload.as_bytes()).unwrap();
    text(&c.receive_reply().unwrap())
}

#[test]
fn queues_need_publish_to_send_and_subscribe_to_take() {
    let st = setup();
    let s = &st.s;
    let mut producer = login(s, "producer");
    let mut consumer = login(s, "consumer");
    let mut anon = login(s, "");

    // Sending is publishing.
    assert_eq!(producer.enqueue("jobs/a", b"one").unwrap(), 1);
    assert_eq!(producer.enqueue("jobs/a", b"two").unwrap(), 2);
    nack24(producer.enqueue("other", b"x"));
    s.wait_log("denied producer: enq other: publish outside the access list");
    nack24(consumer.enqueue("jobs/a", b"x"));
    nack24(anon.enqueue("jobs/a", b"x"));

    // Taking is subscribing: lease, acknowledge, take, consume.
    nack24(producer.fetch("jobs/a", 1));
    nack24(producer.take("jobs/a", 1));
    nack24(producer.consume("jobs/a", 1));
    nack24(producer.ack("jobs/a", 1));
    s.wait_log("denied producer: qget jobs/a: subscription beyond the access list");
    let got = consumer.fetch("jobs/a", 1).unwrap();
    assert_eq!(
        (got.len(), got[0].id, got[0].payload.as_slice()),
        (1, 1, &b"one"[..])
    );
    consumer.ack("jobs/a", 1).unwrap();
    let took = consumer.take("jobs/a", 5).unwrap();
    assert_eq!(took.len(), 1);
    assert_eq!(took[0].payload, b"two");
    nack24(anon.fetch("jobs/a", 1));
    nack24(consumer.fetch("private", 1));
    consumer.consume("jobs/b", 1).unwrap();
    producer.enqueue("jobs/b", b"three").unwrap();
    let d = consumer.next_delivery().unwrap();
    assert_eq!(
        (d.queue.as_str(), d.payload.as_slice()),
        ("jobs/b", &b"three"[..])
    );
    consumer.ack("jobs/b", d.id).unwrap();

    // Creating and deleting decide what both sides get: both rights, and
    // publish rights on a dead-letter queue named elsewhere.
    nack24(producer.create_queue("jobs/c", "visibility=5"));
    nack24(consumer.create_queue("jobs/c", "visibility=5"));
    let mut owner = login(s, "owner");
    nack24(owner.create_queue("jobs/c", "dlq=secret/dead"));
    s.wait_log("denied owner: qcreate jobs/c: publish outside the access list");
    owner.create_queue("jobs/c", "dlq=jobs/dead").unwrap();
    owner.create_queue("jobs/d", "dlq=").unwrap();
    nack24(consumer.delete_queue("jobs/c"));
    nack24(producer.delete_queue("jobs/c"));
    owner.delete_queue("jobs/c").unwrap();
    let mut root = login(s, "root");
    root.create_queue("secret/q", "dlq=secret/dead").unwrap();
    let names: Vec<String> = root.queues().unwrap().into_iter().map(|q| q.name).collect();
    assert!(names.contains(&"secret/q".to_string()), "{names:?}");
    assert!(!names.contains(&"jobs/c".to_string()), "{names:?}");
    assert!(!names.contains(&"other".to_string()), "{names:?}");
}

#[test]
fn requests_publish_and_serving_subscribes() {
    let st = setup();
    let s = &st.s;
    let mut producer = login(s, "producer");
    let mut consumer = login(s, "consumer");
    nack24(producer.serve("svc/time"));
    s.wait_log("denied producer: serve svc/time: subscription beyond the access list");
    consumer.serve("svc/time").unwrap();

    producer.send_request("svc/time", "c1", b"now?").unwrap();
    let req = consumer.next_request().unwrap();
    assert_eq!(
        (req.route.as_str(), req.payload.as_slice()),
        ("svc/time", &b"now?"[..])
    );
    consumer.reply(&req.token, b"noon").unwrap();
    assert_eq!(
        producer.next_reply().unwrap(),
        Reply::Ok {
            corr: "c1".into(),
            payload: b"noon".to_vec()
        }
    );

    // A refused request names its correlation id.
    consumer.send_request("svc/time", "c2", b"x").unwrap();
    assert_eq!(
        consumer.next_reply().unwrap(),
        Reply::Err {
            corr: "c2".into(),
            state: ducq::State::EAccess,
            text: "access denied".into()
        }
    );
    producer.send_request("svc/other", "c3", b"x").unwrap();
    let Reply::Err { corr, state, .. } = producer.next_reply().unwrap() else {
        panic!("a reply to a refused request");
    };
    assert_eq!((corr.as_str(), state.code()), ("c3", 24));
    // Still serving: the refusals touched nothing else.
    producer.send_request("svc/time", "c4", b"again").unwrap();
    let req = consumer.next_request().unwrap();
    assert_eq!(req.payload, b"again");
    consumer.reply(&req.token, b"ok").unwrap();
    assert_eq!(
        producer.next_reply().unwrap(),
        Reply::Ok {
            corr: "c4".into(),
            payload: b"ok".to_vec()
        }
    );
}

#[test]
fn direct_messages_publish_to_the_receiver_as_listed() {
    let st = setup();
    let s = &st.s;
    let mut producer = login(s, "producer");
    let mut consumer = login(s, "consumer");
    let mut anon = login(s, "");
    let mut root = login(s, "root");
    let lines = lsconn_lines(&mut root);
    let producer_id = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("producer@")
                .map(|r| r.split(',').next().unwrap().to_owned())
        })
        .expect("producer listed");
    let anon_id = anon.id();
    assert!(
        lines.iter().any(|l| l.starts_with(&format!("{anon_id},"))),
        "{lines:?} {anon_id}"
    );

    // consumer may reach `producer@*`: by the listed name or the bare id.
    assert_eq!(
        ask(
            &mut consumer,
            "to",
            &format!("producer@{producer_id}"),
            "hi"
        ),
        "ACK"
    );
    let got = text(&producer.receive().unwrap());
    assert!(
        got.starts_with("from TCP:") && got.ends_with("\nhi"),
        "{got}"
    );
    assert_eq!(ask(&mut consumer, "to", &producer_id, "again"), "ACK");
    assert!(text(&producer.receive().unwrap()).ends_with("\nagain"));
    // Not an anonymous connection, not root.
    nack24(
        consumer
            .emit("to", &anon_id, b"x")
            .and_then(|()| consumer.receive_reply()),
    );
    s.wait_log(&format!(
        "denied consumer: to {anon_id}: direct message outside the access list"
    ));
    // Anonymous clients publish to public/* only; root anywhere.
    nack24(
        anon.emit("to", &producer_id, b"x")
            .and_then(|()| anon.receive_reply()),
    );
    assert_eq!(ask(&mut root, "to", &anon_id, "psst"), "ACK");
    assert!(text(&anon.receive().unwrap()).ends_with("\npsst"));
    // Nothing arrived at the receivers of refused messages.
    producer
        .set_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(matches!(producer.receive(), Err(Error::Timeout)));
}

#[test]
fn forgetting_a_pattern_needs_every_route_it_matches() {
    let st = setup();
    let s = &st.s;
    let mut producer = login(s, "producer");
    let mut root = login(s, "root");
    producer.publish("x/a", b"1").unwrap();
    // `x/*` as a route is one level under x, but as a pattern it is more.
    producer.publish("x/*", b"literal").unwrap();
    nack24(
        producer
            .emit("forget", "x/*", b"")
            .and_then(|()| producer.receive_reply()),
    );
    s.wait_log("denied producer: forget x/*: publish outside the access list");
    assert_eq!(ask(&mut root, "last", "x/a", ""), "pub x/a\n1");
    assert_eq!(ask(&mut producer, "forget", "x/+", ""), "ACK");
    assert_eq!(ask(&mut root, "last", "x/a", ""), "ACK");
}
