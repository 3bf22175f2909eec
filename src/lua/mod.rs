//! Lua-scripted commands with hot reload (DESIGN.md "Lua commands", the
//! script API in docs/LUA.md). A [`LuaCommands`] is a command set for the
//! dispatcher: it loads `.lua` files, watches their folders and reloads them
//! when they change, and runs their commands under an instruction budget and
//! a memory limit. Scripts never see a socket or a protocol: they reply
//! through the hub, which encodes for each connection.

mod api;
mod channels;
pub mod client;
mod files;
mod host;
mod limits;
mod queue;
mod report;
mod watch;

pub use api::{LOOP_CONTINUE, LOOP_DELETE, LOOP_STOP};
pub use host::LuaCommands;
pub use limits::{LuaLimits, LuaProbe};
pub use report::{Loaded, LuaError};
