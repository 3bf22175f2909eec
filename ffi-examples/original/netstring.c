/*
 * The netstring protocol object (see netstring.h): every entry of the
 * original's ducq_vtbl, over a blocking socket.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "netstring.h"

typedef struct netstring {
    ducq_vtbl *tbl; /* first, as every ducq_i */
    int fd;
    char host[64];
    char port[16];
    char id[96];
    int client; /* a client names itself by its own address, as the server does */
} netstring;

static int freed;

int netstring_freed(void) {
    return freed;
}

static netstring *self(ducq_i *ducq) {
    return (netstring *)ducq;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 1 read, 0 peer closed, -1 error, -2 timeout. */
static int read_byte(int fd, char *c) {
    ssize_t n = recv(fd, c, 1, 0);
    if (n == 1)
        return 1;
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK ? -2 : -1;
}

static ducq_state ns_conn(ducq_i *ducq) {
    netstring *ns = self(ducq);
    struct addrinfo hints, *res = NULL;
    if (ns->fd >= 0)
        close(ns->fd);
    ns->fd = -1;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(ns->host, ns->port, &hints, &res) != 0)
        return DUCQ_ECONNECT;
    ns->fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (ns->fd < 0 || connect(ns->fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (ns->fd >= 0)
            close(ns->fd);
        ns->fd = -1;
        freeaddrinfo(res);
        return DUCQ_ECONNECT;
    }
    freeaddrinfo(res);
    ns->id[0] = '\0';
    return DUCQ_OK;
}

static ducq_state ns_send(ducq_i *ducq, const void *ptr, size_t *size) {
    netstring *ns = self(ducq);
    char head[32];
    int n = snprintf(head, sizeof head, "%lu:", (unsigned long)*size);
    if (ns->fd < 0)
        return DUCQ_ECONNCLOSED;
    if (write_all(ns->fd, head, (size_t)n) || write_all(ns->fd, (const char *)ptr, *size) ||
        write_all(ns->fd, ",", 1))
        return DUCQ_EWRITE;
    return DUCQ_OK;
}

static ducq_state ns_parts(ducq_i *ducq) {
    size_t n = 5;
    return ns_send(ducq, "PARTS", &n);
}

static ducq_state ns_end(ducq_i *ducq) {
    size_t n = 3;
    return ns_send(ducq, "END", &n);
}

static ducq_state ns_recv(ducq_i *ducq, char *ptr, size_t *size) {
    netstring *ns = self(ducq);
    size_t len = 0, i;
    char c = 0;
    int rc;
    if (ns->fd < 0)
        return DUCQ_ECONNCLOSED;
    for (;;) {
        rc = read_byte(ns->fd, &c);
        if (rc == -2)
            return DUCQ_ETIMEOUT;
        if (rc <= 0)
            return rc == 0 ? DUCQ_ECONNCLOSED : DUCQ_EREAD;
        if (c == ':')
            break;
        if (c < '0' || c > '9' || len > 100000000)
            return DUCQ_EMSGINV;
        len = len * 10 + (size_t)(c - '0');
    }
    if (len + 1 > *size)
        return DUCQ_EMSGSIZE;
    for (i = 0; i < len; i++) {
        rc = read_byte(ns->fd, ptr + i);
        if (rc <= 0)
            return rc == 0 ? DUCQ_ECONNCLOSED : DUCQ_EREAD;
    }
    rc = read_byte(ns->fd, &c);
    if (rc <= 0 || c != ',')
        return DUCQ_EMSGINV;
    ptr[len] = '\0';
    *size = len;
    return DUCQ_OK;
}

static const char *ns_id(ducq_i *ducq) {
    netstring *ns = self(ducq);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    char ip[64] = "?";
    if (ns->id[0])
        return ns->id;
    if (ns->fd >= 0 &&
        (ns->client ? getsockname(ns->fd, (struct sockaddr *)&a, &alen)
                    : getpeername(ns->fd, (struct sockaddr *)&a, &alen)) == 0 &&
        a.sin_family == AF_INET && getnameinfo((struct sockaddr *)&a, alen, ip, sizeof ip, NULL, 0,
                                              NI_NUMERICHOST) == 0)
        snprintf(ns->id, sizeof ns->id, "NETSTRING:%s:%u", ip, (unsigned)ntohs(a.sin_port));
    else
        snprintf(ns->id, sizeof ns->id, "NETSTRING:%s:%s", ns->host, ns->port);
    return ns->id;
}

static ducq_i *ns_copy(ducq_i *ducq) {
    netstring *ns = self(ducq);
    return netstring_new_client(ns->host, ns->port);
}

static bool ns_eq(ducq_i *a, ducq_i *b) {
    return b && self(a)->tbl == self(b)->tbl && self(a)->fd == self(b)->fd && self(a)->fd >= 0;
}

static ducq_state ns_timeout(ducq_i *ducq, int timeout) {
    struct timeval tv;
    tv.tv_sec = timeout > 0 ? timeout : 0;
    tv.tv_usec = 0;
    if (self(ducq)->fd < 0)
        return DUCQ_OK;
    return setsockopt(self(ducq)->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ? DUCQ_ECOMMLAYER
                                                                              : DUCQ_OK;
}

static ducq_state ns_reuseaddr(ducq_i *ducq) {
    (void)ducq;
    return DUCQ_OK;
}

static ducq_state ns_close(ducq_i *ducq) {
    netstring *ns = self(ducq);
    if (ns->fd < 0)
        return DUCQ_ECLOSE;
    close(ns->fd);
    ns->fd = -1;
    return DUCQ_OK;
}

static void ns_free(ducq_i *ducq) {
    freed++;
    free(ducq);
}

static void ns_dtor(ducq_i *ducq) {
    (void)ducq;
}

static ducq_vtbl table = {ns_conn, ns_send,    ns_parts,     ns_end,   ns_recv,
                          ns_id,   ns_copy,    ns_eq,        ns_timeout, ns_reuseaddr,
                          ns_close, ns_free,   ns_dtor};

static netstring *make(void) {
    netstring *ns = (netstring *)calloc(1, sizeof *ns);
    if (ns) {
        ns->tbl = &table;
        ns->fd = -1;
    }
    return ns;
}

ducq_i *netstring_new_client(const char *host, const char *port) {
    netstring *ns = make();
    if (!ns)
        return NULL;
    ns->client = 1;
    snprintf(ns->host, sizeof ns->host, "%s", host);
    snprintf(ns->port, sizeof ns->port, "%s", port);
    return (ducq_i *)ns;
}

ducq_i *netstring_new_connection(int fd) {
    netstring *ns = make();
    if (!ns)
        return NULL;
    ns->fd = fd;
    return (ducq_i *)ns;
}
