//! The MQTT limits of an `mqtt` or `mqtts` listener in the configuration
//! file: its in-flight window, queues, sessions kept, Receive Maximum,
//! topic aliases, client identifier length and shared subscriptions, each
//! checked against what MQTT allows. Only the values: the caller says
//! where an error is, and applying them is the reactor's.

use super::schema::ListenerConfig;
use crate::transport::mqtt::Config;

/// The keys of this file, by name, with whether each is set in `l`.
fn keys(l: &ListenerConfig) -> [(&'static str, bool); 7] {
    [
        ("max_inflight", l.max_inflight.is_some()),
        ("max_queued", l.max_queued.is_some()),
        ("max_sessions", l.max_sessions.is_some()),
        ("receive_maximum", l.receive_maximum.is_some()),
        ("topic_alias_maximum", l.topic_alias_maximum.is_some()),
        ("max_client_id", l.max_client_id.is_some()),
        ("shared_subscriptions", l.shared_subscriptions.is_some()),
    ]
}

/// `value` of `key` if it lies in `low..=high` (as a u16 field), else the
/// error that says so.
fn within(key: &str, value: u32, low: u16, high: u16) -> Result<u16, String> {
    u16::try_from(value)
        .ok()
        .filter(|v| (low..=high).contains(v))
        .ok_or_else(|| format!("{key} = {value}: must be {low} to {high}"))
}

/// The limits of listener `l`: for an MQTT listener (`mqtt`), the
/// defaults with what `l` sets; None for any other, which must set none
/// of these keys. Every error found, in key order.
pub(super) fn limits(l: &ListenerConfig, mqtt: bool) -> (Option<Config>, Vec<String>) {
    let mut errors = Vec::new();
    if !mqtt {
        for (key, set) in keys(l) {
            if set {
                errors.push(format!(
                    "{key} is for mqtt and mqtts listeners, not {}",
                    l.kind
                ));
            }
        }
        return (None, errors);
    }
    let mut c = Config::default();
    let mut u16_key = |key: &str, value: Option<u32>, low: u16, target: &mut u16| {
        if let Some(v) = value {
            match within(key, v, low, u16::MAX) {
                Ok(v) => *target = v,
                Err(e) => errors.push(e),
            }
        }
    };
    u16_key("max_inflight", l.max_inflight, 1, &mut c.max_inflight);
    // The server must accept a Receive Maximum of 1 at least (§3.2.2.3.3).
    u16_key(
        "receive_maximum",
        l.receive_maximum,
        1,
        &mut c.receive_maximum,
    );
    u16_key(
        "topic_alias_maximum",
        l.topic_alias_maximum,
        0,
        &mut c.topic_alias_maximum,
    );
    // Client identifiers of 1 to 23 characters must be accepted
    // [MQTT-3.1.3-5].
    let mut id = 0;
    u16_key("max_client_id", l.max_client_id, 23, &mut id);
    if id != 0 {
        c.max_client_id = usize::from(id);
    }
    if let Some(n) = l.max_queued {
        c.max_queued = n;
    }
    if let Some(n) = l.max_sessions {
        c.max_sessions = n;
    }
    if let Some(on) = l.shared_subscriptions {
        c.shared_subscriptions = on;
    }
    (Some(c), errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mqtt(f: impl FnOnce(&mut ListenerConfig)) -> ListenerConfig {
        let mut l = ListenerConfig {
            kind: "mqtt".into(),
            ..ListenerConfig::default()
        };
        f(&mut l);
        l
    }

    #[test]
    fn unset_keys_keep_the_defaults() {
        let (c, errors) = limits(&mqtt(|_| {}), true);
        let (c, d) = (c.unwrap(), Config::default());
        assert!(errors.is_empty());
        assert_eq!(
            (
                c.max_inflight,
                c.max_queued,
                c.max_sessions,
                c.receive_maximum
            ),
            (
                d.max_inflight,
                d.max_queued,
                d.max_sessions,
                d.receive_maximum
            )
        );
        assert_eq!(
            (
                c.topic_alias_maximum,
                c.max_client_id,
                c.shared_subscriptions
            ),
            (
                d.topic_alias_maximum,
                d.max_client_id,
                d.shared_subscriptions
            )
        );
    }

    #[test]
    fn every_key_is_taken() {
        let l = mqtt(|l| {
            l.max_inflight = Some(4);
            l.max_queued = Some(0);
            l.max_sessions = Some(7);
            l.receive_maximum = Some(65535);
            l.topic_alias_maximum = Some(0);
            l.max_client_id = Some(23);
            l.shared_subscriptions = Some(false);
        });
        let (c, errors) = limits(&l, true);
        let c = c.unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            (
                c.max_inflight,
                c.max_queued,
                c.max_sessions,
                c.receive_maximum
            ),
            (4, 0, 7, 65535)
        );
        assert_eq!(
            (
                c.topic_alias_maximum,
                c.max_client_id,
                c.shared_subscriptions
            ),
            (0, 23, false)
        );
    }

    #[test]
    fn values_mqtt_does_not_allow_are_refused_each_with_its_range() {
        let l = mqtt(|l| {
            l.max_inflight = Some(0);
            l.receive_maximum = Some(65536);
            l.topic_alias_maximum = Some(70000);
            l.max_client_id = Some(22);
        });
        let (_, errors) = limits(&l, true);
        assert_eq!(
            errors,
            [
                "max_inflight = 0: must be 1 to 65535",
                "receive_maximum = 65536: must be 1 to 65535",
                "topic_alias_maximum = 70000: must be 0 to 65535",
                "max_client_id = 22: must be 23 to 65535",
            ]
        );
    }

    #[test]
    fn other_listeners_take_none_of_these_keys() {
        let mut l = mqtt(|l| {
            l.max_queued = Some(1);
            l.shared_subscriptions = Some(true);
        });
        l.kind = "tcp".into();
        let (c, errors) = limits(&l, false);
        assert!(c.is_none());
        assert_eq!(
            errors,
            [
                "max_queued is for mqtt and mqtts listeners, not tcp",
                "shared_subscriptions is for mqtt and mqtts listeners, not tcp",
            ]
        );
        assert_eq!(limits(&mqtt(|_| {}), false).1.len(), 0);
    }
}
