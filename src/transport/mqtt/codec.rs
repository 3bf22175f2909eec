//! Decoding and encoding of whole MQTT control packets, 3.1.1 and 5.
//!
//! [`decode`] reads one packet from the front of a buffer that may hold
//! less than a packet (it then asks for more) or several. The first byte is
//! checked as soon as it arrives and the announced size as soon as the
//! remaining length is complete, so an invalid type or a packet over the
//! maximum is refused before its body is waited for or buffered.
//! [`encode`] appends a packet to a buffer; lengths are measured by the same
//! code that writes, so they always agree.
//!
//! What is checked here is what a receiver can check from the bytes alone
//! (reserved flags, lengths, UTF-8, property placement); what depends on
//! the session (topic aliases, packet identifiers in use, wildcards in a
//! topic name) is for the state machine.

use std::borrow::Cow;

use super::packet::{
    Ack, ConnAck, Connect, Packet, Publish, QoS, Reasoned, SubAck, SubOptions, Subscribe,
    Unsubscribe, Version, Will,
};
use super::props::{Context, Properties};
use super::wire::{
    put_bin, put_str, put_u16, put_varint, read_varint, Counter, Error, Reader, Sink, VarInt,
};

/// The size of the packet at the front of `input`, once its fixed header is
/// complete: `Ok(None)` while it is not. Fails at once on a reserved packet
/// type or flags, a remaining length over four bytes, or a packet larger
/// than `max_packet` bytes (fixed header included).
pub fn packet_len(input: &[u8], max_packet: u32) -> Result<Option<usize>, Error> {
    let Some((&first, rest)) = input.split_first() else {
        return Ok(None);
    };
    check_first_byte(first)?;
    match read_varint(rest) {
        VarInt::Incomplete => Ok(None),
        VarInt::TooLong => Err(Error::Malformed("remaining length over 4 bytes")),
        VarInt::Value(len, n) => {
            let total = 1 + n as u64 + u64::from(len);
            if total > u64::from(max_packet) {
                return Err(Error::TooLarge {
                    size: total,
                    max: max_packet,
                });
            }
            Ok(Some(total as usize))
        }
    }
}

/// Checks a packet type and its fixed-header flags (§2.1.3).
fn check_first_byte(first: u8) -> Result<(), Error> {
    let flags = first & 0x0f;
    let ok = match first >> 4 {
        0 => false,
        3 => (flags >> 1) & 3 != 3,
        6 | 8 | 10 => flags == 0b0010,
        _ => flags == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Malformed("reserved packet type or flags"))
    }
}

/// Decodes the packet at the front of `input` for a connection speaking
/// `version` (a CONNECT says its own). `Ok(None)`: wait for more bytes.
/// `Ok(Some((packet, n)))`: the packet took the first `n` bytes. An error
/// means the connection cannot go on (after a CONNACK or DISCONNECT with the
/// error's reason, as the protocol allows).
pub fn decode(
    input: &[u8],
    version: Version,
    max_packet: u32,
) -> Result<Option<(Packet<'_>, usize)>, Error> {
    let Some(total) = packet_len(input, max_packet)? else {
        return Ok(None);
    };
    let Some(packet) = input.get(..total) else {
        return Ok(None);
    };
    let (&first, rest) = packet
        .split_first()
        .ok_or(Error::Malformed("empty packet"))?;
    let header = match read_varint(rest) {
        VarInt::Value(_, n) => n,
        _ => return Err(Error::Malformed("remaining length")),
    };
    let body = rest.get(header..).unwrap_or(&[]);
    decode_body(first, body, version).map(|p| Some((p, total)))
}

/// Decodes a packet from its first byte and its body (the bytes after the
/// remaining length).
pub fn decode_body(first: u8, body: &[u8], version: Version) -> Result<Packet<'_>, Error> {
    check_first_byte(first)?;
    let v5 = version == Version::V5;
    let mut r = Reader::new(body);
    let r = &mut r;
    let packet = match first >> 4 {
        1 => Packet::Connect(Box::new(connect(r)?)),
        2 => {
            let flags = r.u8()?;
            if flags & 0xfe != 0 {
                return Err(Error::Malformed("reserved CONNACK flags"));
            }
            Packet::ConnAck(ConnAck {
                session_present: flags & 1 == 1,
                code: r.u8()?,
                props: props(r, v5, Context::ConnAck)?,
            })
        }
        3 => Packet::Publish(publish(first, r, v5)?),
        4 => Packet::PubAck(ack(r, v5)?),
        5 => Packet::PubRec(ack(r, v5)?),
        6 => Packet::PubRel(ack(r, v5)?),
        7 => Packet::PubComp(ack(r, v5)?),
        8 => Packet::Subscribe(subscribe(r, v5)?),
        9 => Packet::SubAck(suback(r, v5, Context::SubAck)?),
        10 => {
            let packet_id = packet_id(r)?;
            let props = props(r, v5, Context::Unsubscribe)?;
            let mut filters = Vec::new();
            while !r.is_empty() {
                filters.push(r.str()?);
            }
            if filters.is_empty() {
                return Err(Error::Protocol("UNSUBSCRIBE without a topic filter"));
            }
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                props,
                filters,
            })
        }
        11 if v5 => Packet::UnsubAck(suback(r, v5, Context::UnsubAck)?),
        11 => Packet::UnsubAck(SubAck {
            packet_id: packet_id(r)?,
            props: Properties::default(),
            codes: Vec::new(),
        }),
        12 => Packet::PingReq,
        13 => Packet::PingResp,
        14 => Packet::Disconnect(reasoned(r, v5, Context::Disconnect)?),
        15 if v5 => Packet::Auth(reasoned(r, v5, Context::Auth)?),
        _ => return Err(Error::Malformed("reserved packet type")),
    };
    if !r.is_empty() {
        return Err(Error::Malformed("bytes after the end of the packet"));
    }
    Ok(packet)
}

fn props<'a>(r: &mut Reader<'a>, v5: bool, ctx: Context) -> Result<Properties<'a>, Error> {
    if v5 {
        Properties::read(r, ctx)
    } else {
        Ok(Properties::default())
    }
}

fn packet_id(r: &mut Reader<'_>) -> Result<u16, Error> {
    match r.u16()? {
        0 => Err(Error::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

fn connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, Error> {
    let name = r.bin()?;
    let level = r.u8()?;
    let version = match (&*name, level) {
        (b"MQTT", 4) => Version::V311,
        (b"MQTT", 5) => Version::V5,
        _ => return Err(Error::UnsupportedProtocol(level)),
    };
    let v5 = version == Version::V5;
    let flags = r.u8()?;
    if flags & 1 != 0 {
        return Err(Error::Malformed("reserved CONNECT flag"));
    }
    let (has_user, has_pass) = (flags & 0x80 != 0, flags & 0x40 != 0);
    let (has_will, will_retain) = (flags & 0x04 != 0, flags & 0x20 != 0);
    let will_qos = QoS::from_bits((flags >> 3) & 3).ok_or(Error::Malformed("will QoS 3"))?;
    if !v5 && has_pass && !has_user {
        return Err(Error::Malformed("password without user name"));
    }
    if !has_will && (will_retain || will_qos != QoS::AtMostOnce) {
        return Err(Error::Malformed("will QoS or retain without a will"));
    }
    let keep_alive = r.u16()?;
    let props = props(r, v5, Context::Connect)?;
    let client_id = r.str()?;
    let will = if has_will {
        let props = props_will(r, v5)?;
        Some(Will {
            props,
            topic: r.str()?,
            payload: r.bin()?,
            qos: will_qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let username = if has_user { Some(r.str()?) } else { None };
    let password = if has_pass { Some(r.bin()?) } else { None };
    Ok(Connect {
        version,
        clean_start: flags & 0x02 != 0,
        keep_alive,
        props,
        client_id,
        will,
        username,
        password,
    })
}

fn props_will<'a>(r: &mut Reader<'a>, v5: bool) -> Result<Properties<'a>, Error> {
    props(r, v5, Context::Will)
}

fn publish<'a>(first: u8, r: &mut Reader<'a>, v5: bool) -> Result<Publish<'a>, Error> {
    let qos = QoS::from_bits((first >> 1) & 3).ok_or(Error::Malformed("PUBLISH QoS 3"))?;
    let dup = first & 0x08 != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(Error::Malformed("DUP set on a QoS 0 PUBLISH"));
    }
    let topic = r.str()?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        packet_id(r)?
    };
    Ok(Publish {
        dup,
        qos,
        retain: first & 1 != 0,
        topic,
        packet_id,
        props: props(r, v5, Context::Publish)?,
        payload: Cow::Borrowed(r.rest()),
    })
}

fn ack<'a>(r: &mut Reader<'a>, v5: bool) -> Result<Ack<'a>, Error> {
    let packet_id = packet_id(r)?;
    let Reasoned { code, props } = reasoned(r, v5, Context::Ack)?;
    Ok(Ack {
        packet_id,
        code,
        props,
    })
}

/// A reason code and properties, both optional on the wire (MQTT 5);
/// nothing at all in 3.1.1.
fn reasoned<'a>(r: &mut Reader<'a>, v5: bool, ctx: Context) -> Result<Reasoned<'a>, Error> {
    if !v5 || r.is_empty() {
        return Ok(Reasoned::new(0));
    }
    let code = r.u8()?;
    let props = if r.is_empty() {
        Properties::default()
    } else {
        Properties::read(r, ctx)?
    };
    Ok(Reasoned { code, props })
}

fn subscribe<'a>(r: &mut Reader<'a>, v5: bool) -> Result<Subscribe<'a>, Error> {
    let packet_id = packet_id(r)?;
    let props = props(r, v5, Context::Subscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.str()?;
        let opts = r.u8()?;
        let reserved = if v5 { 0xc0 } else { 0xfc };
        if opts & reserved != 0 {
            return Err(Error::Malformed("reserved subscription option bits"));
        }
        let qos = QoS::from_bits(opts & 3).ok_or(Error::Malformed("subscription QoS 3"))?;
        let retain_handling = (opts >> 4) & 3;
        if retain_handling == 3 {
            return Err(Error::Protocol("retain handling 3"));
        }
        let options = SubOptions {
            qos,
            no_local: opts & 0x04 != 0,
            retain_as_published: opts & 0x08 != 0,
            retain_handling,
        };
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(Error::Protocol("SUBSCRIBE without a topic filter"));
    }
    Ok(Subscribe {
        packet_id,
        props,
        filters,
    })
}

fn suback<'a>(r: &mut Reader<'a>, v5: bool, ctx: Context) -> Result<SubAck<'a>, Error> {
    let packet_id = packet_id(r)?;
    let props = props(r, v5, ctx)?;
    let codes = r.rest().to_vec();
    if codes.is_empty() && ctx == Context::SubAck {
        return Err(Error::Protocol("SUBACK without a return code"));
    }
    Ok(SubAck {
        packet_id,
        props,
        codes,
    })
}

/// Appends `packet` as a connection speaking `version` sends it (a CONNECT
/// uses its own version). Properties are left out in 3.1.1. Strings longer
/// than 65 535 bytes and packets longer than the format allows are the
/// caller's to prevent (the state machine checks sizes before encoding).
pub fn encode(packet: &Packet<'_>, version: Version, out: &mut Vec<u8>) {
    let v5 = match packet {
        Packet::Connect(c) => c.version == Version::V5,
        _ => version == Version::V5,
    };
    let mut len = Counter::default();
    body(packet, v5, &mut len);
    out.reserve(len.0 + 5);
    out.push(first_byte(packet));
    put_varint(out, len.0 as u32);
    body(packet, v5, out);
}

/// The size `encode` produces.
pub fn encoded_len(packet: &Packet<'_>, version: Version) -> usize {
    let v5 = match packet {
        Packet::Connect(c) => c.version == Version::V5,
        _ => version == Version::V5,
    };
    let mut len = Counter::default();
    body(packet, v5, &mut len);
    1 + super::wire::varint_len(len.0 as u32) + len.0
}

fn first_byte(packet: &Packet<'_>) -> u8 {
    let flags = match packet {
        Packet::Publish(p) => (u8::from(p.dup) << 3) | (p.qos.bits() << 1) | u8::from(p.retain),
        Packet::PubRel(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) => 0b0010,
        _ => 0,
    };
    (packet.kind() << 4) | flags
}

fn body(packet: &Packet<'_>, v5: bool, out: &mut impl Sink) {
    let props = |p: &Properties<'_>, out: &mut _| {
        if v5 {
            Properties::write(p, out);
        }
    };
    match packet {
        Packet::Connect(c) => connect_body(c, out),
        Packet::ConnAck(c) => {
            out.put(&[u8::from(c.session_present), c.code]);
            props(&c.props, out);
        }
        Packet::Publish(p) => {
            put_str(out, &p.topic);
            if p.qos != QoS::AtMostOnce {
                put_u16(out, p.packet_id);
            }
            props(&p.props, out);
            out.put(&p.payload);
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            put_u16(out, a.packet_id);
            if v5 {
                reasoned_body(a.code, &a.props, out);
            }
        }
        Packet::Subscribe(s) => {
            put_u16(out, s.packet_id);
            props(&s.props, out);
            for (filter, o) in &s.filters {
                put_str(out, filter);
                let opts = o.qos.bits()
                    | (u8::from(o.no_local) << 2)
                    | (u8::from(o.retain_as_published) << 3)
                    | ((o.retain_handling & 3) << 4);
                out.put(&[opts]);
            }
        }
        Packet::SubAck(s) | Packet::UnsubAck(s) => {
            put_u16(out, s.packet_id);
            if v5 || matches!(packet, Packet::SubAck(_)) {
                props(&s.props, out);
                out.put(&s.codes);
            }
        }
        Packet::Unsubscribe(u) => {
            put_u16(out, u.packet_id);
            props(&u.props, out);
            for filter in &u.filters {
                put_str(out, filter);
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) | Packet::Auth(d) => {
            if v5 {
                reasoned_body(d.code, &d.props, out);
            }
        }
    }
}

/// The optional reason code and properties of MQTT 5 acknowledgements,
/// DISCONNECT and AUTH, in their shortest form.
fn reasoned_body(code: u8, props: &Properties<'_>, out: &mut impl Sink) {
    if props.is_empty() {
        if code != 0 {
            out.put(&[code]);
        }
        return;
    }
    out.put(&[code]);
    props.write(out);
}

fn connect_body(c: &Connect<'_>, out: &mut impl Sink) {
    let v5 = c.version == Version::V5;
    put_str(out, "MQTT");
    let mut flags = u8::from(c.clean_start) << 1;
    if let Some(w) = &c.will {
        flags |= 0x04 | (w.qos.bits() << 3) | (u8::from(w.retain) << 5);
    }
    if c.password.is_some() {
        flags |= 0x40;
    }
    if c.username.is_some() {
        flags |= 0x80;
    }
    out.put(&[c.version.level(), flags]);
    put_u16(out, c.keep_alive);
    if v5 {
        c.props.write(out);
    }
    put_str(out, &c.client_id);
    if let Some(w) = &c.will {
        if v5 {
            w.props.write(out);
        }
        put_str(out, &w.topic);
        put_bin(out, &w.payload);
    }
    if let Some(u) = &c.username {
        put_str(out, u);
    }
    if let Some(p) = &c.password {
        put_bin(out, p);
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
