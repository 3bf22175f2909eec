/*
 * A "device" that brings its own socket layer: plain POSIX sockets stand in
 * for a network stack such as lwIP. ducq runs its framing and protocol over
 * the five functions of a ducq_socket_vtbl. Publishes COUNT readings with
 * the device call ducq_publish, then subscribes to its own route and reads
 * one message back through the same layer.
 *
 * usage: vtbl_pub HOST PORT ROUTE COUNT
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ducq.h"

struct sock {
    const char *host, *port;
    int fd;
    char name[64];
};

static ducq_state sock_conn(void *ctx, int timeout_ms) {
    struct sock *s = ctx;
    struct addrinfo hints, *res = NULL;
    (void)timeout_ms;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(s->host, s->port, &hints, &res) != 0)
        return DUCQ_ECONNECT;
    s->fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (s->fd < 0 || connect(s->fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (s->fd >= 0)
            close(s->fd);
        s->fd = -1;
        freeaddrinfo(res);
        return DUCQ_ECONNECT;
    }
    freeaddrinfo(res);
    return DUCQ_OK;
}

static ducq_state sock_send(void *ctx, const void *buf, size_t len, size_t *sent) {
    struct sock *s = ctx;
    ssize_t n = send(s->fd, buf, len, 0);
    if (n <= 0)
        return DUCQ_EWRITE;
    *sent = (size_t)n;
    return DUCQ_OK;
}

static ducq_state sock_recv(void *ctx, void *buf, size_t len, size_t *received, int timeout_ms) {
    struct sock *s = ctx;
    struct pollfd p;
    ssize_t n;
    p.fd = s->fd;
    p.events = POLLIN;
    if (poll(&p, 1, timeout_ms) == 0)
        return DUCQ_ETIMEOUT;
    n = recv(s->fd, buf, len, 0);
    if (n < 0)
        return DUCQ_EREAD;
    *received = (size_t)n; /* 0: the server closed */
    return DUCQ_OK;
}

static ducq_state sock_close(void *ctx) {
    struct sock *s = ctx;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    return DUCQ_OK;
}

static const char *sock_id(void *ctx) {
    struct sock *s = ctx;
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    char ip[INET_ADDRSTRLEN] = "?";
    if (getsockname(s->fd, (struct sockaddr *)&a, &len) == 0 && a.sin_family == AF_INET)
        inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
    snprintf(s->name, sizeof s->name, "%s:%u", ip, (unsigned)ntohs(a.sin_port));
    return s->name;
}

static const ducq_socket_vtbl posix_sockets = {sock_conn, sock_send, sock_recv, sock_close,
                                                sock_id};

int main(int argc, char **argv) {
    struct sock s;
    char reading[64], buf[256];
    size_t size = sizeof buf;
    ducq_i *ducq;
    ducq_state state;
    int i, count;

    if (argc < 5) {
        fprintf(stderr, "usage: vtbl_pub HOST PORT ROUTE COUNT\n");
        return 2;
    }
    s.host = argv[1];
    s.port = argv[2];
    s.fd = -1;
    count = atoi(argv[4]);
    ducq = ducq_new_socket(&posix_sockets, &s);
    if (!ducq)
        return 1;
    ducq_timeout(ducq, 5);
    state = ducq_conn(ducq);
    for (i = 0; state == DUCQ_OK && i < count; i++) {
        snprintf(reading, sizeof reading, "{\"n\":%d}", i);
        state = ducq_publish(ducq, argv[3], reading, strlen(reading));
    }
    if (state == DUCQ_OK)
        state = ducq_sub(ducq, argv[3], NULL);
    if (state == DUCQ_OK)
        state = ducq_publish(ducq, argv[3], "echo", 4);
    if (state == DUCQ_OK)
        state = ducq_receive(ducq, buf, &size);
    if (state != DUCQ_OK) {
        fprintf(stderr, "vtbl_pub: %s (%s)\n", ducq_state_tostr(state), ducq_last_error(ducq));
        ducq_free(ducq);
        return 1;
    }
    printf("id %s\npublished %d\nreceived %s\n", ducq_id(ducq), count, buf);
    ducq_free(ducq);
    return s.fd == -1 ? 0 : 1; /* ducq_free closed the socket */
}
