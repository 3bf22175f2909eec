//! The lines `ducq sub` writes on stderr when its connection is lost and
//! made again (`client::reconnect` events). Wording only: it never talks
//! to a server or decides when to reconnect.

use ducq::client::reconnect::Event;

/// The stderr line `sub` writes for a reconnection event (none for the
/// ones that say nothing new).
pub fn reconnect_line(addr: &str, e: &Event<'_>) -> Option<String> {
    Some(match e {
        Event::Disconnected { error } => format!("connection to {addr} lost: {error}"),
        Event::Retrying {
            attempt,
            delay,
            error,
        } => {
            let why = error.map(|e| format!(" ({e})")).unwrap_or_default();
            format!(
                "reconnecting to {addr} in {:.2} s (attempt {attempt}){why}",
                delay.as_secs_f64()
            )
        }
        Event::Reconnected {
            attempts,
            resubscribed,
            ..
        } => format!(
            "reconnected to {addr} after {attempts} attempt{}; subscribed again to {resubscribed} route{}",
            if *attempts == 1 { "" } else { "s" },
            if *resubscribed == 1 { "" } else { "s" },
        ),
        Event::SubscriptionRefused { route, error } => {
            format!("the server refused the subscription to {route} again: {error}")
        }
        Event::GaveUp { attempts: 0 } => return None,
        Event::GaveUp { attempts } => format!("gave up after {attempts} attempts"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ducq::client::Error;
    use std::time::Duration;

    #[test]
    fn each_event_reads_as_one_line() {
        let a = "127.0.0.1:59090";
        let closed = Error::Closed;
        let line = |e: Event<'_>| reconnect_line(a, &e);
        assert_eq!(
            line(Event::Disconnected { error: &closed }).unwrap(),
            "connection to 127.0.0.1:59090 lost: connection closed"
        );
        assert_eq!(
            line(Event::Retrying {
                attempt: 1,
                delay: Duration::from_millis(100),
                error: None
            })
            .unwrap(),
            "reconnecting to 127.0.0.1:59090 in 0.10 s (attempt 1)"
        );
        assert_eq!(
            line(Event::Retrying {
                attempt: 2,
                delay: Duration::from_millis(1500),
                error: Some(&closed)
            })
            .unwrap(),
            "reconnecting to 127.0.0.1:59090 in 1.50 s (attempt 2) (connection closed)"
        );
        assert_eq!(
            line(Event::Reconnected {
                attempts: 1,
                resubscribed: 2,
                flushed: 0
            })
            .unwrap(),
            "reconnected to 127.0.0.1:59090 after 1 attempt; subscribed again to 2 routes"
        );
        assert_eq!(
            line(Event::Reconnected {
                attempts: 3,
                resubscribed: 1,
                flushed: 0
            })
            .unwrap(),
            "reconnected to 127.0.0.1:59090 after 3 attempts; subscribed again to 1 route"
        );
        assert_eq!(line(Event::GaveUp { attempts: 0 }), None);
        assert_eq!(
            line(Event::GaveUp { attempts: 4 }).unwrap(),
            "gave up after 4 attempts"
        );
    }
}
