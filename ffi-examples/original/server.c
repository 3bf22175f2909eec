/*
 * A broker written the original ducq way: it opens its own listening
 * sockets, hands each to the reactor with ducq_reactor_add_server and an
 * accept callback that wraps accepted descriptors (ducq_new_tcp_connection,
 * ducq_new_http_connection, ducq_new_ws_connection, or a protocol of its
 * own: netstrings) and gives them to ducq_reactor_add_client; loads a
 * plugin folder and a Lua folder through the dispatcher; logs with
 * ducq_log_tofile; runs ducq_loop until a signal handler stops it.
 *
 * Prints "tcp N", "http N", "ws N", "netstring N" (ports on 127.0.0.1),
 * then "ready"; on SIGTERM/SIGINT "stopped", and "freed N" (netstring
 * connections released by the reactor through their table).
 *
 * usage: server PLUGIN_DIR LUA_DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ducq.h"
#include "ducq_dispatcher.h"
#include "ducq_http.h"
#include "ducq_reactor.h"
#include "ducq_tcp.h"
#include "ducq_ws.h"
#include "netstring.h"

static ducq_reactor *reactor;

typedef ducq_i *(*wrap_f)(int fd);

static void on_signal(int sig) {
    (void)sig;
    ducq_reactor_stop(reactor);
}

/* A listening socket on 127.0.0.1, any free port; its port in *port. */
static int listen_loopback(unsigned *port) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 64) ||
        getsockname(fd, (struct sockaddr *)&addr, &len)) {
        close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

/* The original server's accept callback: accept, wrap, set a timeout,
 * add; on failure log printf-style and let go. */
static void accept_client(ducq_reactor *r, int server, void *ctx) {
    wrap_f wrap;
    ducq_i *ducq;
    ducq_state state;
    int client = accept(server, NULL, NULL);
    memcpy(&wrap, &ctx, sizeof wrap);
    if (client == -1) {
        ducq_reactor_log(r, DUCQ_LOG_WARNING, __func__, "server", "accept() failed: %s",
                         strerror(errno));
        return;
    }
    ducq = wrap(client);
    if (!ducq) {
        close(client);
        return;
    }
    ducq_timeout(ducq, 1);
    state = ducq_reactor_add_client(r, client, ducq);
    if (state != DUCQ_OK) {
        close(client);
        ducq_free(ducq);
        ducq_reactor_log(r, DUCQ_LOG_WARNING, __func__, "server", "add_client: (%d) %s", state,
                         ducq_state_tostr(state));
    }
}

static int serve(const char *name, wrap_f wrap) {
    void *ctx;
    unsigned port = 0;
    int fd = listen_loopback(&port);
    ducq_state state;
    if (fd < 0)
        return -1;
    memcpy(&ctx, &wrap, sizeof ctx);
    state = ducq_reactor_add_server(reactor, fd, accept_client, ctx);
    if (state != DUCQ_OK) {
        fprintf(stderr, "server: add_server: %s\n", ducq_state_tostr(state));
        close(fd);
        return -1;
    }
    printf("%s %u\n", name, port);
    return fd;
}

int main(int argc, char **argv) {
    struct ducq_file_logger logger;
    struct sigaction sa;
    ducq_dispatcher *dispatcher;
    ducq_state state;
    int fds[4], i;

    if (argc < 3) {
        fprintf(stderr, "usage: server PLUGIN_DIR LUA_DIR\n");
        return 2;
    }
    logger.file = stderr;
    logger.color = 0;
    reactor = ducq_reactor_new_with_log(&logger, ducq_log_tofile);
    if (!reactor)
        return 1;
    dispatcher = ducq_reactor_get_dispatcher(reactor);
    state = ducq_dispatcher_load_commands_path(dispatcher, argv[1]);
    if (state != DUCQ_OK) {
        fprintf(stderr, "server: plugins: %s\n", ducq_state_tostr(state));
        return 1;
    }
    state = ducq_dispatcher_add(dispatcher, argv[2]);
    if (state != DUCQ_OK) {
        fprintf(stderr, "server: lua: %s\n", ducq_state_tostr(state));
        return 1;
    }
    fds[0] = serve("tcp", ducq_new_tcp_connection);
    fds[1] = serve("http", ducq_new_http_connection);
    fds[2] = serve("ws", ducq_new_ws_connection);
    fds[3] = serve("netstring", netstring_new_connection);
    for (i = 0; i < 4; i++)
        if (fds[i] < 0)
            return 1;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    ducq_reactor_log(reactor, DUCQ_LOG_INFO, __func__, "server", "server started, %d plugins",
                     ducq_dispatcher_count_cmds(dispatcher));
    printf("ready\n");
    fflush(stdout);
    ducq_loop(reactor);

    ducq_reactor_free(reactor);
    for (i = 0; i < 4; i++)
        close(fds[i]);
    printf("stopped\nfreed %d\n", netstring_freed());
    return 0;
}
