/*
 * ducq-floor: the least a broker can do for S4 of ducq-bench, one
 * publication to N idle subscribers on loopback. It speaks just enough of
 * ducq's length-framed TCP protocol for the bench client (`<len>\n<body>`;
 * `sub <route>\n` and `pub <route>\n<payload>` answered `ACK`) and, for a
 * publication, writes the frame it received to every subscriber with one
 * send(2) each, in the order they subscribed: the system calls ducq cannot
 * avoid, and nothing else (one route, no matching, no queue, no copy).
 * Run by scripts/bench.sh beside the brokers; the bench reads it with the
 * same client and reports it as the "floor" column of S4.
 *
 * Not a broker: a subscriber whose socket is full loses the message (never
 * the case for one 100-byte message to an idle socket; counted and printed
 * on exit), routes are ignored, any other command is answered NACK.
 *
 * usage: ducq-floor 127.0.0.1 PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRAME (1 << 20)

struct conn {
    int fd;
    int subscribed;
    size_t len;
    char buf[256];
    char *big; /* a frame longer than buf, while it arrives */
    size_t big_cap;
};

static struct conn **conns;   /* by fd */
static int *subs;             /* subscriber fds, in subscription order */
static size_t n_subs, cap_subs;
static unsigned long lost;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static void reply(int fd, const char *frame, size_t n)
{
    if (send(fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
        lost++;
}

static void drop_sub(int fd)
{
    for (size_t i = 0; i < n_subs; i++) {
        if (subs[i] == fd) {
            memmove(&subs[i], &subs[i + 1], (n_subs - i - 1) * sizeof *subs);
            n_subs--;
            return;
        }
    }
}

static void close_conn(struct conn *c)
{
    if (c->subscribed)
        drop_sub(c->fd);
    close(c->fd);
    conns[c->fd] = NULL;
    free(c->big);
    free(c);
}

/* One complete frame `frame` (header included, `n` bytes) whose body starts
 * at `body`: answer it, and for a publication, the N sends. */
static void handle(struct conn *c, const char *frame, size_t n, const char *body, size_t len)
{
    static const char ack[] = "3\nACK";
    static const char nack[] = "25\nNACK *\n17\ncommand unknown";
    if (len >= 4 && memcmp(body, "sub ", 4) == 0) {
        if (!c->subscribed) {
            if (n_subs == cap_subs) {
                cap_subs = cap_subs ? 2 * cap_subs : 1024;
                subs = realloc(subs, cap_subs * sizeof *subs);
                if (!subs) { perror("realloc"); exit(1); }
            }
            subs[n_subs++] = c->fd;
            c->subscribed = 1;
        }
        reply(c->fd, ack, sizeof ack - 1);
    } else if (len >= 4 && memcmp(body, "pub ", 4) == 0) {
        reply(c->fd, ack, sizeof ack - 1);
        for (size_t i = 0; i < n_subs; i++)
            if (send(subs[i], frame, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
                lost++;
    } else {
        reply(c->fd, nack, sizeof nack - 1);
    }
}

/* Parses `<len>\n`; returns the header length, 0 if incomplete, -1 if bad. */
static long header(const char *p, size_t n, size_t *len)
{
    size_t v = 0;
    for (size_t i = 0; i < n && i < 12; i++) {
        if (p[i] == '\n')
            return i > 0 && v > 0 && v <= MAX_FRAME ? (long)i + 1 : -1;
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (size_t)(p[i] - '0');
        *len = v;
    }
    return n < 12 ? 0 : -1;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        char *buf = c->big ? c->big : c->buf;
        size_t cap = c->big ? c->big_cap : sizeof c->buf;
        ssize_t got = read(c->fd, buf + c->len, cap - c->len);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            close_conn(c);
            return;
        }
        if (got < 0)
            return;
        c->len += (size_t)got;
        size_t pos = 0;
        for (;;) {
            size_t len = 0;
            long h = header(buf + pos, c->len - pos, &len);
            if (h < 0) {
                close_conn(c);
                return;
            }
            if (h == 0 || c->len - pos < (size_t)h + len)
                break;
            handle(c, buf + pos, (size_t)h + len, buf + pos + h, len);
            pos += (size_t)h + len;
        }
        memmove(buf, buf + pos, c->len - pos);
        c->len -= pos;
        /* Room for the frame that is arriving: a buffer of its size when
         * it is larger than the small one, back to the small one after. */
        size_t len = 0;
        long h = header(buf, c->len, &len);
        size_t need = h > 0 ? (size_t)h + len : 0;
        if (need > cap) {
            char *grown = malloc(need);
            if (!grown) { perror("malloc"); exit(1); }
            memcpy(grown, buf, c->len);
            free(c->big);
            c->big = grown;
            c->big_cap = need;
        } else if (c->big && c->len <= sizeof c->buf && need <= sizeof c->buf) {
            memcpy(c->buf, c->big, c->len);
            free(c->big);
            c->big = NULL;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s 127.0.0.1 PORT\n", argv[0]);
        return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1 || bind(lfd, (void *)&a, sizeof a) < 0 ||
        listen(lfd, 1024) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    size_t max_fd = 1 << 17;
    conns = calloc(max_fd, sizeof *conns);
    struct epoll_event events[256];
    while (!stop) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                int cfd;
                while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if ((size_t)cfd >= max_fd) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *c = calloc(1, sizeof *c);
                    if (!c) { perror("calloc"); exit(1); }
                    c->fd = cfd;
                    conns[cfd] = c;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
            } else if (conns[fd]) {
                on_readable(conns[fd]);
            }
        }
    }
    if (lost)
        fprintf(stderr, "ducq-floor: %lu sends incomplete\n", lost);
    return 0;
}
