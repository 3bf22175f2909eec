/*
 * The printf-style side of ducq's logging, in C because stable Rust can
 * neither define a variadic function nor build a va_list: the original's
 * ducq_reactor_log, ducq_log_tofile and ducq_getnow, and the trampoline
 * through which the reactor calls a C program's ducq_log_f. Formatting
 * only; the line itself goes through the reactor (ducq_reactor_log_text).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ducq.h"

/* The line goes on the stack when it fits (the usual case). */
#define SHORT_LINE 512

int ducq_reactor_log(struct ducq_reactor *reactor, enum ducq_log_level level,
                     const char *function_name, const char *sender_id, const char *fmt, ...) {
    char line[SHORT_LINE];
    char *text = line;
    va_list args;
    int len;
    ducq_state state;

    if (!reactor || !function_name || !fmt)
        return DUCQ_ENULL;
    va_start(args, fmt);
    len = vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (len < 0)
        return DUCQ_ESTDC;
    if ((size_t)len >= sizeof line) {
        text = malloc((size_t)len + 1);
        if (!text)
            return DUCQ_EMEMFAIL;
        va_start(args, fmt);
        vsnprintf(text, (size_t)len + 1, fmt, args);
        va_end(args);
    }
    state = ducq_reactor_log_text(reactor, level, function_name, sender_id, text);
    if (text != line)
        free(text);
    return (int)state;
}

/* Calls `f` with a va_list holding `text`, for the format "%s". */
static int call_with(ducq_log_f f, void *logger, enum ducq_log_level level, const char *function,
                     const char *sender, const char *fmt, ...) {
    va_list args;
    int rc;
    va_start(args, fmt);
    rc = f(logger, level, function, sender, fmt, args);
    va_end(args);
    return rc;
}

/* Not part of the API: how the reactor calls a ducq_log_f it was given
 * (as a plain pointer, so the Rust side never names va_list). */
int ducq__call_log_f(const void *f, void *logger, int level, const char *function,
                     const char *sender, const char *text);
int ducq__call_log_f(const void *f, void *logger, int level, const char *function,
                     const char *sender, const char *text) {
    ducq_log_f log;
    if (!f)
        return 0;
    /* A function pointer travels through `const void *` on every platform
     * ducq builds for (POSIX requires it, dlsym relies on it). */
    memcpy(&log, &f, sizeof log);
    return call_with(log, logger, (enum ducq_log_level)level, function, sender, "%s", text);
}

static const char *color_of(enum ducq_log_level level) {
    switch (level) {
    case DUCQ_LOG_DEBUG:
        return "\033[90m"; /* light black */
    case DUCQ_LOG_WARNING:
        return "\033[93m"; /* light yellow */
    case DUCQ_LOG_ERROR:
        return "\033[91m"; /* light red */
    default:
        return "\033[39m"; /* normal */
    }
}

int ducq_log_tofile(void *logger, enum ducq_log_level level, const char *function_name,
                    const char *sender_id, const char *fmt, va_list args) {
    struct ducq_file_logger *l = logger;
    FILE *file = l ? l->file : stdout;
    int color = l ? l->color : 1;
    char now[DUCQ_TIMESTAMP_SIZE];

    if (!file || !fmt)
        return 0;
    ducq_getnow(now, sizeof now);
    if (color)
        fputs(color_of(level), file);
    fprintf(file, "%s %s %s ", now, function_name ? function_name : "",
            sender_id ? sender_id : "");
    vfprintf(file, fmt, args);
    fputc('\n', file);
    if (color)
        fputs("\033[39m", file);
    return 0;
}

char *ducq_getnow(char *buffer, size_t size) {
    time_t now;
    struct tm local;
    if (!buffer)
        return NULL;
    if (size == 0)
        return buffer;
    buffer[0] = '\0';
    now = time(NULL);
    if (localtime_r(&now, &local) && strftime(buffer, size, "%Y-%m-%dT%H:%M:%S", &local) == 0)
        buffer[0] = '\0';
    return buffer;
}
