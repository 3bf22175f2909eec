//! The reactor's side of bridges (`server::bridges`): adding them, and
//! letting other brokers' bridges in. The manager itself runs once per
//! turn from `run_once`, and its take-over of a closing bridge connection
//! right after any event that closed a connection. It must not know any
//! remote protocol.

use std::time::Instant;

use super::Reactor;
use crate::server::bridges::config::BridgeConfig;
use crate::server::bridges::peer::PeerCommands;
use crate::server::bridges::reload::Change;
use crate::server::log::Level;

impl Reactor {
    /// Adds a bridge (checked first, its TLS settings loaded); it is
    /// dialled at the next turn, and redialled whenever its connection
    /// ends. The first bridge also adds the bridge commands (see
    /// [`Reactor::accept_bridges`]).
    pub fn add_bridge(&mut self, mut cfg: BridgeConfig) -> Result<(), String> {
        cfg.finish()?;
        self.accept_bridges()
            .map_err(|e| format!("cannot add the bridge commands: {e}"))?;
        let text = format!(
            "{} bridge to {}: out {:?}, in {:?}",
            cfg.kind,
            cfg.addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            cfg.mapping.out,
            cfg.mapping.inbound
        );
        let sender = format!("bridge-{}", cfg.name);
        self.hub.log(Level::Info, "bridge", &sender, &text);
        if cfg.jetstream.is_on() {
            // Committed enqueues are kept for the bridge from now on.
            self.hub.queues_mut().keep_enqueued();
        }
        self.bridges.add(cfg, Instant::now());
        Ok(())
    }

    /// Makes the bridges those of `wanted` (a configuration reload): a
    /// bridge no longer there is closed, a new one dialled, a changed one
    /// dialled again with its new settings; the rest, and every client,
    /// are left alone. Each change is logged. `wanted` must be checked
    /// (`BridgeConfig::finish`) with unique names.
    pub fn reload_bridges(&mut self, wanted: &[BridgeConfig]) -> Result<(), String> {
        if !wanted.is_empty() {
            self.accept_bridges()
                .map_err(|e| format!("cannot add the bridge commands: {e}"))?;
        }
        let changes = self
            .bridges
            .reconcile(&mut self.hub, wanted, Instant::now());
        if self.bridges.mirrors_queues() {
            // A mirror added by the reload sees this turn's enqueues too.
            self.hub.queues_mut().keep_enqueued();
        }
        for change in changes {
            let (name, text) = match change {
                Change::Added(n) => (n, "added by the reload".to_string()),
                Change::Removed(n) => (n, "removed by the reload".to_string()),
                Change::Changed(n, taken) => (
                    n,
                    format!("changed by the reload: reconnecting, {taken} undelivered taken over"),
                ),
            };
            let sender = format!("bridge-{name}");
            self.hub.log(Level::Info, "bridge", &sender, &text);
        }
        Ok(())
    }

    /// Lets other ducq brokers bridge to this one, loop-safe: adds the
    /// `bridge`, `bpub` and `bridges` commands (PROTOCOL.md §16). Once is
    /// enough; later calls do nothing.
    pub fn accept_bridges(&mut self) -> std::io::Result<()> {
        if self.bridges.is_enabled() {
            return Ok(());
        }
        let shared = self.bridges.shared();
        let text = format!("broker id {:016x}", shared.id);
        self.hub.log(Level::Info, "bridge", "server", &text);
        self.add_command_set(Box::new(PeerCommands::new(shared)))
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::server::bridges::config::Kind;
    use crate::server::test_server::logged_reactor;
    use crate::server::Settings;

    fn bridge(name: &str, keepalive: u64) -> BridgeConfig {
        let mut cfg = BridgeConfig::new(Kind::Ducq, "127.0.0.1:1".parse().unwrap());
        cfg.name = name.into();
        cfg.mapping.out.push("o".into());
        cfg.keepalive = std::time::Duration::from_secs(keepalive);
        cfg
    }

    #[test]
    fn bridge_commands_are_added_once() {
        let (mut r, lines) = logged_reactor(Settings::default());
        let sets = r.dispatcher().set_count();
        r.accept_bridges().unwrap();
        r.accept_bridges().unwrap();
        assert_eq!(r.dispatcher().set_count(), sets + 1);
        let id = r.bridges.shared().id;
        assert_eq!(
            *lines.borrow(),
            [format!("info,bridge,server,broker id {id:016x}")]
        );
    }

    #[test]
    fn a_bridge_is_checked_logged_and_given_the_bridge_commands() {
        let (mut r, lines) = logged_reactor(Settings::default());
        let mut bad = bridge("b", 30);
        bad.mapping.out.clear();
        assert!(r.add_bridge(bad).is_err());
        assert!(!r.bridges.is_enabled());
        assert!(lines.borrow().is_empty());
        r.add_bridge(bridge("b", 30)).unwrap();
        assert!(r.bridges.is_enabled());
        assert!(r.dispatcher().list().iter().any(|(n, _)| n == "bpub"));
        let id = r.bridges.shared().id;
        assert_eq!(
            *lines.borrow(),
            [
                format!("info,bridge,server,broker id {id:016x}"),
                "info,bridge,bridge-b,ducq bridge to 127.0.0.1:1: out [\"o\"], in []".to_string(),
            ]
        );
    }

    #[test]
    fn a_reload_adds_changes_and_removes_bridges_and_says_so() {
        let (mut r, lines) = logged_reactor(Settings::default());
        // No bridges wanted: not even the commands.
        r.reload_bridges(&[]).unwrap();
        assert!(!r.bridges.is_enabled());
        assert!(lines.borrow().is_empty());
        let mut a = bridge("a", 30);
        a.finish().unwrap();
        r.reload_bridges(std::slice::from_ref(&a)).unwrap();
        assert!(r.bridges.is_enabled());
        let mut changed = bridge("a", 40);
        changed.finish().unwrap();
        r.reload_bridges(std::slice::from_ref(&changed)).unwrap();
        r.reload_bridges(&[]).unwrap();
        let id = r.bridges.shared().id;
        assert_eq!(
            *lines.borrow(),
            [
                format!("info,bridge,server,broker id {id:016x}"),
                "info,bridge,bridge-a,added by the reload".to_string(),
                "info,bridge,bridge-a,changed by the reload: reconnecting, 0 undelivered taken over"
                    .to_string(),
                "info,bridge,bridge-a,removed by the reload".to_string(),
            ]
        );
    }
}
