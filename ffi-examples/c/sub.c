/*
 * Subscribes to a route and prints "ROUTE PAYLOAD" for each message
 * (ducq_listen_ex: route and payload apart),
 * until COUNT messages arrived. Prints "ready" once subscribed.
 *
 * usage: sub [--ws] [--hex] [-v] [-t SECONDS] HOST PORT ROUTE COUNT
 *   --ws   speak WebSocket to the server's HTTP port (default: TCP)
 *   -t     how long to wait for each message (default 10 s)
 *   --hex  print payloads in hexadecimal, with their size ("ROUTE SIZE HEX")
 *   -v     print "id ID" before "ready"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ducq.h"

struct progress {
    int seen;
    int wanted;
    int hex;
};

static ducq_state on_message(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx) {
    struct progress *p = ctx;
    size_t i;
    (void)ducq;
    if (p->hex) {
        printf("%s %zu ", route, size);
        for (i = 0; i < size; i++)
            printf("%02x", (unsigned)(unsigned char)payload[i]);
        printf("\n");
    } else {
        printf("%s %.*s\n", route, (int)size, payload);
    }
    fflush(stdout);
    /* Any state but DUCQ_OK ends ducq_listen; DUCQ_PROTOCOL is not an error. */
    return ++p->seen >= p->wanted ? DUCQ_PROTOCOL : DUCQ_OK;
}

static ducq_state on_nack(ducq_i *ducq, ducq_state state, char *text, void *ctx) {
    (void)ducq;
    (void)ctx;
    fprintf(stderr, "sub: NACK %d %s\n", (int)state, text);
    return state;
}

static ducq_state on_error(ducq_i *ducq, ducq_state state, void *ctx) {
    (void)ducq;
    (void)ctx;
    fprintf(stderr, "sub: %s\n", ducq_state_tostr(state));
    return state;
}

int main(int argc, char **argv) {
    struct progress progress = {0, 0, 0};
    ducq_listen_ex_ctx listen = {0};
    ducq_i *ducq;
    ducq_state state;
    int ws = 0, verbose = 0, timeout = 10;

    while (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0') {
        if (strcmp(argv[1], "--ws") == 0)
            ws = 1;
        else if (strcmp(argv[1], "--hex") == 0)
            progress.hex = 1;
        else if (strcmp(argv[1], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[1], "-t") == 0 && argc > 2) {
            timeout = atoi(argv[2]);
            argv++;
            argc--;
        } else
            break;
        argv++;
        argc--;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: sub [--ws] [--hex] [-v] [-t SECONDS] HOST PORT ROUTE COUNT\n");
        return 2;
    }
    progress.wanted = atoi(argv[4]);
    ducq = ws ? ducq_new_ws_client(argv[1], argv[2]) : ducq_new_tcp(argv[1], argv[2]);
    if (!ducq)
        return 1;
    ducq_timeout(ducq, timeout);
    state = ducq_conn(ducq);
    if (state == DUCQ_OK)
        state = ducq_sub(ducq, argv[3], NULL);
    if (state != DUCQ_OK) {
        fprintf(stderr, "sub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
        ducq_free(ducq);
        return 1;
    }
    if (verbose)
        printf("id %s\n", ducq_id(ducq));
    printf("ready\n");
    fflush(stdout);

    listen.on_message = on_message;
    listen.on_nack = on_nack;
    listen.on_error = on_error;
    listen.ctx = &progress;
    state = ducq_listen_ex(ducq, &listen);
    ducq_free(ducq);
    return state == DUCQ_PROTOCOL ? 0 : 1;
}
