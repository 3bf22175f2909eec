/*
 * A plugin whose `command` is a function, not a struct ducq_cmd_t: the
 * server must not read it as one; it refuses it with a log line.
 */
#include <ducq_reactor.h>

ducq_state command(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size);

ducq_state command(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    (void)reactor;
    (void)message;
    (void)size;
    return ducq_send_ack(ducq, DUCQ_OK);
}
