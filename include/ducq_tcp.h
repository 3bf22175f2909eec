/*
 * ducq: TCP handles (ducq_new_tcp, ducq_new_tcp_connection,
 * ducq_tcp_apply), under the original's header name. Everything is
 * declared in ducq.h.
 */
#ifndef DUCQ_TCP_H
#define DUCQ_TCP_H
#include "ducq.h"
#endif /* DUCQ_TCP_H */
