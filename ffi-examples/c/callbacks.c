/*
 * Callbacks that misbehave, and what ducq does about them (as ducq.h
 * documents). One thread runs an in-process reactor with ducq_loop_once and
 * the clients that talk to it. Prints one line per check; the exit status
 * is the number of failed checks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ducq.h"

static int failures;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (cond) {                                                                                \
            printf("ok   %s\n", what);                                                             \
        } else {                                                                                   \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static ducq_reactor *reactor;
static int log_reentry = -1;
static int nest_loop = -1, nest_listen = -1, nest_lua = -1, lua_later = -1;
static ducq_i *kept;

static int reentry_visits;

static ducq_loop_t count_one(ducq_i *ducq, char *route, void *ctx) {
    (void)ducq;
    (void)route;
    ++*(int *)ctx;
    return DUCQ_LOOP_CONTINUE;
}

/* A log function that calls back into the reactor: refused, no crash. */
static int log_line(void *logger, enum ducq_log_level level, const char *function,
                    const char *sender, const char *fmt, va_list args) {
    (void)logger;
    (void)level;
    (void)function;
    (void)sender;
    (void)fmt;
    (void)args;
    if (log_reentry == -1 && reactor) {
        log_reentry = ducq_reactor_loop(reactor, count_one, &reentry_visits);
        if (log_reentry == DUCQ_LOOP_BREAK)
            log_reentry = ducq_reactor_log(reactor, DUCQ_LOG_INFO, "log", NULL, "nested %d", 1);
    }
    return 0;
}

/* A command that tries everything it must not do, then answers. */
static ducq_state cmd_nest(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)message;
    (void)size;
    nest_loop = ducq_reactor_run(r);
    nest_listen = ducq_reactor_listen_tcp(r, "127.0.0.1:0", NULL);
    /* The Lua host cannot be created under a running reactor. */
    nest_lua = ducq_dispatcher_add(ducq_reactor_get_dispatcher(r), "no such lua path");
    ducq_reactor_free(r); /* ignored: the reactor is running */
    ducq_free(ducq);      /* ignored: the handle is lent */
    return ducq_send_ack(ducq, DUCQ_OK);
}

/* A command adding Lua scripts once the host exists: allowed. */
static ducq_state cmd_lua(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)message;
    (void)size;
    lua_later = ducq_dispatcher_add(ducq_reactor_get_dispatcher(r), "no such lua path");
    return ducq_send_ack(ducq, DUCQ_OK);
}

/* A command that keeps its caller for later. */
static ducq_state cmd_keep(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)r;
    (void)message;
    (void)size;
    kept = ducq_copy(ducq);
    return ducq_send_ack(ducq, kept ? DUCQ_OK : DUCQ_EMEMFAIL);
}

/* "follow R": subscribes the caller to R from the server side. */
static ducq_state cmd_follow(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    char route[64];
    size_t len = sizeof route;
    ducq_state state = ducq_copy_route(message, size, route, &len);
    if (state == DUCQ_OK)
        state = ducq_reactor_subscribe(r, ducq, route);
    return ducq_send_ack(ducq, state);
}

static ducq_loop_t kick_others(ducq_i *client, char *route, void *caller) {
    (void)route;
    /* Lent handles are stable: the caller is the same pointer here. */
    return client == caller ? DUCQ_LOOP_CONTINUE : DUCQ_LOOP_DELETE;
}

/* "kick": closes every other client. */
static ducq_state cmd_kick(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)message;
    (void)size;
    ducq_reactor_log(r, DUCQ_LOG_INFO, "kick", ducq_id(ducq), "closing every other client");
    ducq_reactor_loop(r, kick_others, ducq);
    return ducq_send_ack(ducq, DUCQ_OK);
}

static ducq_loop_t odd_verdict(ducq_i *client, char *route, void *ctx) {
    (void)client;
    (void)route;
    ++*(int *)ctx;
    return (ducq_loop_t)0x7ffffff4; /* no known bit: go on */
}

/* A command returning values no enum holds: folded, never a crash. */
static ducq_state cmd_odd(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    int visits = 0;
    (void)ducq;
    (void)message;
    (void)size;
    if (ducq_reactor_loop(r, odd_verdict, &visits) != (ducq_loop_t)0x7ffffff4 || visits < 1)
        return DUCQ_EACK;
    return (ducq_state)999;
}

static const ducq_cmd_t nest = {"nest", "misbehaving command", cmd_nest};
static const ducq_cmd_t odd = {"odd", "returns values no enum holds", cmd_odd};
static const ducq_cmd_t follow = {"follow", "subscribes the caller", cmd_follow};
static const ducq_cmd_t kick = {"kick", "closes every other client", cmd_kick};
static const ducq_cmd_t keep = {"keep", "keeps the caller", cmd_keep};
static const ducq_cmd_t lua = {"lua", "adds Lua scripts", cmd_lua};

static void pump(void) {
    int i;
    for (i = 0; i < 6; i++)
        ducq_loop_once(reactor, 15);
}

static ducq_i *client(uint16_t port) {
    char p[16];
    ducq_i *ducq;
    snprintf(p, sizeof p, "%u", (unsigned)port);
    ducq = ducq_new_tcp("127.0.0.1", p);
    ducq_timeout(ducq, 2);
    if (ducq_conn(ducq) != DUCQ_OK)
        printf("cannot connect: %s\n", ducq_last_error(ducq));
    return ducq;
}

/* Emits a message, lets the reactor run, receives the next reply. */
static ducq_state call(ducq_i *ducq, const char *command, const char *route, char *buf,
                       size_t *size) {
    ducq_emit(ducq, command, route, NULL, 0);
    pump();
    return ducq_receive(ducq, buf, size);
}

static ducq_state stop_now(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    (void)ducq;
    (void)route;
    (void)payload;
    (void)size;
    ++*(int *)ctx;
    return DUCQ_EACK;
}

static ducq_state close_it(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    (void)route;
    (void)payload;
    (void)size;
    ++*(int *)ctx;
    ducq_close(ducq);
    return DUCQ_OK;
}

static ducq_state free_it(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    (void)route;
    (void)payload;
    (void)size;
    ++*(int *)ctx;
    ducq_free(ducq);
    return DUCQ_OK;
}

static ducq_state timeouts(ducq_i *ducq, ducq_state state, void *ctx) {
    (void)ducq;
    if (state != DUCQ_ETIMEOUT)
        return state;
    return ++*(int *)ctx < 2 ? DUCQ_OK : DUCQ_EACK;
}

static void publish3(ducq_i *publisher) {
    ducq_emit(publisher, "pub", "t", "m1", 2);
    ducq_emit(publisher, "pub", "t", "m2", 2);
    ducq_emit(publisher, "pub", "t", "m3", 2);
    pump();
}

int main(void) {
    char buf[256], tiny[4];
    size_t size;
    uint16_t port = 0;
    ducq_listen_ex_ctx listen;
    ducq_i *sub, *publisher, *other;
    int calls = 0;
    ducq_state state;

    reactor = ducq_reactor_new_with_log(NULL, log_line);
    ducq_reactor_listen_tcp(reactor, "127.0.0.1:0", &port);
    CHECK(log_reentry == DUCQ_ERROR && reentry_visits == 0,
          "a log callback re-entering the reactor is refused");
    CHECK(ducq_reactor_add_command(reactor, &nest) == DUCQ_OK, "add command nest");
    CHECK(ducq_reactor_add_command(reactor, &keep) == DUCQ_OK, "add command keep");
    CHECK(ducq_reactor_add_command(reactor, &follow) == DUCQ_OK, "add command follow");
    CHECK(ducq_reactor_add_command(reactor, &kick) == DUCQ_OK, "add command kick");
    CHECK(ducq_reactor_add_command(reactor, &lua) == DUCQ_OK, "add command lua");
    CHECK(ducq_reactor_add_command(reactor, &odd) == DUCQ_OK, "add command odd");

    publisher = client(port);
    size = sizeof buf;
    state = call(publisher, "nest", "", buf, &size);
    CHECK(state == DUCQ_PROTOCOL && strcmp(buf, "ACK") == 0, "a misbehaving command still answers");
    CHECK(nest_loop == DUCQ_ERROR, "ducq_loop from a command is refused");
    CHECK(nest_listen == DUCQ_ERROR, "listening from a command is refused");
    CHECK(nest_lua == DUCQ_ERROR, "creating the Lua host from a command is refused");

    /* Created while idle (a missing path still creates it), then usable
     * from a command. */
    CHECK(ducq_dispatcher_add(ducq_reactor_get_dispatcher(reactor), "no such lua path") ==
              DUCQ_EFILE,
          "a missing Lua path is DUCQ_EFILE");
    size = sizeof buf;
    state = call(publisher, "lua", "", buf, &size);
    CHECK(state == DUCQ_PROTOCOL && lua_later == DUCQ_EFILE, "a command adds Lua paths");

    size = sizeof buf;
    state = call(publisher, "odd", "", buf, &size);
    CHECK(state == DUCQ_NACK && ducq_nack_state(buf, size) == DUCQ_UNKNOWN,
          "a state no enum holds is folded: NACK 23");

    size = sizeof buf;
    state = call(publisher, "keep", "", buf, &size);
    CHECK(state == DUCQ_PROTOCOL && kept != NULL, "a command copies its caller");
    size = 5;
    CHECK(ducq_send(kept, "later", &size) == DUCQ_OK, "a kept handle sends while the reactor idles");
    pump();
    size = sizeof buf;
    CHECK(ducq_receive(publisher, buf, &size) == DUCQ_OK && strcmp(buf, "later") == 0,
          "the kept handle's message arrives");
    ducq_free(kept);

    /* A message larger than the buffer stays queued. */
    ducq_emit(publisher, "whoami", "", NULL, 0);
    ducq_emit(publisher, "lscmd", "", NULL, 0);
    pump();
    size = sizeof tiny;
    state = ducq_recv(publisher, tiny, &size);
    CHECK(state == DUCQ_EMSGSIZE && size == 26, "a short buffer is refused, with the size needed");
    size = sizeof buf;
    CHECK(ducq_recv(publisher, buf, &size) == DUCQ_OK && buf[0] == 'N',
          "then the same message arrives whole");
    CHECK(ducq_nack_state(buf, size) == DUCQ_ENOCMD, "whoami is not a command here: NACK 17");
    size = sizeof buf;
    CHECK(ducq_receive(publisher, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PARTS") == 0,
          "lscmd answers PARTS");
    do
        size = sizeof buf;
    while (ducq_receive(publisher, buf, &size) == DUCQ_OK);
    CHECK(strcmp(buf, "END") == 0, "lscmd ends with END");

    /* A callback returning an error ends the listen with that error. */
    sub = client(port);
    ducq_emit(sub, "sub", "t", NULL, 0);
    pump();
    publish3(publisher);
    memset(&listen, 0, sizeof listen);
    listen.on_message = stop_now;
    listen.ctx = &calls;
    CHECK(ducq_listen_ex(sub, &listen) == DUCQ_EACK && calls == 1, "a callback's error is returned");

    /* A callback closing the handle ends the listen: DUCQ_ECONNCLOSED. */
    listen.on_message = close_it;
    calls = 0;
    CHECK(ducq_listen_ex(sub, &listen) == DUCQ_ECONNCLOSED && calls == 1,
          "a callback closing the handle ends the listen");
    size = sizeof buf;
    CHECK(ducq_recv(sub, buf, &size) == DUCQ_ECONNCLOSED, "the closed handle reads as closed");

    /* A callback freeing the handle: deferred, the listen returns. */
    CHECK(ducq_conn(sub) == DUCQ_OK, "a closed handle reconnects");
    ducq_emit(sub, "sub", "t", NULL, 0);
    pump();
    publish3(publisher);
    listen.on_message = free_it;
    calls = 0;
    CHECK(ducq_listen_ex(sub, &listen) == DUCQ_ECONNCLOSED && calls == 1,
          "a callback freeing the handle ends the listen");

    /* Timeouts reach on_error, which decides. */
    other = client(port);
    ducq_timeout(other, 1);
    memset(&listen, 0, sizeof listen);
    listen.on_error = timeouts;
    listen.ctx = &calls;
    calls = 0;
    CHECK(ducq_listen_ex(other, &listen) == DUCQ_EACK && calls == 2, "on_error sees timeouts");

    /* Server-side subscription, then every other client deleted. */
    size = sizeof buf;
    CHECK(call(other, "follow", "f", buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "ACK") == 0,
          "a command subscribes its caller");
    ducq_emit(publisher, "pub", "f", "x", 1);
    pump();
    size = sizeof buf;
    CHECK(ducq_receive(other, buf, &size) == DUCQ_OK && strcmp(buf, "pub f\nx") == 0,
          "the caller receives on the route it was given");
    ducq_emit(publisher, "kick", "", NULL, 0);
    pump();
    size = sizeof buf;
    CHECK(ducq_receive(other, buf, &size) == DUCQ_ECONNCLOSED, "a deleted client is closed");
    ducq_free(other);
    ducq_free(publisher);
    ducq_reactor_free(reactor);
    printf("%d failed\n", failures);
    return failures;
}
