/*
 * The device library with the ESP-IDF port's socket layer, built for the
 * host against POSIX sockets, talking to a live ducq-server on loopback
 * (scripts/test-embedded.sh starts it and passes its port). Uses only the
 * device calls: ducq_new_tcp (from ports/esp-idf/ducq_socket.c), the
 * self-connecting ducq_publish, ducq_sub, ducq_listen, ...
 *
 *   posix_client PORT
 */
#include "ducq.h"

#include <stdlib.h>

#include "check.h"

/* What the listener saw. */
struct seen {
	int messages;
	char routes[2][32];
	char payloads[2][32];
};

static ducq_state on_message(ducq_i *ducq, char *route, char *payload, size_t size, void *ctx)
{
	struct seen *s = (struct seen *)ctx;
	(void)ducq;
	if (s->messages < 2) {
		snprintf(s->routes[s->messages], sizeof s->routes[0], "%s", route);
		snprintf(s->payloads[s->messages], sizeof s->payloads[0], "%.*s", (int)size, payload);
	}
	s->messages++;
	/* Anything but DUCQ_OK ends ducq_listen with that value. */
	return s->messages == 2 ? DUCQ_EMAX : DUCQ_OK;
}

int main(int argc, char **argv)
{
	const char *port;
	ducq_i *pub, *sub, *copy, *refused;
	struct seen seen;
	struct ducq_listen_ctx listen;
	char too_long[300];
	const char *id;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PORT\n", argv[0]);
		return 2;
	}
	port = argv[1];

	/* A fresh handle publishes by itself: ducq_publish connects it. */
	pub = ducq_new_tcp("127.0.0.1", port);
	CHECK(pub != NULL, "ducq_new_tcp makes a handle");
	CHECK_STATE(ducq_timeout(pub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_publish(pub, "dev/t", "21.5"), DUCQ_OK, "publish connects and is ACKed");
	id = ducq_id(pub);
	CHECK(strncmp(id, "TCP:127.0.0.1:", 14) == 0, "the id is this end's address");

	/* A NACK from the server is decoded: its state and text. */
	CHECK_STATE(ducq_pub(pub, "", "x", 1), DUCQ_EMSGINV, "an empty route is NACKed");
	CHECK(strstr(ducq_last_error(pub), "message invalid") != NULL, "the NACK's text is kept");

	/* A subscriber gets the stored message, then a new one, through
	 * ducq_listen. */
	sub = ducq_new_tcp("localhost", port);
	CHECK_STATE(ducq_timeout(sub, 5), DUCQ_OK, "timeout set");
	CHECK_STATE(ducq_conn(sub), DUCQ_OK, "subscriber connects by name");
	CHECK_STATE(ducq_sub(sub, "dev/*", "last"), DUCQ_OK, "subscribed with last");
	CHECK_STATE(ducq_publish(pub, "dev/h", "40"), DUCQ_OK, "second publish");
	memset(&seen, 0, sizeof seen);
	memset(&listen, 0, sizeof listen);
	listen.on_message = on_message;
	listen.ctx = &seen;
	CHECK_STATE(ducq_listen(sub, &listen), DUCQ_EMAX, "listen returns the callback's state");
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
	CHECK_STATE(ducq_publish(copy, "dev/c", "1"), DUCQ_OK, "the copy publishes");

	/* Closed, then published again: ducq_publish reconnects. */
	CHECK_STATE(ducq_close(pub), DUCQ_OK, "closed");
	CHECK_STATE(ducq_publish(pub, "dev/t", "22"), DUCQ_OK, "publish reconnects");

	/* Nothing listens on port 1: refused, and said so. */
	refused = ducq_new_tcp("127.0.0.1", "1");
	CHECK_STATE(ducq_conn(refused), DUCQ_ECONNECT, "a refused connection");
	CHECK_STATE(ducq_publish(refused, "dev/t", "x"), DUCQ_ECONNECT, "publish cannot connect");

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
	return check_report("posix");
}
