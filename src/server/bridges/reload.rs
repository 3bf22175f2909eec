//! A configuration reload's changes to the bridges: a bridge no longer
//! configured is closed and forgotten, a new one is dialled, and one whose
//! settings changed is closed and dialled again with the new ones, taking
//! over what its previous connection had not delivered (when the new
//! settings spell messages the same way). Unchanged bridges, and every
//! client connection, are left alone. It must not read the
//! configuration: `config` does, and hands over checked bridges.

use std::rc::Rc;
use std::time::Instant;

use super::config::BridgeConfig;
use super::Bridges;
use crate::server::hub::Hub;

/// What a reload did to one bridge, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Added and dialled.
    Added(String),
    /// Closed and forgotten.
    Removed(String),
    /// Closed and dialled again with new settings; the number of
    /// undelivered messages taken over.
    Changed(String, usize),
}

impl Bridges {
    /// The bridges' settings, in the order they were added.
    pub fn configs(&self) -> Vec<BridgeConfig> {
        self.slots.iter().map(|s| (*s.cfg).clone()).collect()
    }

    /// Makes the bridges those of `wanted` (checked, names unique):
    /// removes, adds and changes as needed, and says what it did.
    pub fn reconcile(
        &mut self,
        hub: &mut Hub,
        wanted: &[BridgeConfig],
        now: Instant,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        let gone: Vec<String> = self
            .slots
            .iter()
            .map(|s| s.cfg.name.clone())
            .filter(|n| !wanted.iter().any(|w| &w.name == n))
            .collect();
        for name in gone {
            self.remove(hub, &name);
            changes.push(Change::Removed(name));
        }
        for cfg in wanted {
            match self.slots.iter().position(|s| s.cfg.name == cfg.name) {
                Some(i) if self.slots.get(i).is_some_and(|s| *s.cfg == *cfg) => {}
                Some(_) => {
                    let old = self.remove(hub, &cfg.name);
                    self.add(cfg.clone(), now);
                    let mut taken = 0;
                    if let (Some(old), Some(new)) = (old, self.slots.last()) {
                        taken = new.link.borrow_mut().take_over(&mut old.borrow_mut());
                    }
                    changes.push(Change::Changed(cfg.name.clone(), taken));
                }
                None => {
                    self.add(cfg.clone(), now);
                    changes.push(Change::Added(cfg.name.clone()));
                }
            }
        }
        changes
    }

    /// Closes bridge `name`'s connection and stand-in and forgets it;
    /// returns its link.
    fn remove(&mut self, hub: &mut Hub, name: &str) -> Option<Rc<std::cell::RefCell<super::Link>>> {
        let i = self.slots.iter().position(|s| s.cfg.name == name)?;
        let mut slot = self.slots.remove(i);
        if let Some(key) = slot.conn.take().and_then(|id| hub.resolve(id)) {
            hub.close(key, "bridge removed or changed by a reload");
        }
        slot.unpark(hub);
        if let Some(shared) = &self.shared {
            shared
                .links
                .borrow_mut()
                .retain(|l| !Rc::ptr_eq(l, &slot.link));
        }
        Some(slot.link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::bridges::config::Kind;
    use crate::server::bridges::link::Outgoing;
    use crate::server::Settings;

    fn cfg(name: &str, out: &str) -> BridgeConfig {
        let mut c = BridgeConfig::new(Kind::Ducq, "127.0.0.1:1".parse().unwrap());
        c.name = name.into();
        c.mapping.out.push(out.into());
        c
    }

    fn names(b: &Bridges) -> Vec<String> {
        b.configs().into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn a_reload_adds_removes_and_changes_by_name() {
        let poll = mio::Poll::new().unwrap();
        let mut hub = Hub::new(Settings::default(), poll.registry().try_clone().unwrap());
        let mut b = Bridges::default();
        let now = Instant::now();
        let changes = b.reconcile(&mut hub, &[cfg("a", "x"), cfg("b", "y")], now);
        assert_eq!(
            changes,
            [Change::Added("a".into()), Change::Added("b".into())]
        );
        assert_eq!(b.shared().links.borrow().len(), 2);
        // Unchanged: nothing done.
        assert_eq!(
            b.reconcile(&mut hub, &[cfg("a", "x"), cfg("b", "y")], now),
            []
        );
        // b's waiting message is taken over when only its keepalive
        // changes, and dropped (counted) when its mapping changes.
        let waiting = |b: &Bridges, i: usize| b.slots[i].link.borrow().waiting.len();
        let msg = Outgoing::new(b"y".to_vec(), b"p", None);
        b.slots[1].link.borrow_mut().wait(msg.clone());
        let mut slower = cfg("b", "y");
        slower.keepalive *= 2;
        let changes = b.reconcile(&mut hub, &[cfg("a", "x"), slower.clone()], now);
        assert_eq!(changes, [Change::Changed("b".into(), 1)]);
        assert_eq!(waiting(&b, 1), 1);
        let changes = b.reconcile(&mut hub, &[cfg("c", "z"), cfg("b", "w")], now);
        assert_eq!(
            changes,
            [
                Change::Removed("a".into()),
                Change::Added("c".into()),
                Change::Changed("b".into(), 0)
            ]
        );
        assert_eq!(names(&b), ["c", "b"]);
        assert_eq!(waiting(&b, 1), 0);
        assert_eq!(b.slots[1].link.borrow().counters.dropped, 1);
        assert_eq!(b.shared().links.borrow().len(), 2);
        assert_eq!(b.reconcile(&mut hub, &[], now).len(), 2);
        assert!(b.shared().links.borrow().is_empty());
    }
}
