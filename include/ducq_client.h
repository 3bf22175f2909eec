/*
 * ducq: the client half of the C API, for devices (libducq_embedded.a).
 *
 * Generated from crates/ducq-embedded by cbindgen (its build.rs); do not
 * edit. Every declaration here that ducq.h also has is the same as there
 * (a test compares them); the ones marked "Device only" are the device
 * library's own. See docs/EMBEDDED.md for the build and link lines.
 *
 * Rules that hold for every function: fallible functions return a
 * ducq_state (DUCQ_OK is 0, codes from DUCQ_ERROR (3) up are errors); a
 * NULL pointer argument gives DUCQ_ENULL (or NULL, false); handles are
 * the caller's, freed by ducq_free; strings and buffers passed in are only
 * read during the call; a handle is used by one thread at a time.
 * Callbacks must not throw C++ exceptions.
 */

#ifndef DUCQ_CLIENT_H
#define DUCQ_CLIENT_H

/* Generated file: edit crates/ducq-embedded/src/ and rebuild instead. */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/** Version of the ducq library these declarations belong to. */
#define DUCQ_VERSION_MAJOR 0
#define DUCQ_VERSION_MINOR 1
#define DUCQ_VERSION_PATCH 0
#define DUCQ_VERSION "0.1.0"


/**
 * A ducq state code: `DUCQ_OK` (0) is success, `DUCQ_PROTOCOL` (1) and
 * `DUCQ_NACK` (2) describe a received message, and every code from
 * `DUCQ_ERROR` (3) up is an error. The numbers never change.
 */
typedef enum ducq_state {
    /**
     * ok
     */
    DUCQ_OK = 0,
    /**
     * protocol-layer message (not an error)
     */
    DUCQ_PROTOCOL = 1,
    /**
     * received NACK from server
     */
    DUCQ_NACK = 2,
    /**
     * error
     */
    DUCQ_ERROR = 3,
    /**
     * null parameter
     */
    DUCQ_ENULL = 4,
    /**
     * std c lib error
     */
    DUCQ_ESTDC = 5,
    /**
     * os memory allocation failed
     */
    DUCQ_EMEMFAIL = 6,
    /**
     * os file io error
     */
    DUCQ_EFILE = 7,
    /**
     * os communication layer error
     */
    DUCQ_ECOMMLAYER = 8,
    /**
     * could not connect to server
     */
    DUCQ_ECONNECT = 9,
    /**
     * connection closed
     */
    DUCQ_ECONNCLOSED = 10,
    /**
     * communication write error
     */
    DUCQ_EWRITE = 11,
    /**
     * communication read error
     */
    DUCQ_EREAD = 12,
    /**
     * error closing connection
     */
    DUCQ_ECLOSE = 13,
    /**
     * timeout
     */
    DUCQ_ETIMEOUT = 14,
    /**
     * message invalid
     */
    DUCQ_EMSGINV = 15,
    /**
     * message too big
     */
    DUCQ_EMSGSIZE = 16,
    /**
     * command unknown
     */
    DUCQ_ENOCMD = 17,
    /**
     * no ack received
     */
    DUCQ_EACK = 18,
    /**
     * connection not found
     */
    DUCQ_ENOTFOUND = 19,
    /**
     * not implemented yet
     */
    DUCQ_ENOIMPL = 20,
    /**
     * collection reached maximum count
     */
    DUCQ_EMAX = 21,
    /**
     * lua error
     */
    DUCQ_ELUA = 22,
    /**
     * unknown error
     */
    DUCQ_UNKNOWN = 23,
    /**
     * access denied
     */
    DUCQ_EACCESS = 24,
} ducq_state;

/**
 * A client connection to a ducq server over a socket layer.
 *
 * Handles come from `ducq_new_vtbl` or `ducq_copy` (and from the
 * platform's `ducq_new_tcp`); the caller owns them and frees them with
 * `ducq_free`. A handle may move between threads (tasks) but is used by
 * one at a time.
 */
typedef struct ducq_i ducq_i;

/**
 * A socket layer written in C (a device's own network stack), for
 * `ducq_new_vtbl`. ducq runs its framing and protocol over these
 * functions. Each gets the `ctx` given to `ducq_new_vtbl`.
 *
 * `send` and `recv` are required; the others may be NULL. The functions
 * are called only from ducq calls made on the handle, on the caller's
 * thread; they must not call ducq functions on the same handle.
 */
typedef struct ducq_vtbl {
    /**
     * Opens the connection (called by `ducq_conn`), waiting at most
     * `timeout_ms` (-1: no limit). `DUCQ_OK` or an error state. NULL: the
     * socket is already connected.
     */
    ducq_state (*conn)(void *ctx, int timeout_ms);
    /**
     * Writes up to `len` bytes of `buf`; stores how many in `*sent`.
     * `DUCQ_OK` (after writing at least one byte) or an error state.
     */
    ducq_state (*send)(void *ctx, const void *buf, size_t len, size_t *sent);
    /**
     * Reads up to `len` bytes into `buf`, waiting at most `timeout_ms`
     * (-1: no limit); stores how many in `*received`. `DUCQ_OK` with
     * `*received == 0` means the peer closed; `DUCQ_ETIMEOUT` means nothing
     * arrived in time; any other state is a read error.
     */
    ducq_state (*recv)(void *ctx, void *buf, size_t len, size_t *received, int timeout_ms);
    /**
     * Closes the connection (by `ducq_close`, `ducq_free`, or before a
     * reconnect). The return value is ignored.
     */
    ducq_state (*close)(void *ctx);
    /**
     * This end's address for `ducq_id` (`"10.0.0.7:4242"`): a string that
     * stays valid until the next call on `ctx`. NULL: unknown.
     */
    const char *(*id)(void *ctx);
} ducq_vtbl;

/**
 * The callbacks of `ducq_listen`. Every callback gets the listening handle
 * and `ctx`, and returns `DUCQ_OK` to keep listening; any other value ends
 * `ducq_listen`, which returns it. A NULL callback ignores that kind of
 * message (for `on_error`: `ducq_listen` returns the error).
 *
 * The `char *` arguments are NUL-terminated copies the callback may modify;
 * they are freed when it returns. Callbacks run on the listening thread;
 * they may call any client function, on this handle too; they must not
 * throw C++ exceptions.
 */
typedef struct ducq_listen_ctx {
    /**
     * A data message: its route and payload (`payload_size` bytes, which
     * may hold NUL bytes). With `recv_raw`, `route` is NULL and `payload`
     * is the whole message as received (`pub a/b\nhello`).
     */
    ducq_state (*on_message)(struct ducq_i *ducq, char *route, char *payload, size_t payload_size, void *ctx);
    /**
     * ACK, PARTS, END or PONG (PINGs are answered by ducq and not shown).
     */
    ducq_state (*on_protocol)(struct ducq_i *ducq, char *message, size_t size, void *ctx);
    /**
     * A NACK: the state it carries and its text.
     */
    ducq_state (*on_nack)(struct ducq_i *ducq, ducq_state state, char *text, void *ctx);
    /**
     * A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
     * timeout passed with nothing to read). Returning `DUCQ_OK` keeps
     * listening if the handle is still connected (after a timeout, or when
     * the callback reconnected it with `ducq_conn`); otherwise
     * `ducq_listen` returns `state`.
     */
    ducq_state (*on_error)(struct ducq_i *ducq, ducq_state state, void *ctx);
    /**
     * Deliver data messages whole instead of split (see `on_message`).
     */
    bool recv_raw;
    /**
     * Passed to every callback; ducq never reads it.
     */
    void *ctx;
} ducq_listen_ctx;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Creates an unconnected client handle that runs ducq over a socket layer
 * written in C (`vtbl`, see `struct ducq_vtbl`). Connect it with
 * `ducq_conn`; every client function then works on it.
 *
 * `vtbl` is copied; `ctx` is borrowed: it is passed to the functions and
 * must stay valid until the handle (and every `ducq_copy` of it, which
 * share it) is freed. ducq never frees `ctx`. Returns NULL when `vtbl` is
 * NULL or lacks `send` or `recv`. The caller owns the handle.
 *
 * # Safety
 * `vtbl` is NULL or points to a valid `ducq_vtbl` whose functions are
 * valid for `ctx`.
 */
struct ducq_i *ducq_new_vtbl(const struct ducq_vtbl *vtbl, void *ctx);

/**
 * Creates an unconnected TCP client handle for `host` (a name or an
 * IPv4 or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect
 * it with `ducq_conn`, or let `ducq_publish` connect it.
 *
 * On a device this comes from the platform port, not from
 * libducq_embedded.a: `ports/esp-idf/ducq_socket.c` makes it over
 * lwIP's (or POSIX) sockets with `ducq_new_socket_ctx`. Both strings
 * are copied. Returns NULL when either is NULL or too long. The caller
 * owns the handle and frees it with `ducq_free`.
 */
extern struct ducq_i *ducq_new_tcp(const char *host, const char *port);

/**
 * Device only. Like `ducq_new_vtbl`, but the handle keeps its own copy of
 * the layer's context: `ctx_size` bytes copied from `ctx` (aligned for any
 * object), passed to the layer's functions and freed with the handle. A
 * `ducq_copy` gets a fresh copy of the same `ctx` bytes. This is how a
 * platform port makes `ducq_new_tcp(host, port)`: its context (a socket
 * descriptor, the host and port) lives and dies with the handle.
 *
 * `ctx` is only read during the call. Returns NULL when `vtbl` is NULL or
 * lacks `send` or `recv`, or `ctx` is NULL with a size. The caller owns
 * the handle.
 *
 * # Safety
 * `vtbl` is NULL or a valid `ducq_vtbl`; `ctx` is readable for `ctx_size`
 * bytes; the functions accept a copy of those bytes as their context.
 */
struct ducq_i *ducq_new_socket_ctx(const struct ducq_vtbl *vtbl, const void *ctx, size_t ctx_size);

/**
 * Connects a client handle (closing its current connection first) through
 * its socket layer's `conn`, within the handle's timeout.
 *
 * The state the layer's `conn` answered when it failed (`DUCQ_ECONNECT`
 * for a non-error one), `DUCQ_ETIMEOUT` when the server does not answer
 * in time (`ducq_last_error` has the detail), `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_conn(struct ducq_i *ducq);

/**
 * Closes the connection (the layer's `close` runs). The handle stays
 * usable: `ducq_conn` reconnects it. Closing a closed handle is
 * `DUCQ_OK`. `DUCQ_ENULL` for NULL. Safe from a `ducq_listen` callback on
 * the same handle (the listen then returns `DUCQ_ECONNCLOSED`).
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_close(struct ducq_i *ducq);

/**
 * Frees a handle, closing its connection. `ducq_free(NULL)` is a no-op.
 * Called from a `ducq_listen` callback on the same handle, the free
 * happens when that callback returns (the listen returns
 * `DUCQ_ECONNCLOSED` and the handle must not be used again).
 *
 * # Safety
 * `ducq` is NULL or a handle this library returned that was not freed yet.
 */
void ducq_free(struct ducq_i *ducq);

/**
 * Sends one message: `*count` bytes of `buf`, framed. On success `*count`
 * holds the number of message bytes sent (all of them). `buf` is only read
 * during the call. `DUCQ_ECONNCLOSED` when not connected, `DUCQ_EWRITE`
 * when writing fails, `DUCQ_ENULL` for NULL pointers.
 *
 * # Safety
 * `ducq` is a live handle, `count` valid, `buf` readable for `*count` bytes.
 */
ducq_state ducq_send(struct ducq_i *ducq, const void *buf, size_t *count);

/**
 * Receives the next message into `buf`, NUL-terminated (PINGs from the
 * server are answered and skipped). Any message counts: data, ACK, NACK,
 * PARTS, END, PONG; see `ducq_receive` to have it classified.
 *
 * `*size` is the capacity of `buf` on entry and the message length (NUL
 * excluded) on success. When the message does not fit, it stays queued for
 * the next call, `*size` receives the capacity needed, and `DUCQ_EMSGSIZE`
 * is returned. Waits at most the handle's timeout (`DUCQ_ETIMEOUT`).
 * `DUCQ_ECONNCLOSED` when the server closed.
 *
 * # Safety
 * `ducq` is a live handle, `size` valid, `buf` writable for `*size` bytes.
 */
ducq_state ducq_recv(struct ducq_i *ducq, char *buf, size_t *size);

/**
 * Like `ducq_recv`, and tells what arrived: `DUCQ_OK` for a data message,
 * `DUCQ_PROTOCOL` for ACK, PARTS, END and PONG, `DUCQ_NACK` for a NACK.
 * Errors as for `ducq_recv`.
 *
 * # Safety
 * As for `ducq_recv`.
 */
ducq_state ducq_receive(struct ducq_i *ducq, char *buf, size_t *size);

/**
 * Sends `PARTS`, the first message of a multipart reply. Errors as for
 * `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_parts(struct ducq_i *ducq);

/**
 * Sends `END`, the last message of a multipart reply. Errors as for
 * `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_end(struct ducq_i *ducq);

/**
 * Sends `ACK` when `state` is `DUCQ_OK`, otherwise
 * `NACK *\n<code>\n<text>` for `state`. Returns the send's error when
 * sending failed, otherwise `state` itself.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_send_ack(struct ducq_i *ducq, ducq_state state);

/**
 * Sends `<command> <route>\n<payload>` and returns without waiting for a
 * reply (read it with `ducq_receive`). When `close` is true the connection
 * is closed once the message is sent.
 *
 * `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
 * `payload_size` is 0. `DUCQ_EMSGINV` for a command holding a space or
 * newline, or a route holding a newline. Errors as for `ducq_send`.
 *
 * # Safety
 * `ducq` is a live handle, `command` and `route` NUL-terminated, `payload`
 * readable for `payload_size` bytes.
 */
ducq_state ducq_emit(struct ducq_i *ducq, const char *command, const char *route, const char *payload, size_t payload_size, bool close);

/**
 * Publishes `payload` (`payload_size` bytes, may be NULL when 0) on
 * `route` and waits for the server's ACK. Data messages arriving meanwhile
 * are kept for the next receive.
 *
 * `DUCQ_OK` on ACK; on a NACK, the state it carries (`ducq_last_error`
 * has its text); `DUCQ_ETIMEOUT` when no answer came within the handle's
 * timeout; `DUCQ_ECONNCLOSED` when not connected.
 *
 * # Safety
 * `ducq` is a live handle, `route` NUL-terminated, `payload` readable for
 * `payload_size` bytes.
 */
ducq_state ducq_pub(struct ducq_i *ducq, const char *route, const char *payload, size_t payload_size);

/**
 * `ducq_pub` with a NUL-terminated payload, as device code calls it; it
 * connects the handle first when it is not connected.
 *
 * # Safety
 * `ducq` is a live handle; `route` and `payload` are NUL-terminated.
 */
ducq_state ducq_publish(struct ducq_i *ducq, const char *route, const char *payload);

/**
 * Subscribes to `route` (`*` matches anything) and waits for the answer.
 * `options` may be NULL or hold space-separated options: `last` (the
 * server answers with the stored last message instead of ACK) and `add`
 * (keep the other subscriptions of this connection).
 *
 * `DUCQ_OK` on ACK or on a stored message; that message then comes first
 * from `ducq_receive` / `ducq_listen`. On a NACK, the state it carries.
 * Other errors as for `ducq_pub`.
 *
 * # Safety
 * `ducq` is a live handle; `route` and non-null `options` are
 * NUL-terminated.
 */
ducq_state ducq_sub(struct ducq_i *ducq, const char *route, const char *options);

/**
 * Receives messages on a connected client handle and hands each to the
 * matching callback of `*listen` until one returns something other than
 * `DUCQ_OK` (that value is returned) or receiving fails (see `on_error`).
 * PINGs are answered automatically.
 *
 * A callback that closes the handle makes `ducq_listen` return
 * `DUCQ_ECONNCLOSED` (unless it reconnected); one that frees the handle
 * has the free deferred until it returns, and `ducq_listen` then returns
 * `DUCQ_ECONNCLOSED` (the handle is gone). `*listen` is copied at the
 * start. `DUCQ_ENULL` for NULL arguments.
 *
 * # Safety
 * `ducq` is a live client handle; `listen` points to a valid
 * `ducq_listen_ctx` whose callbacks are valid functions.
 */
ducq_state ducq_listen(struct ducq_i *ducq, const struct ducq_listen_ctx *listen);

/**
 * The handle's id: `TCP:` and this end's address as the socket layer's
 * `id` gives it (`TCP:` alone when unknown or not connected).
 *
 * The string belongs to the handle: valid until the handle is closed,
 * reconnected or freed. Returns NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_id(struct ducq_i *ducq);

/**
 * Whether two handles name the same connection: the same id when both
 * are connected, the same socket-layer context otherwise. False when
 * either is NULL.
 *
 * # Safety
 * Non-null arguments are live handles.
 */
bool ducq_eq(struct ducq_i *a, struct ducq_i *b);

/**
 * A new, unconnected handle with the same socket layer (sharing its
 * `ctx`), timeout and limits. The caller owns the copy and frees it with
 * `ducq_free`. NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
struct ducq_i *ducq_copy(struct ducq_i *ducq);

/**
 * Sets how long connecting and each receive may wait, in seconds; 0 or
 * less waits without limit. Applies to the current connection and later
 * ones.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_timeout(struct ducq_i *ducq, int timeout);

/**
 * Kept for programs written for the original library: a documented no-op
 * here (`DUCQ_OK`; `DUCQ_ENULL` for NULL).
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_reuseaddr(struct ducq_i *ducq);

/**
 * The detail of the handle's last failure (a NACK's text, what the socket
 * layer refused), or `""`. The string belongs to the handle and is valid
 * until its next call. NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_last_error(struct ducq_i *ducq);

/**
 * The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`. Takes
 * any int: a negative code counts as its absolute value, anything above
 * the last code (24) gives the text of `DUCQ_UNKNOWN`. Never NULL; static.
 */
const char *ducq_state_tostr(int state);

/**
 * The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`.
 * Folds its argument like `ducq_state_tostr`. Never NULL; static.
 */
const char *ducq_state_short(int state);

/**
 * The version of the linked library, e.g. `"0.1.0"`. Static.
 */
const char *ducq_version(void);

/**
 * Device only. Mixes `seed` into the entropy pool from which WebSocket
 * masking keys and handshake nonces are drawn: call it once at start-up
 * with the platform's random source (`esp_random()` on ESP-IDF), before
 * the first connection. Safe from any thread; calling it again adds to
 * the pool.
 */
void ducq_seed_entropy(uint64_t seed);

/**
 * Device only. Sets how many bytes the handle's input buffer grows by for
 * one read (`read_chunk`, 1024 by default; a frame whose header tells its
 * length gets room for all of it) and the largest message it accepts
 * (`max_message`, 16384 by default: a larger one is skipped as it
 * arrives, never buffered). 0 keeps a value. The chunk applies at once,
 * the maximum from the next `ducq_conn`. `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_set_limits(struct ducq_i *ducq, size_t read_chunk, size_t max_message);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* DUCQ_CLIENT_H */
