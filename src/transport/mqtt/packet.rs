//! The MQTT control packets of 3.1.1 and 5 as plain values. Strings and
//! bytes are `Cow`s: a decoded packet borrows from the input buffer, a
//! packet built to be sent or kept (a will, a queued message) owns them.
//! Reason and return codes are kept as the byte on the wire (see
//! [`super::reason`]). No parsing or encoding here.

use std::borrow::Cow;

use super::props::Properties;

/// The protocol level of a connection (CONNECT byte 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 3.1.1, level 4.
    V311,
    /// MQTT 5.0, level 5.
    V5,
}

impl Version {
    /// The protocol level byte.
    pub fn level(self) -> u8 {
        match self {
            Version::V311 => 4,
            Version::V5 => 5,
        }
    }
}

/// Quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// 0: at most once.
    AtMostOnce,
    /// 1: at least once.
    AtLeastOnce,
    /// 2: exactly once.
    ExactlyOnce,
}

impl QoS {
    /// The QoS for two bits of a header, `None` for the reserved 3.
    pub fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// 0, 1 or 2.
    pub fn bits(self) -> u8 {
        self as u8
    }
}

/// The will of a CONNECT: published by the server when the connection ends
/// without a DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic to publish to.
    pub topic: Cow<'a, str>,
    /// Message payload.
    pub payload: Cow<'a, [u8]>,
    /// QoS to publish at.
    pub qos: QoS,
    /// Publish as retained.
    pub retain: bool,
    /// MQTT 5 will properties (will delay, message expiry, …).
    pub props: Properties<'a>,
}

/// CONNECT (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol level the client speaks.
    pub version: Version,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
    /// Client identifier, possibly empty.
    pub client_id: Cow<'a, str>,
    /// The will, if any.
    pub will: Option<Will<'a>>,
    /// User name.
    pub username: Option<Cow<'a, str>>,
    /// Password.
    pub password: Option<Cow<'a, [u8]>>,
}

/// CONNACK (§3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// The server holds a session for this client.
    pub session_present: bool,
    /// 3.1.1 return code or MQTT 5 reason code.
    pub code: u8,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
}

/// PUBLISH (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish<'a> {
    /// A redelivery.
    pub dup: bool,
    /// QoS of this delivery.
    pub qos: QoS,
    /// Retained (to the server: keep it; from the server: it was kept).
    pub retain: bool,
    /// Topic name (may be empty in MQTT 5 when a topic alias stands for it).
    pub topic: Cow<'a, str>,
    /// Packet identifier; 0 at QoS 0 (not on the wire then).
    pub packet_id: u16,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
    /// Application message.
    pub payload: Cow<'a, [u8]>,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4–3.7): a packet identifier and,
/// in MQTT 5, a reason code and properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack<'a> {
    /// The publication acknowledged.
    pub packet_id: u16,
    /// MQTT 5 reason code (0 in 3.1.1).
    pub code: u8,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
}

impl Ack<'_> {
    /// A plain success acknowledgement.
    pub fn new(packet_id: u16) -> Ack<'static> {
        Ack {
            packet_id,
            code: 0,
            props: Properties::default(),
        }
    }
}

/// Subscription options (§3.8.3.1): one byte per filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOptions {
    /// Maximum QoS of deliveries.
    pub qos: QoS,
    /// MQTT 5: do not deliver the client's own publications.
    pub no_local: bool,
    /// MQTT 5: keep the retain flag of forwarded messages.
    pub retain_as_published: bool,
    /// MQTT 5: 0 send retained messages, 1 only for a new subscription,
    /// 2 never.
    pub retain_handling: u8,
}

impl SubOptions {
    /// Options with only a QoS (all 3.1.1 has).
    pub fn qos(qos: QoS) -> SubOptions {
        SubOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: 0,
        }
    }
}

/// SUBSCRIBE (§3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// MQTT 5 properties (a subscription identifier, user properties).
    pub props: Properties<'a>,
    /// Topic filters with their options; at least one.
    pub filters: Vec<(Cow<'a, str>, SubOptions)>,
}

/// SUBACK (§3.9) and UNSUBACK (§3.11): a code per filter (UNSUBACK has none
/// in 3.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the request.
    pub packet_id: u16,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
    /// Return or reason codes, one per filter.
    pub codes: Vec<u8>,
}

/// UNSUBSCRIBE (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
    /// Topic filters; at least one.
    pub filters: Vec<Cow<'a, str>>,
}

/// DISCONNECT (§3.14) and AUTH (§3.15): a reason code and properties, both
/// MQTT 5 only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reasoned<'a> {
    /// Reason code (0 in 3.1.1).
    pub code: u8,
    /// MQTT 5 properties.
    pub props: Properties<'a>,
}

impl Reasoned<'_> {
    /// A reason code without properties.
    pub fn new(code: u8) -> Reasoned<'static> {
        Reasoned {
            code,
            props: Properties::default(),
        }
    }
}

/// Any MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// 1, client to server.
    Connect(Box<Connect<'a>>),
    /// 2, server to client.
    ConnAck(ConnAck<'a>),
    /// 3, both ways.
    Publish(Publish<'a>),
    /// 4, both ways.
    PubAck(Ack<'a>),
    /// 5, both ways.
    PubRec(Ack<'a>),
    /// 6, both ways.
    PubRel(Ack<'a>),
    /// 7, both ways.
    PubComp(Ack<'a>),
    /// 8, client to server.
    Subscribe(Subscribe<'a>),
    /// 9, server to client.
    SubAck(SubAck<'a>),
    /// 10, client to server.
    Unsubscribe(Unsubscribe<'a>),
    /// 11, server to client.
    UnsubAck(SubAck<'a>),
    /// 12, client to server.
    PingReq,
    /// 13, server to client.
    PingResp,
    /// 14, both ways.
    Disconnect(Reasoned<'a>),
    /// 15, both ways, MQTT 5 only.
    Auth(Reasoned<'a>),
}

impl Packet<'_> {
    /// The packet type (high nibble of the first byte).
    pub fn kind(&self) -> u8 {
        match self {
            Packet::Connect(_) => 1,
            Packet::ConnAck(_) => 2,
            Packet::Publish(_) => 3,
            Packet::PubAck(_) => 4,
            Packet::PubRec(_) => 5,
            Packet::PubRel(_) => 6,
            Packet::PubComp(_) => 7,
            Packet::Subscribe(_) => 8,
            Packet::SubAck(_) => 9,
            Packet::Unsubscribe(_) => 10,
            Packet::UnsubAck(_) => 11,
            Packet::PingReq => 12,
            Packet::PingResp => 13,
            Packet::Disconnect(_) => 14,
            Packet::Auth(_) => 15,
        }
    }
}
