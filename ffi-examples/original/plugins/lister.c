/*
 * A command plugin written against the original headers: "clients" lists
 * every connection and its subscription route as a multipart reply, the
 * way the original's lsconn did: ducq_parts, one ducq_send per client from
 * a ducq_reactor_loop callback (which gets the route), ducq_end.
 */
#include <stdio.h>

#include <ducq_reactor.h>

struct listing {
    ducq_i *caller;
    int count;
};

static ducq_loop_t list_one(ducq_i *client, char *route, void *ctx) {
    struct listing *l = (struct listing *)ctx;
    char line[256];
    size_t len = (size_t)snprintf(line, sizeof line, "%s,%s\n", ducq_id(client),
                                  route && route[0] ? route : "-");
    if (ducq_send(l->caller, line, &len) != DUCQ_OK)
        return DUCQ_LOOP_BREAK;
    l->count++;
    return DUCQ_LOOP_CONTINUE;
}

static ducq_state clients(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    struct listing l;
    (void)message;
    (void)size;
    l.caller = ducq;
    l.count = 0;
    DUCQ_CHECK(ducq_parts(ducq));
    if (ducq_reactor_loop(reactor, list_one, &l) != DUCQ_LOOP_CONTINUE)
        return DUCQ_EWRITE;
    DUCQ_CHECK(ducq_end(ducq));
    ducq_log(INFO, "%d listed", l.count);
    return DUCQ_OK;
}

struct ducq_cmd_t command = {"clients", "list connections: <id>,<route> per line", clients};
