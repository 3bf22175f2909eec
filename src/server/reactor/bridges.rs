//! The reactor's side of bridges (`server::bridges`): adding them, and
//! letting other brokers' bridges in. The manager itself runs once per
//! turn from `run_once`. It must not know any remote protocol.

use std::time::Instant;

use super::Reactor;
use crate::server::bridges::config::BridgeConfig;
use crate::server::bridges::peer::PeerCommands;
use crate::server::log::Level;

impl Reactor {
    /// Adds a bridge (checked first); it is dialled at the next turn, and
    /// redialled whenever its connection ends. The first bridge also adds
    /// the bridge commands (see [`Reactor::accept_bridges`]).
    pub fn add_bridge(&mut self, cfg: BridgeConfig) -> Result<(), String> {
        cfg.check()?;
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
