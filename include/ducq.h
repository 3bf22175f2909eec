/*
 * ducq: a minimalist, extensible LAN message broker, C API.
 *
 * Generated from the Rust sources by cbindgen (build.rs); do not edit.
 * See docs/C-API.md for the compile and link lines.
 *
 * Rules that hold for every function (each comment below adds its own):
 * - Errors: fallible functions return a ducq_state; DUCQ_OK is 0, codes
 *   from DUCQ_ERROR (3) up are errors. Out-parameters are written on
 *   success only (a buffer too small gets the size needed, see each).
 * - NULL: a NULL pointer argument gives DUCQ_ENULL (or NULL, false, -1 for
 *   functions returning those); ducq_free(NULL) and ducq_reactor_free(NULL)
 *   do nothing. No function aborts the program or unwinds into C.
 * - Ownership: handles returned by ducq_new_*, ducq_copy and
 *   ducq_reactor_new* are the caller's, freed by ducq_free or
 *   ducq_reactor_free. Strings and buffers passed in are only read during
 *   the call (copied when kept). Strings returned are borrowed: static ones
 *   live forever, a handle's live as long as the handle says.
 * - Callbacks: data passed to a callback is borrowed for that call.
 *   Handles lent to a C command or a loop callback are valid during the
 *   call only (ducq_copy keeps one). Each callback type says what it may
 *   call; a call that would re-enter the reactor unsafely is refused with
 *   DUCQ_ERROR. Callbacks must not throw C++ exceptions.
 * - Threads: a client handle is used by one thread at a time. A reactor and
 *   everything it lends belong to the thread running it; only
 *   ducq_reactor_stop may be called from another thread or a signal handler.
 */

#ifndef DUCQ_H
#define DUCQ_H

/* Generated file: edit src/ffi/ and rebuild instead. */

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
     * access denied (beyond the original): authentication failed or
     * required, or a route outside the user's access list
     */
    DUCQ_EACCESS = 24,
} ducq_state;

/**
 * Severity of a log line, as the log callback receives it.
 */
typedef enum ducq_log_level {
    /**
     * Detail for debugging: every command.
     */
    DUCQ_LOG_DEBUG = 0,
    /**
     * Normal events: connections opening and closing.
     */
    DUCQ_LOG_INFO = 1,
    /**
     * Something was refused or dropped.
     */
    DUCQ_LOG_WARNING = 2,
    /**
     * Something failed.
     */
    DUCQ_LOG_ERROR = 3,
    /**
     * Nothing is logged (only as a level to set).
     */
    DUCQ_LOG_OFF = 4,
} ducq_log_level;

/**
 * What a `ducq_reactor_loop` callback tells the loop.
 */
typedef enum ducq_loop_t {
    /**
     * Go on with the next client.
     */
    DUCQ_LOOP_CONTINUE = 0,
    /**
     * Stop the loop.
     */
    DUCQ_LOOP_BREAK = 1,
    /**
     * Close this client (its pending output is dropped), then go on.
     */
    DUCQ_LOOP_DELETE = 2,
} ducq_loop_t;

/**
 * What one call of a C `decode` produced.
 */
typedef enum ducq_decoded {
    /**
     * Nothing to deliver. With `*consumed > 0`, ducq calls again with the
     * rest of the input; with `*consumed == 0`, it waits for more bytes.
     */
    DUCQ_DECODED_NOTHING = 0,
    /**
     * The bytes appended to `message` are one ducq message
     * (`<command> <route>\n<payload>`). At least one input byte must have
     * been consumed.
     */
    DUCQ_DECODED_MESSAGE = 1,
    /**
     * The stream is over (the peer said goodbye, or sent something
     * unrecoverable): ducq writes what was appended to `out`, then closes.
     */
    DUCQ_DECODED_CLOSE = 2,
} ducq_decoded;

/**
 * A growable byte buffer a codec function appends to with
 * `ducq_buf_append`. Owned by ducq and lent for one call.
 */
typedef struct ducq_buf ducq_buf;

/**
 * The command dispatcher of a reactor, where Lua scripts are added
 * (`ducq_dispatcher_add`). Obtained from `ducq_reactor_get_dispatcher`; it
 * is the reactor under another type, so it is valid as long as the reactor
 * (for a reactor lent to a callback, during the call) and is never freed
 * by itself.
 */
typedef struct ducq_dispatcher ducq_dispatcher;

/**
 * A connection to talk ducq over: a client connection to a server, or
 * (inside a reactor callback) one of the server's clients.
 *
 * Client handles come from `ducq_new_tcp`, `ducq_new_ws_client`,
 * `ducq_new_vtbl` or `ducq_copy`;
 * the caller owns them and frees them with `ducq_free`. A client handle may
 * move between threads but is used by one thread at a time. Handles given
 * to C commands and `ducq_reactor_loop` callbacks are lent for that call;
 * `ducq_copy` makes one that lasts, usable on the reactor's thread.
 */
typedef struct ducq_i ducq_i;

/**
 * A ducq broker: listeners, client connections, subscriptions, commands,
 * all driven by one thread (`ducq_loop` or `ducq_loop_once`).
 *
 * Made by `ducq_reactor_new`, freed by `ducq_reactor_free`. The handle a C
 * command or loop callback receives is the reactor itself when C created
 * it, or a view valid for that call only when Rust code did.
 */
typedef struct ducq_reactor ducq_reactor;

/**
 * A socket layer written in C (a device's own network stack, say), for
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
 * A command's function: runs `message` (`size` bytes, NUL-terminated
 * copy: the command may modify it) sent by the client `ducq`.
 *
 * `reactor` and `ducq` are lent for the call only (keep the client with
 * `ducq_copy`). The command replies itself through `ducq` (`ducq_send`,
 * `ducq_send_ack`, `ducq_parts` … `ducq_end`); sends are queued and written
 * after it returns. It returns `DUCQ_OK`, or an error state: when it sent
 * the client nothing, the client then gets a NACK with that state; either
 * way the error is logged. It runs on the reactor's thread and must not
 * block for long: every client waits meanwhile.
 */
typedef ducq_state (*ducq_exec_f)(struct ducq_reactor *reactor, struct ducq_i *ducq, char *message, size_t size);

/**
 * A command written in C: its name (the first word of a message), the one
 * line `lscmd` shows, and its function.
 *
 * A shared object loaded by `ducq_reactor_load_commands` exports one of
 * these under the symbol name `command`.
 */
typedef struct ducq_cmd_t {
    /**
     * The command word, NUL-terminated, no space or newline.
     */
    const char *name;
    /**
     * One line of help for `lscmd` (may be NULL).
     */
    const char *doc;
    /**
     * What it does.
     */
    ducq_exec_f exec;
} ducq_cmd_t;

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
    ducq_state (*on_nack)(struct ducq_i *ducq, enum ducq_state state, char *text, void *ctx);
    /**
     * A receive failed with `state` (`DUCQ_ETIMEOUT` when the handle's
     * timeout passed with nothing to read). Returning `DUCQ_OK` keeps
     * listening if the handle is still connected (after a timeout, or when
     * the callback reconnected it with `ducq_conn`); otherwise
     * `ducq_listen` returns `state`.
     */
    ducq_state (*on_error)(struct ducq_i *ducq, enum ducq_state state, void *ctx);
    /**
     * Deliver data messages whole instead of split (see `on_message`).
     */
    bool recv_raw;
    /**
     * Passed to every callback; ducq never reads it.
     */
    void *ctx;
} ducq_listen_ctx;

/**
 * The parts of a message, pointing into the caller's buffer (nothing is
 * copied and nothing is NUL-terminated: use the lengths).
 *
 * The pointers borrow the message given to `ducq_parse_message` and are
 * valid as long as that buffer is.
 */
typedef struct ducq_msg {
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
} ducq_msg;

/**
 * A server protocol written in C, registered on a listener with
 * `ducq_reactor_listen_proto`. Each function gets the `ctx` given at
 * registration and the per-connection pointer `open` returned.
 *
 * The functions run on the reactor's thread in the middle of its work:
 * they may call `ducq_buf_append` and `ducq_state_tostr` only. `decode`
 * and `encode` are required.
 */
typedef struct ducq_proto_vtbl {
    /**
     * The kind shown in client ids (`LINE` gives `LINE:<ip>:<port>`);
     * copied at registration. NULL gives `C`.
     */
    const char *name;
    /**
     * A client connected: returns its per-connection state (may be NULL)
     * and may append a greeting to `out`. NULL: no state.
     */
    void *(*open)(void *ctx, struct ducq_buf *out);
    /**
     * Decodes at most one message from the front of `input` (`len`
     * bytes): stores in `*consumed` how many bytes are finished with,
     * appends the message to `message`, and anything to send back
     * (handshake answers, errors) to `out`.
     */
    ducq_decoded (*decode)(void *ctx, void *conn, const char *input, size_t len, size_t *consumed, struct ducq_buf *message, struct ducq_buf *out);
    /**
     * Appends the wire form of one ducq message (`len` bytes: an ACK, a
     * NACK, a publication…) to `out`.
     */
    void (*encode)(void *ctx, void *conn, const char *message, size_t len, struct ducq_buf *out);
    /**
     * The connection is gone: release `conn`. NULL: nothing to release.
     */
    void (*close)(void *ctx, void *conn);
} ducq_proto_vtbl;

/**
 * The log callback: `logger` is the pointer given to
 * `ducq_reactor_new_with_log`; `function` (where it happened), `sender`
 * (the client id or `server`) and `text` are NUL-terminated and borrowed
 * for the call only.
 */
typedef void (*ducq_log_f)(void *logger, enum ducq_log_level level, const char *function, const char *sender, const char *text);

/**
 * The callback of `ducq_reactor_loop`: called once per client connection
 * with a handle lent for the call and the `ctx` given to the loop.
 */
typedef ducq_loop_t (*ducq_loop_f)(struct ducq_i *ducq, void *ctx);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Creates an unconnected TCP client handle for `host` (a name or an IPv4
 * or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect it with
 * `ducq_conn`.
 *
 * Both strings are copied. Returns NULL when either is NULL or not UTF-8.
 * The caller owns the handle and frees it with `ducq_free`.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
struct ducq_i *ducq_new_tcp(const char *host, const char *port);

/**
 * Creates an unconnected WebSocket client handle for the HTTP/WebSocket
 * port of a server (`ducq-server --http`, `ducq_reactor_listen_http`):
 * `host` (a name or an IPv4 or IPv6 address) and `port` (decimal, e.g.
 * `"59091"`). `ducq_conn` connects it and completes the WebSocket opening
 * handshake (path `/`, `host:port` as the `Host` header) within the
 * handle's timeout.
 *
 * Every client function then works on it as on a TCP handle: `ducq_emit`,
 * `ducq_send`, `ducq_recv`, `ducq_receive`, `ducq_listen`, `ducq_pub`,
 * `ducq_sub`, `ducq_copy` (an unconnected WebSocket handle), `ducq_close`
 * (reconnect with `ducq_conn`). One ducq message travels as one WebSocket
 * message, its bytes unchanged (NUL bytes and non-UTF-8 included). The
 * server's WebSocket pings are answered inside receives. `ducq_id` gives
 * `WS:<ip>:<port>` of this end once connected, `WS:<host>:<port>` before.
 *
 * Both strings are copied. Returns NULL when either is NULL or not UTF-8.
 * The caller owns the handle and frees it with `ducq_free`; it may move
 * between threads but is used by one thread at a time.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
struct ducq_i *ducq_new_ws_client(const char *host, const char *port);

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
 * Connects a client handle (closing its current connection first) and
 * completes the protocol's handshake, within the handle's timeout (10 s
 * when none is set).
 *
 * `DUCQ_ECONNECT` when the server cannot be reached (or refuses a
 * WebSocket upgrade), `DUCQ_ETIMEOUT` when it does not answer in time
 * (`ducq_last_error` has the detail),
 * `DUCQ_ENOIMPL` on a server-side handle, `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_conn(struct ducq_i *ducq);

/**
 * Closes the connection. A client handle stays usable: `ducq_conn`
 * reconnects it. On a server-side handle, closes that client once the
 * replies queued for it are written.
 *
 * Closing a closed handle is `DUCQ_OK`. `DUCQ_ENULL` for NULL. Safe from
 * a `ducq_listen` callback on the same handle (the listen then returns
 * `DUCQ_ECONNCLOSED`).
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_close(struct ducq_i *ducq);

/**
 * Frees a handle, closing its connection (a server-side copy only lets go:
 * the client stays connected).
 *
 * `ducq_free(NULL)` and freeing a handle lent to a callback are no-ops.
 * Called from a `ducq_listen` callback on the same handle, the free happens
 * when that callback returns (the listen returns `DUCQ_ECONNCLOSED` and the
 * handle must not be used again).
 *
 * # Safety
 * `ducq` is NULL, a lent handle, or a handle this library returned that was
 * not freed yet.
 */
void ducq_free(struct ducq_i *ducq);

/**
 * Sends one message: `*count` bytes of `buf`, framed by the handle's
 * protocol. On a server-side handle the message is queued for that client
 * and written when the command returns.
 *
 * On success `*count` holds the number of message bytes sent (all of
 * them). `buf` is only read during the call. `DUCQ_ECONNCLOSED` when not
 * connected, `DUCQ_EWRITE` when writing fails, `DUCQ_ENOTFOUND` when a
 * server-side client is gone, `DUCQ_ENULL` for NULL pointers.
 *
 * # Safety
 * `ducq` is a live handle, `count` valid, `buf` readable for `*count` bytes.
 */
enum ducq_state ducq_send(struct ducq_i *ducq, const void *buf, size_t *count);

/**
 * Receives the next message into `buf`, NUL-terminated (PINGs from the
 * server are answered and skipped). Any message counts: data, ACK, NACK,
 * PARTS, END, PONG; see `ducq_receive` to have it classified.
 *
 * `*size` is the capacity of `buf` on entry and the message length (NUL
 * excluded) on success. When the message does not fit, it stays queued for
 * the next call, `*size` receives the capacity needed, and `DUCQ_EMSGSIZE`
 * is returned. Waits at most the handle's timeout (`DUCQ_ETIMEOUT`).
 * `DUCQ_ECONNCLOSED` when the server closed, `DUCQ_ENOIMPL` on a
 * server-side handle.
 *
 * # Safety
 * `ducq` is a live handle, `size` valid, `buf` writable for `*size` bytes.
 */
enum ducq_state ducq_recv(struct ducq_i *ducq, char *buf, size_t *size);

/**
 * Like `ducq_recv`, and tells what arrived: `DUCQ_OK` for a data message
 * (a publication on a subscribed route, a command's answer), `DUCQ_PROTOCOL`
 * for ACK, PARTS, END and PONG, `DUCQ_NACK` for a NACK (read its code with
 * `ducq_nack_state`). Errors as for `ducq_recv`.
 *
 * # Safety
 * As for `ducq_recv`.
 */
enum ducq_state ducq_receive(struct ducq_i *ducq, char *buf, size_t *size);

/**
 * Sends `PARTS`, the first message of a multipart reply (then one
 * `ducq_send` per part, then `ducq_end`). Errors as for `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_parts(struct ducq_i *ducq);

/**
 * Sends `END`, the last message of a multipart reply. Errors as for
 * `ducq_send`.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_end(struct ducq_i *ducq);

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
enum ducq_state ducq_send_ack(struct ducq_i *ducq, ducq_state state);

/**
 * Sends `<command> <route>\n<payload>` and returns without waiting for a
 * reply (read it with `ducq_receive`). When `close` is true the connection
 * is closed once the message is sent.
 *
 * `payload` (`payload_size` bytes, may hold NUL bytes) may be NULL when
 * `payload_size` is 0. All strings are only read during the call.
 * `DUCQ_EMSGINV` for a command holding a space or newline, or a route
 * holding a newline. Errors as for `ducq_send`.
 *
 * # Safety
 * `ducq` is a live handle, `command` and `route` NUL-terminated, `payload`
 * readable for `payload_size` bytes.
 */
enum ducq_state ducq_emit(struct ducq_i *ducq, const char *command, const char *route, const char *payload, size_t payload_size, bool close);

/**
 * Publishes `payload` (`payload_size` bytes, may be NULL when 0) on
 * `route` and waits for the server's ACK. Data messages arriving meanwhile
 * are kept for the next receive.
 *
 * `DUCQ_OK` on ACK; on a NACK, the state it carries (`DUCQ_EMSGINV` for an
 * empty route, …; `ducq_last_error` has its text); `DUCQ_ETIMEOUT` when no
 * answer came within the handle's timeout; `DUCQ_ENOIMPL` on a server-side
 * handle. The arguments are only read during the call.
 *
 * # Safety
 * `ducq` is a live handle, `route` NUL-terminated, `payload` readable for
 * `payload_size` bytes.
 */
enum ducq_state ducq_pub(struct ducq_i *ducq, const char *route, const char *payload, size_t payload_size);

/**
 * `ducq_pub` with a NUL-terminated payload, as older device code calls it.
 *
 * # Safety
 * `ducq` is a live handle; `route` and `payload` are NUL-terminated.
 */
enum ducq_state ducq_publish(struct ducq_i *ducq, const char *route, const char *payload);

/**
 * Subscribes to `route` (`*` matches anything) and waits for the answer.
 * `options` may be NULL or hold space-separated options: `last` (the
 * server answers with the stored last message instead of ACK) and `add`
 * (keep the other subscriptions of this connection).
 *
 * `DUCQ_OK` on ACK or on a stored message; that message (and, for a
 * pattern, the others) then comes first from `ducq_receive` /
 * `ducq_listen`. On a NACK, the state it carries. Other errors as for
 * `ducq_pub`. The arguments are only read during the call.
 *
 * # Safety
 * `ducq` is a live handle; `route` and non-null `options` are
 * NUL-terminated.
 */
enum ducq_state ducq_sub(struct ducq_i *ducq, const char *route, const char *options);

/**
 * The handle's id: `TCP:<ip>:<port>` of this end for a connected client,
 * `TCP:<host>:<port>` of the server before connecting (`WS:` instead of
 * `TCP:` for a WebSocket handle), and for a server-side handle the
 * client's id as `lsconn` lists it.
 *
 * The string belongs to the handle: valid until the handle is closed,
 * reconnected or freed (for a lent handle, until the callback returns).
 * Returns NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_id(struct ducq_i *ducq);

/**
 * Whether two handles name the same connection: the same client of a
 * reactor for server-side handles (a lent handle and its copies are
 * equal), the same id for client handles. False when either is NULL.
 *
 * # Safety
 * Non-null arguments are live handles.
 */
bool ducq_eq(struct ducq_i *a, struct ducq_i *b);

/**
 * A new handle to the same place: for a client handle, an unconnected
 * handle with the same destination and timeout (a `ducq_vtbl` handle
 * shares its `ctx`); for a server-side handle (lent to a callback), a
 * lasting handle to that client, usable on the reactor's thread until it
 * is freed (calls answer `DUCQ_ENOTFOUND` once the client is gone).
 *
 * The caller owns the copy and frees it with `ducq_free`. NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
struct ducq_i *ducq_copy(struct ducq_i *ducq);

/**
 * Sets how long connecting and each receive may wait, in seconds; 0 or
 * less waits without limit (connecting then gives up after 10 s). Applies
 * to the current connection and later ones. A no-op on a server-side handle.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_timeout(struct ducq_i *ducq, int timeout);

/**
 * Kept for programs written for the original library, which set
 * `SO_REUSEADDR` here. A client's local port is ephemeral and the
 * reactor's listeners already reuse addresses, so this is a documented
 * no-op: `DUCQ_OK`, or `DUCQ_ENULL` for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
enum ducq_state ducq_reuseaddr(struct ducq_i *ducq);

/**
 * The detail of the handle's last failure (`"could not connect to server:
 * Connection refused (os error 111)"`, a NACK's text), or `""`.
 *
 * The string belongs to the handle and is valid until its next call.
 * NULL for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
const char *ducq_last_error(struct ducq_i *ducq);

/**
 * Registers a C command on the reactor (replacing a C command of the same
 * name); clients call it by name and `lscmd` lists it. The core protocol
 * (`pub`, `sub`, `PING`, `PONG`, `lscmd` and their aliases) cannot be
 * replaced.
 *
 * `cmd` and its strings are copied: they may be freed after the call; the
 * `exec` function must stay loaded while the reactor lives. Works while the
 * reactor is idle and from a running C command. `DUCQ_ENULL` for NULL
 * `reactor`, `cmd`, name or exec; `DUCQ_EMSGINV` for a name holding a space
 * or newline, or a doc holding a newline or a double quote.
 *
 * # Safety
 * `reactor` is a live handle; `cmd` points to a valid `ducq_cmd_t` whose
 * non-null strings are NUL-terminated.
 */
enum ducq_state ducq_reactor_add_command(struct ducq_reactor *reactor, const struct ducq_cmd_t *cmd);

/**
 * Loads a folder of C commands: every `*.so` file in `directory` that
 * exports `struct ducq_cmd_t command` registers it (as
 * `ducq_reactor_add_command` would). Files that fail to load are logged and
 * skipped; the number loaded is stored in `*count` when `count` is not NULL.
 *
 * The objects call back into this API, so link the program with `-rdynamic`
 * (see docs/C-API.md). Loading runs the objects' initialisers: only load a
 * folder you trust. Objects stay loaded until the reactor is freed. Works
 * while the reactor is idle and from a C command. `DUCQ_ENULL` for NULL
 * reactor or directory, `DUCQ_EFILE` when the folder cannot be read,
 * `DUCQ_ERROR` from a log or codec callback (the commands are loaded, their
 * log lines are lost).
 *
 * # Safety
 * `reactor` is a live handle, `directory` NUL-terminated, `count` NULL or
 * writable.
 */
enum ducq_state ducq_reactor_load_commands(struct ducq_reactor *reactor, const char *directory, size_t *count);

/**
 * The dispatcher of `reactor`, for `ducq_dispatcher_add` (the original
 * library's way to reach it).
 *
 * Not a new object: it is valid exactly as long as `reactor` and must not
 * be freed. NULL for NULL. Safe from callbacks.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
struct ducq_dispatcher *ducq_reactor_get_dispatcher(struct ducq_reactor *reactor);

/**
 * Loads Lua commands into the reactor: every `.lua` file of the folder
 * `path` (in name order), or the one file `path`. Each file adds entries
 * to the global `commands` table (`commands.NAME = { doc = "...", exec =
 * function(ducq, msg) ... end }`, see docs/LUA.md); clients call them by
 * name and `lscmd` lists them. The path is watched: files written or moved
 * in are reloaded while the reactor runs, files removed take their
 * commands away. Scripts run with the default limits (10 000 000 VM
 * instructions a call, 64 MiB for all scripts); a script error is logged
 * and answered with a NACK, never fatal. Core commands cannot be replaced,
 * and a C command of the same name (`ducq_reactor_add_command`) wins.
 *
 * `DUCQ_OK` when every file loaded; `DUCQ_ELUA` when a file failed to load
 * (each failure is logged with its file and line; the other files are
 * loaded, and the failed one is retried when it is written again);
 * `DUCQ_EFILE` when `path` does not exist or cannot be read (nothing is
 * watched); `DUCQ_ENULL` for NULL arguments; `DUCQ_ECOMMLAYER` when the
 * reactor cannot poll the host's file watcher.
 *
 * The first call creates the reactor's Lua host and must be made while the
 * reactor is idle (before `ducq_loop`, or between `ducq_loop_once` calls);
 * later calls add to the same host and also work from a C command.
 * `DUCQ_ERROR` otherwise (the reactor is running, or is a view a Rust
 * program lent to a callback), and from a log or codec callback. `path` is
 * only read during the call.
 *
 * # Safety
 * `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
 * reactor; `path` is NULL or NUL-terminated.
 */
enum ducq_state ducq_dispatcher_add(struct ducq_dispatcher *dispatcher, const char *path);

/**
 * Receives messages on a connected client handle and hands each to the
 * matching callback of `*listen` until one returns something other than
 * `DUCQ_OK` (that value is returned) or receiving fails (see `on_error`).
 * PINGs are answered automatically.
 *
 * Callback misbehaviour is handled: a callback that closes the handle makes
 * `ducq_listen` return `DUCQ_ECONNCLOSED` (unless it reconnected); one that
 * frees the handle has the free deferred until it returns, and
 * `ducq_listen` then returns `DUCQ_ECONNCLOSED` (the handle is gone).
 * `*listen` is copied at the start. `DUCQ_ENULL` for NULL arguments,
 * `DUCQ_ENOIMPL` on a server-side handle.
 *
 * # Safety
 * `ducq` is a live client handle; `listen` points to a valid
 * `ducq_listen_ctx` whose callbacks are valid functions.
 */
enum ducq_state ducq_listen(struct ducq_i *ducq, const struct ducq_listen_ctx *listen);

/**
 * Splits `msg` (`size` bytes, `<command> <route>\n<payload>`) into its
 * parts, written to `*out` on success only.
 *
 * Returns `DUCQ_ENULL` when `msg` (with `size > 0`) or `out` is NULL,
 * `DUCQ_EMSGINV` for an empty message or a route holding a NUL byte. The
 * parts borrow `msg`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes; `out` is writable.
 */
enum ducq_state ducq_parse_message(const char *msg, size_t size, struct ducq_msg *out);

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
enum ducq_state ducq_parse_command(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Copies the route of `msg` into `buf`; otherwise as `ducq_parse_command`.
 *
 * # Safety
 * As for `ducq_parse_command`.
 */
enum ducq_state ducq_parse_route(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Copies the payload of `msg` into `buf` (a payload may hold NUL bytes:
 * trust `*buf_size`, not `strlen`); otherwise as `ducq_parse_command`.
 *
 * # Safety
 * As for `ducq_parse_command`.
 */
enum ducq_state ducq_parse_payload(const char *msg, size_t size, char *buf, size_t *buf_size);

/**
 * Classifies a received message (PROTOCOL.md §4): `DUCQ_OK` for a data
 * message, `DUCQ_PROTOCOL` for `ACK`, `PARTS`, `END`, `PING` and `PONG`,
 * `DUCQ_NACK` for a NACK (see `ducq_nack_state`). `DUCQ_ENULL` when `msg`
 * is NULL with `size > 0`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes.
 */
enum ducq_state ducq_classify(const char *msg, size_t size);

/**
 * The state a NACK carries (`NACK *\n17\ncommand unknown` gives
 * `DUCQ_ENOCMD`), `DUCQ_UNKNOWN` when its code is unreadable, and
 * `DUCQ_EMSGINV` when `msg` is not a NACK. `DUCQ_ENULL` when `msg` is NULL
 * with `size > 0`. Safe from any thread and from callbacks.
 *
 * # Safety
 * `msg` points to `size` readable bytes.
 */
enum ducq_state ducq_nack_state(const char *msg, size_t size);

/**
 * Whether the published route `route` matches the subscription pattern
 * `pattern` (PROTOCOL.md §7: `*` matches any bytes, `/` included; matching
 * is case-sensitive). Both are NUL-terminated and only read during the
 * call. Returns false when either is NULL. Safe from any thread and from
 * callbacks.
 *
 * # Safety
 * Non-null arguments point to NUL-terminated strings.
 */
bool ducq_route_cmp(const char *pattern, const char *route);

/**
 * Listens on `address` (as for `ducq_reactor_listen_tcp`) for clients that
 * speak the protocol `vtbl` describes; they publish, subscribe and call
 * commands like any other client.
 *
 * `vtbl` and its name are copied; `ctx` is borrowed: it is passed to every
 * protocol function and must stay valid, as must the functions, until the
 * reactor is freed. The bound port goes to `*out_port` when not NULL.
 * `DUCQ_ENULL` for NULL reactor, address or vtbl, or a vtbl without
 * `decode` or `encode`; other errors as for `ducq_reactor_listen_tcp`.
 *
 * # Safety
 * `reactor` is a live handle, `address` NUL-terminated, `vtbl` valid with
 * functions valid for `ctx`, `out_port` NULL or writable.
 */
enum ducq_state ducq_reactor_listen_proto(struct ducq_reactor *reactor, const char *address, const struct ducq_proto_vtbl *vtbl, void *ctx, uint16_t *out_port);

/**
 * Appends `len` bytes of `data` to a buffer ducq lent to a protocol
 * function (`message` or `out`).
 *
 * `data` is copied; it may be NULL when `len` is 0. `DUCQ_EMSGSIZE` when a
 * message would pass the server's largest message (the buffer is left as
 * it was), `DUCQ_ENULL` for a NULL buffer.
 *
 * # Safety
 * `buf` is a buffer lent to the running protocol function; `data` is
 * readable for `len` bytes.
 */
enum ducq_state ducq_buf_append(struct ducq_buf *buf, const void *data, size_t len);

/**
 * Creates a broker with the default limits, logging to stderr from the
 * INFO level. It has no listener yet.
 *
 * Returns NULL when the operating system refuses (out of descriptors). The
 * caller owns the result and frees it with `ducq_reactor_free`. The reactor
 * and everything it lends belong to the thread that runs it.
 */
struct ducq_reactor *ducq_reactor_new(void);

/**
 * Creates a broker whose log lines go to `log(logger, …)` instead of
 * stderr (they still reach subscribers of the `LOG` route).
 *
 * `logger` is passed back untouched and must outlive the reactor. The log
 * function runs on the reactor's thread, in the middle of reactor work: it
 * may call `ducq_state_tostr` and client functions on its own handles, but
 * any call on this reactor (or on handles it lent) is refused with
 * `DUCQ_ERROR`. When `log` is NULL this is `ducq_reactor_new`. Ownership as
 * for `ducq_reactor_new`.
 */
struct ducq_reactor *ducq_reactor_new_with_log(void *logger, ducq_log_f log);

/**
 * Frees a reactor: closes its listeners and connections, releases its C
 * commands (and the shared objects they came from), its Lua commands and
 * protocols.
 *
 * `ducq_reactor_free(NULL)` is a no-op. Called from inside one of the
 * reactor's own callbacks, or on a view lent to a callback, it does nothing
 * (a running reactor cannot be freed under itself). Handles the reactor
 * lent and that were kept with `ducq_copy` stay safe to call and free: they
 * answer `DUCQ_ERROR` from then on.
 *
 * # Safety
 * `reactor` is NULL or a handle from `ducq_reactor_new*` not yet freed; no
 * other thread uses it during the call.
 */
void ducq_reactor_free(struct ducq_reactor *reactor);

/**
 * Sets the lowest level that is logged (default `DUCQ_LOG_INFO`;
 * `DUCQ_LOG_OFF` silences the log).
 *
 * `DUCQ_ENULL` for a NULL reactor, `DUCQ_ERROR` from inside a callback.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
enum ducq_state ducq_reactor_set_log_level(struct ducq_reactor *reactor, ducq_log_level level);

/**
 * Listens for length-framed TCP clients on `address` (`"0.0.0.0:59090"`,
 * `"127.0.0.1:0"` for any free port, `"[::1]:59090"`).
 *
 * On success the bound port is stored in `*out_port` when `out_port` is not
 * NULL. `DUCQ_ENULL` for a NULL reactor or address, `DUCQ_EMSGINV` for an
 * address that does not parse, `DUCQ_ECOMMLAYER` when binding fails,
 * `DUCQ_ERROR` while the reactor is running or lent to a callback. The
 * address is only read during the call.
 *
 * # Safety
 * `reactor` is a live handle, `address` a NUL-terminated string,
 * `out_port` NULL or writable.
 */
enum ducq_state ducq_reactor_listen_tcp(struct ducq_reactor *reactor, const char *address, uint16_t *out_port);

/**
 * Listens on `address` for HTTP/1.1 and WebSocket clients (one port for
 * both: a request asking for an upgrade becomes a WebSocket, any other is
 * served as HTTP, e.g. `POST /pub/<route>`, `GET /lscmd`,
 * `POST /cmd/<command>/<route>`). They reach the same commands and
 * subscriptions as TCP clients.
 *
 * Arguments, ownership and errors as for `ducq_reactor_listen_tcp`.
 *
 * # Safety
 * As for `ducq_reactor_listen_tcp`.
 */
enum ducq_state ducq_reactor_listen_http(struct ducq_reactor *reactor, const char *address, uint16_t *out_port);

/**
 * Runs the reactor until `ducq_reactor_stop` is called: accepts clients,
 * runs their commands (C commands run on this thread), writes replies.
 *
 * Returns `DUCQ_OK` once stopped, `DUCQ_ECOMMLAYER` when polling fails,
 * `DUCQ_ENULL` for NULL, and `DUCQ_ERROR` when called on a view, or from a
 * callback of this reactor (it is already running).
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
enum ducq_state ducq_loop(struct ducq_reactor *reactor);

/**
 * Runs one turn of the reactor: waits at most `timeout_ms` milliseconds for
 * activity (0 does not wait; a negative value waits until the reactor's
 * next timer), handles it, writes the replies, and returns.
 *
 * For a host with its own event loop: wait until `ducq_reactor_fd` is
 * readable or `ducq_reactor_timeout_ms` elapsed, then call
 * `ducq_loop_once(reactor, 0)`. Errors as for `ducq_loop`. A stopped
 * reactor still runs turns: the host decides when to stop calling.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
enum ducq_state ducq_loop_once(struct ducq_reactor *reactor, int timeout_ms);

/**
 * The reactor's file descriptor: readable when `ducq_loop_once` has work.
 * Never close it. -1 for NULL or a view. Safe from callbacks.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
int ducq_reactor_fd(struct ducq_reactor *reactor);

/**
 * The longest a host loop may wait before calling `ducq_loop_once` again
 * even if the descriptor stays quiet (timers, backlogs), in milliseconds.
 * -1 for NULL, a view, or from a callback.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
int ducq_reactor_timeout_ms(struct ducq_reactor *reactor);

/**
 * Asks the reactor to stop: `ducq_loop` returns after the current turn.
 *
 * The one function that may be called from any thread and from a signal
 * handler: it stores a flag and writes to an eventfd, nothing else (no
 * allocation, no lock). Also fine from the reactor's own callbacks. NULL is
 * a no-op.
 *
 * # Safety
 * `reactor` is NULL or a handle that is not freed during the call.
 */
void ducq_reactor_stop(struct ducq_reactor *reactor);

/**
 * Calls `apply(client, ctx)` for every client connection, in connection
 * order, until it returns `DUCQ_LOOP_BREAK`. `DUCQ_LOOP_DELETE` closes that
 * client (its pending output is dropped) and goes on; any other value
 * counts as `DUCQ_LOOP_BREAK`.
 *
 * The `ducq_i` given to `apply` is lent for that call: it may be used with
 * `ducq_send`, `ducq_id`, `ducq_eq`, `ducq_copy` (to keep it), and
 * `ducq_reactor_*` functions, never freed. Works from a C command and while
 * the reactor is idle. `DUCQ_ENULL` for NULL reactor or apply; `DUCQ_ERROR`
 * when the reactor cannot be reached (from a log or codec callback).
 *
 * # Safety
 * `reactor` is a live handle; `apply` is a valid function.
 */
enum ducq_state ducq_reactor_loop(struct ducq_reactor *reactor, ducq_loop_f apply, void *ctx);

/**
 * Subscribes the client `ducq` (a handle the reactor lent, or a copy of
 * one) to `route`, replacing its subscriptions, as its own `sub route`
 * would.
 *
 * `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOTFOUND` when `ducq` is not an
 * open client of this reactor, `DUCQ_EMSGINV` for an empty route,
 * `DUCQ_ERROR` when the reactor cannot be reached. The route is copied.
 *
 * # Safety
 * `reactor` and `ducq` are live handles; `route` is NUL-terminated.
 */
enum ducq_state ducq_reactor_subscribe(struct ducq_reactor *reactor, struct ducq_i *ducq, const char *route);

/**
 * Closes the client `ducq` (a handle the reactor lent, or a copy of one);
 * its pending output is dropped. The handle itself stays valid until the
 * callback ends (or until freed, for a copy).
 *
 * `DUCQ_ENOTFOUND` when it is not an open client of this reactor; other
 * errors as for `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` and `ducq` are live handles.
 */
enum ducq_state ducq_reactor_delete(struct ducq_reactor *reactor, struct ducq_i *ducq);

/**
 * Publishes as a client's `pub route\npayload` would: stores the message
 * as the route's last message and sends it to every matching subscriber.
 *
 * `payload` (`payload_size` bytes, may be NULL when 0) and `route` are
 * copied. `DUCQ_EMSGINV` for an empty route or one holding a newline;
 * other errors as for `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` is a live handle, `route` NUL-terminated, `payload` readable
 * for `payload_size` bytes.
 */
enum ducq_state ducq_reactor_publish(struct ducq_reactor *reactor, const char *route, const char *payload, size_t payload_size);

/**
 * Copies the last message published on `route` (the whole message, as its
 * publisher sent it) into `buffer`, NUL-terminated.
 *
 * `*size` is the capacity of `buffer` on entry and the message length on
 * success. When it does not fit, `*size` receives the capacity needed and
 * `DUCQ_EMSGSIZE` is returned. `DUCQ_ENOTFOUND` when the route has none;
 * other errors as for `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` is a live handle, `route` NUL-terminated, `buffer` writable
 * for `*size` bytes.
 */
enum ducq_state ducq_get_last_msg(struct ducq_reactor *reactor, const char *route, char *buffer, size_t *size);

/**
 * Stores `msg` (`size` bytes, copied) as the last message of `route`, as
 * a publish would, without sending it to anyone.
 *
 * Errors as for `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` is a live handle, `route` NUL-terminated, `msg` readable for
 * `size` bytes.
 */
enum ducq_state ducq_set_last_msg(struct ducq_reactor *reactor, const char *route, const char *msg, size_t size);

/**
 * Logs a line through the reactor: to its log callback (or stderr) and to
 * subscribers of the `LOG` route, as `level,function,sender,text`.
 *
 * `sender` may be NULL (`server`). The strings are copied. Errors as for
 * `ducq_reactor_subscribe` (`DUCQ_EMSGINV` for strings that are not UTF-8).
 *
 * # Safety
 * `reactor` is a live handle; the strings are NUL-terminated.
 */
enum ducq_state ducq_reactor_log(struct ducq_reactor *reactor, ducq_log_level level, const char *function, const char *sender, const char *text);

/**
 * Creates an unconnected client handle for a TLS listener of a server
 * (`ducq-server --tls`, length-framed ducq over TLS): `host` (a name or an
 * IP address, also the name the server's certificate must carry) and
 * `port` (decimal). `ca_file` is a PEM file of the CA certificates to
 * trust; NULL trusts the system's store. `ducq_conn` connects and
 * completes the TLS handshake within the handle's timeout; a certificate
 * that does not verify is `DUCQ_ECONNECT` with the reason in
 * `ducq_last_error`.
 *
 * Every client function then works on it as on a TCP handle. `ducq_id`
 * gives `TLS:<host>:<port>` before connecting. The CA file is read when
 * the handle is made: NULL is returned when it cannot be read, or when
 * `host` or `port` is NULL or not UTF-8. Strings are copied. The caller
 * owns the handle and frees it with `ducq_free`; it is used by one thread
 * at a time.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
struct ducq_i *ducq_new_tls(const char *host, const char *port, const char *ca_file);

/**
 * Creates an unconnected client handle for the Unix domain socket at
 * `path` (`ducq-server --unix PATH`, length-framed ducq). `ducq_conn`
 * connects it; every client function then works on it. `ducq_id` gives
 * `UNIX:<path>`. `path` is copied; NULL or non-UTF-8 gives NULL. The
 * caller owns the handle and frees it with `ducq_free`.
 *
 * # Safety
 * `path` is NULL or a NUL-terminated string.
 */
struct ducq_i *ducq_new_unix(const char *path);

/**
 * Listens for length-framed ducq over TLS on `addr` (`"0.0.0.0:59092"`,
 * port 0 for any), with the PEM certificate chain `cert` and private key
 * `key`; with `client_ca` (a PEM file, or NULL) clients must present a
 * certificate signed by one of its CAs, and one whose subject CN names a
 * user is that user. The bound port goes to `*port` when `port` is not
 * NULL. Strings are read during the call only.
 *
 * `DUCQ_EFILE` when a file cannot be read or used, `DUCQ_EMSGINV` for a
 * malformed address or non-UTF-8, `DUCQ_ECOMMLAYER` when binding fails,
 * `DUCQ_ENULL` for a NULL reactor, addr, cert or key, `DUCQ_ERROR` while
 * the reactor runs (call it before `ducq_loop`, on the reactor's thread).
 *
 * # Safety
 * `reactor` is NULL or a live handle; strings are NULL or NUL-terminated;
 * `port` is NULL or writable.
 */
enum ducq_state ducq_reactor_listen_tls(struct ducq_reactor *reactor, const char *addr, const char *cert, const char *key, const char *client_ca, uint16_t *port);

/**
 * Listens for HTTPS and secure WebSocket (WSS) clients on `addr`; the
 * rest as for `ducq_reactor_listen_tls`.
 *
 * # Safety
 * As for `ducq_reactor_listen_tls`.
 */
enum ducq_state ducq_reactor_listen_https(struct ducq_reactor *reactor, const char *addr, const char *cert, const char *key, const char *client_ca, uint16_t *port);

/**
 * Listens for length-framed ducq clients on a Unix domain socket at
 * `path`, its permission bits set to `mode` (e.g. `0660`) unless `mode`
 * is negative. A stale socket file is replaced; a socket someone listens
 * on, or any other file, is `DUCQ_ECOMMLAYER`. The file is removed when
 * the reactor is freed. `path` is read during the call only. Other
 * errors as for `ducq_reactor_listen_tls`.
 *
 * # Safety
 * `reactor` is NULL or a live handle; `path` is NULL or NUL-terminated.
 */
enum ducq_state ducq_reactor_listen_unix(struct ducq_reactor *reactor, const char *path, int mode);

/**
 * Adds (or replaces) user `name` (until a configuration file is loaded
 * or reloaded: its users then replace these): `password_phc` is an argon2id PHC
 * string (`ducq_hash_password`, `ducq-server hash-password`) or NULL for
 * a user that authenticates only with a client certificate; `publish` and
 * `subscribe` hold route patterns, one per line (`""` for none); `admin` non-zero allows the admin commands. Once any
 * user exists, anonymous clients keep what the anonymous list allows
 * (everything, unless a configuration file says otherwise).
 *
 * `DUCQ_EMSGINV` for a malformed hash or name, `DUCQ_ENULL` for a NULL
 * reactor, name, publish or subscribe, `DUCQ_ERROR` while the reactor
 * runs. Strings are read during the call only.
 *
 * # Safety
 * `reactor` is NULL or a live handle; strings are NULL or NUL-terminated.
 */
enum ducq_state ducq_reactor_add_user(struct ducq_reactor *reactor, const char *name, const char *password_phc, const char *publish, const char *subscribe, int admin);

/**
 * Applies the configuration file at `path` (listeners, limits, users and
 * access lists, origin rules, Lua folders; see docs/CONFIG.md) to a
 * reactor that has not run yet, and makes `ducq_reactor_reload` (and the
 * `reload` command of an admin user) re-read it.
 *
 * `DUCQ_EFILE` when the file cannot be read or fails its check (each
 * error is logged with its line; nothing is applied), `DUCQ_ECOMMLAYER`
 * when a listener cannot be opened, `DUCQ_ENULL` for NULL arguments,
 * `DUCQ_ERROR` while the reactor runs. `path` is copied.
 *
 * # Safety
 * `reactor` is NULL or a live handle; `path` is NULL or NUL-terminated.
 */
enum ducq_state ducq_reactor_load_config(struct ducq_reactor *reactor, const char *path);

/**
 * Re-reads the configuration file given to `ducq_reactor_load_config`
 * and applies users, access lists, limits, origin rules, Lua folders and
 * certificates without dropping a connection. A file that fails its check
 * is refused whole (errors logged) and the running configuration stays:
 * `DUCQ_ERROR`. `DUCQ_ENOIMPL` without a loaded file, `DUCQ_ENULL` for
 * NULL. Call it between `ducq_loop_once` turns, or from a command or loop
 * callback's own reactor thread is refused (`DUCQ_ERROR`).
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
enum ducq_state ducq_reactor_reload(struct ducq_reactor *reactor);

/**
 * Hashes `password` (NUL-terminated) into an argon2id PHC string written
 * to `out` (NUL-terminated) when it fits in `out_len` bytes (100 is
 * enough). `DUCQ_EMAX` when it does not fit (nothing written), `DUCQ_ENULL`
 * for NULL, `DUCQ_ERROR` when no random salt could be had. Takes tens of
 * milliseconds on purpose; any thread.
 *
 * # Safety
 * `password` is NULL or NUL-terminated; `out` is NULL or writable for
 * `out_len` bytes.
 */
enum ducq_state ducq_hash_password(const char *password, char *out, size_t out_len);

/**
 * The text of a state, e.g. `"message invalid"` for `DUCQ_EMSGINV`.
 *
 * Takes any int: a negative code counts as its absolute value, and anything
 * above 24 gives the text of `DUCQ_UNKNOWN`. Never returns NULL. The string
 * is static: never free it. Safe from any thread and from callbacks.
 */
const char *ducq_state_tostr(int state);

/**
 * The short name of a state without its `DUCQ_` prefix, e.g. `"EMSGINV"`.
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

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* DUCQ_H */
