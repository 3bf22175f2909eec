/*
 * A broker with a protocol of its own, written in C: one line per message.
 * A client sends "command route payload\n" (a bare "command\n" works too)
 * and receives every message as one line, its newlines turned into spaces.
 * Line clients publish to and subscribe with TCP clients like any other.
 * Prints "tcp N" and "line M" once it listens; stops on SIGINT or SIGTERM.
 *
 * usage: line_proto [HOST]     (default 127.0.0.1, ports chosen by the system)
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ducq.h"

#define MAX_LINE 65536

static ducq_reactor *reactor;

static void on_signal(int sig) {
    (void)sig;
    ducq_reactor_stop(reactor);
}

/* Per-connection state: how many lines the client sent. */
struct line_conn {
    unsigned long lines;
};

static void *line_open(void *ctx, ducq_buf *out) {
    (void)ctx;
    (void)out;
    return calloc(1, sizeof(struct line_conn));
}

static void line_close(void *ctx, void *conn) {
    (void)ctx;
    free(conn);
}

static ducq_decoded line_decode(void *ctx, void *conn, const char *input, size_t len,
                                size_t *consumed, ducq_buf *message, ducq_buf *out) {
    const char *nl = memchr(input, '\n', len);
    const char *sp1, *sp2, *end;
    struct line_conn *state = conn;
    (void)ctx;
    if (!nl) {
        *consumed = 0;
        if (len <= MAX_LINE)
            return DUCQ_DECODED_NOTHING; /* wait for the end of the line */
        ducq_buf_append(out, "NACK line too long\n", 19);
        return DUCQ_DECODED_CLOSE;
    }
    *consumed = (size_t)(nl - input) + 1;
    end = nl > input && nl[-1] == '\r' ? nl - 1 : nl;
    if (end == input)
        return DUCQ_DECODED_NOTHING; /* an empty line: skipped */
    if (state)
        state->lines++;
    sp1 = memchr(input, ' ', (size_t)(end - input));
    if (!sp1) /* a bare command */
        return ducq_buf_append(message, input, (size_t)(end - input)) == DUCQ_OK
                   ? DUCQ_DECODED_MESSAGE
                   : DUCQ_DECODED_CLOSE;
    sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
    if (!sp2)
        sp2 = end;
    /* "command route payload" becomes "command route\npayload". */
    if (ducq_buf_append(message, input, (size_t)(sp2 - input)) != DUCQ_OK ||
        ducq_buf_append(message, "\n", 1) != DUCQ_OK ||
        (sp2 < end && ducq_buf_append(message, sp2 + 1, (size_t)(end - sp2 - 1)) != DUCQ_OK))
        return DUCQ_DECODED_CLOSE;
    return DUCQ_DECODED_MESSAGE;
}

static void line_encode(void *ctx, void *conn, const char *message, size_t len, ducq_buf *out) {
    size_t start = 0, i;
    (void)ctx;
    (void)conn;
    for (i = 0; i < len; i++) {
        if (message[i] == '\n') {
            ducq_buf_append(out, message + start, i - start);
            ducq_buf_append(out, " ", 1);
            start = i + 1;
        }
    }
    ducq_buf_append(out, message + start, len - start);
    ducq_buf_append(out, "\n", 1);
}

static const ducq_proto_vtbl line_protocol = {
    "LINE", line_open, line_decode, line_encode, line_close,
};

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    char address[128];
    uint16_t tcp_port = 0, line_port = 0;
    struct sigaction sa;
    ducq_state state;

    reactor = ducq_reactor_new();
    if (!reactor)
        return 1;
    ducq_reactor_set_log_level(reactor, DUCQ_LOG_WARNING);
    snprintf(address, sizeof address, "%s:0", host);
    state = ducq_reactor_listen_tcp(reactor, address, &tcp_port);
    if (state == DUCQ_OK)
        state = ducq_reactor_listen_proto(reactor, address, &line_protocol, NULL, &line_port);
    if (state != DUCQ_OK) {
        fprintf(stderr, "line_proto: cannot listen: %s\n", ducq_state_tostr(state));
        ducq_reactor_free(reactor);
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("tcp %u\nline %u\n", (unsigned)tcp_port, (unsigned)line_port);
    fflush(stdout);
    state = ducq_reactor_run(reactor);
    ducq_reactor_free(reactor);
    return state == DUCQ_OK ? 0 : 1;
}
