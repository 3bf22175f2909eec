/*
 * Hand-written part of ducq.h (build.rs appends it): the functions written
 * in C (src/ffi/c/log.c), because a variadic function cannot be defined and
 * a va_list cannot be built in stable Rust.
 */
#ifdef __cplusplus
extern "C" {
#endif

/**
 * Logs a printf-style line through the reactor: to its log function and
 * to the subscribers of `LOG` (`level,function,sender,text`, lower-case
 * level) and `__MONITOR__` (`LEVEL,function,sender,text`). Lines below the
 * reactor's level (ducq_reactor_set_log_level, INFO by default) are
 * dropped. `sender_id` may be NULL (`server`).
 *
 * Returns 0 when logged, otherwise the ducq_state that refused it
 * (DUCQ_ENULL, DUCQ_ERROR when the reactor cannot be reached: from its own
 * log function, or from a signal handler while it runs; the line is then
 * dropped). The arguments are only read during the call. Runs on the
 * reactor's thread.
 */
int ducq_reactor_log(struct ducq_reactor *reactor, enum ducq_log_level level,
                     const char *function_name, const char *sender_id, const char *fmt, ...);

/**
 * A ducq_log_f printing `<time> <function> <sender> <text>` and a newline
 * to `((struct ducq_file_logger *)logger)->file`, coloured by level when
 * its `color` is non-zero; a NULL logger prints to stdout in colour.
 * Returns 0.
 */
int ducq_log_tofile(void *logger, enum ducq_log_level level, const char *function_name,
                    const char *sender_id, const char *fmt, va_list args);

/**
 * Writes the local time as "YYYY-MM-DDTHH:MM:SS" into `buffer` (`size`
 * bytes, at least DUCQ_TIMESTAMP_SIZE for the whole stamp; shorter
 * buffers get an empty string) and returns `buffer` (NULL for NULL).
 */
char *ducq_getnow(char *buffer, size_t size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* DUCQ_H */
