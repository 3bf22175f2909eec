/*
 * A ducq protocol written in C against the original interface: a struct
 * whose first member is a ducq_vtbl pointer, cast to ducq_i. Messages
 * travel as netstrings ("5:hello,"). The same object serves a client
 * (netstring_new_client + ducq_conn) and a server-side connection
 * (netstring_new_connection on an accepted descriptor, handed to
 * ducq_reactor_add_client).
 */
#ifndef NETSTRING_H
#define NETSTRING_H

#include "ducq_vtbl.h"

/* An unconnected client for host:port (both copied). */
ducq_i *netstring_new_client(const char *host, const char *port);

/* A connection on an accepted descriptor. */
ducq_i *netstring_new_connection(int fd);

/* How many netstring objects were freed so far (through their table). */
int netstring_freed(void);

#endif
