/*
 * A publisher that keeps what it publishes while its server is away
 * (ducq_set_reconnect with a buffer): reads lines "ROUTE PAYLOAD" from
 * stdin, publishes each with ducq_publish (which connects again by itself)
 * and prints the state it returned by name ("DUCQ_OK", "DUCQ_EMAX", ...).
 * While the connection is lost, up to BUFFER publications are kept and
 * sent first, in order, by the next connection; beyond that the publish
 * fails. Prints each reconnection step on stderr ("kept N", "flushed N").
 * Prints "ready" once connected; ends at the end of its input.
 *
 * usage: offline_pub HOST PORT BUFFER
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ducq.h"

static void on_event(ducq_reconnect_event event, uint32_t attempt, uint32_t delay_ms, void *ctx) {
    (void)ctx;
    (void)delay_ms;
    switch (event) {
    case DUCQ_RECONNECT_KEPT:
        fprintf(stderr, "kept %u\n", (unsigned)attempt);
        break;
    case DUCQ_RECONNECT_FLUSHED:
        fprintf(stderr, "flushed %u\n", (unsigned)attempt);
        break;
    case DUCQ_RECONNECT_LOST:
    case DUCQ_RECONNECT_RETRYING:
    case DUCQ_RECONNECT_DONE:
    case DUCQ_RECONNECT_GAVE_UP:
        /* Told only by a receive that reconnects; this program never receives. */
        break;
    }
    fflush(stderr);
}

static const char *name(ducq_state state) {
    switch (state) {
    case DUCQ_OK:
        return "DUCQ_OK";
    case DUCQ_EMAX:
        return "DUCQ_EMAX";
    case DUCQ_ECONNECT:
        return "DUCQ_ECONNECT";
    default:
        return ducq_state_tostr(state);
    }
}

int main(int argc, char **argv) {
    ducq_reconnect_policy policy = {0};
    char line[1024];
    ducq_i *ducq;
    ducq_state state;

    if (argc < 4) {
        fprintf(stderr, "usage: offline_pub HOST PORT BUFFER\n");
        return 2;
    }
    ducq = ducq_new_tcp(argv[1], argv[2]);
    if (!ducq)
        return 1;
    policy.on_event = on_event;
    policy.buffer_messages = (uint32_t)atoi(argv[3]);
    state = ducq_set_reconnect(ducq, &policy);
    if (state == DUCQ_OK)
        state = ducq_conn(ducq);
    if (state != DUCQ_OK) {
        fprintf(stderr, "offline_pub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
        ducq_free(ducq);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    while (fgets(line, sizeof line, stdin)) {
        char *payload = strchr(line, ' ');
        size_t size;
        if (!payload)
            continue;
        *payload++ = '\0';
        size = strcspn(payload, "\n");
        state = ducq_publish(ducq, line, payload, size);
        printf("%s\n", name(state));
        fflush(stdout);
    }
    ducq_free(ducq);
    return 0;
}
