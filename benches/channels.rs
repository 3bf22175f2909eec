//! Criterion benchmark of what channels add to a publication: the gate the
//! `pub` command calls (`server::channels::gate::publication`) with no
//! channel defined, with 1 000 channels none of which governs the route,
//! and with one that does (settings only, no hook). A reactor is built for
//! its hub; nothing listens and no socket is opened.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ducq::proto::Message;
use ducq::server::channels::{self, gate, Channel, ChannelSpec, Origin};
use ducq::server::{Reactor, Settings};

/// Channels on routes the publication does not take.
const OTHERS: usize = 1_000;

fn spec(pattern: &str, settings: &str) -> ChannelSpec {
    ChannelSpec::parse(&format!("pattern={pattern} {settings}"), 1024).expect("spec")
}

fn bench(c: &mut Criterion) {
    let raw = b"pub site3/b4/room7/temp\n21.5";
    let msg = Message::parse(raw).expect("message");
    let mut g = c.benchmark_group("channels");

    let mut reactor = Reactor::new(Settings::default()).expect("reactor");
    let hub = reactor.hub_mut();
    g.bench_function("none_defined", |b| {
        b.iter(|| black_box(gate::publication(hub, 0, black_box(&msg))))
    });

    for i in 0..OTHERS {
        // Beside the route's levels, never on them.
        let pattern = match i % 3 {
            0 => format!("site{}/#", i + 1000),
            1 => format!("site3/b{}/+/temp", i + 1000),
            _ => format!("other/{i}*"),
        };
        let c = Channel::new(&format!("c{i}"), spec(&pattern, "history=5"), None);
        channels::define(hub, Origin::Config, c).expect("define");
    }
    assert!(hub.channels.matching(msg.route).is_empty());
    g.bench_function("1000_defined_none_matching", |b| {
        b.iter(|| black_box(gate::publication(hub, 0, black_box(&msg))))
    });

    let c = Channel::new("site3", spec("site3/#", "history=5 max_payload=64"), None);
    channels::define(hub, Origin::Config, c).expect("define");
    assert_eq!(hub.channels.matching(msg.route).len(), 1);
    g.bench_function("1000_defined_one_matching", |b| {
        b.iter(|| black_box(gate::publication(hub, 0, black_box(&msg))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
