/*
 * ducq's socket layer over BSD sockets, and the device's
 * ducq_new_tcp(host, port) and ducq_new_ws_client(host, port) on top of it.
 *
 * On ESP-IDF (ESP_PLATFORM defined) the sockets are lwIP's; elsewhere they
 * are POSIX's, so this very file is also built and tested on Linux against
 * a live ducq-server (scripts/test-embedded.sh). It only moves bytes:
 * framing and the protocol are the library's (libducq_embedded.a).
 *
 * Timeouts: connect and each receive wait at most the handle's timeout
 * (ducq_timeout; -1 = no limit); a send that cannot go out within the
 * connect timeout fails rather than hanging the task.
 */
#include "ducq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#ifdef ESP_PLATFORM
#include "lwip/netdb.h"
#include "lwip/sockets.h"
#else
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* One handle's connection: lives inside the handle (ducq_new_socket_ctx
 * and ducq_new_ws_socket copy it there), so it needs no freeing of its
 * own. */
struct ducq_socket {
	int fd;
	char host[256];
	char port[16];
	char id[64];
};

/* Waits until fd is readable (or writable) or timeout_ms passes (-1: no
 * limit). 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, int timeout_ms, int for_write)
{
	for (;;) {
		fd_set set;
		struct timeval tv, *limit = NULL;
		int n;
		if (fd < 0 || fd >= FD_SETSIZE)
			return -1;
		FD_ZERO(&set);
		FD_SET(fd, &set);
		if (timeout_ms >= 0) {
			tv.tv_sec = timeout_ms / 1000;
			tv.tv_usec = (timeout_ms % 1000) * 1000;
			limit = &tv;
		}
		n = select(fd + 1, for_write ? NULL : &set, for_write ? &set : NULL, NULL, limit);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? 1 : n;
	}
}

static void set_blocking(int fd, int blocking)
{
	int flags = fcntl(fd, F_GETFL, 0);
	if (flags < 0)
		return;
	fcntl(fd, F_SETFL, blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK));
}

/* Connects one address within timeout_ms; the descriptor or -1. */
static int connect_one(const struct addrinfo *ai, int timeout_ms, ducq_state *why)
{
	int err = 0;
	socklen_t len = sizeof err;
	int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0) {
		*why = DUCQ_ECOMMLAYER;
		return -1;
	}
	set_blocking(fd, 0);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int ready;
		if (errno != EINPROGRESS) {
			*why = DUCQ_ECONNECT;
			close(fd);
			return -1;
		}
		ready = wait_fd(fd, timeout_ms, 1);
		if (ready <= 0) {
			*why = ready == 0 ? DUCQ_ETIMEOUT : DUCQ_ECONNECT;
			close(fd);
			return -1;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
			*why = DUCQ_ECONNECT;
			close(fd);
			return -1;
		}
	}
	set_blocking(fd, 1);
	if (timeout_ms > 0) {
		struct timeval tv;
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	{
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	return fd;
}

static ducq_state layer_close(void *ctx)
{
	struct ducq_socket *s = (struct ducq_socket *)ctx;
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	return DUCQ_OK;
}

static ducq_state layer_conn(void *ctx, int timeout_ms)
{
	struct ducq_socket *s = (struct ducq_socket *)ctx;
	struct addrinfo hints, *list = NULL, *ai;
	ducq_state why = DUCQ_ECONNECT;
	layer_close(ctx);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(s->host, s->port, &hints, &list) != 0 || list == NULL)
		return DUCQ_ECONNECT;
	for (ai = list; ai != NULL && s->fd < 0; ai = ai->ai_next)
		s->fd = connect_one(ai, timeout_ms, &why);
	freeaddrinfo(list);
	return s->fd >= 0 ? DUCQ_OK : why;
}

static ducq_state layer_send(void *ctx, const void *buf, size_t len, size_t *sent)
{
	struct ducq_socket *s = (struct ducq_socket *)ctx;
	for (;;) {
		ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			*sent = (size_t)n;
			return DUCQ_OK;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return DUCQ_ETIMEOUT;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return DUCQ_ECONNCLOSED;
		return DUCQ_EWRITE;
	}
}

static ducq_state layer_recv(void *ctx, void *buf, size_t len, size_t *received, int timeout_ms)
{
	struct ducq_socket *s = (struct ducq_socket *)ctx;
	int ready = wait_fd(s->fd, timeout_ms, 0);
	if (ready == 0)
		return DUCQ_ETIMEOUT;
	if (ready < 0)
		return DUCQ_EREAD;
	for (;;) {
		ssize_t n = recv(s->fd, buf, len, 0);
		if (n >= 0) {
			*received = (size_t)n;
			return DUCQ_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return DUCQ_ETIMEOUT;
		if (errno == ECONNRESET)
			return DUCQ_ECONNCLOSED;
		return DUCQ_EREAD;
	}
}

static const char *layer_id(void *ctx)
{
	struct ducq_socket *s = (struct ducq_socket *)ctx;
	struct sockaddr_storage addr;
	socklen_t len = sizeof addr;
	char ip[48];
	unsigned port;
	if (s->fd < 0 || getsockname(s->fd, (struct sockaddr *)&addr, &len) < 0)
		return NULL;
	if (addr.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&addr;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
		snprintf(s->id, sizeof s->id, "%s:%u", ip, port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&addr;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
		snprintf(s->id, sizeof s->id, "[%s]:%u", ip, port);
	}
	return s->id;
}

static const ducq_socket_vtbl socket_layer = {
	layer_conn, layer_send, layer_recv, layer_close, layer_id,
};

/* The context of a new handle; 0 when host or port is NULL or too long. */
static int make_socket(struct ducq_socket *s, const char *host, const char *port)
{
	if (host == NULL || port == NULL || strlen(host) >= sizeof s->host ||
	    strlen(port) >= sizeof s->port)
		return 0;
	memset(s, 0, sizeof *s);
	s->fd = -1;
	strcpy(s->host, host);
	strcpy(s->port, port);
	return 1;
}

ducq_i *ducq_new_tcp(const char *host, const char *port)
{
	struct ducq_socket s;
	if (!make_socket(&s, host, port))
		return NULL;
	return ducq_new_socket_ctx(&socket_layer, &s, sizeof s);
}

ducq_i *ducq_new_ws_client(const char *host, const char *port)
{
	struct ducq_socket s;
	if (!make_socket(&s, host, port))
		return NULL;
	return ducq_new_ws_socket(&socket_layer, &s, sizeof s, host, port);
}
