/*
 * A client speaking the netstring protocol written in C (netstring.c), used
 * through the original's client functions only: whatever the ducq_i is,
 * ducq_conn, ducq_emit, ducq_pub, ducq_listen, ... go through its table.
 *
 * usage: netstring_client PORT calls          checks every client call,
 *                                               prints "N failed"
 *        netstring_client PORT sub ROUTE      prints "ready", then the
 *                                               first publication
 *        netstring_client PORT pub ROUTE TEXT publishes TEXT
 */
#include <stdio.h>
#include <string.h>

#include "ducq.h"
#include "netstring.h"

static int failures;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static char got[256];

/* The original's listen callbacks: a non-zero return stops. */
static int keep_first(ducq_i *ducq, char *msg, size_t size, void *ctx) {
    (void)ducq;
    (void)ctx;
    snprintf(got, sizeof got, "%.*s", (int)size, msg);
    return 1;
}

static int stop_on_error(ducq_i *ducq, ducq_state state, void *ctx) {
    (void)ducq;
    (void)ctx;
    fprintf(stderr, "netstring_client: %s\n", ducq_state_tostr(state));
    return 1;
}

/* Receives until `want` (DUCQ_OK, DUCQ_PROTOCOL, DUCQ_NACK) or an error. */
static ducq_state receive(ducq_i *ducq, char *buf, size_t cap, ducq_state want) {
    ducq_state state;
    size_t size;
    do {
        size = cap;
        state = ducq_receive(ducq, buf, &size);
    } while (state != want && state < DUCQ_ERROR);
    return state;
}

static int calls(const char *port) {
    char buf[512];
    size_t size;
    const char *id;
    int parts = 0, listed = 0;
    struct ducq_listen_ctx listen;
    ducq_i *ns = netstring_new_client("127.0.0.1", port);
    ducq_i *copy;

    CHECK(ns != NULL, "netstring_new_client");
    CHECK(ducq_reuseaddr(ns) == DUCQ_OK, "ducq_reuseaddr");
    CHECK(ducq_conn(ns) == DUCQ_OK, "ducq_conn");
    CHECK(ducq_timeout(ns, 5) == DUCQ_OK, "ducq_timeout");
    id = ducq_id(ns);
    CHECK(id && strncmp(id, "NETSTRING:127.0.0.1:", 20) == 0, "ducq_id");

    copy = ducq_copy(ns);
    CHECK(copy && ducq_conn(copy) == DUCQ_OK, "ducq_copy, then ducq_conn");
    ducq_timeout(copy, 5);
    CHECK(ducq_eq(ns, ns) && !ducq_eq(ns, copy), "ducq_eq");

    /* The copy subscribes (an ACK is a protocol message). */
    CHECK(ducq_emit(copy, "sub", "n/*", "", 0) == DUCQ_OK, "ducq_emit sub");
    size = sizeof buf;
    CHECK(ducq_receive(copy, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "ACK") == 0, "sub ACK");

    /* Published by one, heard by the other. */
    CHECK(ducq_pub(ns, "n/a", "from netstring", 14) == DUCQ_OK, "ducq_pub");
    memset(&listen, 0, sizeof listen);
    listen.on_message = keep_first;
    listen.on_error = stop_on_error;
    CHECK(ducq_listen(copy, &listen) == DUCQ_OK && strcmp(got, "pub n/a\nfrom netstring") == 0,
          "ducq_listen gets the publication whole");
    CHECK(ducq_publish(ns, "n/b", "device style", 12) == DUCQ_OK, "ducq_publish");
    CHECK(receive(copy, buf, sizeof buf, DUCQ_OK) == DUCQ_OK &&
              strcmp(buf, "pub n/b\ndevice style") == 0,
          "ducq_receive gets the device publication");

    /* A listing names this connection by its protocol's id. */
    CHECK(ducq_emit(ns, "lsconn", "*", "", 0) == DUCQ_OK, "ducq_emit lsconn");
    size = sizeof buf;
    CHECK(ducq_receive(ns, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PARTS") == 0, "PARTS");
    for (;;) {
        size = sizeof buf;
        if (ducq_receive(ns, buf, &size) != DUCQ_OK)
            break;
        parts++;
        if (strncmp(buf, id, strlen(id)) == 0)
            listed = 1;
    }
    CHECK(strcmp(buf, "END") == 0 && parts >= 2 && listed, "lsconn lists the netstring client");

    /* Raw messages, NACKs. */
    size = 9;
    CHECK(ducq_send(ns, "PING _\nhi", &size) == DUCQ_OK, "ducq_send");
    size = sizeof buf;
    CHECK(ducq_recv(ns, buf, &size) == DUCQ_OK && strcmp(buf, "PONG _\nhi") == 0, "ducq_recv PONG");
    CHECK(ducq_emit(ns, "nope", "x", NULL, 0) == DUCQ_OK, "ducq_emit nope");
    size = sizeof buf;
    CHECK(ducq_receive(ns, buf, &size) == DUCQ_NACK && ducq_ack_to_state(buf) == DUCQ_ENOCMD,
          "an unknown command is a NACK 17");
    CHECK(ducq_send_ack(ns, DUCQ_ENOTFOUND) == DUCQ_ENOTFOUND, "ducq_send_ack");
    size = sizeof buf;
    CHECK(ducq_receive(ns, buf, &size) == DUCQ_NACK, "the server does not take a NACK as a command");
    CHECK(ducq_parts(ns) == DUCQ_OK && ducq_end(ns) == DUCQ_OK, "ducq_parts, ducq_end");

    CHECK(ducq_close(ns) == DUCQ_OK && ducq_close(ns) == DUCQ_ECLOSE, "ducq_close");
    ducq_free(ns);
    ducq_free(copy);
    printf("%d failed\n", failures);
    return failures;
}

int main(int argc, char **argv) {
    ducq_i *ns;
    char buf[512];
    if (argc > 2 && strcmp(argv[2], "calls") == 0)
        return calls(argv[1]);
    if (argc < 4) {
        fprintf(stderr, "usage: netstring_client PORT calls|sub ROUTE|pub ROUTE TEXT\n");
        return 2;
    }
    ns = netstring_new_client("127.0.0.1", argv[1]);
    if (!ns || ducq_conn(ns) != DUCQ_OK || ducq_timeout(ns, 10) != DUCQ_OK)
        return 1;
    if (strcmp(argv[2], "pub") == 0 && argc > 4) {
        ducq_state state = ducq_pub(ns, argv[3], argv[4], strlen(argv[4]));
        printf("%s\n", ducq_state_tostr(state));
        ducq_free(ns);
        return state == DUCQ_OK ? 0 : 1;
    }
    if (ducq_emit(ns, "sub", argv[3], "", 0) != DUCQ_OK ||
        receive(ns, buf, sizeof buf, DUCQ_PROTOCOL) != DUCQ_PROTOCOL)
        return 1;
    printf("id %s\nready\n", ducq_id(ns));
    fflush(stdout);
    if (receive(ns, buf, sizeof buf, DUCQ_OK) != DUCQ_OK)
        return 1;
    printf("%s\n", buf);
    ducq_free(ns);
    return 0;
}
