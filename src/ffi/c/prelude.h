/*
 * Hand-written part of ducq.h (build.rs splices it in after the includes
 * and client_prelude.h): the original's macros and types of the server
 * side, which cbindgen cannot express. The generated declarations follow.
 */

/* The route whose subscribers receive the server's log lines. */
#define DUCQ_LOG_ROUTE "LOG"

/* Bytes ducq_getnow needs: "YYYY-MM-DDTHH:MM:SS" and its NUL. */
#define DUCQ_TIMESTAMP_SIZE sizeof("YYYY-MM-DDTHH:MM:SS")

/* The logger of ducq_log_tofile: where to print, and whether to colour
 * lines by level (ANSI escapes). */
struct ducq_file_logger {
    FILE *file;
    int color;
};
