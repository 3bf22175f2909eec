/*
 * Hand-written part of ducq.h (build.rs splices it in after the includes):
 * the original's limits, macros and opaque types, which cbindgen cannot
 * express. The generated declarations follow.
 */

/* The original's limits. ducq does not use them (messages are bounded by
 * the server's settings, 1 MiB by default), but programs size buffers with
 * them; define them before including to change them. */
#ifndef DUCQ_MSGSZ
#define DUCQ_MSGSZ 256
#endif
#ifndef DUCQ_MAX_CONNECTIONS
#define DUCQ_MAX_CONNECTIONS 25
#endif
#ifndef DUCQ_MAX_ROUTE_LEN
#define DUCQ_MAX_ROUTE_LEN 100
#endif
#ifndef DUCQ_MAX_CHANNELS
#define DUCQ_MAX_CHANNELS 25
#endif

/* Returns the state of `func` from the enclosing function unless it is
 * DUCQ_OK. */
#define DUCQ_CHECK(func)                                                       \
    do {                                                                       \
        ducq_state ducq_check_state_ = (func);                                 \
        if (ducq_check_state_ != DUCQ_OK)                                      \
            return ducq_check_state_;                                          \
    } while (0)

/* The route whose subscribers receive the server's log lines. */
#define DUCQ_LOG_ROUTE "LOG"

/* Bytes ducq_getnow needs: "YYYY-MM-DDTHH:MM:SS" and its NUL. */
#define DUCQ_TIMESTAMP_SIZE sizeof("YYYY-MM-DDTHH:MM:SS")

/* The interface object: any object whose first member is a
 * `ducq_vtbl *tbl` (see struct ducq_vtbl), cast to `ducq_i *`. */
typedef struct ducq_i ducq_i;

/* The logger of ducq_log_tofile: where to print, and whether to colour
 * lines by level (ANSI escapes). */
struct ducq_file_logger {
    FILE *file;
    int color;
};
