/*
 * The device library on an rv32imc CPU (qemu-system-riscv32 -M virt, with
 * semihosting for its output and exit status), talking to a scripted
 * broker through the socket-layer table: a publish that connects by
 * itself, 256-byte messages both ways, a subscription, ducq_listen with an
 * automatic PONG, NACKs decoded, a server close and a reconnect. It counts
 * the heap the library uses and fails past 8 KiB, and checks that freeing
 * the handle gives every byte back.
 *
 * Built as C++11 with -Wall -Wextra -Werror -fno-exceptions -fno-rtti
 * (scripts/test-embedded.sh).
 */
#include "ducq.h"

#include <stdio.h>
#include <string.h>

#include "broker.hpp"
#include "check.h"
#include "heap.h"

namespace {

/* A 256-byte payload, and the messages that carry it. */
char payload[257];
char pub_big[300];
char data_big[300];

void make_messages()
{
	for (int i = 0; i < 256; i++)
		payload[i] = (char)('a' + i % 26);
	payload[256] = 0;
	snprintf(pub_big, sizeof pub_big, "pub sensors/blob\n%s", payload);
	snprintf(data_big, sizeof data_big, "pub switch/2\n%s", payload);
}

const char *const NACK_INVALID = "NACK *\n15\nmessage invalid";

/* What the listener saw. */
struct Seen {
	int messages;
	char route[2][32];
	size_t size[2];
	bool big_intact;
	int nack_state;
	char nack_text[32];
};

ducq_state on_message(ducq_i *, char *route, char *data, size_t size, void *ctx)
{
	Seen *s = static_cast<Seen *>(ctx);
	if (s->messages < 2) {
		snprintf(s->route[s->messages], sizeof s->route[0], "%s", route);
		s->size[s->messages] = size;
		if (size == 256)
			s->big_intact = memcmp(data, payload, 256) == 0;
	}
	s->messages++;
	return DUCQ_OK;
}

ducq_state on_nack(ducq_i *, ducq_state state, char *text, void *ctx)
{
	Seen *s = static_cast<Seen *>(ctx);
	s->nack_state = state;
	snprintf(s->nack_text, sizeof s->nack_text, "%s", text);
	/* Ends ducq_listen with the NACK's own state. */
	return state;
}

void run(const Step *script, size_t steps)
{
	Broker broker(script, steps, 7);
	size_t base = heap_in_use();
	heap_reset_peak();

	ducq_seed_entropy(0x5eed5eed12345678ULL);
	ducq_i *d = ducq_new_vtbl(Broker::table(), &broker);
	CHECK(d != NULL, "a handle over the scripted socket layer");
	CHECK_STATE(ducq_timeout(d, 2), DUCQ_OK, "timeout");

	/* The device call: publish on a handle never connected. */
	CHECK_STATE(ducq_publish(d, "sensors/t", "21.5"), DUCQ_OK, "publish connects by itself");
	CHECK(broker.conns == 1, "one connect");
	CHECK(strcmp(ducq_id(d), "TCP:10.0.0.7:4242") == 0, "the id names the layer's address");
	CHECK_STATE(ducq_pub(d, "sensors/blob", payload, 256), DUCQ_OK, "a 256-byte publish");

	/* A NACK answering a publish: its state, and its text kept. */
	CHECK_STATE(ducq_pub(d, "", "x", 1), DUCQ_EMSGINV, "an empty route is NACKed");
	CHECK(strstr(ducq_last_error(d), "message invalid") != NULL, "the NACK's text");

	CHECK_STATE(ducq_sub(d, "switch/*", NULL), DUCQ_OK, "subscribed");

	/* listen: a PING (answered by ducq), two publications, a NACK. */
	Seen seen;
	memset(&seen, 0, sizeof seen);
	ducq_listen_ctx listen;
	memset(&listen, 0, sizeof listen);
	listen.on_message = on_message;
	listen.on_nack = on_nack;
	listen.ctx = &seen;
	CHECK_STATE(ducq_listen(d, &listen), DUCQ_EMSGINV, "listen ends with the NACK's state");
	CHECK(seen.messages == 2, "two publications");
	CHECK(strcmp(seen.route[0], "switch/1") == 0 && seen.size[0] == 2, "the first, split");
	CHECK(strcmp(seen.route[1], "switch/2") == 0 && seen.size[1] == 256 && seen.big_intact,
	      "the 256-byte one, intact across 7-byte reads");
	CHECK(seen.nack_state == DUCQ_EMSGINV, "the NACK's state decoded");
	CHECK(strcmp(seen.nack_text, "message invalid") == 0, "the NACK's text decoded");

	/* ducq_receive classifies; then the server closes the connection. */
	char buf[64];
	size_t size = sizeof buf;
	CHECK_STATE(ducq_receive(d, buf, &size), DUCQ_NACK, "a NACK received as such");
	size = sizeof buf;
	CHECK_STATE(ducq_receive(d, buf, &size), DUCQ_ECONNCLOSED, "the server closed");
	CHECK(broker.closes == 1, "the layer was closed");

	/* The next publish connects again by itself. */
	CHECK_STATE(ducq_publish(d, "sensors/t", "22.0"), DUCQ_OK, "publish reconnects");
	CHECK(broker.conns == 2, "a second connect");

	ducq_free(d);
	CHECK(broker.closes == 2, "freeing closes the layer");
	CHECK(broker.mismatches == 0, "the client sent exactly the script");
	CHECK(broker.done(), "the whole script ran");

	size_t peak = heap_peak() - base;
	printf("heap peak: %u bytes (256-byte messages)\n", (unsigned)peak);
	CHECK(peak <= 8 * 1024, "heap peak within 8 KiB");
	CHECK(heap_in_use() == base, "every byte given back");
}

void edges()
{
	CHECK(ducq_new_vtbl(NULL, NULL) == NULL, "no table, no handle");
	CHECK_STATE(ducq_conn(NULL), DUCQ_ENULL, "NULL handle");
	CHECK(strcmp(ducq_state_tostr(DUCQ_EMSGINV), "message invalid") == 0, "state text");
	CHECK(strcmp(ducq_state_tostr(-15), "message invalid") == 0, "negative folded");
	CHECK(strcmp(ducq_state_tostr(99), "unknown error") == 0, "beyond the table");
	CHECK(strcmp(ducq_state_short(DUCQ_ECONNCLOSED), "ECONNCLOSED") == 0, "short name");
	CHECK(strcmp(ducq_version(), DUCQ_VERSION) == 0, "library and header agree");
}

} // namespace

int main()
{
	make_messages();
	const Step script[] = {
	    {"pub sensors/t\n21.5", {"ACK", NULL, NULL}, false},
	    {pub_big, {"ACK", NULL, NULL}, false},
	    {"pub \nx", {NACK_INVALID, NULL, NULL}, false},
	    {"sub switch/*\n", {"ACK", NULL, NULL}, false},
	    {NULL, {"PING _\nping", NULL, NULL}, false},
	    {"PONG _\nping", {"pub switch/1\non", data_big, NACK_INVALID}, false},
	    {NULL, {NACK_INVALID, NULL, NULL}, true},
	    {"pub sensors/t\n22.0", {"ACK", NULL, NULL}, false},
	};
	run(script, sizeof script / sizeof script[0]);
	edges();
	return check_report("qemu");
}
