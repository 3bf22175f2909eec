/*
 * ducq: HTTP handles (ducq_new_http_client, ducq_new_http_connection),
 * under the original's header name. Everything is declared in ducq.h.
 */
#ifndef DUCQ_HTTP_H
#define DUCQ_HTTP_H
#include "ducq.h"
#endif /* DUCQ_HTTP_H */
