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
