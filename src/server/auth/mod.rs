//! Users, route access lists and authentication (DESIGN.md: the broker
//! decides who may do what; codecs and commands only carry credentials).
//!
//! - [`AuthConfig`]: users with argon2id password hashes and their
//!   [`Acl`]s, the access list of anonymous clients, and the failure
//!   policy. `Default` keeps ducq's open behaviour: no users, anonymous
//!   clients may publish and subscribe anywhere.
//! - `gate`: the checks the dispatcher runs before a command and the
//!   `auth` command's work on the hub (answers, timers, held input).
//! - `verify`: password verification on a worker thread, so a costly
//!   argon2 hash never stalls the reactor.
//! - `acl`: route access lists and the containment check for wildcards.
//! - `rights`: what each command asks of the lists (the one table).
//!
//! A failed authentication is answered after a constant delay counted from
//! its arrival (a timer, the reactor never sleeps); each failure from the
//! same peer address beyond `free_failures` doubles it up to
//! `max_fail_delay`. Until the answer goes out, the connection's further
//! input waits unread, so replies stay in order.
//!
//! It must not touch sockets or know transports.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

pub mod acl;
mod gate;
pub(crate) use gate::refusal_reply;
pub mod rights;
mod verify;

pub use acl::Acl;

use super::conn::ConnId;
use super::socket::PeerAddr;

/// A user: name, password hash, access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The name clients authenticate as (and a client certificate's CN).
    pub name: String,
    /// The argon2id PHC string of its password (`ducq-server
    /// hash-password`); `None` for a user that only authenticates with a
    /// client certificate.
    pub password: Option<String>,
    /// What it may publish and subscribe to.
    pub acl: Acl,
    /// May run admin commands (`reload`, `unsub` of another connection).
    pub admin: bool,
}

/// Who may connect and what each may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Known users.
    pub users: Vec<User>,
    /// What a client that has not authenticated may do (on listeners that
    /// admit anonymous clients).
    pub anonymous: Acl,
    /// Delay before a failed authentication is answered (default 1 s).
    pub fail_delay: Duration,
    /// Failures from one peer address answered after `fail_delay` alone
    /// (default 3); each further one doubles the delay.
    pub free_failures: u32,
    /// The longest a failure's answer is delayed (default 60 s).
    pub max_fail_delay: Duration,
}

impl Default for AuthConfig {
    fn default() -> AuthConfig {
        AuthConfig {
            users: Vec::new(),
            anonymous: Acl::everything(),
            fail_delay: Duration::from_secs(1),
            free_failures: 3,
            max_fail_delay: Duration::from_secs(60),
        }
    }
}

impl AuthConfig {
    /// How long the answer to the `n`-th consecutive failure (1-based) from
    /// one peer waits: `fail_delay` up to `free_failures`, then doubling
    /// per failure, never beyond `max_fail_delay`.
    pub fn delay_for(&self, n: u32) -> Duration {
        let extra = n.saturating_sub(self.free_failures).min(40);
        let factor = 1u64 << extra;
        let ms = (self.fail_delay.as_millis() as u64).saturating_mul(factor);
        Duration::from_millis(ms).min(self.max_fail_delay.max(self.fail_delay))
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }
}

/// A connection's standing: who it is, and whether its input waits for an
/// authentication answer.
#[derive(Debug, Clone)]
pub struct ConnAuth {
    /// The user it authenticated as.
    pub(crate) user: Option<Rc<str>>,
    /// Its listener admits clients that have not authenticated.
    pub(crate) anonymous: bool,
    /// An authentication answer is pending: read nothing more until then.
    pub(crate) held: bool,
}

impl Default for ConnAuth {
    fn default() -> ConnAuth {
        ConnAuth {
            user: None,
            anonymous: true,
            held: false,
        }
    }
}

impl ConnAuth {
    /// The standing of something acting for `user` with no connection of
    /// its own (an MQTT session read back at start): that user's lists, or
    /// anonymous clients' when the user is no longer configured, as
    /// anything else may do without authenticating.
    pub(crate) fn of_user(user: &str) -> ConnAuth {
        ConnAuth {
            user: Some(Rc::from(user)),
            ..ConnAuth::default()
        }
    }
}

/// Where failures are counted: one peer. An IPv4 address (also when a
/// dual-stack listener sees it as `::ffff:a.b.c.d`), or an IPv6 /64: one
/// host picks any address of its /64 at will (privacy addresses), so
/// counting per address would let it start afresh at each try. A Unix
/// socket's clients share one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FailKey {
    Ip(IpAddr),
    Unix,
}

impl FailKey {
    fn of(peer: &PeerAddr) -> FailKey {
        match peer {
            PeerAddr::Inet(a) => FailKey::Ip(match a.ip() {
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
                },
                v4 => v4,
            }),
            PeerAddr::Unix { .. } => FailKey::Unix,
        }
    }
}

/// Failure counts are forgotten after this long without a failure.
const FORGET_FAILURES: Duration = Duration::from_secs(15 * 60);
/// Most peers whose failures are remembered; the oldest go first.
const MAX_FAIL_PEERS: usize = 10_000;

/// The hub's authentication state.
pub(crate) struct Auth {
    config: AuthConfig,
    /// Anything to check at all: users, or a narrower anonymous list.
    strict: bool,
    failures: HashMap<FailKey, (u32, Instant)>,
    /// Failure answers waiting for their time.
    due: Vec<(Instant, ConnId)>,
    verifier: verify::Verifier,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth::new(AuthConfig::default())
    }
}

impl Auth {
    fn new(config: AuthConfig) -> Auth {
        let mut auth = Auth {
            config: AuthConfig::default(),
            strict: false,
            failures: HashMap::new(),
            due: Vec::new(),
            verifier: verify::Verifier::default(),
        };
        auth.replace(config);
        auth
    }

    /// Installs a new configuration; connections keep their user names and
    /// are judged by the new lists from their next command on.
    pub(crate) fn replace(&mut self, config: AuthConfig) {
        self.strict = !config.users.is_empty() || config.anonymous != Acl::everything();
        self.config = config;
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> &AuthConfig {
        &self.config
    }

    pub(crate) fn set_waker(&mut self, waker: Arc<mio::Waker>) {
        self.verifier.set_waker(waker);
    }

    /// Nothing is in flight: no verification, no answer waiting.
    pub(crate) fn idle(&self) -> bool {
        self.due.is_empty() && self.verifier.in_flight == 0
    }

    /// When the next delayed answer is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.due.iter().map(|(t, _)| *t).min()
    }

    /// Counts a failure from `peer` and returns how many in a row.
    fn count_failure(&mut self, peer: &PeerAddr, now: Instant) -> u32 {
        let key = FailKey::of(peer);
        if self.failures.len() >= MAX_FAIL_PEERS && !self.failures.contains_key(&key) {
            self.failures
                .retain(|_, (_, t)| now.saturating_duration_since(*t) < FORGET_FAILURES);
            // Still full: the peer quiet for longest goes, never everyone
            // (a flood from many addresses must not wipe a busy one's count).
            if self.failures.len() >= MAX_FAIL_PEERS {
                let oldest = self.failures.iter().min_by_key(|(_, (_, t))| *t);
                if let Some(k) = oldest.map(|(k, _)| *k) {
                    self.failures.remove(&k);
                }
            }
        }
        let entry = self.failures.entry(key).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= FORGET_FAILURES {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        entry.0
    }

    fn forget_failures(&mut self, peer: &PeerAddr) {
        self.failures.remove(&FailKey::of(peer));
    }
}

/// The argon2id PHC string for `password` with a fresh random salt and the
/// argon2 crate's default cost (19 MiB, 2 passes, 1 lane).
pub fn hash_password(password: &[u8]) -> Result<String, String> {
    let mut raw = [0u8; 16];
    // SAFETY: `raw` is a writable buffer of `raw.len()` bytes; getrandom(2)
    // writes at most that many and returns how many.
    let n = unsafe { libc::getrandom(raw.as_mut_ptr().cast(), raw.len(), 0) };
    if usize::try_from(n).ok() != Some(raw.len()) {
        return Err(format!(
            "no random salt: {}",
            std::io::Error::last_os_error()
        ));
    }
    let salt = SaltString::encode_b64(&raw).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash: {e}"))
}

/// Checks that `phc` is an argon2id PHC string this server can verify.
pub fn check_phc(phc: &str) -> Result<(), String> {
    let hash = PasswordHash::new(phc).map_err(|e| format!("not a PHC string: {e}"))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(format!("algorithm {} is not argon2id", hash.algorithm));
    }
    Ok(())
}

/// Whether `password` matches `phc` (false for anything unreadable).
pub fn verify_password(phc: &str, password: &[u8]) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password, &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MQTT client's state read back at start acts for its user (an anonymous
    /// listener's standing otherwise, as a fresh connection's).
    #[test]
    fn a_standing_of_a_user_names_the_user() {
        let who = ConnAuth::of_user("bob");
        assert_eq!(who.user.as_deref(), Some("bob"));
        assert!(who.anonymous);
        assert!(!who.held);
        assert_eq!(ConnAuth::default().user, None);
    }

    #[test]
    fn hash_and_verify() {
        let phc = hash_password(b"s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        check_phc(&phc).unwrap();
        assert!(verify_password(&phc, b"s3cret"));
        assert!(!verify_password(&phc, b"s3creT"));
        assert!(!verify_password("garbage", b"s3cret"));
        assert!(check_phc("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo").is_err());
        assert!(check_phc("plain").is_err());
    }

    #[test]
    fn failure_delays_double_after_the_free_ones_and_stop_at_the_cap() {
        let c = AuthConfig {
            fail_delay: Duration::from_millis(100),
            free_failures: 2,
            max_fail_delay: Duration::from_secs(1),
            ..AuthConfig::default()
        };
        let ms: Vec<u128> = (1..=7).map(|n| c.delay_for(n).as_millis()).collect();
        assert_eq!(ms, [100, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(c.delay_for(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn failures_are_counted_per_peer_address() {
        let mut auth = Auth::default();
        let now = Instant::now();
        let a = PeerAddr::Inet("127.0.0.2:1000".parse().unwrap());
        let a2 = PeerAddr::Inet("127.0.0.2:2000".parse().unwrap());
        let b = PeerAddr::Inet("127.0.0.3:1000".parse().unwrap());
        assert_eq!(auth.count_failure(&a, now), 1);
        assert_eq!(auth.count_failure(&a2, now), 2, "same address, other port");
        assert_eq!(auth.count_failure(&b, now), 1);
        auth.forget_failures(&a);
        assert_eq!(auth.count_failure(&a, now), 1);
        let later = now + FORGET_FAILURES;
        assert_eq!(auth.count_failure(&b, later), 1, "forgotten after a while");
    }

    #[test]
    fn an_ipv6_peer_is_its_64_and_a_mapped_ipv4_peer_its_address() {
        let mut auth = Auth::default();
        let now = Instant::now();
        let at = |a: &str| PeerAddr::Inet(a.parse().unwrap());
        assert_eq!(auth.count_failure(&at("[2001:db8:1:2::1]:1"), now), 1);
        assert_eq!(auth.count_failure(&at("[2001:db8:1:2:aaaa::9]:1"), now), 2);
        assert_eq!(auth.count_failure(&at("[2001:db8:1:3::1]:1"), now), 1);
        assert_eq!(auth.count_failure(&at("127.0.0.5:1"), now), 1);
        assert_eq!(auth.count_failure(&at("[::ffff:127.0.0.5]:2"), now), 2);
        // A success from any address of the /64 clears its count.
        auth.forget_failures(&at("[2001:db8:1:2::77]:1"));
        assert_eq!(auth.count_failure(&at("[2001:db8:1:2::1]:1"), now), 1);
    }

    #[test]
    fn a_full_failure_table_drops_its_quietest_peer_not_everyone() {
        let mut auth = Auth::default();
        let t0 = Instant::now();
        let busy = PeerAddr::Inet("10.0.0.1:1".parse().unwrap());
        for _ in 0..5 {
            auth.count_failure(&busy, t0 + Duration::from_secs(1));
        }
        // A flood of other addresses fills the table; the first of them
        // failed before the busy peer's last failure.
        for i in 0..MAX_FAIL_PEERS - 1 {
            let peer = PeerAddr::Inet(std::net::SocketAddr::from((
                [10, 1, (i >> 8) as u8, i as u8],
                1,
            )));
            let at = if i == 0 {
                t0
            } else {
                t0 + Duration::from_secs(2)
            };
            auth.count_failure(&peer, at);
        }
        assert_eq!(auth.failures.len(), MAX_FAIL_PEERS);
        let newcomer = PeerAddr::Inet("10.2.0.1:1".parse().unwrap());
        assert_eq!(
            auth.count_failure(&newcomer, t0 + Duration::from_secs(3)),
            1
        );
        assert_eq!(auth.failures.len(), MAX_FAIL_PEERS);
        let first = PeerAddr::Inet("10.1.0.0:1".parse().unwrap());
        assert!(!auth.failures.contains_key(&FailKey::of(&first)));
        assert_eq!(auth.count_failure(&busy, t0 + Duration::from_secs(3)), 6);
    }

    #[test]
    fn a_failure_count_lasts_fifteen_minutes_without_failures() {
        let mut auth = Auth::default();
        let t0 = Instant::now();
        let a = PeerAddr::Inet("127.0.0.2:1000".parse().unwrap());
        assert_eq!(auth.count_failure(&a, t0), 1);
        let almost = t0 + Duration::from_secs(15 * 60) - Duration::from_millis(1);
        assert_eq!(auth.count_failure(&a, almost), 2);
        // Counted from the last failure, not the first.
        assert_eq!(
            auth.count_failure(&a, almost + Duration::from_secs(15 * 60)),
            1
        );
    }

    #[test]
    fn past_ten_thousand_peers_the_stale_counts_go_first() {
        let mut auth = Auth::default();
        let t0 = Instant::now();
        let peer = |i: u32| PeerAddr::Inet((std::net::Ipv4Addr::from(i), 1).into());
        for i in 0..MAX_FAIL_PEERS as u32 - 1 {
            auth.count_failure(&peer(i), t0);
        }
        // One more, five minutes later, twice: the table is full.
        let recent = peer(u32::MAX);
        let t1 = t0 + Duration::from_secs(5 * 60);
        auth.count_failure(&recent, t1);
        assert_eq!(auth.failures.len(), MAX_FAIL_PEERS);
        // Fifteen minutes after the first ones, a new peer: those go, the
        // recent one keeps its count.
        let t2 = t0 + FORGET_FAILURES;
        assert_eq!(auth.count_failure(&peer(u32::MAX - 1), t2), 1);
        assert_eq!(auth.failures.len(), 2);
        assert_eq!(auth.count_failure(&recent, t2), 2);
        // When every count is recent, a peer already counted goes on
        // counting (a flood from other addresses wipes nothing).
        for i in 0..MAX_FAIL_PEERS as u32 - 2 {
            auth.count_failure(&peer(i), t2);
        }
        assert_eq!(auth.failures.len(), MAX_FAIL_PEERS);
        assert_eq!(auth.count_failure(&recent, t2), 3);
        assert_eq!(auth.failures.len(), MAX_FAIL_PEERS);
    }

    #[test]
    fn access_is_restricted_by_users_or_a_narrower_anonymous_list() {
        let user = User {
            name: "u".into(),
            password: None,
            acl: Acl::nothing(),
            admin: false,
        };
        let strict = |users: Vec<User>, anonymous: Acl| {
            Auth::new(AuthConfig {
                users,
                anonymous,
                ..AuthConfig::default()
            })
            .strict
        };
        assert!(!strict(Vec::new(), Acl::everything()));
        assert!(strict(vec![user.clone()], Acl::everything()));
        assert!(strict(Vec::new(), Acl::nothing()));
        assert!(strict(vec![user], Acl::nothing()));
        let mut auth = Auth::default();
        auth.replace(AuthConfig {
            anonymous: Acl::nothing(),
            ..AuthConfig::default()
        });
        assert!(auth.strict);
        assert_eq!(auth.config().anonymous, Acl::nothing());
    }
}
