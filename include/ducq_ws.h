/*
 * ducq: WebSocket handles (ducq_new_ws_client, ducq_new_ws_connection,
 * ducq_new_ws_upgrade_from_http, ducq_buffer), under the original's header
 * name. Everything is declared in ducq.h.
 */
#ifndef DUCQ_WS_H
#define DUCQ_WS_H
#include "ducq.h"
#endif /* DUCQ_WS_H */
