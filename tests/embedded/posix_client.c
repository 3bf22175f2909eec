/*
 * The device library with the ESP-IDF port's socket layer, built for the
 * host against POSIX sockets, talking to a live ducq-server on loopback
 * (scripts/test-embedded.sh starts it and passes its TCP and WebSocket
 * ports). Uses only the device header, in the original C API's forms:
 * ducq_new_tcp and ducq_new_ws_client (from ports/esp-idf/ducq_socket.c),
 * the self-connecting four-argument ducq_publish, ducq_sub, the original
 * ducq_listen, ...
 *
 *   posix_client TCP_PORT WS_PORT
 */
#include "ducq.h"

#include <stdlib.h>

#include "check.h"

/* What the listener saw: whole messages, split with the original's
 * parse helpers. */
struct seen {
	int messages;
	char routes[2][32];
	char payloads[2][32];
};

static int on_message(ducq_i *ducq, char *msg, size_t size, void *ctx)
{
	struct seen *s = (struct seen *)ctx;
	struct ducq_msg parts;
	(void)ducq;
	(void)size;
	parts = ducq_parse_msg(msg);
	if (s->messages < 2 && parts.route != NULL && parts.payload != NULL) {
		snprintf(s->routes[s->messages], sizeof s->routes[0], "%s", parts.route);
		snprintf(s->payloads[s->messages], sizeof s->payloads[0], "%s", parts.payload);
	}
	s->messages++;
	/* Non-zero ends ducq_listen. */
	return s->messages == 2;
}

/* A TCP publisher, a subscriber, copies, reconnects, refusals. */
static void over_tcp(const char *port)
{
	ducq_i *pub, *sub, *copy, *refused;
	struct seen seen;
	struct ducq_listen_ctx listen;
	char too_long[300];
	const char *id;

	/* A fresh handle publishes by itself: ducq_publish connects it. */
	pub = ducq_new_tcp("127.0.0.1", port);
	CHECK(pub != NULL, "ducq_new_tcp makes a handle");
	CHECK_STATE(ducq_timeout(pub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_publish(pub, "dev/t", "21.5", 4), DUCQ_OK, "publish connects and is ACKed");
	id = ducq_id(pub);
	CHECK(strncmp(id, "TCP:127.0.0.1:", 14) == 0, "the id is this end's address");

	/* A NACK from the server: DUCQ_NACK, and its text kept. */
	CHECK_STATE(ducq_pub(pub, "", "x", 1), DUCQ_NACK, "an empty route is NACKed");
	CHECK(strstr(ducq_last_error(pub), "message invalid") != NULL, "the NACK's text is kept");

	/* A subscriber gets the stored message, then a new one, through the
	 * original ducq_listen. */
	sub = ducq_new_tcp("localhost", port);
	CHECK_STATE(ducq_timeout(sub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_conn(sub), DUCQ_OK, "subscriber connects by name");
	CHECK_STATE(ducq_sub(sub, "dev/*", "last"), DUCQ_OK, "subscribed with last");
	CHECK_STATE(ducq_publish(pub, "dev/h", "40", 2), DUCQ_OK, "second publish");
	memset(&seen, 0, sizeof seen);
	memset(&listen, 0, sizeof listen);
	listen.on_message = on_message;
	listen.ctx = &seen;
	CHECK_STATE(ducq_listen(sub, &listen), DUCQ_OK, "listen returns the last receive's state");
	CHECK(seen.messages == 2, "two messages");
	CHECK(strcmp(seen.routes[0], "dev/t") == 0 && strcmp(seen.payloads[0], "21.5") == 0,
	      "the stored message first");
	CHECK(strcmp(seen.routes[1], "dev/h") == 0 && strcmp(seen.payloads[1], "40") == 0,
	      "then the new one");

	/* A copy has its own socket: same server, another local port. */
	copy = ducq_copy(pub);
	CHECK_STATE(ducq_conn(copy), DUCQ_OK, "the copy connects");
	CHECK(strcmp(ducq_id(copy), ducq_id(pub)) != 0, "on its own socket");
	CHECK(!ducq_eq(copy, pub), "so it is another connection");
	CHECK_STATE(ducq_publish(copy, "dev/c", "1", 1), DUCQ_OK, "the copy publishes");

	/* Closed, then published again: ducq_publish reconnects. */
	CHECK_STATE(ducq_close(pub), DUCQ_OK, "closed");
	CHECK_STATE(ducq_publish(pub, "dev/t", "22", 2), DUCQ_OK, "publish reconnects");

	/* Nothing listens on port 1: refused, and said so. */
	refused = ducq_new_tcp("127.0.0.1", "1");
	CHECK_STATE(ducq_conn(refused), DUCQ_ECONNECT, "a refused connection");
	CHECK_STATE(ducq_publish(refused, "dev/t", "x", 1), DUCQ_ECONNECT, "publish cannot connect");

	memset(too_long, 'h', sizeof too_long - 1);
	too_long[sizeof too_long - 1] = 0;
	CHECK(ducq_new_tcp(too_long, port) == NULL, "a host name past 255 bytes is refused");
	CHECK(ducq_new_tcp(NULL, port) == NULL, "NULL host");
	CHECK(strcmp(ducq_state_tostr(DUCQ_ECONNECT), "could not connect to server") == 0,
	      "state text");

	ducq_free(refused);
	ducq_free(copy);
	ducq_free(sub);
	ducq_free(pub);
}

/* A WebSocket subscriber over the same socket layer, and a WebSocket
 * publisher it hears. */
static void over_ws(const char *port)
{
	ducq_i *sub, *pub;
	char buf[64];
	size_t size = sizeof buf;

	sub = ducq_new_ws_client("127.0.0.1", port);
	pub = ducq_new_ws_client("127.0.0.1", port);
	CHECK(sub != NULL && pub != NULL, "ducq_new_ws_client makes handles");
	CHECK(strcmp(ducq_id(sub), "WS:") == 0, "a WebSocket id before connecting");
	CHECK_STATE(ducq_timeout(sub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_timeout(pub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_conn(sub), DUCQ_OK, "the WebSocket handshake");
	CHECK(strncmp(ducq_id(sub), "WS:127.0.0.1:", 13) == 0, "the id is this end's address");
	CHECK_STATE(ducq_sub(sub, "ws/*", NULL), DUCQ_OK, "subscribed over WebSocket");
	CHECK_STATE(ducq_publish(pub, "ws/a", "hello", 5), DUCQ_OK, "published over WebSocket");
	CHECK_STATE(ducq_receive(sub, buf, &size), DUCQ_OK, "a publication received");
	CHECK(strcmp(buf, "pub ws/a\nhello") == 0, "the message, unmasked");
	CHECK_STATE(ducq_pub(pub, "", "x", 1), DUCQ_NACK, "a NACK over WebSocket");
	ducq_free(pub);
	ducq_free(sub);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s TCP_PORT WS_PORT\n", argv[0]);
		return 2;
	}
	/* The platform's randomness, for WebSocket masks. */
	ducq_seed_entropy(((uint64_t)rand() << 32) ^ (uint64_t)(uintptr_t)argv[0]);
	over_tcp(argv[1]);
	over_ws(argv[2]);
	return check_report("posix");
}
