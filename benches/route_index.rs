//! Criterion benchmark of finding a publication's subscribers among 10 000
//! distinct subscriptions of mixed `*`, `+` and `#` patterns: the server's
//! subscription index (`Subscriptions::for_each_subscriber`) against testing
//! every pattern in turn (what the broker did before the index); and the
//! two route-keyed tables every publish looks up (exact subscriptions and
//! the last-message store) holding 10 000 routes that differ only in a
//! digit; and 10 000 connections subscribed to one route (exact, then
//! `#`) that all drop off, as devices do after a network blip. Pure data
//! structures; no sockets, no server.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ducq::proto::route;
use ducq::server::broker::{LastStore, Subscriptions};

/// Distinct subscriptions.
const SUBSCRIPTIONS: usize = 10_000;

/// A small deterministic generator, so every run benchmarks the same set.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const KINDS: [&str; 4] = ["temp", "humidity", "power", "door"];

/// 10 000 distinct patterns over a `site/building/room/sensor` tree: about
/// 40% with `+`, 30% with `#`, 30% with `*`, in the shapes dashboards and
/// rules engines use.
fn patterns() -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(SUBSCRIPTIONS);
    while out.len() < SUBSCRIPTIONS {
        let (s, b, r) = (rng.below(20), rng.below(20), rng.below(50));
        let k = KINDS[rng.below(4) as usize];
        let p = match rng.below(10) {
            0 => format!("site{s}/+/room{r}/{k}"),
            1 => format!("site{s}/b{b}/+/{k}"),
            2 => format!("site{s}/b{b}/room{r}/+"),
            3 => format!("+/b{b}/room{r}/{k}"),
            4 => format!("site{s}/b{b}/room{r}/#"),
            5 => format!("site{s}/b{b}/#"),
            6 => format!("site{s}/+/room{r}/#"),
            7 => format!("site{s}/b{b}/room{r}*"),
            8 => format!("site{s}/b{b}/*/{k}"),
            _ => format!("site{s}/*/room{r}/{k}*"),
        };
        if seen.insert(p.clone()) {
            out.push(p);
        }
    }
    out
}

/// Published routes: leaves of the same tree (most match a few patterns,
/// some none).
fn publications() -> Vec<String> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    (0..256)
        .map(|_| {
            format!(
                "site{}/b{}/room{}/{}",
                rng.below(24),
                rng.below(24),
                rng.below(60),
                KINDS[rng.below(4) as usize]
            )
        })
        .collect()
}

fn index_10k(c: &mut Criterion) {
    let patterns = patterns();
    let routes = publications();
    let mut subs = Subscriptions::default();
    for (key, p) in patterns.iter().enumerate() {
        subs.subscribe(key, p.as_bytes(), true);
    }
    // Both ways must agree before either is timed.
    let mut total = 0usize;
    for r in &routes {
        let mut indexed = Vec::new();
        subs.for_each_subscriber(r.as_bytes(), |k| indexed.push(k));
        indexed.sort_unstable();
        let scanned: Vec<usize> = (0..patterns.len())
            .filter(|&k| route::matches(patterns[k].as_bytes(), r.as_bytes()))
            .collect();
        assert_eq!(indexed, scanned, "{r}");
        total += scanned.len();
    }
    eprintln!(
        "{} subscriptions, {} publications, {:.1} matching subscriptions per publication",
        patterns.len(),
        routes.len(),
        total as f64 / routes.len() as f64
    );

    let mut g = c.benchmark_group("route/subscribers_10k");
    g.throughput(Throughput::Elements(routes.len() as u64));
    g.bench_function("indexed", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &routes {
                subs.for_each_subscriber(black_box(r.as_bytes()), |k| n += k);
            }
            black_box(n)
        })
    });
    g.bench_function("scan_every_pattern", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &routes {
                for (k, p) in patterns.iter().enumerate() {
                    if route::matches(p.as_bytes(), black_box(r.as_bytes())) {
                        n += k;
                    }
                }
            }
            black_box(n)
        })
    });
    g.finish();

    // The exact-route fast path: a route with an exact subscriber, alone
    // and beside the 10 000 patterns (none of which it matches).
    let mut g = c.benchmark_group("route/exact");
    g.throughput(Throughput::Elements(1));
    let mut alone = Subscriptions::default();
    alone.subscribe(0, b"other/exact/route", true);
    subs.subscribe(SUBSCRIPTIONS, b"other/exact/route", true);
    for (name, s) in [("alone", &alone), ("beside_10k_patterns", &subs)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                s.for_each_subscriber(black_box(b"other/exact/route"), |k| n += k + 1);
                black_box(n)
            })
        });
    }
    g.finish();
}

/// 10 000 routes like `sensors/0042/temp`: where the hash of similar
/// routes lands decides how long the two tables' lookups probe.
fn exact_10k(c: &mut Criterion) {
    let mut routes: Vec<Vec<u8>> = (0..SUBSCRIPTIONS)
        .map(|i| format!("sensors/{i:04}/temp").into_bytes())
        .collect();
    // Published in no particular order, as sensors do: a sweep in key
    // order would reward a hash that keeps neighbours in neighbouring
    // buckets, which no real publisher does.
    let mut rng = Rng(7);
    for i in (1..routes.len()).rev() {
        routes.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut g = c.benchmark_group("route/exact_10k_routes");
    g.throughput(Throughput::Elements(routes.len() as u64));
    let mut subs = Subscriptions::default();
    for (k, r) in routes.iter().enumerate() {
        subs.subscribe(k, r, true);
    }
    g.bench_function("subscribers_of_each", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &routes {
                subs.for_each_subscriber(black_box(r), |k| n += k);
            }
            black_box(n)
        })
    });
    let mut last = LastStore::new(2 * SUBSCRIPTIONS, 64 << 20);
    g.bench_function("last_store_set_each", |b| {
        b.iter(|| {
            for r in &routes {
                last.set(black_box(r), b"21.5");
            }
        })
    });
    g.finish();
}

/// 10 000 connections on one route, all closing in the order they came:
/// each close removes one key from a list 10 000 long.
fn one_route_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("route/one_route_10k_subscribers");
    g.throughput(Throughput::Elements(SUBSCRIPTIONS as u64));
    g.sample_size(20);
    for (name, route) in [
        ("exact_all_close", &b"home/door"[..]),
        ("hash_all_close", b"home/#"),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut subs = Subscriptions::default();
                    for k in 0..SUBSCRIPTIONS {
                        subs.subscribe(k, route, false);
                    }
                    subs
                },
                |mut subs| {
                    for k in 0..SUBSCRIPTIONS {
                        subs.remove_conn(black_box(k));
                    }
                    subs
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, index_10k, exact_10k, one_route_10k);
criterion_main!(benches);
