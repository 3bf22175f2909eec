//! MQTT 5 properties (§2.2.2): every property of the specification as one
//! typed field, read with the checks the specification makes of the
//! receiver (a property in a packet that may not carry it, a property twice,
//! a value out of its range) and written in ascending identifier order. User
//! properties and subscription identifiers keep the order they came in,
//! since a server forwards user properties unchanged.
//!
//! MQTT 3.1.1 packets have no properties: the packet codec neither reads nor
//! writes them there.

use std::borrow::Cow;

use super::wire::{
    put_bin, put_str, put_u16, put_u32, put_varint, Counter, Error, Reader, Sink, MAX_VARINT,
};

/// The packet (or part of one) a property list belongs to; each property is
/// allowed in some of them only (§2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// CONNECT.
    Connect,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK, PUBREC, PUBREL, PUBCOMP.
    Ack,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
    /// The will properties in a CONNECT payload.
    Will,
}

impl Context {
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The properties of one packet. `None` / empty means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties<'a> {
    /// 0x01 Payload Format Indicator: 0 bytes, 1 UTF-8.
    pub payload_format: Option<u8>,
    /// 0x02 Message Expiry Interval, seconds.
    pub message_expiry: Option<u32>,
    /// 0x03 Content Type.
    pub content_type: Option<Cow<'a, str>>,
    /// 0x08 Response Topic.
    pub response_topic: Option<Cow<'a, str>>,
    /// 0x09 Correlation Data.
    pub correlation_data: Option<Cow<'a, [u8]>>,
    /// 0x0B Subscription Identifiers (one in SUBSCRIBE, any number in
    /// PUBLISH), 1 to 268 435 455.
    pub subscription_ids: Vec<u32>,
    /// 0x11 Session Expiry Interval, seconds (0xFFFFFFFF: never).
    pub session_expiry: Option<u32>,
    /// 0x12 Assigned Client Identifier.
    pub assigned_client_id: Option<Cow<'a, str>>,
    /// 0x13 Server Keep Alive, seconds.
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method.
    pub auth_method: Option<Cow<'a, str>>,
    /// 0x16 Authentication Data.
    pub auth_data: Option<Cow<'a, [u8]>>,
    /// 0x17 Request Problem Information (0 or 1).
    pub request_problem_info: Option<u8>,
    /// 0x18 Will Delay Interval, seconds.
    pub will_delay: Option<u32>,
    /// 0x19 Request Response Information (0 or 1).
    pub request_response_info: Option<u8>,
    /// 0x1A Response Information.
    pub response_info: Option<Cow<'a, str>>,
    /// 0x1C Server Reference.
    pub server_reference: Option<Cow<'a, str>>,
    /// 0x1F Reason String.
    pub reason_string: Option<Cow<'a, str>>,
    /// 0x21 Receive Maximum (not 0).
    pub receive_maximum: Option<u16>,
    /// 0x22 Topic Alias Maximum.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (not 0).
    pub topic_alias: Option<u16>,
    /// 0x24 Maximum QoS (0 or 1).
    pub maximum_qos: Option<u8>,
    /// 0x25 Retain Available (0 or 1).
    pub retain_available: Option<u8>,
    /// 0x26 User Properties, name and value, in order.
    pub user: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// 0x27 Maximum Packet Size (not 0).
    pub maximum_packet_size: Option<u32>,
    /// 0x28 Wildcard Subscription Available (0 or 1).
    pub wildcard_available: Option<u8>,
    /// 0x29 Subscription Identifier Available (0 or 1).
    pub subscription_ids_available: Option<u8>,
    /// 0x2A Shared Subscription Available (0 or 1).
    pub shared_available: Option<u8>,
}

use Context as C;

/// The contexts property `id` may appear in, or `None` for an unknown id.
fn allowed(id: u32) -> Option<u16> {
    let pub_will = C::Publish.bit() | C::Will.bit();
    let reason = C::ConnAck.bit()
        | C::Ack.bit()
        | C::SubAck.bit()
        | C::UnsubAck.bit()
        | C::Disconnect.bit()
        | C::Auth.bit();
    Some(match id {
        0x01..=0x03 | 0x08 | 0x09 => pub_will,
        0x0B => C::Publish.bit() | C::Subscribe.bit(),
        0x11 => C::Connect.bit() | C::ConnAck.bit() | C::Disconnect.bit(),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28..=0x2A => C::ConnAck.bit(),
        0x15 | 0x16 => C::Connect.bit() | C::ConnAck.bit() | C::Auth.bit(),
        0x17 | 0x19 => C::Connect.bit(),
        0x18 => C::Will.bit(),
        0x1C => C::ConnAck.bit() | C::Disconnect.bit(),
        0x1F => reason,
        0x21 | 0x22 | 0x27 => C::Connect.bit() | C::ConnAck.bit(),
        0x23 => C::Publish.bit(),
        0x26 => u16::MAX,
        _ => return None,
    })
}

/// Stores a property that may appear once.
fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::Protocol("property given twice"));
    }
    *slot = Some(value);
    Ok(())
}

/// A byte property that may only be 0 or 1.
fn flag(r: &mut Reader<'_>) -> Result<u8, Error> {
    match r.u8()? {
        b @ (0 | 1) => Ok(b),
        _ => Err(Error::Protocol("property value not 0 or 1")),
    }
}

fn nonzero_u16(r: &mut Reader<'_>) -> Result<u16, Error> {
    match r.u16()? {
        0 => Err(Error::Protocol("property value 0 not allowed")),
        v => Ok(v),
    }
}

impl<'a> Properties<'a> {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    /// Reads a property list (its length, then the properties) for a packet
    /// of kind `ctx`.
    pub fn read(r: &mut Reader<'a>, ctx: Context) -> Result<Properties<'a>, Error> {
        let len = r.varint()?;
        let mut p = Reader::new(r.take(len as usize)?);
        let mut props = Properties::default();
        while !p.is_empty() {
            let id = p.varint()?;
            let mask = allowed(id).ok_or(Error::Malformed("unknown property"))?;
            if mask & ctx.bit() == 0 {
                return Err(Error::Protocol("property not allowed in this packet"));
            }
            props.read_one(id, &mut p, ctx)?;
        }
        Ok(props)
    }

    fn read_one(&mut self, id: u32, p: &mut Reader<'a>, ctx: Context) -> Result<(), Error> {
        match id {
            0x01 => once(&mut self.payload_format, flag(p)?),
            0x02 => once(&mut self.message_expiry, p.u32()?),
            0x03 => once(&mut self.content_type, p.str()?),
            0x08 => once(&mut self.response_topic, p.str()?),
            0x09 => once(&mut self.correlation_data, p.bin()?),
            0x0B => {
                let v = p.varint()?;
                if v == 0 {
                    return Err(Error::Protocol("subscription identifier 0"));
                }
                if ctx == Context::Subscribe && !self.subscription_ids.is_empty() {
                    return Err(Error::Protocol("property given twice"));
                }
                self.subscription_ids.push(v);
                Ok(())
            }
            0x11 => once(&mut self.session_expiry, p.u32()?),
            0x12 => once(&mut self.assigned_client_id, p.str()?),
            0x13 => once(&mut self.server_keep_alive, p.u16()?),
            0x15 => once(&mut self.auth_method, p.str()?),
            0x16 => once(&mut self.auth_data, p.bin()?),
            0x17 => once(&mut self.request_problem_info, flag(p)?),
            0x18 => once(&mut self.will_delay, p.u32()?),
            0x19 => once(&mut self.request_response_info, flag(p)?),
            0x1A => once(&mut self.response_info, p.str()?),
            0x1C => once(&mut self.server_reference, p.str()?),
            0x1F => once(&mut self.reason_string, p.str()?),
            0x21 => once(&mut self.receive_maximum, nonzero_u16(p)?),
            0x22 => once(&mut self.topic_alias_maximum, p.u16()?),
            0x23 => once(&mut self.topic_alias, nonzero_u16(p)?),
            0x24 => once(&mut self.maximum_qos, flag(p)?),
            0x25 => once(&mut self.retain_available, flag(p)?),
            0x26 => {
                let pair = (p.str()?, p.str()?);
                self.user.push(pair);
                Ok(())
            }
            0x27 => match p.u32()? {
                0 => Err(Error::Protocol("maximum packet size 0")),
                v => once(&mut self.maximum_packet_size, v),
            },
            0x28 => once(&mut self.wildcard_available, flag(p)?),
            0x29 => once(&mut self.subscription_ids_available, flag(p)?),
            0x2A => once(&mut self.shared_available, flag(p)?),
            _ => Err(Error::Malformed("unknown property")),
        }
    }

    /// Writes the property list: its length, then every property set.
    pub fn write(&self, out: &mut impl Sink) {
        let mut len = Counter::default();
        self.write_body(&mut len);
        put_varint(out, len.0 as u32);
        self.write_body(out);
    }

    /// Bytes `write` produces.
    pub fn encoded_len(&self) -> usize {
        let mut c = Counter::default();
        self.write(&mut c);
        c.0
    }

    fn write_body(&self, out: &mut impl Sink) {
        write_u8(out, 0x01, self.payload_format);
        write_u32(out, 0x02, self.message_expiry);
        write_str(out, 0x03, &self.content_type);
        write_str(out, 0x08, &self.response_topic);
        if let Some(v) = &self.correlation_data {
            out.put(&[0x09]);
            put_bin(out, v);
        }
        for &id in &self.subscription_ids {
            out.put(&[0x0B]);
            put_varint(out, id.min(MAX_VARINT));
        }
        write_u32(out, 0x11, self.session_expiry);
        write_str(out, 0x12, &self.assigned_client_id);
        write_u16(out, 0x13, self.server_keep_alive);
        write_str(out, 0x15, &self.auth_method);
        if let Some(v) = &self.auth_data {
            out.put(&[0x16]);
            put_bin(out, v);
        }
        write_u8(out, 0x17, self.request_problem_info);
        write_u32(out, 0x18, self.will_delay);
        write_u8(out, 0x19, self.request_response_info);
        write_str(out, 0x1A, &self.response_info);
        write_str(out, 0x1C, &self.server_reference);
        write_str(out, 0x1F, &self.reason_string);
        write_u16(out, 0x21, self.receive_maximum);
        write_u16(out, 0x22, self.topic_alias_maximum);
        write_u16(out, 0x23, self.topic_alias);
        write_u8(out, 0x24, self.maximum_qos);
        write_u8(out, 0x25, self.retain_available);
        for (k, v) in &self.user {
            out.put(&[0x26]);
            put_str(out, k);
            put_str(out, v);
        }
        write_u32(out, 0x27, self.maximum_packet_size);
        write_u8(out, 0x28, self.wildcard_available);
        write_u8(out, 0x29, self.subscription_ids_available);
        write_u8(out, 0x2A, self.shared_available);
    }

    /// A copy that owns its strings and bytes (to keep past the input
    /// buffer: a will, a queued message).
    pub fn into_owned(self) -> Properties<'static> {
        fn s(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        fn b(c: Option<Cow<'_, [u8]>>) -> Option<Cow<'static, [u8]>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        Properties {
            payload_format: self.payload_format,
            message_expiry: self.message_expiry,
            content_type: s(self.content_type),
            response_topic: s(self.response_topic),
            correlation_data: b(self.correlation_data),
            subscription_ids: self.subscription_ids,
            session_expiry: self.session_expiry,
            assigned_client_id: s(self.assigned_client_id),
            server_keep_alive: self.server_keep_alive,
            auth_method: s(self.auth_method),
            auth_data: b(self.auth_data),
            request_problem_info: self.request_problem_info,
            will_delay: self.will_delay,
            request_response_info: self.request_response_info,
            response_info: s(self.response_info),
            server_reference: s(self.server_reference),
            reason_string: s(self.reason_string),
            receive_maximum: self.receive_maximum,
            topic_alias_maximum: self.topic_alias_maximum,
            topic_alias: self.topic_alias,
            maximum_qos: self.maximum_qos,
            retain_available: self.retain_available,
            user: self
                .user
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            maximum_packet_size: self.maximum_packet_size,
            wildcard_available: self.wildcard_available,
            subscription_ids_available: self.subscription_ids_available,
            shared_available: self.shared_available,
        }
    }
}

fn write_u8(out: &mut impl Sink, id: u8, v: Option<u8>) {
    if let Some(v) = v {
        out.put(&[id, v]);
    }
}

fn write_u16(out: &mut impl Sink, id: u8, v: Option<u16>) {
    if let Some(v) = v {
        out.put(&[id]);
        put_u16(out, v);
    }
}

fn write_u32(out: &mut impl Sink, id: u8, v: Option<u32>) {
    if let Some(v) = v {
        out.put(&[id]);
        put_u32(out, v);
    }
}

fn write_str(out: &mut impl Sink, id: u8, v: &Option<Cow<'_, str>>) {
    if let Some(v) = v {
        out.put(&[id]);
        put_str(out, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8], ctx: Context) -> Result<Properties<'_>, Error> {
        let mut r = Reader::new(bytes);
        let p = Properties::read(&mut r, ctx)?;
        assert!(r.is_empty());
        Ok(p)
    }

    #[test]
    fn connect_properties_round_trip() {
        let p = Properties {
            session_expiry: Some(3600),
            receive_maximum: Some(20),
            maximum_packet_size: Some(1 << 20),
            topic_alias_maximum: Some(10),
            user: vec![("a".into(), "1".into()), ("a".into(), "2".into())],
            ..Properties::default()
        };
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out.len(), p.encoded_len());
        assert_eq!(
            out,
            b"\x1e\x11\x00\x00\x0e\x10\x21\x00\x14\x22\x00\x0a\
              \x26\x00\x01a\x00\x011\x26\x00\x01a\x00\x012\x27\x00\x10\x00\x00"
        );
        assert_eq!(read(&out, Context::Connect).unwrap(), p);
    }

    #[test]
    fn receiver_checks() {
        // Topic alias in CONNECT: not allowed there.
        assert_eq!(
            read(b"\x03\x23\x00\x01", Context::Connect),
            Err(Error::Protocol("property not allowed in this packet"))
        );
        // Twice.
        assert_eq!(
            read(b"\x06\x21\x00\x01\x21\x00\x01", Context::Connect),
            Err(Error::Protocol("property given twice"))
        );
        // Receive maximum 0, maximum packet size 0, a flag of 2.
        assert!(read(b"\x03\x21\x00\x00", Context::Connect).is_err());
        assert!(read(b"\x05\x27\x00\x00\x00\x00", Context::Connect).is_err());
        assert!(read(b"\x02\x17\x02", Context::Connect).is_err());
        // Unknown id.
        assert_eq!(
            read(b"\x02\x7f\x00", Context::Connect),
            Err(Error::Malformed("unknown property"))
        );
        // The list claims more than there is.
        assert!(read(b"\x05\x21\x00\x01", Context::Connect).is_err());
        // A value cut by the list's own length.
        assert!(read(b"\x02\x21\x00\x01", Context::Connect).is_err());
        // Subscription ids: many in PUBLISH, one in SUBSCRIBE, never 0.
        let two = b"\x04\x0b\x01\x0b\x02";
        assert_eq!(
            read(two, Context::Publish).unwrap().subscription_ids,
            [1, 2]
        );
        assert!(read(two, Context::Subscribe).is_err());
        assert!(read(b"\x02\x0b\x00", Context::Publish).is_err());
        // User properties anywhere, order kept.
        let u = b"\x0e\x26\x00\x01b\x00\x01x\x26\x00\x01a\x00\x01y";
        let p = read(u, Context::Auth).unwrap();
        assert_eq!(p.user[0].0, "b");
        assert_eq!(p.user[1].0, "a");
    }

    #[test]
    fn empty_list() {
        let p = read(b"\x00", Context::Publish).unwrap();
        assert!(p.is_empty());
        let mut out = Vec::new();
        p.write(&mut out);
        assert_eq!(out, b"\x00");
    }

    #[test]
    fn owned_copy_is_equal() {
        let bytes = b"\x0c\x03\x00\x04text\x09\x00\x02\x01\x02";
        let p = read(bytes, Context::Publish).unwrap();
        assert_eq!(p.clone().into_owned(), p);
    }
}
