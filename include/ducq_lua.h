/*
 * ducq: the original's Lua binding for C programs that run Lua themselves
 * (ducq's own Lua commands need nothing from here). Include it with the
 * Lua 5.4 headers on the include path; link the Lua that libducq.a carries
 * (or your own Lua 5.4, not both). The functions are written in C
 * (src/ffi/c/lua.c) and exported by libducq.
 */
#ifndef DUCQ_LUA_H
#define DUCQ_LUA_H

/* Lua's own headers have no C++ guard. */
#ifdef __cplusplus
extern "C" {
#endif
#include <lauxlib.h>
#include <lua.h>
#ifdef __cplusplus
}
#endif

#include "ducq.h"
#include "ducq_reactor.h"

#ifndef LUA_DUCQ_PACKAGE_NAME
#define LUA_DUCQ_PACKAGE_NAME "LuaDucq"
#endif

/* The metatables of the values pushed below (made on first use). */
#define DUCQ_METATABLE "Ducq.Ducq"
#define DUCQ_REACTOR_METATABLE "Ducq.Reactor"
#define DUCQ_ITERATOR_METATABLE "Ducq.Iterator"
#define DUCQ_MSG_METATABLE "Ducq.Msg"

#ifdef __cplusplus
extern "C" {
#endif

/* Pushes `ducq` as a userdata with the methods conn, id, timeout, recv
 * (message, state), send, close, sendack, clients (an iterator over the
 * reactor stored as a light userdata in the registry field "reactor") and
 * ==. The handle is borrowed: it must outlive its uses from Lua. */
void ducq_push_ducq(lua_State *L, ducq_i *ducq);

/* Pushes `reactor` as a userdata with loop(fn) and the fields continue,
 * stop and delete. Borrowed like ducq_push_ducq's handle. */
void ducq_push_reactor(lua_State *L, ducq_reactor *reactor);

/* Pushes a table with the fields command, route and payload (copies;
 * nil for a NULL part, or all nil for a NULL msg) and a __tostring giving
 * the message back. */
void ducq_push_msg(lua_State *L, struct ducq_msg *msg);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DUCQ_LUA_H */
