/*
 * Every client call over WebSocket: a handle from ducq_new_ws_client is
 * driven exactly like a TCP one (emit, send, recv, receive, pub, sub,
 * listen, id, copy, close and reconnect). Prints "id ID", then one line per
 * failed check and "N failed"; the exit status is the number of failures.
 *
 * usage: ws_calls HOST HTTP_PORT
 */
#include <stdio.h>
#include <string.h>

#include "ducq.h"

static int failures;
#define CHECK(cond, what)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL %s (line %d)\n", what, __LINE__);                                         \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)
#define OK(call) CHECK((call) == DUCQ_OK, #call)

/* Bytes a text protocol would mangle: NUL, newline, CR, a non-UTF-8 byte. */
static const char binary[] = {'a', '\0', 'b', '\n', '\r', 'c', (char)0xff, (char)0x80};

struct seen {
    int messages;
    char route[64];
    char payload[64];
    size_t size;
};

static ducq_state on_message(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    struct seen *s = ctx;
    (void)ducq;
    s->messages++;
    snprintf(s->route, sizeof s->route, "%s", route);
    s->size = size < sizeof s->payload ? size : sizeof s->payload;
    memcpy(s->payload, payload, s->size);
    return DUCQ_PROTOCOL; /* one is enough */
}

/* Reads messages until one is neither data nor protocol noise. */
static ducq_state receive_kind(ducq_i *ducq, char *buf, size_t *size, ducq_state want) {
    size_t cap = *size;
    ducq_state state;
    do {
        *size = cap;
        state = ducq_receive(ducq, buf, size);
    } while (state != want && (state == DUCQ_OK || state == DUCQ_PROTOCOL));
    return state;
}

int main(int argc, char **argv) {
    char buf[256], small[4], expected[64];
    size_t size, len;
    int parts = 0;
    ducq_state state;
    ducq_i *ducq, *copy;
    struct seen seen;
    ducq_listen_ex_ctx listen;

    if (argc < 3) {
        fprintf(stderr, "usage: ws_calls HOST HTTP_PORT\n");
        return 2;
    }
    ducq = ducq_new_ws_client(argv[1], argv[2]);
    if (!ducq) {
        printf("FAIL ducq_new_ws_client\n1 failed\n");
        return 1;
    }
    snprintf(buf, sizeof buf, "WS:%s:%s", argv[1], argv[2]);
    CHECK(strcmp(ducq_id(ducq), buf) == 0, "id before connecting");
    OK(ducq_timeout(ducq, 10));
    state = ducq_conn(ducq);
    if (state != DUCQ_OK) {
        printf("FAIL ducq_conn: %s (%s)\n1 failed\n", ducq_state_tostr(state),
               ducq_last_error(ducq));
        ducq_free(ducq);
        return 1;
    }
    printf("id %s\n", ducq_id(ducq));
    CHECK(strncmp(ducq_id(ducq), "WS:", 3) == 0, "id once connected");

    /* A multipart reply, through ducq_emit and ducq_receive. */
    OK(ducq_emit(ducq, "lscmd", "*", NULL, 0));
    size = sizeof buf;
    CHECK(ducq_receive(ducq, buf, &size) == DUCQ_PROTOCOL && strcmp(buf, "PARTS") == 0, "PARTS");
    for (;;) {
        size = sizeof buf;
        state = ducq_receive(ducq, buf, &size);
        if (state != DUCQ_OK)
            break;
        parts++;
    }
    CHECK(state == DUCQ_PROTOCOL && strcmp(buf, "END") == 0, "END");
    CHECK(parts > 0, "lscmd lists commands");

    /* A raw message through ducq_send and ducq_recv; a buffer too small. */
    len = 14;
    OK(ducq_send(ducq, "PING _\nws ping", &len));
    size = sizeof small;
    CHECK(ducq_recv(ducq, small, &size) == DUCQ_EMSGSIZE && size == 15, "recv, buffer too small");
    size = sizeof buf;
    CHECK(ducq_recv(ducq, buf, &size) == DUCQ_OK && size == 14 &&
              strcmp(buf, "PONG _\nws ping") == 0,
          "recv PONG");

    /* A NACK is classified and its state read. */
    OK(ducq_emit(ducq, "no_such_command", "x", NULL, 0));
    size = sizeof buf;
    CHECK(ducq_receive(ducq, buf, &size) == DUCQ_NACK && ducq_nack_state(buf, size) == DUCQ_ENOCMD,
          "NACK for an unknown command");

    /* Publish to itself: the bytes come back intact. */
    OK(ducq_sub(ducq, "ws/*", NULL));
    OK(ducq_pub(ducq, "ws/self", binary, sizeof binary));
    size = sizeof buf;
    state = receive_kind(ducq, buf, &size, DUCQ_OK);
    memcpy(expected, "pub ws/self\n", 12);
    memcpy(expected + 12, binary, sizeof binary);
    CHECK(state == DUCQ_OK && size == 12 + sizeof binary && memcmp(buf, expected, size) == 0,
          "own publication, bytes intact");

    /* A copy: unconnected, same destination; it publishes to the original. */
    copy = ducq_copy(ducq);
    CHECK(copy != NULL, "copy");
    snprintf(buf, sizeof buf, "WS:%s:%s", argv[1], argv[2]);
    CHECK(copy && strcmp(ducq_id(copy), buf) == 0, "copy id before connecting");
    OK(ducq_conn(copy));
    CHECK(!ducq_eq(ducq, copy), "two connections differ");
    OK(ducq_publish(copy, "ws/copy", "from the copy", 13));

    memset(&seen, 0, sizeof seen);
    memset(&listen, 0, sizeof listen);
    listen.on_message = on_message;
    listen.ctx = &seen;
    CHECK(ducq_listen_ex(ducq, &listen) == DUCQ_PROTOCOL, "listen");
    CHECK(seen.messages == 1 && strcmp(seen.route, "ws/copy") == 0 && seen.size == 13 &&
              memcmp(seen.payload, "from the copy", 13) == 0,
          "listen got the copy's publication");

    /* Close, then reconnect the same handle; emit with close. */
    OK(ducq_close(ducq));
    CHECK(ducq_pub(ducq, "ws/closed", "x", 1) == DUCQ_ECONNCLOSED, "pub on a closed handle");
    OK(ducq_conn(ducq));
    OK(ducq_pub(ducq, "ws/again", "y", 1));
    OK(ducq_emit_ex(copy, "pub", "ws/last", "bye", 3, true));
    CHECK(ducq_pub(copy, "ws/closed", "x", 1) == DUCQ_ECONNCLOSED, "emit closed the copy");

    ducq_free(copy);
    ducq_free(ducq);
    printf("%d failed\n", failures);
    return failures;
}
