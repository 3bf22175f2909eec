//! MQTT 3.1.1 at QoS 0, the subset a benchmark client needs: CONNECT /
//! CONNACK, SUBSCRIBE / SUBACK, PUBLISH both ways, PINGRESP. Packets are
//! hand-encoded per the OASIS specification; QoS 1/2 flows, wills, auth and
//! session state are deliberately absent.

use std::borrow::Cow;

use super::{Event, Prefix, Wire};

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const SUBSCRIBE: u8 = 0x82; // type 8 with the mandatory flags 0b0010
const SUBACK: u8 = 9;
const PINGRESP: u8 = 13;

/// Seconds of keep-alive announced in CONNECT. Long enough for any run, so
/// the bench never has to send PINGREQ; not 0, which some brokers refuse.
const KEEPALIVE_S: u16 = 1200;

/// A QoS 0 MQTT client codec.
pub struct Mqtt {
    client_id: String,
    next_packet_id: u16,
    /// A QoS 0 PUBLISH's fixed header and topic, for the last one.
    prefix: Prefix,
}

impl Mqtt {
    /// A codec that connects as `client_id` with a clean session.
    pub fn new(client_id: &str) -> Self {
        Mqtt {
            client_id: client_id.to_string(),
            next_packet_id: 0,
            prefix: Prefix::default(),
        }
    }
}

/// Appends the variable-length "remaining length" (at most 4 bytes).
fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

/// Appends a length-prefixed UTF-8 string.
fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

/// Reads a remaining length: `Ok(None)` when incomplete, else (value, bytes).
fn get_len(input: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&b) = input.get(i) else {
            return Ok(None);
        };
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err("MQTT remaining length longer than 4 bytes".into())
}

impl Wire for Mqtt {
    fn hello(&mut self, out: &mut Vec<u8>) -> bool {
        let id = self.client_id.as_bytes();
        out.push(CONNECT);
        // protocol name (6) + level (1) + flags (1) + keep-alive (2) + id
        put_len(out, 10 + 2 + id.len());
        put_str(out, b"MQTT");
        out.push(4); // protocol level 3.1.1
        out.push(0x02); // clean session
        out.extend_from_slice(&KEEPALIVE_S.to_be_bytes());
        put_str(out, id);
        true
    }

    fn subscribe(&mut self, topic: &str, out: &mut Vec<u8>) {
        self.next_packet_id = self.next_packet_id.wrapping_add(1).max(1);
        out.push(SUBSCRIBE);
        put_len(out, 2 + 2 + topic.len() + 1);
        out.extend_from_slice(&self.next_packet_id.to_be_bytes());
        put_str(out, topic.as_bytes());
        out.push(0); // requested QoS 0
    }

    fn publish(&mut self, topic: &str, payload: &[u8], out: &mut Vec<u8>) {
        if let Some(prefix) = self.prefix.get(topic, payload.len()) {
            out.extend_from_slice(prefix);
        } else {
            let start = out.len();
            out.push(PUBLISH << 4); // QoS 0, no retain, no dup
            put_len(out, 2 + topic.len() + payload.len());
            put_str(out, topic.as_bytes());
            self.prefix.set(topic, payload.len(), &out[start..]);
        }
        out.extend_from_slice(payload);
    }

    fn acks_publish(&self) -> bool {
        false
    }

    fn decode<'a>(
        &mut self,
        input: &'a mut [u8],
        _out: &mut Vec<u8>,
    ) -> Result<Option<(usize, Event<'a>)>, String> {
        let Some(&first) = input.first() else {
            return Ok(None);
        };
        let Some((len, len_bytes)) = get_len(&input[1..])? else {
            return Ok(None);
        };
        let total = 1 + len_bytes + len;
        if input.len() < total {
            return Ok(None);
        }
        let body = &input[1 + len_bytes..total];
        let event = match first >> 4 {
            CONNACK => match body {
                [_, 0] => Event::Ready,
                [_, rc] => return Err(format!("MQTT CONNACK refused, return code {rc}")),
                _ => return Err("MQTT CONNACK malformed".into()),
            },
            SUBACK => {
                if body.len() < 3 || body[2..].contains(&0x80) {
                    return Err("MQTT SUBACK refused the subscription".into());
                }
                Event::Subscribed
            }
            PUBLISH => {
                let qos = (first >> 1) & 3;
                if body.len() < 2 {
                    return Err("MQTT PUBLISH malformed".into());
                }
                let topic_len = usize::from(u16::from_be_bytes([body[0], body[1]]));
                let mut at = 2 + topic_len;
                if qos > 0 {
                    at += 2; // packet identifier
                }
                if at > body.len() {
                    return Err("MQTT PUBLISH malformed".into());
                }
                Event::Message(Cow::Borrowed(&body[at..]))
            }
            PINGRESP => Event::Nothing,
            t => return Err(format!("unexpected MQTT packet type {t}")),
        };
        Ok(Some((total, event)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::events;
    use super::*;

    #[test]
    fn connect_bytes() {
        let mut out = Vec::new();
        assert!(Mqtt::new("c1").hello(&mut out));
        assert_eq!(
            out,
            b"\x10\x0e\x00\x04MQTT\x04\x02\x04\xb0\x00\x02c1".to_vec()
        );
    }

    #[test]
    fn subscribe_and_publish_bytes() {
        let mut m = Mqtt::new("c");
        let mut out = Vec::new();
        m.subscribe("a/b", &mut out);
        assert_eq!(out, b"\x82\x08\x00\x01\x00\x03a/b\x00".to_vec());
        out.clear();
        m.publish("t", b"hi", &mut out);
        assert_eq!(out, b"\x30\x05\x00\x01thi".to_vec());
        // The header and topic are reused while topic and size stay.
        assert_eq!(m.prefix.get("t", 2), Some(&b"\x30\x05\x00\x01t"[..]));
        m.publish("t", b"yo", &mut out);
        m.publish("t", b"yes", &mut out);
        m.publish("u", b"yes", &mut out);
        assert_eq!(
            out,
            b"\x30\x05\x00\x01thi\x30\x05\x00\x01tyo\x30\x06\x00\x01tyes\x30\x06\x00\x01uyes"
                .to_vec()
        );
    }

    #[test]
    fn long_remaining_length() {
        let mut out = Vec::new();
        put_len(&mut out, 65_536 + 10);
        assert_eq!(get_len(&out).unwrap(), Some((65_546, 3)));
        assert_eq!(get_len(&out[..2]).unwrap(), None);
    }

    #[test]
    fn decodes_connack_suback_publish() {
        let mut m = Mqtt::new("c");
        let input = b"\x20\x02\x00\x00\x90\x03\x00\x01\x00\x30\x05\x00\x01thi\x30";
        let (seen, _, used) = events(&mut m, input);
        assert_eq!(seen, ["ready", "subscribed", "msg:hi"]);
        assert_eq!(used, input.len() - 1);
        let mut refused = *b"\x20\x02\x00\x05";
        assert!(m.decode(&mut refused, &mut Vec::new()).is_err());
    }
}
