//! A persistent MQTT session as the bytes the durable store keeps, and
//! back: client id and user, session expiry, subscriptions with their
//! options, the QoS 2 identifiers received and not released, every
//! QoS 1 and 2 message in flight or queued (each as an MQTT 5 PUBLISH,
//! encoded by the codec, with its expiry deadline beside it), and the
//! will of a detached session that waits for its delay (MQTT 5 §4.1 counts
//! it as session state).
//!
//! Decoding never trusts the bytes: a record that does not read back
//! whole is refused (None), never half-restored. No I/O here; the
//! server hands the bytes to the queue store.
//!
//! Layout (integers big-endian): `MQS2`, flags (bit 0: MQTT 5), session
//! expiry (u32), when its connection ended (u64 unix ms, 0: it had one
//! when written), user (optional string), client id, next packet id
//! (u16), messages dropped (u64), subscriptions (u16 count; filter,
//! optional share group, options byte, subscription id (u32, 0: none),
//! optional route pattern), received QoS 2 ids (u16 count, u16 each),
//! messages (u32 count; kind (0 in flight, 1 in flight and released,
//! 2 queued), packet id (u16), deadline (u64 unix ms, 0: none), PUBLISH
//! (u32 length, bytes)), then the waiting will (presence byte; will delay
//! (u32); its topic, payload, QoS, RETAIN and other properties as a
//! PUBLISH (u32 length, bytes)). A string is a u16 length and UTF-8; an
//! optional one has a presence byte first. `MQS1` records, written before
//! wills were kept, end after the messages and read back without one.

use std::borrow::Cow;

use super::codec;
use super::packet::{Packet, Publish, QoS, SubOptions, Version, Will};
use super::session::{Outgoing, Session, Sub};

const MAGIC: &[u8; 4] = b"MQS2";
/// Records without a will section.
const MAGIC_1: &[u8; 4] = b"MQS1";

/// A session read back, with what the record says around it.
#[derive(Debug)]
pub struct Saved {
    /// The session, without a connection.
    pub session: Session,
    /// Its client spoke MQTT 5.
    pub v5: bool,
    /// When its connection ended (unix ms; 0: it had one when written).
    pub detached_ms: u64,
    /// Its will, waiting for its delay since `detached_ms`.
    pub will: Option<Box<Will<'static>>>,
}

/// The record of `s` (a client of MQTT 5 when `v5`), detached since
/// `detached_ms` (0: held by a connection), with the `will` that waits
/// for its delay.
pub fn encode(s: &Session, v5: bool, detached_ms: u64, will: Option<&Will<'_>>) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(MAGIC);
    b.push(u8::from(v5));
    b.extend_from_slice(&s.expiry.to_be_bytes());
    b.extend_from_slice(&detached_ms.to_be_bytes());
    opt_str(&mut b, s.user());
    str16(&mut b, s.client_id());
    let (next_id, dropped) = s
        .flight
        .as_ref()
        .map_or((0, 0), |f| (f.next_id(), f.dropped));
    b.extend_from_slice(&next_id.to_be_bytes());
    b.extend_from_slice(&dropped.to_be_bytes());
    let subs = u16::try_from(s.subs.len()).unwrap_or(u16::MAX);
    b.extend_from_slice(&subs.to_be_bytes());
    for sub in s.subs.iter().take(usize::from(subs)) {
        str16(&mut b, &sub.filter);
        opt_str(&mut b, sub.share.as_deref());
        let o = &sub.opts;
        b.push(
            o.qos.bits()
                | u8::from(o.no_local) << 2
                | u8::from(o.retain_as_published) << 3
                | (o.retain_handling & 3) << 4,
        );
        b.extend_from_slice(&sub.id.unwrap_or(0).to_be_bytes());
        opt_str(&mut b, sub.glob.as_deref());
    }
    let received: &[u16] = s.flight.as_ref().map_or(&[], |f| &f.incoming_qos2);
    let n = u16::try_from(received.len()).unwrap_or(u16::MAX);
    b.extend_from_slice(&n.to_be_bytes());
    for id in received.iter().take(usize::from(n)) {
        b.extend_from_slice(&id.to_be_bytes());
    }
    let msgs: Vec<(u8, u16, &Outgoing)> = match &s.flight {
        None => Vec::new(),
        Some(f) => f
            .inflight
            .iter()
            .map(|(id, o)| (u8::from(o.released), *id, o))
            .chain(f.queued.iter().map(|o| (2, 0, o)))
            .collect(),
    };
    b.extend_from_slice(&u32::try_from(msgs.len()).unwrap_or(0).to_be_bytes());
    if msgs.len() > u32::MAX as usize {
        return b;
    }
    for (kind, id, o) in msgs {
        b.push(kind);
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&o.deadline.unwrap_or(0).to_be_bytes());
        let p = Publish {
            dup: false,
            qos: o.qos,
            retain: o.retain,
            topic: Cow::Borrowed(&o.topic),
            // A queued message has no identifier yet; the packet needs one.
            packet_id: id.max(1),
            props: o.props.clone(),
            payload: Cow::Borrowed(&o.payload),
        };
        publish_bytes(&mut b, p);
    }
    match will {
        None => b.push(0),
        Some(w) => {
            b.push(1);
            b.extend_from_slice(&w.props.will_delay.unwrap_or(0).to_be_bytes());
            // The will delay is no PUBLISH property: it goes apart.
            let mut props = w.props.clone();
            props.will_delay = None;
            let p = Publish {
                dup: false,
                qos: w.qos,
                retain: w.retain,
                topic: Cow::Borrowed(&w.topic),
                packet_id: u16::from(w.qos != QoS::AtMostOnce),
                props,
                payload: Cow::Borrowed(&w.payload),
            };
            publish_bytes(&mut b, p);
        }
    }
    b
}

/// `p` as an MQTT 5 PUBLISH, after its length (u32).
fn publish_bytes(b: &mut Vec<u8>, p: Publish<'_>) {
    let mut packet = Vec::new();
    codec::encode(&Packet::Publish(p), Version::V5, &mut packet);
    b.extend_from_slice(&u32::try_from(packet.len()).unwrap_or(0).to_be_bytes());
    b.extend_from_slice(&packet);
}

/// The PUBLISH a record holds at this point (u32 length, bytes), whole.
fn read_publish<'a>(r: &mut Reader<'a>) -> Option<Publish<'a>> {
    let len = usize::try_from(r.u32()?).ok()?;
    let packet = r.take(len)?;
    let Ok(Some((Packet::Publish(p), n))) = codec::decode(packet, Version::V5, u32::MAX) else {
        return None;
    };
    (n == len).then_some(p)
}

/// The session a record holds, or None when it is not one whole.
pub fn decode(bytes: &[u8]) -> Option<Saved> {
    let mut r = Reader(bytes);
    let magic = r.take(4)?;
    let with_will = match magic {
        m if m == MAGIC => true,
        m if m == MAGIC_1 => false,
        _ => return None,
    };
    let v5 = r.u8()? & 1 == 1;
    let expiry = r.u32()?;
    let detached_ms = r.u64()?;
    let user = r.opt_str()?;
    let client_id = r.str()?;
    let mut session = Session::for_user(user.as_deref(), &client_id);
    session.expiry = expiry;
    session.persistent = true;
    let next_id = r.u16()?;
    let dropped = r.u64()?;
    read_subs(&mut r, &mut session)?;
    for _ in 0..r.u16()? {
        let id = r.u16()?;
        session.received_incoming(id);
    }
    for _ in 0..r.u32()? {
        read_message(&mut r, &mut session)?;
    }
    let will = if with_will { read_will(&mut r)? } else { None };
    if !r.0.is_empty() {
        return None;
    }
    if session.flight.is_some() || next_id != 0 || dropped != 0 {
        let f = session.flight_mut();
        f.set_next_id(next_id);
        f.dropped = dropped;
    }
    Some(Saved {
        session,
        v5,
        detached_ms,
        will,
    })
}

/// The will section: Some(None) when there is none.
fn read_will(r: &mut Reader<'_>) -> Option<Option<Box<Will<'static>>>> {
    match r.u8()? {
        0 => Some(None),
        1 => {
            let delay = r.u32()?;
            let p = read_publish(r)?;
            let mut props = p.props.into_owned();
            props.will_delay = Some(delay);
            Some(Some(Box::new(Will {
                topic: Cow::Owned(p.topic.into_owned()),
                payload: Cow::Owned(p.payload.into_owned()),
                qos: p.qos,
                retain: p.retain,
                props,
            })))
        }
        _ => None,
    }
}

/// The subscriptions of a record, into `session`.
fn read_subs(r: &mut Reader<'_>, session: &mut Session) -> Option<()> {
    for _ in 0..r.u16()? {
        let filter = r.str()?;
        let share = r.opt_str()?;
        let o = r.u8()?;
        let opts = SubOptions {
            qos: QoS::from_bits(o & 3)?,
            no_local: o & 4 != 0,
            retain_as_published: o & 8 != 0,
            retain_handling: (o >> 4) & 3,
        };
        let id = Some(r.u32()?).filter(|&i| i != 0);
        let glob = r.opt_str()?;
        session.subs.push(Sub {
            filter: filter.into(),
            share: share.map(Box::from),
            opts,
            id,
            glob: glob.map(Box::from),
        });
    }
    Some(())
}

/// One message of a record (in flight or queued), into `session`.
fn read_message(r: &mut Reader<'_>, session: &mut Session) -> Option<()> {
    let kind = r.u8()?;
    let id = r.u16()?;
    let deadline = Some(r.u64()?).filter(|&d| d != 0);
    let p = read_publish(r)?;
    if p.qos == QoS::AtMostOnce {
        return None;
    }
    let o = Outgoing {
        topic: p.topic.into_owned(),
        payload: p.payload.into_owned(),
        qos: p.qos,
        retain: p.retain,
        props: p.props.into_owned(),
        released: kind == 1,
        deadline,
    };
    let f = session.flight_mut();
    match kind {
        0 | 1 => f.inflight.push_back((id, o)),
        2 => f.queued.push_back(o),
        _ => return None,
    }
    Some(())
}

fn str16(b: &mut Vec<u8>, s: &str) {
    // MQTT strings are at most 65535 bytes; so are these.
    let n = u16::try_from(s.len()).unwrap_or(u16::MAX);
    b.extend_from_slice(&n.to_be_bytes());
    b.extend_from_slice(s.as_bytes().get(..usize::from(n)).unwrap_or_default());
}

fn opt_str(b: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            str16(b, s);
        }
    }
}

/// Reads a record front to back; every read is None past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.array()?))
    }

    fn str(&mut self) -> Option<String> {
        let n = self.u16()?;
        let b = self.take(usize::from(n))?;
        std::str::from_utf8(b).ok().map(str::to_owned)
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::mqtt::props::Properties;

    fn msg(topic: &str, qos: QoS, deadline: Option<u64>) -> Outgoing {
        Outgoing {
            topic: topic.into(),
            payload: b"p\0q".to_vec(),
            qos,
            retain: true,
            props: Properties {
                content_type: Some("text/plain".into()),
                user: vec![("k".into(), "v".into())],
                ..Properties::default()
            },
            released: false,
            deadline,
        }
    }

    #[test]
    fn a_session_reads_back_whole() {
        let mut s = Session::for_user(Some("alice"), "dev-1");
        s.expiry = 600;
        s.persistent = true;
        s.subs.push(Sub {
            filter: "a/+/c".into(),
            share: None,
            opts: SubOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: 2,
            },
            id: Some(7),
            glob: Some("a/*/c".into()),
        });
        s.subs.push(Sub {
            filter: "x".into(),
            share: Some("g".into()),
            opts: SubOptions::qos(QoS::AtLeastOnce),
            id: None,
            glob: None,
        });
        s.received_incoming(9);
        let f = s.flight_mut();
        f.inflight
            .push_back((3, msg("a/1/c", QoS::AtLeastOnce, Some(5_000))));
        let mut rel = msg("a/2/c", QoS::ExactlyOnce, None);
        rel.released = true;
        f.inflight.push_back((4, rel));
        f.queued.push_back(msg("x", QoS::AtLeastOnce, None));
        f.dropped = 2;
        f.set_next_id(4);
        let will = Will {
            topic: "status/dev-1".into(),
            payload: Cow::Borrowed(b"gone\0"),
            qos: QoS::ExactlyOnce,
            retain: true,
            props: Properties {
                will_delay: Some(30),
                message_expiry: Some(60),
                content_type: Some("text/plain".into()),
                user: vec![("k".into(), "v".into())],
                ..Properties::default()
            },
        };
        let bytes = encode(&s, true, 1234, Some(&will));
        let back = decode(&bytes).expect("reads back");
        assert!(back.v5);
        assert_eq!(back.detached_ms, 1234);
        assert_eq!(back.will.as_deref(), Some(&will));
        let b = back.session;
        assert_eq!(b.client_id(), "dev-1");
        assert_eq!(b.user(), Some("alice"));
        assert_eq!((b.expiry, b.persistent, b.owner), (600, true, 0));
        assert_eq!(b.subs, s.subs);
        let (bf, sf) = (b.flight.as_ref().unwrap(), s.flight.as_ref().unwrap());
        assert_eq!(bf.inflight, sf.inflight);
        assert_eq!(bf.queued, sf.queued);
        assert_eq!(bf.incoming_qos2, [9]);
        assert_eq!((bf.dropped, bf.next_id()), (2, 4));
        // Every cut, and trailing bytes, are refused.
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_none(), "cut at {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        // A session with nothing in flight has no flight state after.
        let plain = decode(&encode(&Session::new("p"), false, 0, None)).unwrap();
        assert!(plain.session.flight.is_none() && !plain.v5 && plain.will.is_none());
        // A will of QoS 0 without a delay or properties.
        let bare = Will {
            topic: "t".into(),
            payload: Cow::Borrowed(b""),
            qos: QoS::AtMostOnce,
            retain: false,
            props: Properties {
                will_delay: Some(0),
                ..Properties::default()
            },
        };
        let back = decode(&encode(&Session::new("p"), false, 9, Some(&bare))).unwrap();
        assert_eq!(back.will.as_deref(), Some(&bare));
    }

    #[test]
    fn a_record_written_before_wills_were_kept_reads_back() {
        let mut s = Session::new("old");
        s.persistent = true;
        s.expiry = 60;
        let mut bytes = encode(&s, true, 77, None);
        // The same record as the first layout wrote it: its own magic, no
        // will section.
        bytes[..4].copy_from_slice(MAGIC_1);
        assert_eq!(bytes.pop(), Some(0));
        let back = decode(&bytes).expect("reads back");
        assert_eq!(back.session.client_id(), "old");
        assert_eq!((back.session.expiry, back.detached_ms), (60, 77));
        assert!(back.will.is_none());
        // A will section after the first layout's end is trailing bytes.
        bytes.push(0);
        assert!(decode(&bytes).is_none());
        // Any other magic is refused.
        bytes[..4].copy_from_slice(b"MQS3");
        assert!(decode(&bytes).is_none());
    }
}
