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
        // connections must not format 10 000 strings.
        let id = if all {
            None
        } else {
            let id = conn.id_string();
            if !id.contains(filter.as_ref()) {
                continue;
            }
            Some(id)
        };
        total += 1;
        if total <= offset || total > offset.saturating_add(limit) {
            continue;
        }
        let id = id.unwrap_or_else(|| conn.id_string());
        if !items.is_empty() {
            items.push(',');
        }
        items.push_str("{\"id\":");
        json_string(&mut items, id.as_bytes());
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
}
