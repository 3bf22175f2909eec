/*
 * A command plugin written against the original headers: "history R"
 * answers a multipart reply (ducq_parts ... ducq_end): the last message
 * stored for R (or "ACK"), the server's time, and the level names.
 */
#include <stdio.h>
#include <string.h>

#include <ducq_log.h>
#include <ducq_reactor.h>

static ducq_state send_text(ducq_i *ducq, const char *text) {
    size_t len = strlen(text);
    return ducq_send(ducq, text, &len);
}

static ducq_state history(ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size) {
    struct ducq_msg msg = ducq_parse_msg(message);
    char now[DUCQ_TIMESTAMP_SIZE];
    char levels[64];
    (void)size;
    if (!msg.route)
        return ducq_send_ack(ducq, DUCQ_EMSGINV);
    snprintf(levels, sizeof levels, "%s %s %s %s", ducq_level_tostr(DUCQ_LOG_DEBUG),
             ducq_level_tostr(DUCQ_LOG_INFO), ducq_level_tostr(DUCQ_LOG_WARNING),
             ducq_level_tostr(DUCQ_LOG_ERROR));
    DUCQ_CHECK(ducq_parts(ducq));
    DUCQ_CHECK(send_text(ducq, ducq_get_last_msg(reactor, msg.route)));
    DUCQ_CHECK(send_text(ducq, ducq_getnow(now, sizeof now)));
    DUCQ_CHECK(send_text(ducq, levels));
    return ducq_end(ducq);
}

struct ducq_cmd_t command = {"history", "last message of a route, the time, the levels", history};
