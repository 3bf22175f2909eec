/*
 * ducq: the client half of the C API, for devices (libducq_embedded.a).
 *
 * Generated from the same sources as ducq.h by cbindgen
 * (crates/ducq-embedded/build.rs); do not edit. Every declaration here is
 * the same as in ducq.h (a test compares them), but for the one marked
 * "Device only". ducq_new_tcp and ducq_new_ws_client come from the
 * platform port (ports/esp-idf/ducq_socket.c), the rest from the library.
 * See docs/EMBEDDED.md for the build and link lines.
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

/* Generated file: edit src/ffi/ or crates/ducq-embedded/src/ instead. */

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
 * `DUCQ_ERROR` (3) up is an error. The names, numbers and texts of 0 to
 * 23 are the original's and never change; codes after 23 are ducq's
 * (24 `DUCQ_EACCESS`), and `ducq_state_tostr` folds only numbers no
 * code holds to `DUCQ_UNKNOWN`.
 */
typedef enum ducq_state {
    /** ok */
    DUCQ_OK = 0,
    /** protocol-layer message (not an error) */
    DUCQ_PROTOCOL = 1,
    /** received NACK from server */
    DUCQ_NACK = 2,
    /** error */
    DUCQ_ERROR = 3,
    /** null parameter */
    DUCQ_ENULL = 4,
    /** std c lib error */
    DUCQ_ESTDC = 5,
    /** os memory allocation failed */
    DUCQ_EMEMFAIL = 6,
    /** os file io error */
    DUCQ_EFILE = 7,
    /** os communication layer error */
    DUCQ_ECOMMLAYER = 8,
    /** could not connect to server */
    DUCQ_ECONNECT = 9,
    /** connection closed */
    DUCQ_ECONNCLOSED = 10,
    /** communication write error */
    DUCQ_EWRITE = 11,
    /** communication read error */
    DUCQ_EREAD = 12,
    /** error closing connection */
    DUCQ_ECLOSE = 13,
    /** timeout */
    DUCQ_ETIMEOUT = 14,
    /** message invalid */
    DUCQ_EMSGINV = 15,
    /** message too big */
    DUCQ_EMSGSIZE = 16,
    /** command unknown */
    DUCQ_ENOCMD = 17,
    /** no ack received */
    DUCQ_EACK = 18,
    /** connection not found */
    DUCQ_ENOTFOUND = 19,
    /** not implemented yet */
    DUCQ_ENOIMPL = 20,
    /** collection reached maximum count */
    DUCQ_EMAX = 21,
    /** lua error */
    DUCQ_ELUA = 22,
    /** unknown error */
    DUCQ_UNKNOWN = 23,
    /** access denied */
    DUCQ_EACCESS = 24,
} ducq_state;

/*
 * Hand-written part of both ducq.h and the device header ducq_client.h
 * (their build scripts splice it in after the includes): the original's
 * limits, macros and opaque types of the client side, which cbindgen
 * cannot express. The generated declarations follow.
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

/* The interface object: any object whose first member is a
 * `ducq_vtbl *tbl` (see struct ducq_vtbl), cast to `ducq_i *`. */
typedef struct ducq_i ducq_i;

/**
 * A message callback of `ducq_listen`: the handle, the whole message
 * (NUL-terminated, `size` bytes, which the callback may modify; borrowed
 * for the call) and the listen's `ctx`. Returns 0 to keep listening.
 */
typedef int (*ducq_on_msg_f)(ducq_i *ducq, char *payload, size_t size, void *ctx);

/**
 * The error callback of `ducq_listen`: a receive failed with `state`.
 * Returns 0 to keep listening.
 */
typedef int (*ducq_on_err_f)(ducq_i *ducq, ducq_state state, void *ctx);

/**
 * The callbacks of `ducq_listen` (the original's layout). Each may be
 * NULL: that kind of message is skipped. The callbacks run on the
 * listening thread and may call any client function, on this handle too.
 */
typedef struct ducq_listen_ctx {
    /**
     * A data message (with `recv_raw`, every message).
     */
    ducq_on_msg_f on_message;
    /**
     * ACK, PARTS, END, PING, PONG, and the keep-alive PING `ducq_receive`
     * sends on a timeout.
     */
    ducq_on_msg_f on_protocol;
    /**
     * A NACK (`NACK *\n<code>\n<text>`; `ducq_ack_to_state` reads it).
     */
    ducq_on_msg_f on_nack;
    /**
     * A receive failed.
     */
    ducq_on_err_f on_error;
    /**
     * Receive with `ducq_recv` (every message to `on_message`) instead of
     * `ducq_receive`.
     */
    bool recv_raw;
    /**
     * Passed to every callback; ducq never reads it.
     */
    void *ctx;
} ducq_listen_ctx;

/**
 * The callbacks of `ducq_listen_ex`. Every callback gets the listening
 * handle and `ctx`, and returns `DUCQ_OK` to keep listening; any other
 * value ends `ducq_listen_ex`, which returns it. A NULL callback ignores
 * that kind of message (for `on_error`: `ducq_listen_ex` returns the error).
 *
 * The `char *` arguments are NUL-terminated copies the callback may modify;
 * they are freed when it returns. Callbacks run on the listening thread;
 * they may call any client function, on this handle too; they must not
 * throw C++ exceptions.
 */
typedef struct ducq_listen_ex_ctx {
    /**
     * A data message: its route and payload (`payload_size` bytes, which
     * may hold NUL bytes). With `recv_raw`, `route` is NULL and `payload`
     * is the whole message as received (`pub a/b\nhello`).
     */
    ducq_state (*on_message)(ducq_i *ducq, char *route, char *payload, size_t payload_size, void *ctx);
    /**
     * ACK, PARTS, END or PONG (PINGs are answered by ducq and not shown).
     */
    ducq_state (*on_protocol)(ducq_i *ducq, char *message, size_t size, void *ctx);
    /**
     * A NACK: the state it carries and its text.
     */
    ducq_state (*on_nack)(ducq_i *ducq, ducq_state state, char *text, void *ctx);
    /**
     * A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
     * timeout passed with nothing to read). Returning `DUCQ_OK` keeps
     * listening if the handle is still connected (after a timeout, or when
     * the callback reconnected it with `ducq_conn`); otherwise
     * `ducq_listen_ex` returns `state`.
     */
    ducq_state (*on_error)(ducq_i *ducq, ducq_state state, void *ctx);
    /**
     * Deliver data messages whole instead of split (see `on_message`).
     */
    bool recv_raw;
    /**
     * Passed to every callback; ducq never reads it.
     */
    void *ctx;
} ducq_listen_ex_ctx;

/**
 * A message split in place by `ducq_parse_msg`: pointers into the buffer
 * given to it, NUL-terminated, or NULL for a part that is missing.
 */
typedef struct ducq_msg {
    /**
     * The command word.
     */
    char *command;
    /**
     * The route.
     */
    char *route;
    /**
     * The payload (up to its first NUL byte).
     */
    char *payload;
} ducq_msg;

/**
 * The parts of a message, pointing into the caller's buffer (nothing is
 * copied and nothing is NUL-terminated: use the lengths).
 *
 * The pointers borrow the message given to `ducq_split_msg` and are valid
 * as long as that buffer is.
 */
typedef struct ducq_msg_parts {
    /**
     * First byte of the command word.
     */
    const char *command;
    /**
     * Length of the command word.
     */
    size_t command_len;
    /**
     * First byte of the route (after the first space).
     */
    const char *route;
    /**
     * Length of the route (up to the first newline).
     */
    size_t route_len;
    /**
     * First byte of the payload (after the first newline).
     */
    const char *payload;
    /**
     * Length of the payload.
     */
    size_t payload_len;
} ducq_msg_parts;

/**
 * A socket layer written in C, for `ducq_new_socket`. Each function gets
 * the `ctx` given to `ducq_new_socket` (or the handle's copy of it).
 *
 * `send` and `recv` are required; the others may be NULL. The functions
 * are called only from ducq calls made on the handle, on the caller's
 * thread; they must not call ducq functions on the same handle.
 */
typedef struct ducq_socket_vtbl {
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
} ducq_socket_vtbl;

/**
 * The functions of a `ducq_i`, the original's protocol interface: the
 * client functions (`ducq_conn`, `ducq_send`, …) call the matching entry,
 * and a reactor drives a client added with `ducq_reactor_add_client`
 * through `recv`, `send`, `id`, `close` and `free`.
 *
 * Every entry gets the object itself. A NULL entry makes the matching
 * function answer `DUCQ_ENOIMPL` (NULL, false, nothing for the others)
 * instead of crashing. `dtor` is never called by ducq (nor was it by the
 * original); `free` releases the object.
 */
typedef struct ducq_vtbl {
    /**
     * Connects (a client); `DUCQ_OK` or an error state.
     */
    ducq_state (*conn)(ducq_i *ducq);
    /**
     * Sends one message of `*size` bytes at `ptr`; on success `*size`
     * holds the bytes sent.
     */
    ducq_state (*send)(ducq_i *ducq, const void *ptr, size_t *size);
    /**
     * Sends `PARTS`, the start of a multipart reply.
     */
    ducq_state (*parts)(ducq_i *ducq);
    /**
     * Sends `END`, the end of a multipart reply.
     */
    ducq_state (*end)(ducq_i *ducq);
    /**
     * Receives one message into `ptr` (capacity `*size`), NUL-terminated;
     * on success `*size` holds its length.
     */
    ducq_state (*recv)(ducq_i *ducq, char *ptr, size_t *size);
    /**
     * The object's id (`TCP:127.0.0.1:4000`), owned by the object.
     */
    const char *(*id)(ducq_i *ducq);
    /**
     * A new object for the same peer.
     */
    ducq_i *(*copy)(ducq_i *ducq);
    /**
     * Whether `a` and `b` are the same connection.
     */
    bool (*eq)(ducq_i *a, ducq_i *b);
    /**
     * Sets the receive timeout, in seconds.
     */
    ducq_state (*timeout)(ducq_i *ducq, int timeout);
    /**
     * Asks for `SO_REUSEADDR` on the next connect.
     */
    ducq_state (*reuseaddr)(ducq_i *ducq);
    /**
     * Closes the connection.
     */
    ducq_state (*close)(ducq_i *ducq);
    /**
     * Releases the object.
     */
    void (*free)(ducq_i *ducq);
    /**
     * Kept for layout compatibility; not called.
     */
    void (*dtor)(ducq_i *ducq);
} ducq_vtbl;

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Sends `<command> <route>\n<payload>` and returns without waiting for a
 * reply (read it with `ducq_receive`).
 *
 * `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
 * `payload_size` is 0. All strings are only read during the call; the
 * message has no size limit beyond the server's. `DUCQ_EMSGINV` for a
 * command holding a space or newline, or a route holding a newline;
 * `DUCQ_ENULL` for NULL pointers; other errors as for `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle, `command` and `route` NULL or
 * NUL-terminated, `payload` readable for `payload_size` bytes.
 */
ducq_state ducq_emit(ducq_i *ducq, const char *command, const char *route, const char *payload, size_t payload_size);

/**
 * `ducq_emit`, then, when `close` is true, `ducq_close` once the message
 * is sent (a command whose answer is not wanted, in one call).
 *
 * # Safety
 * As for `ducq_emit`.
 */
ducq_state ducq_emit_ex(ducq_i *ducq, const char *command, const char *route, const char *payload, size_t payload_size, bool close);

/**
 * Sends `ACK` when `state` is `DUCQ_OK`, otherwise
 * `NACK *\n<code>\n<text>` for `state` (out-of-range values folded as in
 * `ducq_state_tostr`).
 *
 * Returns the send's error when sending failed, otherwise `state` itself,
 * so a command can end with `return ducq_send_ack(ducq, DUCQ_ENOTFOUND);`
 * (the client gets one NACK, not two).
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_send_ack(ducq_i *ducq, ducq_state state);

/**
 * Receives the next message into `msg` (as `ducq_recv`) and tells what it
 * is, as the original does: `DUCQ_OK` for a data message (a publication, a
 * command's answer), `DUCQ_PROTOCOL` for ACK, PARTS, END, PING and PONG (a
 * PING is answered with a PONG), `DUCQ_NACK` for a NACK (read its code
 * with `ducq_ack_to_state`).
 *
 * When the handle's timeout passes with nothing to read, it sends a
 * keep-alive `PING _\nping` to the server (copied into `msg` when it fits)
 * and returns `DUCQ_PROTOCOL`; when it passes again right after (`msg`
 * still starts with `PING`), it returns `DUCQ_ETIMEOUT`. Other errors as
 * for `ducq_recv`.
 *
 * # Safety
 * `ducq` is NULL or a live handle, `size` NULL or valid, `msg` writable
 * for `*size` bytes.
 */
ducq_state ducq_receive(ducq_i *ducq, char *msg, size_t *size);

/**
 * Publishes `payload` (`size` bytes, may be NULL when 0) on `route` and
 * waits for the server's answer.
 *
 * `DUCQ_OK` on ACK; `DUCQ_NACK` when the server refused (as the original;
 * `ducq_last_error` has the NACK's code and text on ducq's handles); other
 * errors as for `ducq_recv` (`DUCQ_ECONNCLOSED` when not connected). On a
 * host's handle whose reconnect policy has a buffer (`ducq_set_reconnect`), a
 * publication its lost connection could not take is kept for the next
 * connection instead: `DUCQ_OK`, or `DUCQ_EMAX` when the buffer is full.
 * On ducq's own handles, data messages that arrive before the ACK are kept
 * for the next receive; on other handles the first answer counts, as in
 * the original. The arguments are only read during the call.
 *
 * # Safety
 * `ducq` is NULL or a live handle, `route` NULL or NUL-terminated,
 * `payload` readable for `size` bytes.
 */
ducq_state ducq_pub(ducq_i *ducq, const char *route, const char *payload, size_t size);

/**
 * Publishes as `ducq_pub` does, connecting first when the handle is not
 * connected, and connecting again (once) when the connection turns out to
 * be closed: the original device call, made on a handle from
 * `ducq_new_tcp` that was never connected. Returns as `ducq_pub`, or the
 * state of the failed connect (`DUCQ_ECONNECT`, `DUCQ_ETIMEOUT`) — unless
 * the handle's lost connection could not be made again and its reconnect
 * policy has a buffer: then the publication is kept, as `ducq_pub` keeps
 * it.
 *
 * # Safety
 * As for `ducq_pub`.
 */
ducq_state ducq_publish(ducq_i *ducq, const char *route, const char *payload, size_t size);

/**
 * Subscribes to `route` (`*` matches anything) and waits for the answer
 * (a ducq call, not in the original). `options` may be NULL or hold
 * space-separated options: `last` (the server answers with the stored
 * last message instead of ACK) and `add` (keep the other subscriptions of
 * this connection).
 *
 * `DUCQ_OK` on ACK or on a stored message; that message (and, for a
 * pattern, the others) then comes first from `ducq_receive` /
 * `ducq_listen`. On a NACK, the state it carries (`ducq_last_error` has
 * its text). Other errors as for `ducq_recv`. The arguments are only read
 * during the call.
 *
 * # Safety
 * `ducq` is NULL or a live handle; `route` and non-null `options` are
 * NUL-terminated.
 */
ducq_state ducq_sub(ducq_i *ducq, const char *route, const char *options);

/**
 * The detail of the handle's last failure (`"could not connect to server:
 * Connection refused (os error 111)"`, `"NACK 15: message invalid"`), or
 * `""` (also for handles made elsewhere).
 *
 * The string belongs to the handle and is valid until its next call.
 * NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_last_error(ducq_i *ducq);

/**
 * Sets how many bytes a client handle's input buffer grows by for one
 * read (`read_chunk`, 1024 by default; a frame whose header tells its
 * length gets room for all of it at once) and the largest message it
 * accepts (`max_message`; by default 1 MiB, the server's default, and
 * 16 KiB in the device library: a larger message is skipped as it
 * arrives, never buffered). 0 keeps a value. The chunk applies at once,
 * the maximum from the next `ducq_conn`; copies made later keep both.
 *
 * `DUCQ_ENULL` for NULL, `DUCQ_ENOIMPL` for a handle that is not a
 * client made by ducq. A ducq call, not in the original.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_set_limits(ducq_i *ducq, size_t read_chunk, size_t max_message);

/**
 * Receives messages and hands each to the callback of its kind until a
 * callback returns non-zero, as the original does: data to `on_message`,
 * ACK/PARTS/END/PING/PONG to `on_protocol`, NACK to `on_nack` (all with
 * the whole message), failed receives to `on_error`. With `recv_raw`,
 * every message goes to `on_message`.
 *
 * Returns the state of the last receive when a callback stopped the
 * listen (`DUCQ_OK` for a data message, `DUCQ_PROTOCOL`, `DUCQ_NACK`, or
 * the error `on_error` saw). An error with no `on_error` ends the listen
 * with that error, except a timeout, which is skipped; after `on_error`
 * returned 0 the listen goes on while the handle is connected (or
 * reconnected by the callback). Messages of any size are delivered (the
 * original's stopped at 255 bytes). A callback that frees a ducq handle
 * ends the listen with `DUCQ_ECONNCLOSED`. `*ctx` is copied at the start.
 * `DUCQ_ENULL` for NULL arguments.
 *
 * # Safety
 * `ducq` is a live handle; `ctx` points to a valid `ducq_listen_ctx`
 * whose callbacks are valid functions.
 */
ducq_state ducq_listen(ducq_i *ducq, struct ducq_listen_ctx *ctx);

/**
 * Receives messages and hands each to the matching callback of `*listen`
 * until one returns something other than `DUCQ_OK` (that value is
 * returned) or receiving fails (see `on_error`): ducq's listen, with
 * route and payload apart and NACKs decoded. PINGs are answered
 * automatically and not shown.
 *
 * A callback that closes the handle makes `ducq_listen_ex` return
 * `DUCQ_ECONNCLOSED` (unless it reconnected); one that frees a ducq handle
 * has the free deferred until it returns, and `ducq_listen_ex` then
 * returns `DUCQ_ECONNCLOSED` (the handle is gone). `*listen` is copied at
 * the start. `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOIMPL` on a handle
 * lent by a reactor.
 *
 * # Safety
 * `ducq` is a live handle; `listen` points to a valid
 * `ducq_listen_ex_ctx` whose callbacks are valid functions.
 */
ducq_state ducq_listen_ex(ducq_i *ducq, const struct ducq_listen_ex_ctx *listen);

/**
 * The command of a NUL-terminated message, as the original finds it: when
 * the message holds a space, returns `buffer` (the command starts there)
 * and stores the address of that first space in `*end`; otherwise returns
 * NULL and stores NULL in `*end`. `end` may be NULL. NULL for NULL.
 * Nothing is copied or modified.
 *
 * # Safety
 * `buffer` is NULL or NUL-terminated; `end` is NULL or writable.
 */
const char *ducq_parse_command(const char *buffer, const char **end);

/**
 * The route of a NUL-terminated message, as the original finds it: it
 * starts after the first space (or at `buffer + 1` when `buffer` itself
 * starts with a space) and ends at the next newline. When there is such a
 * newline, returns the route's first character and stores the newline's
 * address in `*end`; otherwise returns NULL (and stores NULL in `*end`
 * when a space was found). `end` may be NULL. NULL for NULL. Nothing is
 * copied or modified.
 *
 * # Safety
 * `buffer` is NULL or NUL-terminated; `end` is NULL or writable.
 */
const char *ducq_parse_route(const char *buffer, const char **end);

/**
 * The payload of a NUL-terminated message: the character after its first
 * newline, or NULL when it has none (and for NULL). Nothing is copied.
 *
 * # Safety
 * `buffer` is NULL or NUL-terminated.
 */
const char *ducq_parse_payload(const char *buffer);

/**
 * The state an answer carries: `DUCQ_OK` for `ACK…`, the code on the line
 * after the first newline for a NACK (`NACK *\n17\ncommand unknown` gives
 * `DUCQ_ENOCMD`; out-of-range codes folded as in `ducq_state_tostr`), and
 * `DUCQ_EMSGINV` when there is no readable non-zero code (or for NULL).
 *
 * # Safety
 * `msg` is NULL or NUL-terminated.
 */
ducq_state ducq_ack_to_state(const char *msg);

/**
 * Whether the published route `pub_route` matches the subscription route
 * `sub_route`: `*` matches any sequence of bytes, `/` included, possibly
 * empty; matching is case-sensitive (PROTOCOL.md §7; every pair the
 * original matched matches). False when either is NULL. Safe from any
 * thread and from callbacks.
 *
 * # Safety
 * Non-null arguments point to NUL-terminated strings.
 */
bool ducq_route_cmp(const char *sub_route, const char *pub_route);

/**
 * Splits a NUL-terminated message in place, as the original does with
 * `strtok`: the command is the first run of characters other than a
 * space (its end becomes NUL), the route what follows up to the next
 * newline (idem, leading newlines skipped), the payload the rest (NULL
 * when nothing is left). The parts point into `message`, which is
 * modified; a NULL `message` gives three NULLs. Unlike `strtok` it keeps
 * no state between calls, so it is safe from any thread.
 *
 * # Safety
 * `message` is NULL or a writable NUL-terminated string.
 */
struct ducq_msg ducq_parse_msg(char *message);

/**
 * Splits `msg` (`size` bytes, `<command> <route>\n<payload>`, any bytes)
 * into its parts, written to `*out` on success only.
 *
 * Returns `DUCQ_ENULL` when `msg` (with `size > 0`) or `out` is NULL,
 * `DUCQ_EMSGINV` for an empty message or a route holding a NUL byte. The
 * parts borrow `msg`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes; `out` is NULL or writable.
 */
ducq_state ducq_split_msg(const char *msg, size_t size, struct ducq_msg_parts *out);

/**
 * Copies the command word of `msg` (`size` bytes) into `buf`,
 * NUL-terminated.
 *
 * `*buf_size` is the capacity of `buf` on entry and the length copied (NUL
 * excluded) on success. When the part does not fit, `*buf_size` receives
 * the capacity needed and `DUCQ_EMSGSIZE` is returned. `DUCQ_EMSGINV` for an
 * unparsable message, `DUCQ_ENULL` for a NULL pointer. Safe from any thread
 * and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes, `buf` to `*buf_size` writable ones.
 */
ducq_state ducq_copy_command(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Copies the route of `msg` into `buf`; otherwise as `ducq_copy_command`.
 *
 * # Safety
 * As for `ducq_copy_command`.
 */
ducq_state ducq_copy_route(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Copies the payload of `msg` into `buf` (a payload may hold NUL bytes:
 * trust `*buf_size`, not `strlen`); otherwise as `ducq_copy_command`.
 *
 * # Safety
 * As for `ducq_copy_command`.
 */
ducq_state ducq_copy_payload(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Classifies a received message (PROTOCOL.md §4): `DUCQ_OK` for a data
 * message, `DUCQ_PROTOCOL` for `ACK`, `PARTS`, `END`, `PING` and `PONG`,
 * `DUCQ_NACK` for a NACK (see `ducq_nack_state`). `DUCQ_ENULL` when `msg`
 * is NULL with `size > 0`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes.
 */
ducq_state ducq_classify(const char *msg, size_t size);

/**
 * The state a NACK carries (`NACK *\n17\ncommand unknown` gives
 * `DUCQ_ENOCMD`), `DUCQ_UNKNOWN` when its code is unreadable, and
 * `DUCQ_EMSGINV` when `msg` is not a NACK. `DUCQ_ENULL` when `msg` is NULL
 * with `size > 0`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes.
 */
ducq_state ducq_nack_state(const char *msg, size_t size);

/**
 * Creates an unconnected client handle that runs ducq over a socket layer
 * written in C (`vtbl`, see `struct ducq_socket_vtbl`). Connect it with
 * `ducq_conn` (or let `ducq_publish` connect it); every client function
 * then works on it.
 *
 * `vtbl` is copied; `ctx` is borrowed: it is passed to the functions and
 * must stay valid until the handle (and every `ducq_copy` of it, which
 * share it) is freed. ducq never frees `ctx`. Returns NULL when `vtbl` is
 * NULL or lacks `send` or `recv`. The caller owns the handle (`ducq_free`).
 *
 * # Safety
 * `vtbl` is NULL or points to a valid `ducq_socket_vtbl` whose functions
 * are valid for `ctx`.
 */
ducq_i *ducq_new_socket(const struct ducq_socket_vtbl *vtbl, void *ctx);

/**
 * Like `ducq_new_socket`, but the handle keeps its own copy of the layer's
 * context: `ctx_size` bytes copied from `ctx` (aligned for any object),
 * passed to the layer's functions and freed with the handle. A
 * `ducq_copy` gets a fresh copy of the same `ctx` bytes. This is how a
 * platform port makes `ducq_new_tcp(host, port)`: its context (a socket
 * descriptor, the host and port) lives and dies with the handle.
 *
 * `ctx` is only read during the call. Returns NULL when `vtbl` is NULL or
 * lacks `send` or `recv`, or `ctx` is NULL with a size. The caller owns
 * the handle (`ducq_free`).
 *
 * # Safety
 * `vtbl` is NULL or a valid `ducq_socket_vtbl`; `ctx` is readable for
 * `ctx_size` bytes; the functions accept a copy of those bytes as their
 * context.
 */
ducq_i *ducq_new_socket_ctx(const struct ducq_socket_vtbl *vtbl, const void *ctx, size_t ctx_size);

/**
 * Like `ducq_new_socket_ctx`, for a WebSocket client over the layer: the
 * handle speaks WebSocket to a server's HTTP/WebSocket port, as a
 * `ducq_new_ws_client` handle does (`ducq_conn` completes the opening
 * handshake, path `/`, with `host:port` as its `Host`; every client
 * function then works on it; `ducq_id` gives `WS:` and the layer's
 * address). How a platform port makes `ducq_new_ws_client(host, port)`.
 *
 * The masking keys come from the library's entropy: on a device, seed it
 * first (`ducq_seed_entropy`). `ctx`, `host` and `port` are only read
 * during the call. Returns NULL as `ducq_new_socket_ctx` does, and when
 * `host` or `port` is NULL or not UTF-8. The caller owns the handle.
 *
 * # Safety
 * As for `ducq_new_socket_ctx`; non-null `host` and `port` are
 * NUL-terminated.
 */
ducq_i *ducq_new_ws_socket(const struct ducq_socket_vtbl *vtbl, const void *ctx, size_t ctx_size, const char *host, const char *port);

/**
 * The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`.
 *
 * Takes any int: a negative code counts as its absolute value, and a code
 * no `ducq_state` holds (anything above 24, `DUCQ_EACCESS`, the one code
 * added after the original's 23) gives the text of `DUCQ_UNKNOWN`. Never
 * returns NULL. The string
 * is static: never free it. Safe from any thread and from callbacks.
 */
const char *ducq_state_tostr(int state);

/**
 * The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`
 * (`"ok"` for `DUCQ_OK`, as the original names it).
 *
 * Folds its argument like `ducq_state_tostr`. Never returns NULL. The string
 * is static: never free it. Safe from any thread and from callbacks.
 */
const char *ducq_state_short(int state);

/**
 * The version of the linked library, e.g. `"0.1.0"`; compare with the
 * `DUCQ_VERSION` macro of the header you compiled against.
 *
 * The string is static: never free it. Safe from any thread.
 */
const char *ducq_version(void);

/**
 * Connects a client handle (closing its current connection first) and
 * completes the protocol's handshake, within the handle's timeout (10 s
 * when none is set): `tbl->conn`.
 *
 * For ducq's handles: `DUCQ_ECONNECT` when the server cannot be reached
 * (or refuses a WebSocket upgrade), `DUCQ_ETIMEOUT` when it does not
 * answer in time (`ducq_last_error` has the detail), `DUCQ_ENOIMPL` on a
 * server-side handle. `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_conn(ducq_i *ducq);

/**
 * Sends one message: `*size` bytes of `buf`, framed by the handle's
 * protocol (`tbl->send`). On a handle lent by a reactor the message is
 * queued for that client and written after the callback returns.
 *
 * On success `*size` holds the number of message bytes sent. `buf` is only
 * read during the call. For ducq's handles: `DUCQ_ECONNCLOSED` when not
 * connected, `DUCQ_EWRITE` when writing fails, `DUCQ_ENOTFOUND` when a
 * reactor's client is gone, `DUCQ_EMSGSIZE` past the largest message.
 * `DUCQ_ENULL` for NULL `ducq` or `size`, or NULL `buf` with a size.
 *
 * # Safety
 * `ducq` is NULL or a live handle, `size` NULL or valid, `buf` readable
 * for `*size` bytes.
 */
ducq_state ducq_send(ducq_i *ducq, const void *buf, size_t *size);

/**
 * Sends `PARTS`, the first message of a multipart reply (then one
 * `ducq_send` per part, then `ducq_end`): `tbl->parts`. Errors as for
 * `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_parts(ducq_i *ducq);

/**
 * Sends `END`, the last message of a multipart reply: `tbl->end`. Errors
 * as for `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_end(ducq_i *ducq);

/**
 * Receives the next message into `buf`, NUL-terminated: `tbl->recv`. Any
 * message counts (data, ACK, NACK, PARTS, END, PONG); `ducq_receive`
 * classifies it.
 *
 * `*size` is the capacity of `buf` on entry and the message length (NUL
 * excluded) on success. For ducq's handles: PINGs from the server are
 * answered and skipped; when the message does not fit, it stays queued
 * for the next call, `*size` receives the capacity needed and
 * `DUCQ_EMSGSIZE` is returned; waits at most the handle's timeout
 * (`DUCQ_ETIMEOUT`); `DUCQ_ECONNCLOSED` when the server closed;
 * `DUCQ_ENOIMPL` on a handle lent by a reactor (the reactor reads).
 * `DUCQ_ENULL` for NULL pointers.
 *
 * # Safety
 * `ducq` is NULL or a live handle, `size` NULL or valid, `buf` writable
 * for `*size` bytes.
 */
ducq_state ducq_recv(ducq_i *ducq, char *buf, size_t *size);

/**
 * The handle's id (`tbl->id`). For ducq's handles: `TCP:<ip>:<port>` of
 * this end for a connected client, `TCP:<host>:<port>` of the server
 * before connecting (`WS:` for a WebSocket handle), and for a reactor's
 * client its id as `lsconn` lists it.
 *
 * The string belongs to the handle: valid until the handle is closed,
 * reconnected or freed (for a lent handle, until the callback returns).
 * NULL for NULL (or an object without `id`).
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_id(ducq_i *ducq);

/**
 * Whether two handles name the same connection (`a->tbl->eq`). For
 * ducq's handles: the same client of a reactor for its handles (a lent
 * handle and its copies are equal), the same id for client handles.
 * False when either is NULL.
 *
 * # Safety
 * Non-null arguments are live handles.
 */
bool ducq_eq(ducq_i *a, ducq_i *b);

/**
 * A new handle to the same place (`tbl->copy`). For ducq's client
 * handles, an unconnected handle with the same destination and timeout
 * (a socket-layer handle shares its `ctx`); for a reactor's client, a
 * lasting handle to that client, usable on the reactor's thread until it
 * is freed (calls answer `DUCQ_ENOTFOUND` once the client is gone).
 *
 * The caller owns the copy and frees it with `ducq_free`. NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_i *ducq_copy(ducq_i *ducq);

/**
 * Sets how long connecting and each receive may wait, in seconds
 * (`tbl->timeout`); for ducq's handles 0 or less waits without limit
 * (connecting then gives up after 10 s), it applies to the current
 * connection and later ones, and it is a no-op on a reactor's client.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_timeout(ducq_i *ducq, int timeout);

/**
 * Asks for `SO_REUSEADDR` (`tbl->reuseaddr`). For ducq's handles a
 * documented no-op: a client's local port is ephemeral and the reactor's
 * listeners already reuse addresses; `DUCQ_OK`, or `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_reuseaddr(ducq_i *ducq);

/**
 * Closes the connection (`tbl->close`). A ducq client handle stays
 * usable: `ducq_conn` reconnects it. On a reactor's client, closes that
 * client once the replies queued for it are written. For ducq's handles,
 * closing a closed handle is `DUCQ_OK`, and it is safe from a
 * `ducq_listen` callback on the same handle (the listen then ends).
 * `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
ducq_state ducq_close(ducq_i *ducq);

/**
 * Frees a handle (`tbl->free`). For ducq's handles it closes the
 * connection first (a reactor's client only lets go: the client stays
 * connected); `ducq_free(NULL)`, freeing a handle lent to a callback and
 * freeing one a reactor owns (added with `ducq_reactor_add_client`) are
 * no-ops; called from a `ducq_listen` callback on the same handle, the free
 * happens when that callback returns and the listen ends.
 *
 * # Safety
 * `ducq` is NULL, a lent handle, or a live handle not freed yet.
 */
void ducq_free(ducq_i *ducq);

/**
 * Device only. Mixes `seed` into the entropy pool from which WebSocket
 * masking keys and handshake nonces are drawn: call it once at start-up
 * with the platform's random source (`esp_random()` on ESP-IDF), before
 * the first WebSocket connection. Safe from any thread; calling it again
 * adds to the pool.
 */
void ducq_seed_entropy(uint64_t seed);

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
extern ducq_i *ducq_new_tcp(const char *host, const char *port);

/**
 * Creates an unconnected WebSocket client handle for the
 * HTTP/WebSocket port of a server; `ducq_conn` completes the opening
 * handshake. Every client function then works on it as on a TCP
 * handle.
 *
 * On a device this comes from the platform port, like `ducq_new_tcp`,
 * made with `ducq_new_ws_socket`; seed the entropy first
 * (`ducq_seed_entropy`). Both strings are copied. Returns NULL when
 * either is NULL or too long. The caller owns the handle.
 */
extern ducq_i *ducq_new_ws_client(const char *host, const char *port);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* DUCQ_CLIENT_H */
