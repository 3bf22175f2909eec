/*
 * A command plugin written against the original headers: "drop _\nID"
 * closes the connection whose id is ID, the way the original's unsub did:
 * its ducq_reactor_loop callback answers DUCQ_LOOP_DELETE | DUCQ_LOOP_BREAK
 * for that client. Acknowledges, or NACK 19 when no client has that id.
 */
#include <string.h>

#include <ducq_reactor.h>

struct target {
    const char *id;
    int dropped;
};

static ducq_loop_t drop_one(ducq_i *client, char *route, void *ctx) {
    struct target *t = (struct target *)ctx;
    (void)route;
    if (strcmp(ducq_id(client), t->id) != 0)
        return DUCQ_LOOP_CONTINUE;
    t->dropped++;
    return (ducq_loop_t)(DUCQ_LOOP_DELETE | DUCQ_LOOP_BREAK);
}

static ducq_state drop(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    struct target t;
    (void)size;
    t.id = ducq_parse_payload(message);
    t.dropped = 0;
    if (!t.id || !t.id[0])
        return ducq_send_ack(ducq, DUCQ_EMSGINV);
    ducq_reactor_loop(reactor, drop_one, &t);
    ducq_log(INFO, "%s,%d dropped", t.id, t.dropped);
    return ducq_send_ack(ducq, t.dropped ? DUCQ_OK : DUCQ_ENOTFOUND);
}

struct ducq_cmd_t command = {"drop", "close the connection whose id is the payload", drop};
