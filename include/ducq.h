/*
 * ducq: a minimalist, extensible LAN message broker, C API.
 *
 * Generated from the Rust sources by cbindgen (build.rs); do not edit.
 * See docs/C-API.md for the compile and link lines.
 *
 * The interface is the original C ducq's (same names, signatures, layouts
 * and behaviour, also under its header names: ducq_tcp.h, ducq_reactor.h,
 * ...); what ducq adds has names of its own (docs/C-API.md: porting table).
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
#include <stdio.h>

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


/**
 * A step of a reconnecting handle, told to its `on_event` callback.
 */
typedef enum ducq_reconnect_event {
    /**
     * The connection was lost (`attempt` and `delay_ms` are 0).
     */
    DUCQ_RECONNECT_LOST = 0,
    /**
     * Attempt number `attempt` (from 1) is made after `delay_ms`.
     */
    DUCQ_RECONNECT_RETRYING = 1,
    /**
     * Connected again after `attempt` attempts; `delay_ms` holds the
     * number of subscriptions made again.
     */
    DUCQ_RECONNECT_DONE = 2,
    /**
     * `max_attempts` attempts failed (`attempt`); the receive returns
     * `DUCQ_ECONNCLOSED` and the handle stays closed until `ducq_conn`.
     */
    DUCQ_RECONNECT_GAVE_UP = 3,
    /**
     * A publication made while the connection is lost was kept for the
     * next connection (`buffer_messages`); `attempt` holds how many are
     * kept now.
     */
    DUCQ_RECONNECT_KEPT = 4,
    /**
     * A new connection sent the kept publications, in order, after its
     * subscriptions; `attempt` holds how many.
     */
    DUCQ_RECONNECT_FLUSHED = 5,
} ducq_reconnect_event;

/**
 * What a `ducq_reactor_loop` callback tells the loop (bits: `DUCQ_LOOP_DELETE
 * | DUCQ_LOOP_BREAK` deletes and stops).
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
     * Delete this client, then go on.
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
 * Severity of a log line.
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
     * Nothing is logged (a ducq addition, only as a level to set).
     */
    DUCQ_LOG_OFF = 4,
} ducq_log_level;

/**
 * A growable byte buffer a codec function appends to with
 * `ducq_buf_append`. Owned by ducq and lent for one call.
 */
typedef struct ducq_buf ducq_buf;

/**
 * An iterator over a reactor's clients (`ducq_new_client_it`).
 */
typedef struct ducq_client_it ducq_client_it;

/**
 * The command dispatcher of a reactor (`ducq_reactor_get_dispatcher`):
 * the reactor under another type, valid as long as the reactor (for a
 * reactor lent to a callback, during the call) and never freed by itself.
 */
typedef struct ducq_dispatcher ducq_dispatcher;

/**
 * A ducq broker: listeners, client connections, subscriptions, commands,
 * all driven by one thread (`ducq_loop`, `ducq_reactor_run` or
 * `ducq_loop_once`).
 *
 * Made by `ducq_reactor_new_with_log` (or the `ducq_reactor_new()` macro),
 * freed by `ducq_reactor_free`. The handle a C command or callback
 * receives is the reactor itself when C created it, or a view valid for
 * that call only when Rust code did (`ducq-server --commands`).
 */
typedef struct ducq_reactor ducq_reactor;

/**
 * The callback of `ducq_reactor_loop`: a client (lent for the call, the
 * same pointer as in its commands), one of its subscription routes (a
 * NUL-terminated copy, `""` when it has none; a client with several
 * routes is visited once per route), and the loop's `ctx`.
 */
typedef ducq_loop_t (*ducq_loop_f)(ducq_i *ducq, char *route, void *ctx);

/**
 * Accept callback of `ducq_reactor_add_server`: called on the reactor's
 * thread when the listening `fd` has a connection waiting, with the
 * reactor (which it may give to `ducq_reactor_add_client`) and the `ctx`
 * given with it.
 */
typedef void (*ducq_accept_f)(struct ducq_reactor *reactor, int fd, void *ctx);

/**
 * A command's function: runs `message` (`size` bytes, a NUL-terminated
 * copy the command may modify) sent by the client `ducq`.
 *
 * `reactor` and `ducq` are lent for the call only (keep the client with
 * `ducq_copy`); `ducq` is the same pointer for the same client in every
 * callback. The command replies itself through `ducq` (`ducq_send`,
 * `ducq_send_ack`, `ducq_parts` … `ducq_end`); sends are queued and written
 * after it returns. It returns `DUCQ_OK`, or an error state: when it sent
 * the client nothing, the client then gets a NACK with that state; either
 * way the error is logged. It runs on the reactor's thread and must not
 * block for long: every client waits meanwhile.
 */
typedef ducq_state (*ducq_command_f)(struct ducq_reactor *reactor, ducq_i *ducq, char *message, size_t size);

/**
 * A command written in C: its name (the first word of a message), the one
 * line `lscmd` shows, and its function.
 *
 * A plugin (a shared object in a folder given to
 * `ducq_dispatcher_load_commands_path`, `ducq_reactor_load_commands` or
 * `ducq-server --commands`) exports one of these under the symbol name
 * `command`.
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
    ducq_command_f exec;
} ducq_cmd_t;

/**
 * A function applied to a connection (`ducq_tcp_apply`): returns a state.
 */
typedef ducq_state (*ducq_apply_f)(void *ctx, ducq_i *ducq);

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
 * The original's log function: `logger` as given with it, the line's
 * level, where it happened, who it concerns (a client id or `server`), and
 * a printf format with its arguments (`vfprintf(file, fmt, args)` prints
 * it). The strings are borrowed for the call. It runs on the reactor's
 * thread in the middle of reactor work: calls on the reactor from it are
 * refused with `DUCQ_ERROR`. Its return value is ignored.
 */
typedef int (*ducq_log_f)(void *logger, ducq_log_level level, const char *function_name, const char *sender_id, const char *fmt, va_list args);

/**
 * ducq's plain-text log function (`ducq_reactor_set_log_text`), for hosts
 * that cannot take a `va_list`: as `ducq_log_f` with the line formatted.
 */
typedef void (*ducq_log_text_f)(void *logger, ducq_log_level level, const char *function, const char *sender, const char *text);

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
 * The callback of a reconnecting handle: one step, the attempt it is
 * about, a delay in milliseconds (see `ducq_reconnect_event`) and the
 * policy's `ctx`. It runs on the receiving thread, inside the receive:
 * it must not call functions on the handle that is reconnecting.
 */
typedef void (*ducq_reconnect_f)(enum ducq_reconnect_event event, uint32_t attempt, uint32_t delay_ms, void *ctx);

/**
 * How a client handle reconnects (`ducq_set_reconnect`).
 */
typedef struct ducq_reconnect_policy {
    /**
     * The first wait, in milliseconds (0: 100). Attempt n waits
     * `min(max_ms, initial_ms × 2^n)`, less a random part of up to half.
     */
    uint32_t initial_ms;
    /**
     * The longest wait, in milliseconds (0: 30 000).
     */
    uint32_t max_ms;
    /**
     * Attempts before giving up (0: never give up).
     */
    uint32_t max_attempts;
    /**
     * Told each step; may be NULL.
     */
    ducq_reconnect_f on_event;
    /**
     * Passed to `on_event`; ducq never reads it.
     */
    void *ctx;
    /**
     * Publications (`ducq_pub`, `ducq_publish`) kept while the connection
     * is lost, at most (0: none; such a publish fails at once). Beyond it,
     * and beyond `buffer_bytes`, a publish fails with `DUCQ_EMAX`.
     */
    uint32_t buffer_messages;
    /**
     * Payload bytes kept at most (0: 1 MiB), with `buffer_messages`.
     */
    uint32_t buffer_bytes;
} ducq_reconnect_policy;

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
 * Creates an unconnected TCP client handle for `host` (a name or an IPv4
 * or IPv6 address) and `port` (decimal, e.g. `"59090"`). Connect it with
 * `ducq_conn`, or let `ducq_publish` connect it.
 *
 * Both strings are copied. Returns NULL when either is NULL or not UTF-8.
 * The caller owns the handle and frees it with `ducq_free`; it may move
 * between threads but is used by one thread at a time.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
ducq_i *ducq_new_tcp(const char *host, const char *port);

/**
 * Creates an unconnected WebSocket client handle for the HTTP/WebSocket
 * port of a server (`ducq-server --http`, `ducq_reactor_listen_http`).
 * `ducq_conn` connects it and completes the WebSocket opening handshake
 * (path `/`, `host:port` as the `Host` header) within the handle's
 * timeout.
 *
 * Every client function then works on it as on a TCP handle. One ducq
 * message travels as one WebSocket message, its bytes unchanged (NUL
 * bytes and non-UTF-8 included). The server's WebSocket pings are
 * answered inside receives. `ducq_id` gives `WS:<ip>:<port>` of this end
 * once connected, `WS:<host>:<port>` before.
 *
 * Both strings are copied. Returns NULL when either is NULL or not UTF-8.
 * Ownership and threads as for `ducq_new_tcp`.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
ducq_i *ducq_new_ws_client(const char *host, const char *port);

/**
 * The original's HTTP client handle, which it never implemented: as
 * there, `ducq_conn` answers `DUCQ_ENOIMPL` (use `ducq_new_ws_client` to
 * talk to an HTTP port). `ducq_id` gives `HTTP:<host>:<port>`; the other
 * calls answer as on an unconnected handle.
 *
 * Both strings are copied. Returns NULL when either is NULL or not UTF-8.
 * The caller owns the handle and frees it with `ducq_free`.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
ducq_i *ducq_new_http_client(const char *host, const char *port);

/**
 * Calls `apply(client, route, ctx)` for every client and subscription
 * route of the reactor (a snapshot taken now; clients closed meanwhile are
 * skipped), in connection order, until a result holds `DUCQ_LOOP_BREAK`;
 * a result holding `DUCQ_LOOP_DELETE` deletes that client: it gets no more
 * publications and is closed once what was queued for it is written.
 * Returns the last result (`DUCQ_LOOP_CONTINUE` when there was no client).
 *
 * The `ducq_i` given to `apply` is lent for that call: it may be used with
 * `ducq_send`, `ducq_id`, `ducq_eq`, `ducq_copy` (to keep it), and
 * `ducq_reactor_*` functions, never freed. Works from a C command and
 * while the reactor is idle. `DUCQ_LOOP_BREAK` (nothing done) for NULL
 * arguments or when the reactor cannot be reached (from a log callback).
 *
 * # Safety
 * `reactor` is NULL or a live handle; `apply` NULL or a valid function.
 */
ducq_loop_t ducq_reactor_loop(struct ducq_reactor *reactor, ducq_loop_f apply, void *ctx);

/**
 * Subscribes the client `ducq` (a handle the reactor lent, or a copy of
 * one) to `route`, replacing its subscriptions, as its own `sub route`
 * would (the same route rule applies).
 *
 * `DUCQ_ENULL` for NULL arguments, `DUCQ_ENOTFOUND` when `ducq` is not an
 * open client of this reactor, `DUCQ_EMSGINV` for an empty route or one
 * holding a newline, `DUCQ_EMSGSIZE` past the longest route, `DUCQ_ERROR`
 * when the reactor cannot be reached. The route is copied.
 *
 * # Safety
 * `reactor` and `ducq` are NULL or live handles; `route` NULL or
 * NUL-terminated.
 */
ducq_state ducq_reactor_subscribe(struct ducq_reactor *reactor, ducq_i *ducq, const char *route);

/**
 * Deletes the client `ducq` (a handle the reactor lent, or a copy of
 * one): it gets no more publications and is closed once what was queued
 * for it is written. True when it was an open client of this reactor;
 * false otherwise, for NULL, or when the reactor cannot be reached.
 *
 * # Safety
 * `reactor` and `ducq` are NULL or live handles.
 */
bool ducq_reactor_delete(struct ducq_reactor *reactor, ducq_i *ducq);

/**
 * Publishes as a client's `pub route\npayload` would (a ducq call, not in
 * the original): stores the message as the route's last message and sends
 * it to every matching subscriber, with the checks `pub` applies.
 *
 * `payload` (`payload_size` bytes, may be NULL when 0) and `route` are
 * copied. `DUCQ_EMSGINV` for an empty route or one holding a newline,
 * `DUCQ_EMSGSIZE` past the longest route or message; other errors as for
 * `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
 * `payload` readable for `payload_size` bytes.
 */
ducq_state ducq_reactor_publish(struct ducq_reactor *reactor, const char *route, const char *payload, size_t payload_size);

/**
 * The last message published on `route` (the whole message, as its
 * publisher sent it), or `"ACK"` when the route has none, as the original
 * answers `sub route\nlast` (a message holding NUL bytes ends at the
 * first). The string is owned by the reactor and valid until the next
 * `ducq_get_last_msg` on it; NULL for NULL arguments or when the reactor
 * cannot be reached. `ducq_copy_last_msg` copies binary messages.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `route` NULL or NUL-terminated.
 */
const char *ducq_get_last_msg(struct ducq_reactor *reactor, const char *route);

/**
 * Stores the NUL-terminated `msg` as the last message of `route`, as a
 * publish would, without sending it to anyone (`ducq_store_last_msg`
 * takes a size). `DUCQ_EMSGINV` or `DUCQ_EMSGSIZE` for a route the route
 * rule refuses, `DUCQ_EMSGSIZE` for a message past the largest; other
 * errors as for `ducq_reactor_subscribe`. Both strings are copied.
 *
 * # Safety
 * `reactor` is NULL or a live handle; `route` and `msg` NULL or
 * NUL-terminated.
 */
ducq_state ducq_set_last_msg(struct ducq_reactor *reactor, const char *route, const char *msg);

/**
 * Stores `msg` (`size` bytes, copied, any bytes) as the last message of
 * `route`; otherwise as `ducq_set_last_msg`.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
 * `msg` readable for `size` bytes.
 */
ducq_state ducq_store_last_msg(struct ducq_reactor *reactor, const char *route, const char *msg, size_t size);

/**
 * Copies the last message published on `route` (the whole message, any
 * bytes) into `buffer`, NUL-terminated.
 *
 * `*size` is the capacity of `buffer` on entry and the message length on
 * success. When it does not fit, `*size` receives the capacity needed and
 * `DUCQ_EMSGSIZE` is returned. `DUCQ_ENOTFOUND` when the route has none;
 * other errors as for `ducq_reactor_subscribe`.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `route` NULL or NUL-terminated,
 * `buffer` writable for `*size` bytes.
 */
ducq_state ducq_copy_last_msg(struct ducq_reactor *reactor, const char *route, char *buffer, size_t *size);

/**
 * An iterator over the reactor's clients and their subscription routes
 * (one step per route, `""` for a client without one), from a snapshot
 * taken now: `ducq_next` gives them one by one. NULL for NULL or when the
 * reactor cannot be reached. The caller frees it with
 * `ducq_client_it_free`; use it on the reactor's thread.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
struct ducq_client_it *ducq_new_client_it(struct ducq_reactor *reactor);

/**
 * The next client of the iterator (skipping clients closed since it was
 * made), with its route in `*route`; NULL when there is none left (or for
 * NULL). The client is the handle lent to its callbacks (never freed by
 * the caller; `ducq_copy` keeps it); the route string belongs to the
 * iterator; both are valid until the next `ducq_next` or
 * `ducq_client_it_free`. `route` may be NULL.
 *
 * # Safety
 * `it` is NULL or a live iterator, `route` NULL or writable.
 */
ducq_i *ducq_next(struct ducq_client_it *it, char **route);

/**
 * Frees an iterator. NULL is a no-op.
 *
 * # Safety
 * `it` is NULL or an iterator from `ducq_new_client_it`, freed once.
 */
void ducq_client_it_free(struct ducq_client_it *it);

/**
 * Hands a connected client to the reactor, the original's way: the
 * reactor polls `fd` and runs the client's commands.
 *
 * A handle from `ducq_new_tcp_connection`, `ducq_new_ws_connection` or
 * `ducq_new_http_connection` (for this same `fd`) becomes an ordinary
 * connection of the reactor, served as if it had been accepted on one of
 * its listeners. Any other `ducq_i` — a protocol written in C, or a ducq
 * client handle — is driven through its table: when `fd` is readable the
 * reactor calls `recv` (one whole message, which it dispatches), replies
 * go out through `send`, and when the client leaves or `recv` fails
 * (answered with a NACK, as the original did) it calls `close` and `free`.
 *
 * On success the reactor owns the handle: it stays valid, is the `ducq_i`
 * lent to that client's commands and loop callbacks, and is freed by the
 * reactor (`ducq_free` on it is a no-op). On failure the caller keeps the
 * handle and `fd`. `DUCQ_EMAX` at the connection limit, `DUCQ_EMSGINV`
 * when `fd` is not the handle's descriptor (for the handles above),
 * `DUCQ_ECOMMLAYER` when `fd` cannot be polled, `DUCQ_ENULL` for NULL,
 * `DUCQ_ERROR` when the reactor cannot be reached. Works while the reactor
 * is idle and from its callbacks (an accept callback, typically).
 *
 * # Safety
 * `reactor` and `ducq` are NULL or live handles, `ducq` not used by
 * anything else during the call; a handle made elsewhere has valid table
 * functions that read and write `fd`.
 */
ducq_state ducq_reactor_add_client(struct ducq_reactor *reactor, int fd, ducq_i *ducq);

/**
 * Has the reactor poll the listening descriptor `fd` (the original's way
 * to serve a port): while it has a connection waiting, the reactor calls
 * `accept_f(reactor, fd, ctx)`, which accepts it, wraps it
 * (`ducq_new_tcp_connection`, `ducq_new_ws_connection`,
 * `ducq_new_http_connection`, or a protocol of its own) and hands it to
 * `ducq_reactor_add_client`. Any readable descriptor works (the callback
 * decides what readable means). `fd` stays the caller's: the reactor never
 * closes it, and stops polling it when freed.
 *
 * `DUCQ_ENULL` for NULL reactor or callback, `DUCQ_EMSGINV` for a negative
 * `fd`, `DUCQ_ECOMMLAYER` when it cannot be polled, `DUCQ_ERROR` when the
 * reactor is running or lent (add servers before `ducq_loop`).
 *
 * # Safety
 * `reactor` is NULL or a live handle; `accept_f` NULL or a valid function;
 * `ctx` is whatever `accept_f` expects, valid while the reactor lives.
 */
ducq_state ducq_reactor_add_server(struct ducq_reactor *reactor, int fd, ducq_accept_f accept_f, void *ctx);

/**
 * Registers a C command on the reactor (replacing a C command of the same
 * name); clients call it by name and `lscmd` lists it. The core protocol
 * (`pub`, `sub`, `PING`, `PONG`, `lscmd` and their aliases) cannot be
 * replaced: such a name gives `DUCQ_EMSGINV`.
 *
 * `cmd` and its strings are copied: they may be freed after the call; the
 * `exec` function must stay loaded while the reactor lives. Works while the
 * reactor is idle and from a running C command. `DUCQ_ENULL` for NULL
 * `reactor`, `cmd`, name or exec; `DUCQ_EMSGINV` for a name holding a space
 * or newline (or not UTF-8).
 *
 * # Safety
 * `reactor` is NULL or a live handle; `cmd` NULL or a valid `ducq_cmd_t`
 * whose non-null strings are NUL-terminated.
 */
ducq_state ducq_reactor_add_command(struct ducq_reactor *reactor, const struct ducq_cmd_t *cmd);

/**
 * Loads a folder of command plugins: every `*.so` file in `directory` that
 * exports a usable `struct ducq_cmd_t command` registers it (as
 * `ducq_reactor_add_command` would). Files that cannot be used (not a
 * shared object, no `command`, a `command` that is not such a struct, a
 * core command's name) are refused with a log line naming the file and the
 * reason; the number loaded is stored in `*count` when `count` is not
 * NULL. The original's call is `ducq_dispatcher_load_commands_path`.
 *
 * The objects call back into this API, so link the program with `-rdynamic`
 * (see docs/C-API.md). Loading runs the objects' initialisers: only load a
 * folder you trust. Objects stay loaded until the reactor is freed. Works
 * while the reactor is idle and from a C command. `DUCQ_ENULL` for NULL
 * reactor or directory, `DUCQ_EFILE` when the folder cannot be read.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `directory` NULL or NUL-terminated,
 * `count` NULL or writable.
 */
ducq_state ducq_reactor_load_commands(struct ducq_reactor *reactor, const char *directory, size_t *count);

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
 * the reactor runs or is lent to a callback (call it before `ducq_loop`,
 * on the reactor's thread).
 *
 * # Safety
 * `reactor` is NULL or a live handle; strings are NULL or NUL-terminated;
 * `port` is NULL or writable.
 */
ducq_state ducq_reactor_listen_tls(struct ducq_reactor *reactor, const char *addr, const char *cert, const char *key, const char *client_ca, uint16_t *port);

/**
 * Listens for HTTPS and secure WebSocket (WSS) clients on `addr`; the
 * rest as for `ducq_reactor_listen_tls`.
 *
 * # Safety
 * As for `ducq_reactor_listen_tls`.
 */
ducq_state ducq_reactor_listen_https(struct ducq_reactor *reactor, const char *addr, const char *cert, const char *key, const char *client_ca, uint16_t *port);

/**
 * Listens for MQTT 3.1.1 and 5 clients over TLS (`mqtts`, usually port
 * 8883) on `addr`; the rest as for `ducq_reactor_listen_tls`.
 *
 * # Safety
 * As for `ducq_reactor_listen_tls`.
 */
ducq_state ducq_reactor_listen_mqtts(struct ducq_reactor *reactor, const char *addr, const char *cert, const char *key, const char *client_ca, uint16_t *port);

/**
 * Listens for MQTT 3.1.1 and 5 clients on `addr` (docs/MQTT.md): their
 * PUBLISH and SUBSCRIBE reach the same routes as every other client. A
 * CONNECT's user name and password authenticate it as a ducq user. Each
 * call is a listener of its own (MQTT sessions are kept per listener).
 * The bound port goes to `*port` when `port` is not NULL.
 *
 * `DUCQ_EMSGINV` for a malformed address or non-UTF-8, `DUCQ_ECOMMLAYER`
 * when binding fails, `DUCQ_ENULL` for a NULL reactor or addr,
 * `DUCQ_ERROR` while the reactor runs or is lent to a callback.
 *
 * # Safety
 * `reactor` is NULL or a live handle; `addr` is NULL or NUL-terminated;
 * `port` is NULL or writable.
 */
ducq_state ducq_reactor_listen_mqtt(struct ducq_reactor *reactor, const char *addr, uint16_t *port);

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
ducq_state ducq_reactor_listen_unix(struct ducq_reactor *reactor, const char *path, int mode);

/**
 * Adds (or replaces) user `name` (until a configuration file is loaded
 * or reloaded: its users then replace these): `password_phc` is an
 * argon2id PHC string (`ducq_hash_password`, `ducq-server
 * hash-password`) or NULL for a user that authenticates only with a
 * client certificate; `publish` and `subscribe` hold route patterns, one
 * per line (`""` for none); `admin` non-zero allows the admin commands
 * (`reload`, `unsub` of another connection). Once any user exists,
 * anonymous clients keep what the anonymous list allows (everything,
 * unless `ducq_reactor_set_anonymous` or a configuration file says
 * otherwise).
 *
 * `DUCQ_EMSGINV` for a malformed hash or name, `DUCQ_ENULL` for a NULL
 * reactor, name, publish or subscribe, `DUCQ_ERROR` while the reactor
 * runs. Strings are read during the call only.
 *
 * # Safety
 * `reactor` is NULL or a live handle; strings are NULL or NUL-terminated.
 */
ducq_state ducq_reactor_add_user(struct ducq_reactor *reactor, const char *name, const char *password_phc, const char *publish, const char *subscribe, int admin);

/**
 * Sets what clients that have not authenticated may do: `publish` and
 * `subscribe` hold route patterns, one per line (`""` for nothing; the
 * default is everything, `"*"`). Applies to every listener that admits
 * anonymous clients, from each client's next command on.
 *
 * `DUCQ_ENULL` for NULL, `DUCQ_EMSGINV` for non-UTF-8, `DUCQ_ERROR` while
 * the reactor runs. Strings are read during the call only.
 *
 * # Safety
 * `reactor` is NULL or a live handle; strings are NULL or NUL-terminated.
 */
ducq_state ducq_reactor_set_anonymous(struct ducq_reactor *reactor, const char *publish, const char *subscribe);

/**
 * Applies the configuration file at `path` (listeners, limits, users and
 * access lists, origin rules, Lua folders; see docs/CONFIG.md) to a
 * reactor that has not run yet, and makes `ducq_reactor_reload` (and the
 * `reload` command of an admin user) re-read it. Its `[queues] data_dir`
 * is not used here: the reactor keeps the queue store it was made with
 * (in memory for `ducq_reactor_new`).
 *
 * `DUCQ_EFILE` when the file cannot be read or fails its check (each
 * error is logged with its line; nothing is applied), `DUCQ_ECOMMLAYER`
 * when a listener cannot be opened, `DUCQ_ENULL` for NULL arguments,
 * `DUCQ_ERROR` while the reactor runs. `path` is copied.
 *
 * # Safety
 * `reactor` is NULL or a live handle; `path` is NULL or NUL-terminated.
 */
ducq_state ducq_reactor_load_config(struct ducq_reactor *reactor, const char *path);

/**
 * Re-reads the configuration file given to `ducq_reactor_load_config`
 * and applies users, access lists, limits, origin rules, Lua folders and
 * certificates without dropping a connection. A file that fails its check
 * is refused whole (errors logged) and the running configuration stays:
 * `DUCQ_ERROR`. `DUCQ_ENOIMPL` without a loaded file, `DUCQ_ENULL` for
 * NULL. Call it between `ducq_loop_once` turns; while the reactor runs
 * or from its own callbacks it is refused (`DUCQ_ERROR`; a client's
 * `reload` command or SIGHUP in `ducq-server` reloads a running one).
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
ducq_state ducq_reactor_reload(struct ducq_reactor *reactor);

/**
 * The dispatcher of `reactor`: not a new object, valid exactly as long as
 * `reactor`, never to be freed. NULL for NULL. Safe from callbacks.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
struct ducq_dispatcher *ducq_reactor_get_dispatcher(struct ducq_reactor *reactor);

/**
 * The original made a dispatcher per reactor here; ducq's reactor has its
 * own from the start, so this returns it (as
 * `ducq_reactor_get_dispatcher`). NULL for NULL.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
struct ducq_dispatcher *ducq_dispatcher_new(struct ducq_reactor *reactor);

/**
 * A no-op: the dispatcher is freed with its reactor (`ducq_reactor_free`).
 */
void ducq_dispatcher_free(struct ducq_dispatcher *_dispatcher);

/**
 * Loads the command plugins of the folder `path` (NULL:
 * `/usr/local/lib/ducq_commands`, as the original): see
 * `ducq_reactor_load_commands`. `DUCQ_OK` when the folder was read (files
 * that could not be used are refused with a log line each), `DUCQ_EFILE`
 * when it cannot be read, `DUCQ_ENULL` for a NULL dispatcher.
 *
 * # Safety
 * `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
 * reactor; `path` is NULL or NUL-terminated.
 */
ducq_state ducq_dispatcher_load_commands_path(struct ducq_dispatcher *dispatcher, const char *path);

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
 * and a C command of the same name wins.
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
 * program lent to a callback), and from a log callback. `path` is only
 * read during the call.
 *
 * # Safety
 * `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
 * reactor; `path` is NULL or NUL-terminated.
 */
ducq_state ducq_dispatcher_add(struct ducq_dispatcher *dispatcher, const char *path);

/**
 * Reloads the Lua scripts whose files changed, as the reactor does by
 * itself when its file watcher is readable (the original registered this
 * as the watcher's accept callback). `fd` and `ctx` are not used. A no-op
 * for NULL, before any `ducq_dispatcher_add`, or when the reactor cannot
 * be reached.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
void ducq_dispatcher_accept_notify(struct ducq_reactor *reactor, int _fd, void *_ctx);

/**
 * Runs the message `msg` (`size` bytes) as if the client `ducq` (a handle
 * the reactor lent, or a copy of one) had sent it: the command it names
 * answers that client. Returns `DUCQ_OK`, or the state the client was
 * answered a NACK with.
 *
 * Works while the reactor is idle: `DUCQ_ERROR` while it runs (from a
 * callback). `DUCQ_ENOTFOUND` when `ducq` is not an open client of this
 * reactor, `DUCQ_ENULL` for NULL arguments.
 *
 * # Safety
 * `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
 * reactor; `ducq` NULL or a live handle; `msg` readable for `size` bytes.
 */
ducq_state ducq_dispatch(struct ducq_dispatcher *dispatcher, ducq_i *ducq, char *msg, size_t size);

/**
 * The number of C commands the reactor holds (registered, or loaded from
 * plugins); -1 for NULL.
 *
 * # Safety
 * `dispatcher` is NULL or from `ducq_reactor_get_dispatcher` on a live
 * reactor.
 */
int ducq_dispatcher_count_cmds(struct ducq_dispatcher *dispatcher);

/**
 * Wraps a connected TCP descriptor (from `accept`) speaking ducq's
 * length-framed protocol: give it to `ducq_reactor_add_client`, or use it
 * as a blocking server-side connection (`ducq_recv`, `ducq_send`, …).
 *
 * The handle does not own `fd` until added to a reactor: `ducq_close`
 * closes it, `ducq_free` does not (as in the original). NULL for a
 * negative `fd`. The caller owns the handle (`ducq_free`) until
 * `ducq_reactor_add_client` takes it.
 */
ducq_i *ducq_new_tcp_connection(int fd);

/**
 * Wraps a connected descriptor speaking WebSocket. The opening handshake
 * is answered when the peer starts with one (the original expected it
 * done already, which also works: frames are then read at once). One
 * WebSocket message is one ducq message. Otherwise as
 * `ducq_new_tcp_connection`.
 */
ducq_i *ducq_new_ws_connection(int fd);

/**
 * Wraps a connected descriptor speaking HTTP/1.1 on ducq's HTTP port:
 * requests (`POST /pub/<route>`, `GET /lscmd`, …) and the WebSocket
 * upgrade, as `ducq_reactor_listen_http` serves them. Reads wait at most
 * 5 s by default, as in the original. Otherwise as
 * `ducq_new_tcp_connection`.
 */
ducq_i *ducq_new_http_connection(int fd);

/**
 * Completes a WebSocket opening handshake on `fd`, whose HTTP request
 * head (`GET / HTTP/1.1` … up to the blank line, which may be left out)
 * the caller already read into `http_header`: writes the
 * `101 Switching Protocols` answer and stores a WebSocket connection
 * handle (as `ducq_new_ws_connection`, handshake done) in `*ws`.
 *
 * Returns `DUCQ_PROTOCOL` on success, as the original. A request that is
 * not a valid upgrade (no `Sec-WebSocket-Key`, …) is answered
 * `400 Bad Request` on `fd` and gives `DUCQ_EMSGINV`; `DUCQ_EWRITE` when
 * the answer cannot be written; `DUCQ_ENULL` for NULL pointers. `*ws` is
 * written on success only; the caller owns the new handle.
 *
 * # Safety
 * `ws` is NULL or writable; `http_header` is NULL or NUL-terminated.
 */
ducq_state ducq_new_ws_upgrade_from_http(ducq_i **ws, int fd, char *http_header);

/**
 * The original's WebSocket scratch buffer: for a WebSocket handle, a
 * buffer of `14 + DUCQ_MSGSZ` bytes that lives as long as the handle
 * (ducq never reads it); NULL for any other handle and for NULL.
 *
 * # Safety
 * `ducq` is NULL or a live handle.
 */
char *ducq_buffer(ducq_i *ducq);

/**
 * Wraps the connected TCP descriptor `cfd` in a connection handle (as
 * `ducq_new_tcp_connection`), calls `apply(ctx, handle)`, frees the handle
 * (the descriptor stays open unless `apply` closed the handle) and
 * returns what `apply` returned. The handle is lent for the call.
 * `DUCQ_ENULL` for a NULL `apply`, `DUCQ_EMSGINV` for a negative `cfd`.
 *
 * # Safety
 * `apply` is a valid function.
 */
ducq_state ducq_tcp_apply(int cfd, ducq_apply_f apply, void *ctx);

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
 * Replaces the reactor's log function with `logfunc(logger, …)` (NULL:
 * lines go to the `LOG` route only). The original's call; as for
 * `ducq_reactor_new_with_log`. Ignored for NULL or when the reactor cannot
 * be reached (from a log callback).
 *
 * # Safety
 * `reactor` is NULL or a live handle; `logfunc` NULL or a valid function.
 */
void ducq_reactor_set_log(struct ducq_reactor *reactor, void *logger, ducq_log_f logfunc);

/**
 * Sends the reactor's log lines, formatted, to `log(logger, …)` (NULL:
 * lines go to the `LOG` route only): `ducq_reactor_set_log` for a host
 * that cannot take a `va_list`. `DUCQ_ENULL` for a NULL reactor,
 * `DUCQ_ERROR` when it cannot be reached (from a log callback).
 *
 * # Safety
 * `reactor` is NULL or a live handle; `log` NULL or a valid function.
 */
ducq_state ducq_reactor_set_log_text(struct ducq_reactor *reactor, void *logger, ducq_log_text_f log);

/**
 * Whether log lines also go to the subscribers of the `LOG` route (and
 * `__MONITOR__`), as they do by default; returns the previous setting
 * (false for NULL or when the reactor cannot be reached).
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
bool ducq_reactor_allow_log_route(struct ducq_reactor *reactor, bool is_allowed);

/**
 * Sets the lowest level that is logged (default `DUCQ_LOG_INFO`;
 * `DUCQ_LOG_OFF` silences the log). `DUCQ_ENULL` for a NULL reactor,
 * `DUCQ_ERROR` when it cannot be reached.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
ducq_state ducq_reactor_set_log_level(struct ducq_reactor *reactor, ducq_log_level level);

/**
 * Logs a line through the reactor: to its log function and to the
 * subscribers of `LOG` (`level,function,sender,text`, level in lower case)
 * and `__MONITOR__` (the older `LEVEL,…` form). `ducq_reactor_log` without
 * the format: `text` is the whole line.
 *
 * `sender` may be NULL (`server`). The strings are copied; NUL-terminated
 * strings that are not UTF-8 give `DUCQ_EMSGINV`. `DUCQ_ENULL` for a NULL
 * reactor, function or text; `DUCQ_ERROR` when the reactor cannot be
 * reached (from a log callback, or a signal handler while it runs).
 *
 * # Safety
 * `reactor` is NULL or a live handle; the strings are NULL or
 * NUL-terminated.
 */
ducq_state ducq_reactor_log_text(struct ducq_reactor *reactor, ducq_log_level level, const char *function, const char *sender, const char *text);

/**
 * The original's name of a level: `"debug"`, `"info"`, `"warning"`,
 * `"error"` (`"off"` for `DUCQ_LOG_OFF`), `"unknown"` for any other value.
 * Static; safe from any thread.
 */
const char *ducq_level_tostr(ducq_log_level level);

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
ducq_state ducq_reactor_listen_proto(struct ducq_reactor *reactor, const char *address, const struct ducq_proto_vtbl *vtbl, void *ctx, uint16_t *out_port);

/**
 * Appends `len` bytes of `data` to a buffer ducq lent to a protocol
 * function (`message` or `out`).
 *
 * `data` is copied; it may be NULL when `len` is 0. `DUCQ_EMSGSIZE` when a
 * message would pass the server's largest message (the buffer is left as
 * it was), `DUCQ_ENULL` for a NULL buffer.
 *
 * # Safety
 * `buf` is NULL or a buffer lent to the running protocol function; `data`
 * is readable for `len` bytes.
 */
ducq_state ducq_buf_append(struct ducq_buf *buf, const void *data, size_t len);

/**
 * Enqueues `size` bytes of `payload` in `queue` (created with defaults
 * when missing) and waits until the server has made the message durable;
 * its id is then stored in `*id`. A NACK's state is returned as it is
 * (`DUCQ_EMSGINV` bad name, `DUCQ_EMAX` queue limits, `DUCQ_EFILE` the
 * server's disk failed); `*id` is written only on `DUCQ_OK`.
 *
 * Thread rules of every `ducq_i` call: one thread at a time.
 *
 * # Safety
 * `ducq` is a live handle, `queue` NUL-terminated, `payload` readable for
 * `size` bytes, `id` writable. All are only used during the call.
 */
ducq_state ducq_enqueue(ducq_i *ducq, const char *queue, const char *payload, size_t size, uint64_t *id);

/**
 * Becomes a consumer of `queue`, holding at most `prefetch` (1–10000)
 * unacknowledged messages; they arrive through `ducq_next_delivery`.
 *
 * Thread rules of every `ducq_i` call: one thread at a time.
 *
 * # Safety
 * `ducq` is a live handle and `queue` NUL-terminated.
 */
ducq_state ducq_consume(ducq_i *ducq, const char *queue, uint32_t prefetch);

/**
 * Waits for the next message handed to this consumer (at most the
 * handle's timeout) and copies its payload into `buf` (`*size` bytes),
 * NUL-terminated; stores its length in `*size`, its id in `*id` and how
 * often it has been delivered in `*deliveries`. When `buf` is too small:
 * `DUCQ_EMSGSIZE`, `*size` set to the size needed, and the message stays
 * for the next call. Other messages that arrive meanwhile stay for
 * `ducq_receive`.
 *
 * Thread rules of every `ducq_i` call: one thread at a time.
 *
 * # Safety
 * `ducq` is a live handle; `id`, `deliveries` and `size` writable; `buf`
 * writable for `*size` bytes. Only used during the call.
 */
ducq_state ducq_next_delivery(ducq_i *ducq, uint64_t *id, uint32_t *deliveries, char *buf, size_t *size);

/**
 * Acknowledges message `id` of `queue` and waits until the server has
 * made the removal durable. `DUCQ_ENOTFOUND`: the message is not in
 * flight for this consumer (acknowledged, redelivered, unknown).
 *
 * Thread rules of every `ducq_i` call: one thread at a time.
 *
 * # Safety
 * `ducq` is a live handle and `queue` NUL-terminated.
 */
ducq_state ducq_queue_ack(ducq_i *ducq, const char *queue, uint64_t id);

/**
 * Sends `payload_size` bytes of `payload` as a request to `route` and waits at
 * most `timeout_ms` for the reply, copied into `buf` (`*size` bytes) as
 * `ducq_next_delivery` does. `DUCQ_ENOTFOUND`: nobody serves `route`;
 * `DUCQ_ECONNCLOSED`: the member left before replying; `DUCQ_ERROR`: the
 * member's error reply;
 * `DUCQ_ETIMEOUT`: no reply in time; `DUCQ_EMSGSIZE`: `buf` too small
 * (`*size` set to the size needed; that reply is lost).
 *
 * Thread rules of every `ducq_i` call: one thread at a time.
 *
 * # Safety
 * `ducq` is a live handle, `route` NUL-terminated, `payload` readable for
 * `payload_size` bytes, `size` writable and `buf` writable for `*size`
 * bytes. All are only used during the call.
 */
ducq_state ducq_request(ducq_i *ducq, const char *route, const char *payload, size_t payload_size, uint32_t timeout_ms, char *buf, size_t *size);

/**
 * Creates a broker whose log lines go to `logfunc(logger, …)` (the
 * original's `ducq_log_f`, printf-style; `ducq_log_tofile` prints to a
 * file) and to the subscribers of the `LOG` route. With a NULL `logfunc`
 * lines only go to `LOG` subscribers (the `ducq_reactor_new()` macro).
 * Logs from the INFO level (`ducq_reactor_set_log_level`). It has no
 * listener yet. Like the original it sets `SIGPIPE` to be ignored.
 *
 * `logger` is passed back untouched and must outlive the reactor. The log
 * function runs on the reactor's thread, in the middle of reactor work:
 * calls on this reactor (or handles it lent) from it are refused with
 * `DUCQ_ERROR`. Returns NULL when the operating system refuses (out of
 * descriptors). The caller owns the result and frees it with
 * `ducq_reactor_free`. The reactor and everything it lends belong to the
 * thread that runs it.
 */
struct ducq_reactor *ducq_reactor_new_with_log(void *logger, ducq_log_f logfunc);

/**
 * `ducq_reactor_new_with_log(NULL, NULL)`, for callers that cannot use the
 * `ducq_reactor_new()` macro of `ducq_reactor.h` (which it shadows).
 */
struct ducq_reactor *ducq_reactor_new(void);

/**
 * Frees a reactor: closes its listeners and connections (freeing the
 * handles it took over), releases its C commands (and the shared objects
 * they came from), its Lua commands and protocols.
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
 * Runs the reactor: accepts clients (on its listeners and the descriptors
 * given to `ducq_reactor_add_server`), runs their commands (C commands run
 * on this thread), writes replies, until `ducq_reactor_stop` is called
 * (the original's never returned). A polling failure is logged.
 *
 * Does nothing for NULL, on a view, or from a callback of this reactor
 * (it is already running); `ducq_reactor_run` says which.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
void ducq_loop(struct ducq_reactor *reactor);

/**
 * `ducq_loop` with a result: `DUCQ_OK` once stopped, `DUCQ_ECOMMLAYER`
 * when polling failed, `DUCQ_ENULL` for NULL, `DUCQ_ERROR` on a view or
 * from a callback of this reactor.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
ducq_state ducq_reactor_run(struct ducq_reactor *reactor);

/**
 * Runs one turn of the reactor: waits at most `timeout_ms` milliseconds for
 * activity (0 does not wait; a negative value waits until the reactor's
 * next timer), handles it, writes the replies, and returns.
 *
 * For a host with its own event loop: wait until `ducq_reactor_fd` is
 * readable or `ducq_reactor_timeout_ms` elapsed, then call
 * `ducq_loop_once(reactor, 0)`. Errors as for `ducq_reactor_run`. A
 * stopped reactor still runs turns: the host decides when to stop calling.
 *
 * # Safety
 * `reactor` is NULL or a live handle.
 */
ducq_state ducq_loop_once(struct ducq_reactor *reactor, int timeout_ms);

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
 * Listens for length-framed TCP clients on `address` (`"0.0.0.0:59090"`,
 * `"127.0.0.1:0"` for any free port, `"[::1]:59090"`): ducq's way, beside
 * the original's `ducq_reactor_add_server`.
 *
 * On success the bound port is stored in `*out_port` when `out_port` is not
 * NULL. `DUCQ_ENULL` for a NULL reactor or address, `DUCQ_EMSGINV` for an
 * address that does not parse, `DUCQ_ECOMMLAYER` when binding fails,
 * `DUCQ_ERROR` while the reactor is running or lent to a callback. The
 * address is only read during the call.
 *
 * # Safety
 * `reactor` is NULL or a live handle, `address` NULL or a NUL-terminated
 * string, `out_port` NULL or writable.
 */
ducq_state ducq_reactor_listen_tcp(struct ducq_reactor *reactor, const char *address, uint16_t *out_port);

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
ducq_state ducq_reactor_listen_http(struct ducq_reactor *reactor, const char *address, uint16_t *out_port);

/**
 * Makes client handle `ducq` reconnect by `*policy` when a receive finds
 * its connection lost (the server restarted, the network broke): it waits
 * out an exponential back-off with jitter, connects again, subscribes
 * again to every route it subscribed to (through `ducq_sub`, or a `sub`
 * message sent with `ducq_emit`/`ducq_send`), and the receive goes on;
 * `ducq_listen` and `ducq_listen_ex` keep listening across the break.
 * No live message is delivered twice; what was published while the
 * handle was away is not delivered, except what a subscription with
 * `last` brings: its stored messages, less those the handle already
 * handed out (as the Rust client de-duplicates them). Sends while the
 * connection is lost fail at once, except publications (`ducq_pub`,
 * `ducq_publish`) when the policy has a buffer (`buffer_messages`): those
 * are kept (`DUCQ_OK`, and `DUCQ_RECONNECT_KEPT` told) up to its bounds
 * (then `DUCQ_EMAX`), and the next connection sends them, in order,
 * after its subscriptions (`DUCQ_RECONNECT_FLUSHED`). `ducq_publish`,
 * which connects again by itself, and `ducq_conn` on a lost connection
 * subscribe again (and send what was kept) too. A connection closed with
 * `ducq_close` is not made again, and what was kept is dropped.
 *
 * A NULL `policy` turns reconnection off. `*policy` is copied; its `ctx`
 * is passed to `on_event` for as long as the handle lives (the caller
 * keeps it valid). Returns `DUCQ_OK`, `DUCQ_ENULL` for a NULL handle, or
 * `DUCQ_ENOIMPL` for a handle that is not a client made by
 * `ducq_new_tcp`, `ducq_new_ws_client` or `ducq_new_socket`.
 *
 * # Safety
 * `ducq` is NULL or a live handle; a non-null `policy` points to a valid
 * `ducq_reconnect_policy` whose `on_event` is NULL or a valid function.
 */
ducq_state ducq_set_reconnect(ducq_i *ducq, const struct ducq_reconnect_policy *policy);

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
 * owns the handle and frees it with `ducq_free`; it may move between
 * threads but is used by one thread at a time.
 *
 * # Safety
 * Non-null arguments are NUL-terminated strings.
 */
ducq_i *ducq_new_tls(const char *host, const char *port, const char *ca_file);

/**
 * Creates an unconnected client handle for the Unix domain socket at
 * `path` (`ducq-server --unix PATH`, length-framed ducq). `ducq_conn`
 * connects it; every client function then works on it. `ducq_id` gives
 * `UNIX:<path>`. `path` is copied; NULL or non-UTF-8 gives NULL. The
 * caller owns the handle and frees it with `ducq_free`; threads as for
 * `ducq_new_tls`.
 *
 * # Safety
 * `path` is NULL or a NUL-terminated string.
 */
ducq_i *ducq_new_unix(const char *path);

/**
 * Authenticates a connected client handle as `user` with `password`
 * (`auth <user>\n<password>`, PROTOCOL.md §1.2) and waits for the
 * answer: `DUCQ_OK` once the server accepted it; `DUCQ_EACCESS` for a
 * wrong user or password (answered after the server's failure delay, so
 * this call takes at least that long); `DUCQ_EMSGINV` for an empty user
 * or one with a line break; `DUCQ_ETIMEOUT` when no answer came within
 * the handle's timeout; `DUCQ_ENOIMPL` on a handle written in C or lent
 * by a reactor; `DUCQ_ENULL` for NULL. The detail is in
 * `ducq_last_error`. Accepted credentials are kept by a handle's
 * reconnect policy (`ducq_set_reconnect`), which authenticates again with
 * them on every new connection.
 *
 * Strings are read during the call only. One thread at a time per
 * handle.
 *
 * # Safety
 * `ducq` is NULL or a live handle; `user` and `password` are NULL or
 * NUL-terminated.
 */
ducq_state ducq_authenticate(ducq_i *ducq, const char *user, const char *password);

/**
 * Hashes `password` (NUL-terminated) into an argon2id PHC string written
 * to `out` (NUL-terminated) when it fits in `out_len` bytes (100 is
 * enough): what a `[[user]]` of the configuration file and
 * `ducq_reactor_add_user` take. `DUCQ_EMAX` when it does not fit (nothing
 * written), `DUCQ_ENULL` for NULL, `DUCQ_ERROR` when no random salt could
 * be had. Takes tens of milliseconds on purpose; any thread.
 *
 * # Safety
 * `password` is NULL or NUL-terminated; `out` is NULL or writable for
 * `out_len` bytes.
 */
ducq_state ducq_hash_password(const char *password, char *out, size_t out_len);

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

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

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
