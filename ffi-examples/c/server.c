/*
 * A ducq broker written in C: a TCP listener, commands written in C, and
 * optionally a folder of command objects (*.so), Lua commands and an
 * HTTP/WebSocket listener. It prints "lua PATH STATE" for each Lua path,
 * then "port N" (and "http N") once it listens, and stops cleanly on SIGINT
 * or SIGTERM.
 *
 * usage: server [--lua PATH]... [ADDRESS [COMMANDS_DIR [HTTP_ADDRESS]]]
 *        (ADDRESS default 127.0.0.1:59090; "-" for no COMMANDS_DIR;
 *        PATH a folder of .lua files or one file, reloaded when it changes)
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ducq.h"

static ducq_reactor *reactor;

/* Signal handlers may only call ducq_reactor_stop. */
static void on_signal(int sig) {
    (void)sig;
    ducq_reactor_stop(reactor);
}

/* The original's log function: printf-style, with a va_list. */
static int log_line(void *logger, enum ducq_log_level level, const char *function,
                    const char *sender, const char *fmt, va_list args) {
    (void)logger;
    fprintf(stderr, "[%d] %s %s: ", (int)level, function, sender);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    return 0;
}

static ducq_loop_t count_one(ducq_i *client, char *route, void *ctx) {
    (void)client;
    (void)route;
    ++*(int *)ctx;
    return DUCQ_LOOP_CONTINUE;
}

/* "count": the number of connected clients. */
static ducq_state cmd_count(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    char reply[32];
    size_t len;
    int n = 0;
    (void)message;
    (void)size;
    ducq_reactor_loop(r, count_one, &n);
    len = (size_t)snprintf(reply, sizeof reply, "%d", n);
    return ducq_send(ducq, reply, &len);
}

/* "shout R\ntext": publishes TEXT in capitals on R, then acknowledges. */
static ducq_state cmd_shout(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    ducq_msg_parts msg;
    char route[256];
    size_t route_len = sizeof route, i;
    ducq_state state = ducq_split_msg(message, size, &msg);
    if (state == DUCQ_OK)
        state = ducq_copy_route(message, size, route, &route_len);
    if (state != DUCQ_OK)
        return state; /* nothing sent: the client gets a NACK */
    for (i = 0; i < msg.payload_len; i++)
        message[msg.payload - message + i] = (char)toupper((unsigned char)msg.payload[i]);
    state = ducq_reactor_publish(r, route, msg.payload, msg.payload_len);
    return ducq_send_ack(ducq, state);
}

/* "whoami": the caller's id, as lsconn lists it. */
static ducq_state cmd_whoami(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    const char *id = ducq_id(ducq);
    size_t len = strlen(id);
    (void)r;
    (void)message;
    (void)size;
    return ducq_send(ducq, id, &len);
}

/* "fail": returns an error without replying: the client gets NACK 18. */
static ducq_state cmd_fail(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)r;
    (void)ducq;
    (void)message;
    (void)size;
    return DUCQ_EACK;
}

/* "bye": acknowledges, then closes the caller's connection. */
static ducq_state cmd_bye(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    ducq_state state = ducq_send_ack(ducq, DUCQ_OK);
    (void)message;
    (void)size;
    ducq_reactor_log(r, DUCQ_LOG_INFO, "bye", ducq_id(ducq), "closing on %s", "request");
    if (state == DUCQ_OK)
        state = ducq_close(ducq);
    return state;
}

static const ducq_cmd_t commands[] = {
    {"count", "number of connected clients", cmd_count},
    {"shout", "publish the payload in capitals on the route", cmd_shout},
    {"whoami", "your connection id", cmd_whoami},
    {"fail", "always fails (NACK 18)", cmd_fail},
    {"bye", "acknowledge, then close the connection", cmd_bye},
};

int main(int argc, char **argv) {
    const char *address, *folder, *http;
    const char *lua[8];
    size_t lua_count = 0;
    struct sigaction sa;
    uint16_t port = 0, http_port = 0;
    size_t i, loaded = 0;
    ducq_state state;

    while (argc > 2 && strcmp(argv[1], "--lua") == 0) {
        if (lua_count == sizeof lua / sizeof lua[0]) {
            fprintf(stderr, "server: too many --lua paths\n");
            return 2;
        }
        lua[lua_count++] = argv[2];
        argv += 2;
        argc -= 2;
    }
    address = argc > 1 ? argv[1] : "127.0.0.1:59090";
    folder = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    http = argc > 3 ? argv[3] : NULL;

    reactor = ducq_reactor_new_with_log(NULL, log_line);
    if (!reactor) {
        fprintf(stderr, "server: cannot create the reactor\n");
        return 1;
    }
    /* Lua commands, as the original library loads them: through the
     * reactor's dispatcher. A script that fails to load is logged (and
     * retried when it is written again); it does not stop the server. */
    for (i = 0; i < lua_count; i++) {
        ducq_dispatcher *dispatcher = ducq_reactor_get_dispatcher(reactor);
        state = ducq_dispatcher_add(dispatcher, lua[i]);
        printf("lua %s %s\n", lua[i], ducq_state_short(state));
    }
    state = ducq_reactor_listen_tcp(reactor, address, &port);
    if (state != DUCQ_OK) {
        fprintf(stderr, "server: cannot listen on %s: %s\n", address, ducq_state_tostr(state));
        ducq_reactor_free(reactor);
        return 1;
    }
    if (http && (state = ducq_reactor_listen_http(reactor, http, &http_port)) != DUCQ_OK) {
        fprintf(stderr, "server: cannot listen on %s: %s\n", http, ducq_state_tostr(state));
        ducq_reactor_free(reactor);
        return 1;
    }
    for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
        ducq_reactor_add_command(reactor, &commands[i]);
    if (folder && ducq_reactor_load_commands(reactor, folder, &loaded) != DUCQ_OK)
        fprintf(stderr, "server: cannot read %s\n", folder);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("port %u\nloaded %zu\n", (unsigned)port, loaded);
    if (http)
        printf("http %u\n", (unsigned)http_port);
    fflush(stdout);
    state = ducq_reactor_run(reactor); /* ducq_loop, with its result */
    ducq_reactor_free(reactor);
    printf("stopped: %s\n", ducq_state_tostr(state));
    return state == DUCQ_OK ? 0 : 1;
}
