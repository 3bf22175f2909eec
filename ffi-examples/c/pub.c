/*
 * Publishes a payload on a route, COUNT times, each acknowledged.
 *
 * usage: pub [--ws] [--hex] [-v] HOST PORT ROUTE PAYLOAD [COUNT]
 *   --ws   speak WebSocket to the server's HTTP port (default: TCP)
 *   --hex  PAYLOAD is hexadecimal (so it may hold NUL bytes)
 *   -v     print "id ID" once connected
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ducq.h"

static int nibble(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex text in place; returns the byte count, or -1 if invalid. */
static long unhex(char *text) {
    size_t i, len = strlen(text);
    if (len % 2)
        return -1;
    for (i = 0; i < len; i += 2) {
        int hi = nibble(text[i]), lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        text[i / 2] = (char)(hi * 16 + lo);
    }
    return (long)(len / 2);
}

int main(int argc, char **argv) {
    ducq_i *ducq;
    ducq_state state;
    int i, count, ws = 0, hex = 0, verbose = 0;
    char *payload;
    long size;

    while (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0') {
        if (strcmp(argv[1], "--ws") == 0)
            ws = 1;
        else if (strcmp(argv[1], "--hex") == 0)
            hex = 1;
        else if (strcmp(argv[1], "-v") == 0)
            verbose = 1;
        else
            break;
        argv++;
        argc--;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: pub [--ws] [--hex] [-v] HOST PORT ROUTE PAYLOAD [COUNT]\n");
        return 2;
    }
    count = argc > 5 ? atoi(argv[5]) : 1;
    payload = argv[4];
    size = hex ? unhex(payload) : (long)strlen(payload);
    if (size < 0) {
        fprintf(stderr, "pub: PAYLOAD is not hexadecimal\n");
        return 2;
    }
    /* Both constructors give the same kind of handle: only the wire differs. */
    ducq = ws ? ducq_new_ws_client(argv[1], argv[2]) : ducq_new_tcp(argv[1], argv[2]);
    if (!ducq)
        return 1;
    ducq_timeout(ducq, 5);
    state = ducq_conn(ducq);
    if (state == DUCQ_OK && verbose)
        printf("id %s\n", ducq_id(ducq));
    for (i = 0; state == DUCQ_OK && i < count; i++)
        state = ducq_pub(ducq, argv[3], payload, (size_t)size);
    if (state != DUCQ_OK)
        fprintf(stderr, "pub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
    else
        printf("published %d\n", count);
    ducq_free(ducq);
    return state == DUCQ_OK ? 0 : 1;
}
