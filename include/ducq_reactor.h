/*
 * ducq: the reactor, under the original's header name. The functions are
 * declared in ducq.h; this header adds the original's two macros and, as
 * the original's, brings ducq_log.h (and its colour macros) along.
 */
#ifndef DUCQ_REACTOR_H
#define DUCQ_REACTOR_H

#include <stdarg.h>
#include <stdio.h>

#include "ducq.h"
#include "ducq_log.h"

/* A reactor whose log lines go to the LOG route only. (ducq.h also
 * declares a function of this name, for callers that cannot use macros.) */
#define ducq_reactor_new() ducq_reactor_new_with_log(NULL, NULL)

/* Logs printf-style from a C command, whose parameters are named `reactor`
 * and `ducq`: ducq_log(WARNING, "%s failed", what). The format is the
 * first of the variable arguments, so a bare ducq_log(INFO, "text") is
 * plain C99 too. */
#define ducq_log(level, ...)                                                   \
    ducq_reactor_log(reactor, DUCQ_LOG_##level, __func__, ducq_id(ducq), __VA_ARGS__)

#endif /* DUCQ_REACTOR_H */
