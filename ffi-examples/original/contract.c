/*
 * Every function of the original ducq C API, called the original way and
 * checked against what it documents; built as C99 and as C++11 from this
 * one file. Part one talks to a live ducq-server; part two runs a reactor
 * in this process (own listening sockets, accept callbacks, plugins, Lua,
 * ducq_loop stopped by a signal handler) while a second thread is its
 * client. Prints one line per failed check and "N failed"; the exit
 * status is the number of failures.
 *
 * usage: contract TCP_PORT HTTP_PORT PLUGIN_DIR LUA_DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ducq.h>
#include <ducq_dispatcher.h>
#include <ducq_http.h>
#include <ducq_log.h>
#include <ducq_lua.h>
#include <ducq_reactor.h>
#include <ducq_tcp.h>
#include <ducq_vtbl.h>
#include <ducq_ws.h>
#ifdef __cplusplus
extern "C" {
#endif
#include <lualib.h>
#ifdef __cplusplus
}
#endif

static int failures;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            pthread_mutex_lock(&lock);                                                             \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
            pthread_mutex_unlock(&lock);                                                           \
        }                                                                                          \
    } while (0)
#define IS(state, want, what) CHECK((state) == (want), what)

static const char *tcp_port, *http_port;

/* ---------------------------------------------------------------- part 1 */

static char heard[512];

static int on_message(ducq_i *ducq, char *msg, size_t size, void *ctx) {
    (void)ducq;
    ++*(int *)ctx;
    snprintf(heard, sizeof heard, "%.*s", (int)size, msg);
    return 1; /* stop */
}

static int on_protocol(ducq_i *ducq, char *msg, size_t size, void *ctx) {
    (void)ducq;
    (void)msg;
    (void)size;
    (void)ctx;
    return 0;
}

static int on_nack(ducq_i *ducq, char *msg, size_t size, void *ctx) {
    (void)ducq;
    (void)ctx;
    snprintf(heard, sizeof heard, "%.*s", (int)size, msg);
    return 1;
}

static int on_error(ducq_i *ducq, ducq_state state, void *ctx) {
    (void)ducq;
    (void)ctx;
    snprintf(heard, sizeof heard, "error %s", ducq_state_short(state));
    return 1;
}

/* Receives until a message of kind `want`, or an error. */
static ducq_state receive_kind(ducq_i *ducq, char *buf, size_t cap, ducq_state want) {
    ducq_state state;
    size_t size;
    do {
        size = cap;
        buf[0] = '\0'; /* what a failed receive leaves to compare */
        state = ducq_receive(ducq, buf, &size);
    } while (state != want && (state == DUCQ_OK || state == DUCQ_PROTOCOL));
    return state;
}

static ducq_state nothing(void) {
    return DUCQ_OK;
}

static ducq_state check_macro(ducq_state first) {
    DUCQ_CHECK(nothing());
    DUCQ_CHECK(first);
    return DUCQ_OK;
}

static void states_parsing_and_macros(void) {
    char msg[] = "pub a/b\nhello there";
    char nack[] = "NACK *\n17\ncommand unknown";
    char now[DUCQ_TIMESTAMP_SIZE];
    const char *end = NULL;
    struct ducq_msg parts;
    int i;

    CHECK(strcmp(ducq_state_tostr(DUCQ_EMSGINV), "message invalid") == 0, "ducq_state_tostr");
    CHECK(strcmp(ducq_state_tostr(-17), "command unknown") == 0, "ducq_state_tostr(-17)");
    CHECK(strcmp(ducq_state_tostr(99), "unknown error") == 0, "ducq_state_tostr(99)");
    CHECK(strcmp(ducq_state_short(DUCQ_ENOTFOUND), "ENOTFOUND") == 0, "ducq_state_short");
    CHECK(strcmp(ducq_state_short(DUCQ_OK), "ok") == 0, "ducq_state_short(DUCQ_OK)");
    IS(DUCQ_UNKNOWN, 23, "24 states");
    IS(DUCQ_MSGSZ, 256, "DUCQ_MSGSZ");
    IS(DUCQ_MAX_CONNECTIONS + DUCQ_MAX_ROUTE_LEN + DUCQ_MAX_CHANNELS, 150, "the limits");
    IS(DUCQ_TIMESTAMP_SIZE, 20, "DUCQ_TIMESTAMP_SIZE");
    CHECK(strcmp(DUCQ_LOG_ROUTE, "LOG") == 0, "DUCQ_LOG_ROUTE");
    IS(check_macro(DUCQ_EACK), DUCQ_EACK, "DUCQ_CHECK returns the first error");
    CHECK(strcmp(RESET, "\033[0m") == 0 && strcmp(FG_NORMAL, "\033[39m") == 0 &&
              strcmp(FG_LITE_RED, "\033[91m") == 0 && strcmp(BG_DARK_BLUE, "\033[44m") == 0 &&
              strcmp(BOLD, "\033[1m") == 0 && strcmp(STRIKE_OFF, "\033[29m") == 0,
          "colour macros");

    CHECK(strcmp(ducq_level_tostr(DUCQ_LOG_DEBUG), "debug") == 0 &&
              strcmp(ducq_level_tostr(DUCQ_LOG_INFO), "info") == 0 &&
              strcmp(ducq_level_tostr(DUCQ_LOG_WARNING), "warning") == 0 &&
              strcmp(ducq_level_tostr(DUCQ_LOG_ERROR), "error") == 0,
          "ducq_level_tostr");
    CHECK(ducq_getnow(now, sizeof now) == now && strlen(now) == 19 && now[4] == '-' &&
              now[10] == 'T' && now[13] == ':' && isdigit((unsigned char)now[18]),
          "ducq_getnow");

    CHECK(ducq_parse_command(msg, &end) == msg && end == msg + 3, "ducq_parse_command");
    CHECK(ducq_parse_route(msg, &end) == msg + 4 && end == msg + 7, "ducq_parse_route");
    CHECK(ducq_parse_payload(msg) == msg + 8, "ducq_parse_payload");
    CHECK(ducq_parse_command("PING", &end) == NULL && end == NULL, "no command without a space");
    CHECK(ducq_parse_route("sub r", NULL) == NULL, "no route without a newline");
    IS(ducq_ack_to_state("ACK"), DUCQ_OK, "ducq_ack_to_state(ACK)");
    IS(ducq_ack_to_state(nack), DUCQ_ENOCMD, "ducq_ack_to_state(NACK)");
    IS(ducq_ack_to_state("garbage"), DUCQ_EMSGINV, "ducq_ack_to_state(garbage)");
    CHECK(ducq_route_cmp("a/*", "a/b") && ducq_route_cmp("*", "x/y/z") &&
              !ducq_route_cmp("a/b", "a/c") && ducq_route_cmp("s/*/t", "s/x/t"),
          "ducq_route_cmp");
    parts = ducq_parse_msg(msg);
    CHECK(parts.command && strcmp(parts.command, "pub") == 0 && parts.route &&
              strcmp(parts.route, "a/b") == 0 && parts.payload &&
              strcmp(parts.payload, "hello there") == 0,
          "ducq_parse_msg");
    for (i = 0; i < 3; i++)
        CHECK(msg[i] != '\0', "ducq_parse_msg cuts in place only");
    CHECK(msg[3] == '\0' && msg[7] == '\0', "ducq_parse_msg cuts in place");
}

static void tcp_client_calls(void) {
    char buf[512];
    size_t size;
    int seen = 0;
    struct ducq_listen_ctx listen;
    ducq_i *refused = ducq_new_tcp("127.0.0.1", "1");
    ducq_i *sub = ducq_new_tcp("127.0.0.1", tcp_port);
    ducq_i *pub = ducq_new_tcp("127.0.0.1", tcp_port);
    ducq_i *copy;

    IS(ducq_conn(refused), DUCQ_ECONNECT, "ducq_conn to a closed port");
    ducq_free(refused);
    IS(ducq_reuseaddr(sub), DUCQ_OK, "ducq_reuseaddr");
    IS(ducq_conn(sub), DUCQ_OK, "ducq_conn");
    IS(ducq_timeout(sub, 10), DUCQ_OK, "ducq_timeout");
    CHECK(strncmp(ducq_id(sub), "TCP:127.0.0.1:", 14) == 0, "ducq_id");

    /* subscribe the original way: a command, then its ACK */
    IS(ducq_emit(sub, "sub", "c/*", "", 0), DUCQ_OK, "ducq_emit");
    size = sizeof buf;
    CHECK(ducq_receive(sub, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "ACK") == 0,
          "ducq_receive ACK");

    /* the device call connects by itself */
    IS(ducq_publish(pub, "c/device", "21.5", 4), DUCQ_OK, "ducq_publish on an unconnected handle");
    IS(ducq_pub(pub, "c/pub", "x", 1), DUCQ_OK, "ducq_pub");
    IS(ducq_pub(pub, "", "x", 1), DUCQ_NACK, "ducq_pub: a NACK");

    memset(&listen, 0, sizeof listen);
    listen.on_message = on_message;
    listen.on_protocol = on_protocol;
    listen.on_nack = on_nack;
    listen.on_error = on_error;
    listen.ctx = &seen;
    IS(ducq_listen(sub, &listen), DUCQ_OK, "ducq_listen returns the receive state");
    CHECK(seen == 1 && strcmp(heard, "pub c/device\n21.5") == 0, "on_message gets the whole message");
    listen.recv_raw = true;
    seen = 0;
    IS(ducq_listen(sub, &listen), DUCQ_OK, "ducq_listen, recv_raw");
    CHECK(seen == 1 && strcmp(heard, "pub c/pub\nx") == 0, "recv_raw delivers to on_message");

    /* raw messages, multipart, NACKs */
    size = 10;
    IS(ducq_send(pub, "PING _\nraw", &size), DUCQ_OK, "ducq_send");
    size = sizeof buf;
    CHECK(ducq_recv(pub, buf, &size) == DUCQ_OK && strcmp(buf, "PONG _\nraw") == 0 && size == 10,
          "ducq_recv");
    IS(ducq_emit(pub, "lscmd", "*", "", 0), DUCQ_OK, "lscmd *");
    size = sizeof buf;
    CHECK(ducq_receive(pub, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PARTS") == 0, "PARTS");
    IS(receive_kind(pub, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "END");
    CHECK(strcmp(buf, "END") == 0, "lscmd ends with END");
    IS(ducq_parts(pub), DUCQ_OK, "ducq_parts");
    size = sizeof buf;
    CHECK(ducq_receive(pub, buf, &size) == DUCQ_NACK && ducq_ack_to_state(buf) == DUCQ_ENOCMD,
          "PARTS is not a command: NACK 17");
    IS(ducq_end(pub), DUCQ_OK, "ducq_end");
    IS(receive_kind(pub, buf, sizeof buf, DUCQ_NACK), DUCQ_NACK, "END is not a command either");
    IS(ducq_send_ack(pub, DUCQ_EMSGINV), DUCQ_EMSGINV, "ducq_send_ack returns the state");
    IS(receive_kind(pub, buf, sizeof buf, DUCQ_NACK), DUCQ_NACK, "a NACK is not a command");

    /* a timeout: ducq_receive pings the server, then gives up */
    IS(ducq_timeout(pub, 1), DUCQ_OK, "ducq_timeout 1 s");
    size = sizeof buf;
    buf[0] = '\0';
    CHECK(ducq_receive(pub, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PING _\nping") == 0,
          "a timeout sends a PING");
    size = sizeof buf;
    CHECK(ducq_receive(pub, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PONG _\nping") == 0,
          "the server answers it");

    /* copies and equality */
    copy = ducq_copy(sub);
    CHECK(copy != NULL && strncmp(ducq_id(copy), "TCP:127.0.0.1:", 14) == 0, "ducq_copy");
    CHECK(ducq_eq(sub, sub) && !ducq_eq(sub, pub), "ducq_eq");
    IS(ducq_conn(copy), DUCQ_OK, "a copy connects");
    ducq_free(copy);

    IS(ducq_close(sub), DUCQ_OK, "ducq_close");
    size = sizeof buf;
    IS(ducq_recv(sub, buf, &size), DUCQ_ECONNCLOSED, "closed");
    IS(ducq_conn(sub), DUCQ_OK, "reconnect");
    ducq_free(sub);
    ducq_free(pub);
}

static void ws_and_http_clients(void) {
    char buf[256];
    size_t size;
    ducq_i *ws = ducq_new_ws_client("127.0.0.1", http_port);
    ducq_i *http = ducq_new_http_client("127.0.0.1", http_port);
    ducq_i *tcp = ducq_new_tcp("127.0.0.1", tcp_port);

    CHECK(ducq_buffer(ws) != NULL && ducq_buffer(tcp) == NULL, "ducq_buffer");
    IS(ducq_conn(ws), DUCQ_OK, "ducq_conn WebSocket");
    CHECK(strncmp(ducq_id(ws), "WS:127.0.0.1:", 13) == 0, "WebSocket id");
    IS(ducq_timeout(ws, 10), DUCQ_OK, "timeout");
    IS(ducq_emit(ws, "sub", "w", "", 0), DUCQ_OK, "WebSocket sub");
    IS(receive_kind(ws, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "WebSocket ACK");
    IS(ducq_publish(tcp, "w", "over tcp", 8), DUCQ_OK, "publish to a WebSocket subscriber");
    IS(receive_kind(ws, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "WebSocket receives");
    CHECK(strcmp(buf, "pub w\nover tcp") == 0, "WebSocket message");
    CHECK(strncmp(ducq_id(http), "HTTP:127.0.0.1:", 15) == 0, "HTTP id");
    IS(ducq_conn(http), DUCQ_ENOIMPL, "the original's HTTP client is not implemented");
    size = sizeof buf;
    IS(ducq_recv(http, buf, &size), DUCQ_ECONNCLOSED, "HTTP client: not connected");
    ducq_free(ws);
    ducq_free(http);
    ducq_free(tcp);
}

/* ---------------------------------------------------------------- part 2 */

static ducq_reactor *reactor;
static unsigned ports[5]; /* tcp, http, ws, upgrade, apply */
static int pair[2];       /* a client added before the loop runs */
static char log_lines[65536];
static size_t log_len;
static FILE *log_file;
static const char *lua_dir;

static void on_signal(int sig) {
    (void)sig;
    ducq_reactor_stop(reactor);
}

/* The original's log function type: printf-style with a va_list. */
static int capture(void *logger, enum ducq_log_level level, const char *function,
                   const char *sender, const char *fmt, va_list args) {
    int n;
    (void)logger;
    if (log_len + 200 >= sizeof log_lines)
        return 0;
    n = snprintf(log_lines + log_len, sizeof log_lines - log_len, "%s|%s|%s|",
                 ducq_level_tostr(level), function, sender);
    log_len += (size_t)n;
    n = vsnprintf(log_lines + log_len, sizeof log_lines - log_len, fmt, args);
    if (n > 0)
        log_len += (size_t)n < sizeof log_lines - log_len ? (size_t)n : 0;
    if (log_len + 1 < sizeof log_lines)
        log_lines[log_len++] = '\n';
    log_lines[log_len] = '\0';
    return 0;
}

static int listen_loopback(unsigned *port) {
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&addr, &len))
        return -1;
    *port = ntohs(addr.sin_port);
    return fd;
}

enum kind { TCP, HTTP, WS, UPGRADE, APPLY };

static ducq_state greet(void *ctx, ducq_i *ducq) {
    size_t len = 5;
    ducq_state state = ducq_send(ducq, "hello", &len);
    ++*(int *)ctx;
    ducq_close(ducq);
    return state;
}

static int applied;

static void accept_client(ducq_reactor *r, int server, void *ctx) {
    enum kind kind = (enum kind)(*(int *)ctx);
    int fd = accept(server, NULL, NULL);
    ducq_i *ducq = NULL;
    char head[1024];
    ssize_t n;
    if (fd < 0)
        return;
    switch (kind) {
    case TCP:
        ducq = ducq_new_tcp_connection(fd);
        break;
    case HTTP:
        ducq = ducq_new_http_connection(fd);
        break;
    case WS:
        ducq = ducq_new_ws_connection(fd);
        break;
    case UPGRADE:
        n = recv(fd, head, sizeof head - 1, 0);
        head[n > 0 ? n : 0] = '\0';
        if (ducq_new_ws_upgrade_from_http(&ducq, fd, head) != DUCQ_PROTOCOL)
            ducq = NULL;
        break;
    case APPLY:
        CHECK(ducq_tcp_apply(fd, greet, &applied) == DUCQ_OK, "ducq_tcp_apply");
        return;
    }
    if (!ducq || ducq_reactor_add_client(r, fd, ducq) != DUCQ_OK) {
        ducq_log(WARNING, "could not add %d", fd);
        ducq_free(ducq);
        close(fd);
    }
}

static ducq_loop_t count_client(ducq_i *client, char *route, void *ctx) {
    (void)client;
    (void)route;
    ++*(int *)ctx;
    return DUCQ_LOOP_CONTINUE;
}

/* "follow R": subscribes the caller from the server side. */
static ducq_state cmd_follow(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    struct ducq_msg m = ducq_parse_msg(message);
    (void)size;
    return ducq_send_ack(ducq, ducq_reactor_subscribe(r, ducq, m.route ? m.route : ""));
}

/* "iterate": the client iterator counts (client, route) pairs. */
static ducq_state cmd_iterate(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    char reply[64];
    char *route = NULL;
    int n = 0, self = 0, looped = 0;
    size_t len;
    ducq_client_it *it = ducq_new_client_it(r);
    ducq_i *client;
    (void)message;
    (void)size;
    while ((client = ducq_next(it, &route)) != NULL) {
        n++;
        if (client == ducq && route && strcmp(route, "b/*") == 0)
            self = 1;
    }
    ducq_client_it_free(it);
    ducq_reactor_loop(r, count_client, &looped);
    len = (size_t)snprintf(reply, sizeof reply, "%d %d %d", n, self, n == looped);
    return ducq_send(ducq, reply, &len);
}

/* "kickme": goodbye, then the reactor deletes the caller. */
static ducq_state cmd_kickme(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    size_t len = 3;
    (void)message;
    (void)size;
    DUCQ_CHECK(ducq_send(ducq, "bye", &len));
    return ducq_reactor_delete(r, ducq) ? DUCQ_OK : DUCQ_ENOTFOUND;
}

/* "quiet" / "loud": the LOG route switch. */
static ducq_state cmd_quiet(ducq_reactor *r, ducq_i *ducq, char *message, size_t size) {
    (void)size;
    ducq_reactor_allow_log_route(r, message[0] == 'l');
    ducq_log(INFO, "%s", message);
    return ducq_send_ack(ducq, DUCQ_OK);
}

static const ducq_cmd_t commands[] = {
    {"follow", "subscribe the caller", cmd_follow},
    {"iterate", "count clients two ways", cmd_iterate},
    {"kickme", "delete the caller", cmd_kickme},
    {"quiet", "stop sending log lines to LOG", cmd_quiet},
    {"loud", "send log lines to LOG again", cmd_quiet},
};

/* Reads one length-framed message from a raw socket. */
static int read_frame(int fd, char *buf, size_t cap) {
    size_t len = 0, i;
    char c;
    while (recv(fd, &c, 1, 0) == 1 && c != '\n')
        len = len * 10 + (size_t)(c - '0');
    if (len >= cap)
        return -1;
    for (i = 0; i < len; i++)
        if (recv(fd, buf + i, 1, 0) != 1)
            return -1;
    buf[len] = '\0';
    return (int)len;
}

static int connect_port(unsigned port) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static ducq_i *client_on(unsigned port, int ws) {
    char p[16];
    ducq_i *ducq;
    snprintf(p, sizeof p, "%u", port);
    ducq = ws ? ducq_new_ws_client("127.0.0.1", p) : ducq_new_tcp("127.0.0.1", p);
    ducq_timeout(ducq, 10);
    if (ducq_conn(ducq) != DUCQ_OK)
        printf("cannot connect to %u\n", port);
    return ducq;
}

/* Sends a command and returns the first data message's text in buf. */
static ducq_state ask(ducq_i *ducq, const char *cmd, const char *route, const char *payload,
                      char *buf, size_t cap) {
    DUCQ_CHECK(ducq_emit(ducq, cmd, route, payload, strlen(payload)));
    return receive_kind(ducq, buf, cap, DUCQ_OK);
}

static void *client_thread(void *arg) {
    char buf[512], first[512];
    size_t size;
    int fd, parts = 0, listed = 0;
    ducq_i *me = client_on(ports[TCP], 0);
    ducq_i *other = client_on(ports[TCP], 0);
    ducq_i *log = client_on(ports[TCP], 0);
    ducq_i *monitor = client_on(ports[TCP], 0);
    ducq_i *ws = client_on(ports[WS], 1);
    ducq_i *over_http = client_on(ports[HTTP], 1);
    ducq_i *upgraded = client_on(ports[UPGRADE], 1);
    (void)arg;

    /* the client added before the loop got its answers once it ran */
    CHECK(read_frame(pair[1], buf, sizeof buf) == 8 && strcmp(buf, "PONG _\nx") == 0,
          "ducq_dispatch answered the added client");
    CHECK(read_frame(pair[1], buf, sizeof buf) > 0 && strcmp(buf, "reloaded x") == 0,
          "ducq_dispatcher_accept_notify reloaded the Lua command");

    IS(ducq_emit(log, "sub", DUCQ_LOG_ROUTE, "", 0), DUCQ_OK, "sub LOG");
    IS(receive_kind(log, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "LOG ACK");
    IS(ducq_emit(monitor, "sub", "__MONITOR__", "", 0), DUCQ_OK, "sub __MONITOR__");
    IS(receive_kind(monitor, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "monitor ACK");

    IS(ducq_emit(me, "follow", "b/*", "", 0), DUCQ_OK, "follow");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "follow ACK");
    IS(ask(me, "iterate", "", "", buf, sizeof buf), DUCQ_OK, "iterate");
    CHECK(strncmp(buf, "8 1 1", 5) == 0, "the iterator and the loop see every client");

    /* plugins: the lister (loop with routes, parts/end) */
    IS(ducq_emit(me, "clients", "*", "", 0), DUCQ_OK, "clients");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "clients PARTS");
    while ((size = sizeof buf, ducq_receive(me, buf, &size)) == DUCQ_OK) {
        parts++;
        if (strstr(buf, ",b/*\n"))
            listed = 1;
    }
    CHECK(strcmp(buf, "END") == 0 && parts >= 8 && listed, "the lister plugin lists routes");

    /* the announcer reaches followers, logs printf-style */
    IS(ask(other, "announce", "b/y", "news", buf, sizeof buf), DUCQ_OK, "announce");
    CHECK(strcmp(buf, "reached 1") == 0, "announce reached the follower");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "the follower hears it");
    CHECK(strcmp(buf, "announce b/y\nnews") == 0, "the announcement");
    IS(receive_kind(log, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "a LOG line");
    while (strncmp(buf, "warning,announce,", 17) != 0 &&
           receive_kind(log, buf, sizeof buf, DUCQ_OK) == DUCQ_OK)
        ;
    CHECK(strstr(buf, ",announced on b/y: news (1 reached)") != NULL,
          "LOG lines: level,function,sender,text, lower case");
    while (receive_kind(monitor, first, sizeof first, DUCQ_OK) == DUCQ_OK &&
           strncmp(first, "WARN,announce,", 14) != 0)
        ;
    CHECK(strstr(first, ",announced on b/y: news (1 reached)") != NULL,
          "__MONITOR__ lines: the older upper-case format");

    /* the history plugin: ducq_get_last_msg, ducq_getnow, parts/end */
    IS(ducq_emit(me, "history", "b/y", "", 0), DUCQ_OK, "history");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "history part");
    CHECK(strcmp(buf, "announce b/y\nnews") == 0, "the last message plugins stored");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "history time");
    CHECK(strlen(buf) == DUCQ_TIMESTAMP_SIZE - 1 && buf[10] == 'T', "the plugin's ducq_getnow");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "history levels");
    CHECK(strcmp(buf, "debug info warning error") == 0, "the plugin's ducq_level_tostr");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "history END");
    CHECK(strcmp(buf, "END") == 0, "history ends with END");

    /* the LOG route switch */
    IS(ducq_emit(other, "quiet", "", "", 0), DUCQ_OK, "quiet");
    IS(receive_kind(other, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "quiet ACK");
    IS(ask(other, "announce", "b/z", "hush", buf, sizeof buf), DUCQ_OK, "announce, quiet");
    IS(ducq_emit(other, "loud", "", "", 0), DUCQ_OK, "loud");
    IS(receive_kind(other, buf, sizeof buf, DUCQ_PROTOCOL), DUCQ_PROTOCOL, "loud ACK");
    IS(ask(other, "announce", "b/z", "again", buf, sizeof buf), DUCQ_OK, "announce, loud");
    while (receive_kind(log, buf, sizeof buf, DUCQ_OK) == DUCQ_OK &&
           strncmp(buf, "warning,announce,", 17) != 0)
        ;
    CHECK(strstr(buf, "again") != NULL, "no LOG line while quiet");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "follower, quiet");
    CHECK(strcmp(buf, "announce b/z\nhush") == 0, "the quiet announcement");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "follower, loud");
    CHECK(strcmp(buf, "announce b/z\nagain") == 0, "the loud announcement");

    /* Lua commands, WebSocket and HTTP ports, the upgrade, apply */
    IS(ask(ws, "greet", "ws", "", buf, sizeof buf), DUCQ_OK, "a Lua command over WebSocket");
    CHECK(strcmp(buf, "hi ws") == 0, "the Lua command's answer");
    IS(ducq_pub(over_http, "b/h", "from the http port", 18), DUCQ_OK, "WebSocket on the HTTP port");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "heard from the HTTP port");
    CHECK(strcmp(buf, "pub b/h\nfrom the http port") == 0, "the HTTP port client's message");
    IS(ducq_pub(upgraded, "b/u", "upgraded", 8), DUCQ_OK, "ducq_new_ws_upgrade_from_http");
    IS(receive_kind(me, buf, sizeof buf, DUCQ_OK), DUCQ_OK, "heard from the upgraded port");
    CHECK(strcmp(buf, "pub b/u\nupgraded") == 0, "the upgraded client's message");
    fd = connect_port(ports[APPLY]);
    CHECK(read_frame(fd, buf, sizeof buf) == 5 && strcmp(buf, "hello") == 0, "ducq_tcp_apply greets");
    close(fd);

    /* deleted by the reactor: goodbye, then closed */
    IS(ask(other, "kickme", "", "", buf, sizeof buf), DUCQ_OK, "kickme");
    CHECK(strcmp(buf, "bye") == 0, "goodbye before the delete");
    size = sizeof buf;
    IS(ducq_recv(other, buf, &size), DUCQ_ECONNCLOSED, "deleted");

    ducq_free(me);
    ducq_free(other);
    ducq_free(log);
    ducq_free(monitor);
    ducq_free(ws);
    ducq_free(over_http);
    ducq_free(upgraded);
    kill(getpid(), SIGTERM); /* the signal handler stops ducq_loop */
    return NULL;
}

/* ducq_log_tofile called directly: it takes a va_list. */
static int log_to(struct ducq_file_logger *logger, const char *fmt, ...) {
    va_list args;
    int rc;
    va_start(args, fmt);
    rc = ducq_log_tofile(logger, DUCQ_LOG_WARNING, "direct", "caller", fmt, args);
    va_end(args);
    return rc;
}

/* Lua: the original's push functions, on a lua_State of our own. */
static void lua_binding(ducq_i *added) {
    char raw[] = "pub l/r\nlua payload";
    struct ducq_msg msg = ducq_parse_msg(raw);
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_pushlightuserdata(L, reactor);
    lua_setfield(L, LUA_REGISTRYINDEX, "reactor");
    ducq_push_ducq(L, added);
    lua_setglobal(L, "client");
    ducq_push_reactor(L, reactor);
    lua_setglobal(L, "reactor");
    ducq_push_msg(L, &msg);
    lua_setglobal(L, "msg");
    CHECK(luaL_dostring(L, "local n = 0\n"
                           "for c, route in client:clients() do n = n + 1 end\n"
                           "local looped = 0\n"
                           "reactor:loop(function(c, r) looped = looped + 1 return reactor.continue end)\n"
                           "assert(n == 1 and looped == 1, n .. ' ' .. looped)\n"
                           "assert(client:id() == 'TCP:0.0.0.0:0', client:id())\n"
                           "assert(client == client)\n"
                           "assert(tostring(msg) == 'pub l/r\\nlua payload')\n"
                           "assert(msg.route == 'l/r' and msg.payload == 'lua payload')\n"
                           "assert(reactor.delete == 2 and reactor.stop == 1)") == LUA_OK,
          lua_tostring(L, -1));
    lua_close(L);
}

static void reactor_calls(const char *plugin_dir) {
    struct ducq_file_logger to_file;
    struct sigaction sa;
    ducq_dispatcher *dispatcher;
    pthread_t thread;
    static int kinds[5] = {TCP, HTTP, WS, UPGRADE, APPLY};
    int fds[5], i, count;
    ducq_i *added;
    char lua_file[512];
    FILE *f;

    reactor = ducq_reactor_new(); /* the original's macro: log lines go to LOG only */
    CHECK(reactor != NULL, "ducq_reactor_new()");
    ducq_reactor_free(reactor);
    reactor = ducq_reactor_new_with_log(NULL, capture);
    CHECK(reactor != NULL, "ducq_reactor_new_with_log");
    ducq_reactor_set_log(reactor, NULL, capture);
    CHECK(ducq_reactor_allow_log_route(reactor, true) == true, "the LOG route is on by default");
    IS(ducq_reactor_log(reactor, DUCQ_LOG_WARNING, "contract", "me", "%d %s", 42, "printf"), 0,
       "ducq_reactor_log");
    CHECK(strstr(log_lines, "warning|contract|me|42 printf\n") != NULL,
          "the log function got the line");

    log_file = tmpfile();
    to_file.file = log_file;
    to_file.color = 0;
    ducq_reactor_set_log(reactor, &to_file, ducq_log_tofile);
    ducq_reactor_log(reactor, DUCQ_LOG_ERROR, "tofile", "sender", "to %s", "a file");
    ducq_reactor_set_log(reactor, NULL, capture);
    to_file.color = 1;
    IS(log_to(&to_file, "%s %d", "coloured", 7), 0, "ducq_log_tofile");
    rewind(log_file);
    CHECK(fgets(lua_file, sizeof lua_file, log_file) && strstr(lua_file, " tofile sender to a file\n"),
          "ducq_log_tofile through the reactor");
    CHECK(fgets(lua_file, sizeof lua_file, log_file) &&
              strncmp(lua_file, FG_LITE_YELLOW, strlen(FG_LITE_YELLOW)) == 0 &&
              strstr(lua_file, " direct caller coloured 7\n"),
          "ducq_log_tofile, coloured by level");
    fclose(log_file);

    dispatcher = ducq_reactor_get_dispatcher(reactor);
    CHECK(ducq_dispatcher_new(reactor) == dispatcher, "ducq_dispatcher_new");
    IS(ducq_dispatcher_load_commands_path(dispatcher, plugin_dir), DUCQ_OK,
       "ducq_dispatcher_load_commands_path");
    count = ducq_dispatcher_count_cmds(dispatcher);
    CHECK(count == 4, "four plugins load, the broken ones are refused");
    CHECK(strstr(log_lines, "refused") && strstr(log_lines, "no symbol 'command'") &&
              strstr(log_lines, "is a function"),
          "refused plugins are logged with their reason");
    for (i = 0; i < (int)(sizeof commands / sizeof commands[0]); i++)
        ducq_reactor_add_command(reactor, &commands[i]);
    IS(ducq_dispatcher_add(dispatcher, lua_dir), DUCQ_OK, "ducq_dispatcher_add");

    for (i = 0; i < 5; i++) {
        fds[i] = listen_loopback(&ports[i]);
        IS(ducq_reactor_add_server(reactor, fds[i], accept_client, &kinds[i]), DUCQ_OK,
           "ducq_reactor_add_server");
    }

    /* a client added, dispatched to and reloaded for while idle */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "socketpair");
    added = ducq_new_tcp_connection(pair[0]);
    IS(ducq_reactor_add_client(reactor, pair[0], added), DUCQ_OK, "ducq_reactor_add_client");
    {
        char ping[] = "PING _\nx";
        IS(ducq_dispatch(dispatcher, added, ping, 8), DUCQ_OK, "ducq_dispatch");
    }
    snprintf(lua_file, sizeof lua_file, "%s/reload.lua", lua_dir);
    f = fopen(lua_file, "w");
    fputs("commands.reloaded = { doc = 'x', exec = function(d, m) return d:send('reloaded ' .. "
          "m.route) end }\n",
          f);
    fclose(f);
    ducq_dispatcher_accept_notify(reactor, -1, dispatcher);
    {
        char call[] = "reloaded x\n";
        IS(ducq_dispatch(dispatcher, added, call, 11), DUCQ_OK, "the reloaded command runs");
    }
    remove(lua_file);
    ducq_set_last_msg(reactor, "last/r", "pub last/r\nvalue");
    CHECK(strcmp(ducq_get_last_msg(reactor, "last/r"), "pub last/r\nvalue") == 0,
          "ducq_set_last_msg, ducq_get_last_msg");
    CHECK(strcmp(ducq_get_last_msg(reactor, "none"), "ACK") == 0, "no last message: ACK");
    lua_binding(added);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    pthread_create(&thread, NULL, client_thread, NULL);
    ducq_loop(reactor);
    pthread_join(thread, NULL);
    CHECK(applied == 1, "ducq_tcp_apply ran its function");
    CHECK(strstr(log_lines, "info|clients|TCP:127.0.0.1:") && strstr(log_lines, " listed\n"),
          "a plugin's ducq_log line");

    ducq_dispatcher_free(dispatcher);
    ducq_reactor_free(reactor);
    for (i = 0; i < 5; i++)
        close(fds[i]);
    close(pair[1]);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: contract TCP_PORT HTTP_PORT PLUGIN_DIR LUA_DIR\n");
        return 2;
    }
    tcp_port = argv[1];
    http_port = argv[2];
    lua_dir = argv[4];
    states_parsing_and_macros();
    tcp_client_calls();
    ws_and_http_clients();
    reactor_calls(argv[3]);
    printf("%d failed\n", failures);
    return failures;
}
