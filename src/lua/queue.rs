//! What scripts reach of durable queues and request/reply (PROTOCOL.md
//! §14): `reactor:enqueue(queue, payload)`, `reactor:queues()` and
//! `ducq:request(route, corr, payload)`. Conversion only: the queue
//! service does the work, through the hub lent for the call.

use std::time::Instant;

use mlua::{Lua, UserDataMethods};

use super::api::{call_ctx, with_hub};
use crate::proto::State;
use crate::server::rules::check_route;
use crate::server::ConnId;

/// `reactor:enqueue` and `reactor:queues`, for the reactor handle.
pub(crate) fn add_reactor_methods<T, M: UserDataMethods<T>>(m: &mut M) {
    // Committed with the turn, like a client's `enq`; the id is the
    // message's from now on. A commit that fails drops it (logged).
    m.add_method(
        "enqueue",
        |lua, _, (queue, payload): (mlua::String, mlua::String)| {
            let (queue, payload) = (queue.as_bytes(), payload.as_bytes());
            with_hub(lua, |hub| {
                match hub
                    .queues_mut()
                    .enqueue_quiet(&queue, &payload, Instant::now())
                {
                    Ok(id) => (State::Ok.code(), Some(id)),
                    Err(s) => (s.code(), None),
                }
            })
        },
    );
    m.add_method("queues", |lua, _, ()| {
        let list = with_hub(lua, |hub| hub.queues().listing(Instant::now()))?;
        let out = lua.create_table()?;
        for (i, q) in list.into_iter().enumerate() {
            let t = lua.create_table()?;
            t.set("name", q.name.as_ref())?;
            t.set("depth", q.stats.depth)?;
            t.set("ready", q.stats.ready)?;
            t.set("in_flight", q.stats.in_flight)?;
            t.set("consumers", q.stats.consumers)?;
            t.set(
                "oldest_ms",
                q.stats.oldest.map_or(0, |d| d.as_millis() as u64),
            )?;
            out.set(i + 1, t)?;
        }
        Ok(out)
    });
}

/// `ducq:request(route, corr, payload)`: a request on behalf of connection
/// `id`, whose reply (`rep CORR\n…` or `NACK CORR\n…`) goes to that
/// connection. Returns `OK` once forwarded, `ENOTFOUND` when nobody serves
/// the route, `EMSGINV` for a bad route or correlation id.
pub(crate) fn request(
    lua: &Lua,
    id: ConnId,
    route: &[u8],
    corr: &[u8],
    payload: &[u8],
) -> mlua::Result<i32> {
    let mut body = corr.to_vec();
    body.push(b'\n');
    body.extend_from_slice(payload);
    let ctx = call_ctx(lua)?;
    with_hub(lua, |hub| {
        if let Err(state) = check_route(route, hub.settings().max_route) {
            return state.code();
        }
        match hub.forward_request(id, route, &body) {
            Ok(()) => {
                // The reply, when it comes, answers the caller.
                if ctx.slot.reply_deferred(id) {
                    hub.defer_reply();
                }
                State::Ok.code()
            }
            Err((_, state)) => state.code(),
        }
    })
}
