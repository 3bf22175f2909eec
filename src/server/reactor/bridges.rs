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
