/*
 * Publishes a payload on a route, COUNT times, each acknowledged.
 *
 * usage: pub HOST PORT ROUTE PAYLOAD [COUNT]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ducq.h"

int main(int argc, char **argv) {
    ducq_i *ducq;
    ducq_state state;
    int i, count;

    if (argc < 5) {
        fprintf(stderr, "usage: pub HOST PORT ROUTE PAYLOAD [COUNT]\n");
        return 2;
    }
    count = argc > 5 ? atoi(argv[5]) : 1;
    ducq = ducq_new_tcp(argv[1], argv[2]);
    if (!ducq)
        return 1;
    ducq_timeout(ducq, 5);
    state = ducq_conn(ducq);
    for (i = 0; state == DUCQ_OK && i < count; i++)
        state = ducq_pub(ducq, argv[3], argv[4], strlen(argv[4]));
    if (state != DUCQ_OK)
        fprintf(stderr, "pub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
    else
        printf("published %d\n", count);
    ducq_free(ducq);
    return state == DUCQ_OK ? 0 : 1;
}
