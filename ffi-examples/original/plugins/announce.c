/*
 * A command plugin written against the original headers: "announce R\ntext"
 * sends "announce R\ntext" to every client subscribed to a route matching
 * R (found with ducq_reactor_loop and ducq_route_cmp, as the original's pub
 * command did), stores it as R's last message, logs printf-style through
 * the reactor and acknowledges with the number of clients reached.
 */
#include <stdio.h>
#include <string.h>

#include <ducq_reactor.h>

struct announcement {
    char route[128];
    const char *message;
    size_t size;
    int reached;
};

static ducq_loop_t announce_to(ducq_i *client, char *route, void *ctx) {
    struct announcement *a = (struct announcement *)ctx;
    size_t size = a->size;
    if (!ducq_route_cmp(route, a->route))
        return DUCQ_LOOP_CONTINUE;
    if (ducq_send(client, a->message, &size) != DUCQ_OK)
        return DUCQ_LOOP_DELETE;
    a->reached++;
    return DUCQ_LOOP_CONTINUE;
}

static ducq_state announce(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    struct announcement a;
    const char *end = NULL;
    const char *route = ducq_parse_route(message, &end);
    const char *payload = ducq_parse_payload(message);
    char reply[64];
    size_t len;
    if (!route || !payload) {
        ducq_log(WARNING, "no route in '%s'", message);
        return DUCQ_EMSGINV; /* nothing sent: the caller gets a NACK */
    }
    snprintf(a.route, sizeof a.route, "%.*s", (int)(end - route), route);
    a.message = message;
    a.size = size;
    a.reached = 0;
    ducq_reactor_loop(reactor, announce_to, &a);
    ducq_set_last_msg(reactor, a.route, message);
    ducq_log(WARNING, "announced on %s: %s (%d reached)", a.route, payload, a.reached);
    ducq_reactor_log(reactor, DUCQ_LOG_DEBUG, __func__, ducq_id(ducq), "%lu bytes",
                     (unsigned long)size);
    len = (size_t)snprintf(reply, sizeof reply, "reached %d", a.reached);
    return ducq_send(ducq, reply, &len);
}

struct ducq_cmd_t command = {"announce", "send the payload to the subscribers of the route",
                             announce};
