//! One page of the live routes, connections or durable queues as JSON, for
//! the dashboard:
//! `{"total":N,"offset":O,"items":[..]}`. However many routes or clients
//! there are, a reply holds one page (at most `MAX_PAGE` items, payloads
//! cut at `PAYLOAD_PREVIEW` bytes), so it stays small.

use std::fmt::Write as _;

use std::time::Instant;

use crate::proto::listing::json_string;
use crate::proto::{Message, State};
use crate::server::hub::Hub;
use crate::server::queues::queue_line;

/// Items in a page unless the request asks for fewer.
pub const DEFAULT_PAGE: usize = 50;
/// Most items in a page.
pub const MAX_PAGE: usize = 500;
/// Bytes of a payload shown in a route listing.
pub const PAYLOAD_PREVIEW: usize = 200;
/// Subscriptions shown per connection.
const MAX_ROUTES_SHOWN: usize = 20;

/// `offset` and `limit` from a payload `"<offset> <limit>"` (both
/// optional; an empty payload is the first page).
pub fn window(payload: &[u8]) -> Result<(usize, usize), State> {
    let text = std::str::from_utf8(payload).map_err(|_| State::EMsgInv)?;
    let mut words = text.split_whitespace().map(str::parse::<usize>);
    let offset = words.next().unwrap_or(Ok(0)).map_err(|_| State::EMsgInv)?;
    let limit = words
        .next()
        .unwrap_or(Ok(DEFAULT_PAGE))
        .map_err(|_| State::EMsgInv)?;
    if words.next().is_some() {
        return Err(State::EMsgInv);
    }
    Ok((offset, limit.min(MAX_PAGE)))
}

fn page_head(total: usize, offset: usize) -> String {
    format!("{{\"total\":{total},\"offset\":{offset},\"items\":[")
}

/// The stored routes matching `pattern`, in route order: route, payload
/// preview, size, subscribers, publications stored.
pub fn routes(hub: &Hub, pattern: &[u8], offset: usize, limit: usize) -> String {
    let pattern: &[u8] = if pattern.is_empty() { b"*" } else { pattern };
    let stored = hub.last.matching_counted(pattern);
    let mut s = page_head(stored.len(), offset);
    let mut subscribers = Vec::new();
    for (i, (msg, published)) in stored.iter().skip(offset).take(limit).enumerate() {
        let Ok(m) = Message::parse(msg) else { continue };
        if i > 0 {
            s.push(',');
        }
        subscribers.clear();
        hub.subs
            .for_each_subscriber(m.route, |k| subscribers.push(k));
        // A connection with several matching patterns receives once.
        subscribers.sort_unstable();
        subscribers.dedup();
        let preview = m.payload.get(..PAYLOAD_PREVIEW).unwrap_or(m.payload);
        s.push_str("{\"route\":");
        json_string(&mut s, m.route);
        s.push_str(",\"payload\":");
        json_string(&mut s, preview);
        let _ = write!(
            s,
            ",\"truncated\":{},\"size\":{},\"subscribers\":{},\"published\":{published}}}",
            preview.len() < m.payload.len(),
            m.payload.len(),
            subscribers.len()
        );
    }
    s.push_str("]}");
    s
}

/// The open connections whose id contains `filter` (all for `*` or an
/// empty filter), in slab order: id, protocol, listener, subscriptions,
/// queued output, bytes in and out, age.
pub fn conns(hub: &Hub, filter: &[u8], offset: usize, limit: usize) -> String {
    let filter = String::from_utf8_lossy(filter);
    let all = filter.is_empty() || filter == "*";
    let mut total = 0;
    let mut items = String::new();
    for (key, conn) in hub.conns.iter() {
        if conn.closing {
            continue;
        }
        // Ids are formatted only to filter or to show: counting 10 000
        // connections must not format 10 000 strings. The filter sees the
        // id as lsconn lists it (`<user>@<id>`), so a user's name finds
        // its connections.
        if !all && !conn.label().contains(filter.as_ref()) {
            continue;
        }
        total += 1;
        if total <= offset || total > offset.saturating_add(limit) {
            continue;
        }
        if !items.is_empty() {
            items.push(',');
        }
        items.push_str("{\"id\":");
        json_string(&mut items, conn.id_string().as_bytes());
        items.push_str(",\"user\":");
        json_string(&mut items, conn.user().unwrap_or_default().as_bytes());
        items.push_str(",\"protocol\":");
        json_string(&mut items, conn.protocol().as_bytes());
        items.push_str(",\"listener\":");
        let listener = conn.listener().map(|a| a.to_string()).unwrap_or_default();
        json_string(&mut items, listener.as_bytes());
        items.push_str(",\"subscriptions\":[");
        let routes = hub.subs.routes_of(key);
        for (i, r) in routes.iter().take(MAX_ROUTES_SHOWN).enumerate() {
            if i > 0 {
                items.push(',');
            }
            json_string(&mut items, r);
        }
        let _ = write!(
            items,
            "],\"subscription_count\":{},\"queued\":{},\"bytes_in\":{},\"bytes_out\":{},\"age_seconds\":{}}}",
            routes.len(),
            conn.pending_output(),
            conn.bytes_in(),
            conn.bytes_out(),
            conn.age().as_secs()
        );
    }
    let mut s = page_head(total, offset);
    s.push_str(&items);
    s.push_str("]}");
    s
}

/// The durable queues whose name contains `filter` (all for `*` or an
/// empty filter), by name, each as `lsq` renders it in JSON: name, depth,
/// ready, in flight, consumers, age of the oldest message.
pub fn queues(hub: &Hub, filter: &[u8], offset: usize, limit: usize) -> String {
    let all = filter.is_empty() || filter == b"*";
    let listing = hub.queues().listing(Instant::now());
    let matching: Vec<_> = listing
        .iter()
        .filter(|l| all || contains(l.name.as_bytes(), filter))
        .collect();
    let mut s = page_head(matching.len(), offset);
    for (i, l) in matching.iter().skip(offset).take(limit).enumerate() {
        if i > 0 {
            s.push(',');
        }
        queue_line(l).json(&mut s);
    }
    s.push_str("]}");
    s
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_from_payloads() {
        assert_eq!(window(b""), Ok((0, DEFAULT_PAGE)));
        assert_eq!(window(b"100"), Ok((100, DEFAULT_PAGE)));
        assert_eq!(window(b" 5  20 "), Ok((5, 20)));
        assert_eq!(window(b"0 100000"), Ok((0, MAX_PAGE)));
        assert_eq!(window(b"x"), Err(State::EMsgInv));
        assert_eq!(window(b"1 2 3"), Err(State::EMsgInv));
        assert_eq!(window(b"-1"), Err(State::EMsgInv));
        assert_eq!(window(b"\xff"), Err(State::EMsgInv));
    }

    use crate::server::hub::tests::{hub, tcp};

    #[test]
    fn routes_page_the_stored_routes_with_their_distinct_subscribers() {
        let (mut hub, _poll) = hub();
        let (a, _pa) = tcp(&mut hub);
        let (b, _pb) = tcp(&mut hub);
        // `a` matches a/1 twice: counted once.
        hub.subs.subscribe(a, b"a/*", true);
        hub.subs.subscribe(a, b"a/1", true);
        hub.subs.subscribe(b, b"a/1", true);
        let long = vec![b'z'; PAYLOAD_PREVIEW + 1];
        hub.publish(b"a/1", b"pub a/1\nx");
        hub.publish(b"a/2", &[&b"pub a/2\n"[..], &long].concat());
        hub.publish(b"b/3", b"pub b/3\nq");
        let preview = "z".repeat(PAYLOAD_PREVIEW);
        let first = "{\"route\":\"a/1\",\"payload\":\"x\",\"truncated\":false,\"size\":1,\"subscribers\":2,\"published\":1}";
        let second = format!(
            "{{\"route\":\"a/2\",\"payload\":\"{preview}\",\"truncated\":true,\"size\":{},\"subscribers\":1,\"published\":1}}",
            PAYLOAD_PREVIEW + 1
        );
        assert_eq!(
            routes(&hub, b"a/*", 0, 50),
            format!("{{\"total\":2,\"offset\":0,\"items\":[{first},{second}]}}")
        );
        // A window of the list; an empty pattern is every route.
        assert_eq!(
            routes(&hub, b"a/*", 1, 1),
            format!("{{\"total\":2,\"offset\":1,\"items\":[{second}]}}")
        );
        assert_eq!(
            routes(&hub, b"", 0, 0),
            "{\"total\":3,\"offset\":0,\"items\":[]}"
        );
    }

    /// The ids listed in a `conns` page.
    fn ids(page: &str) -> Vec<String> {
        page.split("{\"id\":\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn conns_filter_by_id_count_them_all_and_show_one_window() {
        let (mut hub, _poll) = hub();
        let keys: Vec<usize> = (0..3).map(|_| tcp(&mut hub).0).collect();
        let all: Vec<String> = keys
            .iter()
            .map(|&k| hub.conns.get(k).unwrap().id_string())
            .collect();
        hub.subs.subscribe(keys[1], b"r/1", true);
        hub.subs.subscribe(keys[1], b"r/2", true);
        for filter in [&b""[..], b"*"] {
            let page = conns(&hub, filter, 0, 50);
            assert!(
                page.starts_with("{\"total\":3,\"offset\":0,\"items\":["),
                "{page}"
            );
            assert_eq!(ids(&page), all);
        }
        let page = conns(&hub, b"*", 1, 1);
        assert!(
            page.starts_with("{\"total\":3,\"offset\":1,\"items\":["),
            "{page}"
        );
        assert_eq!(ids(&page), [all[1].clone()]);
        assert!(
            page.contains(",\"subscriptions\":[\"r/1\",\"r/2\"],\"subscription_count\":2,"),
            "{page}"
        );
        // The last id's own text finds it alone.
        let page = conns(&hub, all[2].as_bytes(), 0, 50);
        assert!(page.starts_with("{\"total\":1,"), "{page}");
        assert_eq!(ids(&page), [all[2].clone()]);
        assert_eq!(
            conns(&hub, b"nobody", 0, 50),
            "{\"total\":0,\"offset\":0,\"items\":[]}"
        );
    }

    /// The queue names listed in a `queues` page.
    fn names(page: &str) -> Vec<String> {
        page.split("\"name\":\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn queues_filter_by_name_all_for_empty_or_star_and_show_one_window() {
        let (mut hub, _poll) = hub();
        let caller = crate::server::conn::ConnId { key: 0, gen: 1 };
        for q in [&b"jobs"[..], b"jobs2", b"mail"] {
            hub.queues_mut().create(caller, q, b"").unwrap();
        }
        for filter in [&b""[..], b"*"] {
            let page = queues(&hub, filter, 0, 50);
            assert!(
                page.starts_with("{\"total\":3,\"offset\":0,\"items\":[{"),
                "{page}"
            );
            assert_eq!(names(&page), ["jobs", "jobs2", "mail"], "{page}");
            assert_eq!(page.matches("},{").count(), 2, "{page}");
        }
        let page = queues(&hub, b"job", 1, 1);
        assert!(
            page.starts_with("{\"total\":2,\"offset\":1,\"items\":[{"),
            "{page}"
        );
        assert_eq!(names(&page), ["jobs2"]);
        assert_eq!(
            queues(&hub, b"x", 0, 50),
            "{\"total\":0,\"offset\":0,\"items\":[]}"
        );
    }
}
