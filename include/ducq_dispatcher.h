/*
 * ducq: the reactor's dispatcher (plugins, Lua folders, ducq_dispatch),
 * under the original's header name. Everything is declared in ducq.h; as
 * the original's, this header brings ducq_reactor.h along.
 */
#ifndef DUCQ_DISPATCHER_H
#define DUCQ_DISPATCHER_H
#include "ducq.h"
#include "ducq_reactor.h"
#endif /* DUCQ_DISPATCHER_H */
