/*
 * A command object: build it as a shared object and drop it in the folder
 * given to ducq_reactor_load_commands. It exports one symbol, `command`.
 * "hello R" answers "hello R" (or "hello world" without a route).
 */
#include <stdio.h>

#include "ducq.h"

static ducq_state hello(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    char route[200], reply[256];
    size_t route_len = sizeof route, len;
    ducq_state state = ducq_copy_route(message, size, route, &route_len);
    (void)reactor;
    if (state != DUCQ_OK)
        return state;
    len = (size_t)snprintf(reply, sizeof reply, "hello %s", route_len ? route : "world");
    return ducq_send(ducq, reply, &len);
}

struct ducq_cmd_t command = {"hello", "answers hello and the route (a command object)", hello};
