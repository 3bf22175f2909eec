//! Reason codes (MQTT 5 §2.4) and the MQTT 3.1.1 return codes they map to.
//! Packets carry the byte as sent; these names say what it means. Pure
//! constants and three mappings; nothing here decides what to answer.

use crate::proto::State;

/// Success, normal disconnection, granted QoS 0.
pub const SUCCESS: u8 = 0x00;
/// Granted QoS 1 (SUBACK).
pub const GRANTED_QOS_1: u8 = 0x01;
/// Granted QoS 2 (SUBACK).
pub const GRANTED_QOS_2: u8 = 0x02;
/// Disconnect and publish the will (DISCONNECT from a client).
pub const DISCONNECT_WITH_WILL: u8 = 0x04;
/// The message was accepted but nobody is subscribed (PUBACK, PUBREC).
pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
/// UNSUBACK: the filter was not subscribed.
pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
/// Unspecified error.
pub const UNSPECIFIED: u8 = 0x80;
/// Malformed packet.
pub const MALFORMED: u8 = 0x81;
/// Protocol error.
pub const PROTOCOL_ERROR: u8 = 0x82;
/// Implementation specific error (a request the server refuses).
pub const IMPLEMENTATION_SPECIFIC: u8 = 0x83;
/// Unsupported protocol version (CONNACK).
pub const UNSUPPORTED_PROTOCOL_VERSION: u8 = 0x84;
/// Client identifier not valid (CONNACK).
pub const CLIENT_ID_NOT_VALID: u8 = 0x85;
/// Bad user name or password (CONNACK).
pub const BAD_USER_NAME_OR_PASSWORD: u8 = 0x86;
/// Not authorized.
pub const NOT_AUTHORIZED: u8 = 0x87;
/// Server unavailable (CONNACK).
pub const SERVER_UNAVAILABLE: u8 = 0x88;
/// Server busy.
pub const SERVER_BUSY: u8 = 0x89;
/// Server shutting down (DISCONNECT).
pub const SERVER_SHUTTING_DOWN: u8 = 0x8B;
/// Bad authentication method (CONNACK, DISCONNECT).
pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8C;
/// Keep alive timeout (DISCONNECT).
pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8D;
/// Session taken over by another connection with the same client id.
pub const SESSION_TAKEN_OVER: u8 = 0x8E;
/// Topic filter invalid (SUBACK, UNSUBACK, DISCONNECT).
pub const TOPIC_FILTER_INVALID: u8 = 0x8F;
/// Topic name invalid (PUBACK, PUBREC, DISCONNECT).
pub const TOPIC_NAME_INVALID: u8 = 0x90;
/// Packet identifier in use.
pub const PACKET_ID_IN_USE: u8 = 0x91;
/// Packet identifier not found (PUBREL, PUBCOMP).
pub const PACKET_ID_NOT_FOUND: u8 = 0x92;
/// More unacknowledged QoS > 0 publications than Receive Maximum.
pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
/// Topic alias invalid (DISCONNECT).
pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
/// Packet too large.
pub const PACKET_TOO_LARGE: u8 = 0x95;
/// Quota exceeded.
pub const QUOTA_EXCEEDED: u8 = 0x97;
/// Payload format invalid.
pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
/// Retain not supported.
pub const RETAIN_NOT_SUPPORTED: u8 = 0x9A;
/// QoS not supported (CONNACK for a will QoS, DISCONNECT).
pub const QOS_NOT_SUPPORTED: u8 = 0x9B;
/// Shared subscriptions not supported.
pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: u8 = 0x9E;
/// Subscription identifiers not supported.
pub const SUBSCRIPTION_IDS_NOT_SUPPORTED: u8 = 0xA1;
/// Wildcard subscriptions not supported.
pub const WILDCARDS_NOT_SUPPORTED: u8 = 0xA2;

/// SUBACK return code "failure" in MQTT 3.1.1.
pub const V3_SUBACK_FAILURE: u8 = 0x80;

/// The MQTT 3.1.1 CONNACK return code (§3.2.2.3) closest to an MQTT 5
/// CONNACK reason code: 1 protocol version, 2 identifier rejected, 3 server
/// unavailable, 4 bad user name or password, 5 not authorized.
pub fn connack_v3(reason: u8) -> u8 {
    match reason {
        SUCCESS => 0,
        UNSUPPORTED_PROTOCOL_VERSION => 1,
        CLIENT_ID_NOT_VALID => 2,
        BAD_USER_NAME_OR_PASSWORD => 4,
        NOT_AUTHORIZED => 5,
        _ => 3,
    }
}

/// The MQTT 3.1.1 SUBACK return code for an MQTT 5 one: a granted QoS
/// stays, every failure is 0x80.
pub fn suback_v3(reason: u8) -> u8 {
    if reason <= GRANTED_QOS_2 {
        reason
    } else {
        V3_SUBACK_FAILURE
    }
}

/// The reason code for a PUBLISH (`filter` false) or a SUBSCRIBE filter
/// (`filter` true) the broker refused with NACK `state`: an invalid topic
/// name or filter, a payload over a limit, access denied (a read-only
/// channel, an `on_subscribe` refusal, an ACL), a rate or count limit;
/// anything else is unspecified. MQTT 3.1.1 has no code in PUBACK and one
/// failure code in SUBACK ([`suback_v3`]).
pub fn refused(state: State, filter: bool) -> u8 {
    match state {
        State::EMsgInv if filter => TOPIC_FILTER_INVALID,
        State::EMsgInv => TOPIC_NAME_INVALID,
        State::EMsgSize => IMPLEMENTATION_SPECIFIC,
        State::EAccess => NOT_AUTHORIZED,
        State::EMax => QUOTA_EXCEEDED,
        _ => UNSPECIFIED,
    }
}

/// Whether a reason code reports a failure (0x80 and above).
pub fn is_error(reason: u8) -> bool {
    reason >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_mappings() {
        assert_eq!(connack_v3(SUCCESS), 0);
        assert_eq!(connack_v3(UNSUPPORTED_PROTOCOL_VERSION), 1);
        assert_eq!(connack_v3(CLIENT_ID_NOT_VALID), 2);
        assert_eq!(connack_v3(SERVER_UNAVAILABLE), 3);
        assert_eq!(connack_v3(SERVER_BUSY), 3);
        assert_eq!(connack_v3(BAD_USER_NAME_OR_PASSWORD), 4);
        assert_eq!(connack_v3(NOT_AUTHORIZED), 5);
        assert_eq!(suback_v3(GRANTED_QOS_1), 1);
        assert_eq!(suback_v3(TOPIC_FILTER_INVALID), 0x80);
        assert!(is_error(UNSPECIFIED) && !is_error(NO_MATCHING_SUBSCRIBERS));
    }
}
