/*
 * The original's Lua binding for C programs that run Lua themselves (the
 * ducq CLI's Lua client, say): ducq_push_ducq, ducq_push_reactor and
 * ducq_push_msg put ducq handles, reactors and messages on a lua_State the
 * program made (with the Lua in libducq.a), as userdata and tables whose
 * methods call the ducq C API. In C because Lua reports errors by longjmp,
 * which must only cross C frames. ducq's own Lua commands (src/lua/) do not
 * use this file.
 */
#include <string.h>

#include "ducq_lua.h"

/* The registry field holding the reactor of `ducq:clients()`, as the
 * original's dispatcher set it (a light userdata). */
#define REACTOR_FIELD "reactor"

static ducq_i *check_ducq(lua_State *L, int index) {
    return *(ducq_i **)luaL_checkudata(L, index, DUCQ_METATABLE);
}

static int ducq_conn_l(lua_State *L) {
    lua_pushinteger(L, ducq_conn(check_ducq(L, 1)));
    return 1;
}

static int ducq_id_l(lua_State *L) {
    const char *id = ducq_id(check_ducq(L, 1));
    if (id)
        lua_pushstring(L, id);
    else
        lua_pushnil(L);
    return 1;
}

static int ducq_timeout_l(lua_State *L) {
    ducq_i *ducq = check_ducq(L, 1);
    int seconds = (int)luaL_checkinteger(L, 2);
    lua_pushinteger(L, ducq_timeout(ducq, seconds));
    return 1;
}

/* (message, state): the message is "" when the receive failed. */
static int ducq_recv_l(lua_State *L) {
    ducq_i *ducq = check_ducq(L, 1);
    size_t cap = DUCQ_MSGSZ, size = cap;
    char *buf = lua_newuserdatauv(L, cap, 0);
    ducq_state state = ducq_recv(ducq, buf, &size);
    if (state == DUCQ_EMSGSIZE && size > cap) {
        cap = size;
        buf = lua_newuserdatauv(L, cap, 0);
        state = ducq_recv(ducq, buf, &size);
    }
    lua_pushlstring(L, buf, state == DUCQ_OK ? size : 0);
    lua_pushinteger(L, state);
    return 2;
}

static int ducq_send_l(lua_State *L) {
    ducq_i *ducq = check_ducq(L, 1);
    size_t len = 0;
    const char *msg = luaL_checklstring(L, 2, &len);
    lua_pushinteger(L, ducq_send(ducq, msg, &len));
    return 1;
}

static int ducq_close_l(lua_State *L) {
    lua_pushinteger(L, ducq_close(check_ducq(L, 1)));
    return 1;
}

static int ducq_sendack_l(lua_State *L) {
    lua_pushinteger(L, ducq_send_ack(check_ducq(L, 1), DUCQ_OK));
    return 1;
}

static int ducq_eq_l(lua_State *L) {
    lua_pushboolean(L, ducq_eq(check_ducq(L, 1), check_ducq(L, 2)));
    return 1;
}

static int iterator_gc(lua_State *L) {
    ducq_client_it **it = luaL_checkudata(L, 1, DUCQ_ITERATOR_METATABLE);
    ducq_client_it_free(*it);
    *it = NULL;
    return 0;
}

static int iterator_next(lua_State *L) {
    ducq_client_it **it = lua_touserdata(L, lua_upvalueindex(1));
    char *route = NULL;
    ducq_i *client = *it ? ducq_next(*it, &route) : NULL;
    if (!client)
        return 0;
    ducq_push_ducq(L, client);
    lua_pushstring(L, route ? route : "");
    return 2;
}

/* for client, route in ducq:clients() do ... end */
static int ducq_clients_l(lua_State *L) {
    ducq_reactor *reactor;
    ducq_client_it **it;
    check_ducq(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REACTOR_FIELD);
    reactor = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!reactor)
        return luaL_error(L, "ducq:clients(): no reactor in this Lua state");
    it = lua_newuserdatauv(L, sizeof *it, 0);
    *it = NULL;
    luaL_setmetatable(L, DUCQ_ITERATOR_METATABLE);
    *it = ducq_new_client_it(reactor);
    if (!*it)
        return luaL_error(L, "ducq:clients(): the reactor cannot be reached");
    lua_pushcclosure(L, iterator_next, 1);
    return 1;
}

/* What reactor:loop's C callback shares with it. */
struct loop_ctx {
    lua_State *L;
    int failed; /* an error message waits on the stack */
};

static ducq_loop_t call_lua(ducq_i *client, char *route, void *vctx) {
    struct loop_ctx *ctx = vctx;
    lua_State *L = ctx->L;
    int isnum = 0;
    lua_Integer verdict;
    lua_pushvalue(L, 2); /* the function */
    ducq_push_ducq(L, client);
    lua_pushstring(L, route ? route : "");
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        ctx->failed = 1; /* the message stays on the stack */
        return DUCQ_LOOP_BREAK;
    }
    verdict = lua_isnil(L, -1) ? DUCQ_LOOP_CONTINUE : lua_tointegerx(L, -1, &isnum);
    if (!lua_isnil(L, -1) && !isnum) {
        lua_pop(L, 1);
        lua_pushstring(L, "reactor:loop(): the callback must return a ducq_loop_t");
        ctx->failed = 1;
        return DUCQ_LOOP_BREAK;
    }
    lua_pop(L, 1);
    return (ducq_loop_t)verdict;
}

/* reactor:loop(function(client, route) ... return reactor.continue end) */
static int reactor_loop_l(lua_State *L) {
    ducq_reactor *reactor = *(ducq_reactor **)luaL_checkudata(L, 1, DUCQ_REACTOR_METATABLE);
    struct loop_ctx ctx;
    ducq_loop_t last;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    ctx.L = L;
    ctx.failed = 0;
    last = ducq_reactor_loop(reactor, call_lua, &ctx);
    /* Raised here, once no ducq frame is between us and Lua. */
    if (ctx.failed)
        return lua_error(L);
    lua_pushinteger(L, last);
    return 1;
}

static int msg_tostring(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "command");
    lua_getfield(L, 1, "route");
    lua_getfield(L, 1, "payload");
    lua_pushfstring(L, "%s %s\n%s", luaL_optstring(L, -3, ""), luaL_optstring(L, -2, ""),
                    luaL_optstring(L, -1, ""));
    return 1;
}

static const luaL_Reg ducq_methods[] = {
    {"conn", ducq_conn_l},       {"id", ducq_id_l},           {"timeout", ducq_timeout_l},
    {"recv", ducq_recv_l},       {"send", ducq_send_l},       {"close", ducq_close_l},
    {"sendack", ducq_sendack_l}, {"clients", ducq_clients_l}, {"__eq", ducq_eq_l},
    {NULL, NULL},
};

static const luaL_Reg reactor_methods[] = {
    {"loop", reactor_loop_l},
    {NULL, NULL},
};

/* Makes the metatable `name` (methods, __index on itself, a locked
 * __metatable) unless the state has it; leaves it on the stack. */
static void metatable(lua_State *L, const char *name, const luaL_Reg *methods) {
    if (!luaL_newmetatable(L, name))
        return;
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");
    if (methods)
        luaL_setfuncs(L, methods, 0);
}

/* Every metatable of the binding, made on first use in a state. */
static void ensure_metatables(lua_State *L) {
    metatable(L, DUCQ_METATABLE, ducq_methods);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, DUCQ_REACTOR_METATABLE)) {
        lua_pushvalue(L, -1);
        lua_setfield(L, -2, "__index");
        lua_pushstring(L, DUCQ_REACTOR_METATABLE);
        lua_setfield(L, -2, "__metatable");
        luaL_setfuncs(L, reactor_methods, 0);
        lua_pushinteger(L, DUCQ_LOOP_CONTINUE);
        lua_setfield(L, -2, "continue");
        lua_pushinteger(L, DUCQ_LOOP_BREAK);
        lua_setfield(L, -2, "stop");
        lua_pushinteger(L, DUCQ_LOOP_DELETE);
        lua_setfield(L, -2, "delete");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, DUCQ_ITERATOR_METATABLE)) {
        lua_pushcfunction(L, iterator_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushstring(L, DUCQ_ITERATOR_METATABLE);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, DUCQ_MSG_METATABLE)) {
        lua_pushvalue(L, -1);
        lua_setfield(L, -2, "__index");
        lua_pushstring(L, DUCQ_MSG_METATABLE);
        lua_setfield(L, -2, "__metatable");
        lua_pushcfunction(L, msg_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
}

void ducq_push_ducq(lua_State *L, ducq_i *ducq) {
    ducq_i **ud;
    if (!L)
        return;
    ensure_metatables(L);
    ud = lua_newuserdatauv(L, sizeof *ud, 0);
    *ud = ducq;
    luaL_setmetatable(L, DUCQ_METATABLE);
}

void ducq_push_reactor(lua_State *L, ducq_reactor *reactor) {
    ducq_reactor **ud;
    if (!L)
        return;
    ensure_metatables(L);
    ud = lua_newuserdatauv(L, sizeof *ud, 0);
    *ud = reactor;
    luaL_setmetatable(L, DUCQ_REACTOR_METATABLE);
}

static void set_text(lua_State *L, const char *field, const char *value) {
    if (value)
        lua_pushstring(L, value);
    else
        lua_pushnil(L);
    lua_setfield(L, -2, field);
}

void ducq_push_msg(lua_State *L, struct ducq_msg *msg) {
    if (!L)
        return;
    ensure_metatables(L);
    lua_createtable(L, 0, 3);
    set_text(L, "command", msg ? msg->command : NULL);
    set_text(L, "route", msg ? msg->route : NULL);
    set_text(L, "payload", msg ? msg->payload : NULL);
    luaL_setmetatable(L, DUCQ_MSG_METATABLE);
}
