/*
 * A subscriber that rides out a server restart (ducq_set_reconnect):
 * subscribes to ROUTE, prints "ROUTE PAYLOAD" for each message until COUNT
 * arrived, and each reconnection step on stderr ("lost", "retry N after
 * MS ms", "reconnected after N attempts, M subscriptions", "gave up after
 * N"). Prints "ready" once subscribed. Waits start at 50 ms and double up
 * to MAX_MS; after MAX_ATTEMPTS failed attempts (0 or none: never) it gives
 * up and the listen ends. OPTIONS are the subscription's ("last 4": stored
 * messages first, and again after each reconnect, less those already
 * printed). With DUCQ_USER set it authenticates as that user (password
 * from DUCQ_PASSWORD), and the policy authenticates again on every new
 * connection.
 *
 * usage: resub HOST PORT ROUTE COUNT MAX_MS [MAX_ATTEMPTS [OPTIONS]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "ducq.h"

struct progress {
    int seen;
    int wanted;
};

static void on_event(ducq_reconnect_event event, uint32_t attempt, uint32_t delay_ms, void *ctx) {
    (void)ctx;
    switch (event) {
    case DUCQ_RECONNECT_LOST:
        fprintf(stderr, "lost\n");
        break;
    case DUCQ_RECONNECT_RETRYING:
        fprintf(stderr, "retry %u after %u ms\n", (unsigned)attempt, (unsigned)delay_ms);
        break;
    case DUCQ_RECONNECT_DONE:
        fprintf(stderr, "reconnected after %u attempts, %u subscriptions\n", (unsigned)attempt,
                (unsigned)delay_ms);
        break;
    case DUCQ_RECONNECT_GAVE_UP:
        fprintf(stderr, "gave up after %u\n", (unsigned)attempt);
        break;
    case DUCQ_RECONNECT_KEPT:
    case DUCQ_RECONNECT_FLUSHED:
        /* A subscriber keeps no publications. */
        break;
    }
    fflush(stderr);
}

static ducq_state on_message(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    struct progress *p = ctx;
    (void)ducq;
    printf("%s %.*s\n", route, (int)size, payload);
    fflush(stdout);
    return ++p->seen >= p->wanted ? DUCQ_PROTOCOL : DUCQ_OK;
}

int main(int argc, char **argv) {
    struct progress progress = {0, 0};
    ducq_listen_ex_ctx listen = {0};
    ducq_reconnect_policy policy = {0};
    ducq_i *ducq;
    ducq_state state;

    if (argc < 6) {
        fprintf(stderr, "usage: resub HOST PORT ROUTE COUNT MAX_MS [MAX_ATTEMPTS [OPTIONS]]\n");
        return 2;
    }
    progress.wanted = atoi(argv[4]);
    ducq = ducq_new_tcp(argv[1], argv[2]);
    if (!ducq)
        return 1;
    policy.initial_ms = 50;
    policy.max_ms = (uint32_t)atoi(argv[5]);
    policy.max_attempts = argc > 6 ? (uint32_t)atoi(argv[6]) : 0;
    policy.on_event = on_event;
    state = ducq_set_reconnect(ducq, &policy);
    if (state == DUCQ_OK)
        state = ducq_conn(ducq);
    if (state == DUCQ_OK && getenv("DUCQ_USER")) {
        const char *password = getenv("DUCQ_PASSWORD");
        state = ducq_authenticate(ducq, getenv("DUCQ_USER"), password ? password : "");
    }
    if (state == DUCQ_OK)
        state = ducq_sub(ducq, argv[3], argc > 7 ? argv[7] : NULL);
    if (state != DUCQ_OK) {
        fprintf(stderr, "resub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
        ducq_free(ducq);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);

    listen.on_message = on_message;
    listen.ctx = &progress;
    state = ducq_listen_ex(ducq, &listen);
    ducq_free(ducq);
    if (state != DUCQ_PROTOCOL)
        fprintf(stderr, "resub: %s\n", ducq_state_tostr(state));
    return state == DUCQ_PROTOCOL ? 0 : 1;
}
