/*
 * A plugin that does not export a `command` symbol (a typo: `commands`):
 * the server refuses it with a log line and goes on.
 */
#include <ducq_reactor.h>

static ducq_state noop(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    (void)reactor;
    (void)message;
    (void)size;
    return ducq_send_ack(ducq, DUCQ_OK);
}

struct ducq_cmd_t commands = {"noop", "never loaded", noop};
