//! What each command asks of the caller's access lists, and which
//! commands are an admin's: the one table the gate reads (PROTOCOL.md
//! §1.2). A queue's or a service's name counts as
//! a route: sending into it is publishing, taking from it is subscribing.
//! Pure: it names the rights, the gate checks them. It must not look at
//! connections or users.

use crate::proto::Message;
use crate::queue::config::Config as QueueConfig;

/// One right a command needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need<'a> {
    /// Publishing to this route (a publish pattern matches it).
    Publish(&'a [u8]),
    /// Publishing to every route this pattern matches (a publish pattern
    /// contains it): `forget` of a pattern.
    PublishAll(&'a [u8]),
    /// Subscribing within this pattern (a subscribe pattern contains it).
    Subscribe(&'a [u8]),
    /// Publishing to a named queue other than the command's route (a
    /// `qcreate` dead-letter queue).
    PublishTo(Vec<u8>),
    /// A direct message to the connection this id names: publishing to its
    /// listed name (`<user>@<id>` or `<id>`), resolved by the gate.
    Direct(&'a [u8]),
}

/// The rights `msg` needs; empty for commands the lists do not govern
/// (`PING`, `lsconn`, `unsubscribe`, replies to a request, Lua and C
/// commands, …). Admin-only commands are the gate's other rule.
pub fn needs<'a>(msg: &Message<'a>) -> Vec<Need<'a>> {
    let r = msg.route;
    match msg.command {
        // Streamed parts publish too, and so does a publication that
        // crossed a bridge: a broker's bridge is one more publisher, held
        // to the lists of the user it authenticated as.
        b"pub" | b"publish" | b"CONT" | b"END" | b"bpub" => vec![Need::Publish(r)],
        // Forgetting stored messages changes what every reader of those
        // routes finds.
        b"forget" => vec![Need::PublishAll(r)],
        // Reading the store is a subscription's worth of access.
        b"sub" | b"subscribe" | b"last" => vec![Need::Subscribe(r)],
        b"to" => vec![Need::Direct(r)],
        // Queues: `enq` sends into one; consuming, leasing, taking and
        // acknowledging read from it.
        b"enq" => vec![Need::Publish(r)],
        b"qsub" | b"qget" | b"qtake" | b"qack" => vec![Need::Subscribe(r)],
        // Creating or deleting a queue is both: it decides what senders
        // and consumers of it get. Dead letters sent elsewhere are sent.
        b"qcreate" => {
            let mut v = vec![Need::Publish(r), Need::Subscribe(r)];
            if let Some(dlq) = dead_letter_queue(msg.payload) {
                v.push(Need::PublishTo(dlq));
            }
            v
        }
        b"qdel" => vec![Need::Publish(r), Need::Subscribe(r)],
        // Request/reply: a request is sent to the service's route, serving
        // receives what is sent there.
        b"req" => vec![Need::Publish(r)],
        b"serve" => vec![Need::Subscribe(r)],
        _ => Vec::new(),
    }
}

/// Who may run a command beyond the access lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// Anyone the lists allow.
    No,
    /// An admin user only (`reload`).
    Always,
    /// An admin user once access is restricted (users exist, or the
    /// anonymous lists are narrowed); anyone otherwise, as before.
    WhenRestricted,
}

/// Whether `msg` is an admin's: `reload`; and once access is restricted,
/// closing another connection (`unsub`), changing channels (`chan add`,
/// `chan rm`), and what the dashboard and metrics show — every route's
/// last payload, every connection (`metrics`, `stats`, `routes`, `conns`,
/// `dashboard`: `GET /`, `/metrics`, `/stats`).
pub fn admin(msg: &Message<'_>) -> Admin {
    match msg.command {
        b"reload" => Admin::Always,
        b"unsub" | b"metrics" | b"stats" | b"routes" | b"conns" | b"dashboard" => {
            Admin::WhenRestricted
        }
        b"chan" => {
            let verb = msg
                .route
                .split(u8::is_ascii_whitespace)
                .find(|w| !w.is_empty());
            match verb {
                Some(b"add" | b"rm") => Admin::WhenRestricted,
                _ => Admin::No,
            }
        }
        _ => Admin::No,
    }
}

/// The dead-letter queue `qcreate` options name (`dlq=NAME`), if they
/// parse and name one; a malformed option is the command's own NACK.
fn dead_letter_queue(options: &[u8]) -> Option<Vec<u8>> {
    let config = QueueConfig::parse(options).ok()?;
    config
        .dead_letter
        .filter(|d| !d.is_empty())
        .map(String::into_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_of(raw: &str) -> Vec<Need<'_>> {
        let m = Message::parse(raw.as_bytes()).unwrap();
        needs(&m)
    }

    #[test]
    fn table() {
        assert_eq!(needs_of("pub a/b\nx"), vec![Need::Publish(b"a/b")]);
        assert_eq!(needs_of("END a\n"), vec![Need::Publish(b"a")]);
        assert_eq!(
            needs_of("bpub a/b\n00000000000000a1:1\nx"),
            vec![Need::Publish(b"a/b")]
        );
        assert_eq!(needs_of("forget a/*\n"), vec![Need::PublishAll(b"a/*")]);
        assert_eq!(needs_of("last a/+\n3"), vec![Need::Subscribe(b"a/+")]);
        assert_eq!(
            needs_of("to TCP:1.2.3.4:5\nhi"),
            vec![Need::Direct(b"TCP:1.2.3.4:5")]
        );
        assert_eq!(needs_of("enq jobs\nx"), vec![Need::Publish(b"jobs")]);
        for c in ["qsub", "qget", "qtake", "qack"] {
            let raw = format!("{c} jobs\n1");
            let m = Message::parse(raw.as_bytes()).unwrap();
            assert_eq!(needs(&m), vec![Need::Subscribe(b"jobs")], "{c}");
        }
        assert_eq!(
            needs_of("qdel jobs\n"),
            vec![Need::Publish(b"jobs"), Need::Subscribe(b"jobs")]
        );
        assert_eq!(
            needs_of("qcreate jobs\nvisibility=5 dlq=dead/jobs"),
            vec![
                Need::Publish(b"jobs"),
                Need::Subscribe(b"jobs"),
                Need::PublishTo(b"dead/jobs".to_vec())
            ]
        );
        // Dropping dead letters, or the default `<name>.dlq`, sends nowhere
        // else by name.
        assert_eq!(needs_of("qcreate jobs\ndlq=").len(), 2);
        assert_eq!(needs_of("qcreate jobs\nmax_deliveries=2").len(), 2);
        assert_eq!(
            needs_of("req svc/time\nc1\nnow"),
            vec![Need::Publish(b"svc/time")]
        );
        assert_eq!(
            needs_of("serve svc/time\n"),
            vec![Need::Subscribe(b"svc/time")]
        );
        let admin_of = |raw: &str| admin(&Message::parse(raw.as_bytes()).unwrap());
        assert_eq!(admin_of("reload _\n"), Admin::Always);
        for restricted in [
            "unsub _\nTCP:1",
            "metrics",
            "stats",
            "conns *\n0 5",
            "dashboard index.html\n",
            "chan add x\npattern=x",
            "chan rm x",
        ] {
            assert_eq!(admin_of(restricted), Admin::WhenRestricted, "{restricted}");
        }
        for open in ["chan ls", "chan show x", "lsconn", "pub a\nx"] {
            assert_eq!(admin_of(open), Admin::No, "{open}");
        }
        for free in [
            "PING _\n",
            "lsconn _\n",
            "unsubscribe a\n",
            "rep 7\nx",
            "qunsub q\n",
        ] {
            assert!(needs_of(free).is_empty(), "{free}");
        }
    }
}
