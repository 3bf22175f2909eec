/*
 * The device library on an rv32imc CPU (qemu-system-riscv32 -M virt, with
 * semihosting for its output and exit status), talking to a scripted
 * broker through the socket-layer table, in the original C API's forms:
 * ducq_publish(ducq, route, payload, size) connecting by itself,
 * 256-byte messages both ways, a NACK, a subscription, the original
 * ducq_listen (whole messages, an automatic PONG, a NACK read with
 * ducq_ack_to_state) and ducq_listen_ex, ducq_receive classifying, a
 * server close and a reconnect, ducq_emit and ducq_emit_ex, smaller
 * limits skipping a message past them. It counts the heap the library
 * uses and fails past 8 KiB, and checks that freeing the handle gives
 * every byte back.
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

/* What the original ducq_listen's callbacks saw. */
struct Seen {
	int messages;
	char route[2][32];
	size_t size[2];
	bool big_intact;
	int nack_state;
};

/* The original's message callback: the whole message, parsed in place. */
int on_message(ducq_i *, char *msg, size_t size, void *ctx)
{
	Seen *s = static_cast<Seen *>(ctx);
	const char *payload_at = ducq_parse_payload(msg);
	size_t payload_size = payload_at != NULL ? size - (size_t)(payload_at - msg) : 0;
	struct ducq_msg parts = ducq_parse_msg(msg);
	if (s->messages < 2 && parts.command != NULL && strcmp(parts.command, "pub") == 0 &&
	    parts.route != NULL) {
		snprintf(s->route[s->messages], sizeof s->route[0], "%s", parts.route);
		s->size[s->messages] = payload_size;
		if (payload_size == 256)
			s->big_intact = memcmp(parts.payload, payload, 256) == 0;
	}
	s->messages++;
	return 0;
}

/* A NACK ends the listen (non-zero). */
int on_nack(ducq_i *, char *msg, size_t, void *ctx)
{
	static_cast<Seen *>(ctx)->nack_state = ducq_ack_to_state(msg);
	return 1;
}

/* What ducq_listen_ex's callbacks saw. */
struct SeenEx {
	char route[16];
	char payload[16];
	char nack_text[32];
};

ducq_state on_message_ex(ducq_i *, char *route, char *data, size_t size, void *ctx)
{
	SeenEx *s = static_cast<SeenEx *>(ctx);
	snprintf(s->route, sizeof s->route, "%s", route);
	snprintf(s->payload, sizeof s->payload, "%.*s", (int)size, data);
	return DUCQ_OK;
}

ducq_state on_nack_ex(ducq_i *, ducq_state state, char *text, void *ctx)
{
	snprintf(static_cast<SeenEx *>(ctx)->nack_text, sizeof static_cast<SeenEx *>(ctx)->nack_text,
	         "%s", text);
	/* Ends ducq_listen_ex with the NACK's own state. */
	return state;
}

/* Receives one message; its state, and its text in buf. */
ducq_state receive(ducq_i *d, char *buf, size_t cap)
{
	size_t size = cap;
	return ducq_receive(d, buf, &size);
}

/* Publishing, answers and listening, on one handle over the broker. */
void talk(ducq_i *d, Broker &broker)
{
	/* The device call: publish on a handle never connected. */
	CHECK_STATE(ducq_publish(d, "sensors/t", "21.5", 4), DUCQ_OK, "publish connects by itself");
	CHECK(broker.conns == 1, "one connect");
	CHECK(strcmp(ducq_id(d), "TCP:10.0.0.7:4242") == 0, "the id names the layer's address");
	CHECK_STATE(ducq_pub(d, "sensors/blob", payload, 256), DUCQ_OK, "a 256-byte publish");

	/* A NACK answering a publish, its text kept. */
	CHECK_STATE(ducq_pub(d, "", "x", 1), DUCQ_NACK, "an empty route is NACKed");
	CHECK(strstr(ducq_last_error(d), "message invalid") != NULL, "the NACK's text");

	CHECK_STATE(ducq_sub(d, "switch/*", NULL), DUCQ_OK, "subscribed");

	/* The original listen: a PING (answered by ducq), two publications,
	 * a NACK that stops it. */
	Seen seen;
	memset(&seen, 0, sizeof seen);
	struct ducq_listen_ctx listen;
	memset(&listen, 0, sizeof listen);
	listen.on_message = on_message;
	listen.on_nack = on_nack;
	listen.ctx = &seen;
	CHECK_STATE(ducq_listen(d, &listen), DUCQ_NACK, "listen stopped on the NACK");
	CHECK(seen.messages == 2, "two publications");
	CHECK(strcmp(seen.route[0], "switch/1") == 0 && seen.size[0] == 2, "the first, parsed");
	CHECK(strcmp(seen.route[1], "switch/2") == 0 && seen.size[1] == 256 && seen.big_intact,
	      "the 256-byte one, intact across 7-byte reads");
	CHECK(seen.nack_state == DUCQ_EMSGINV, "the NACK's state read");

	/* ducq_listen_ex: route and payload apart, the NACK decoded. */
	SeenEx ex;
	memset(&ex, 0, sizeof ex);
	ducq_listen_ex_ctx listen_ex;
	memset(&listen_ex, 0, sizeof listen_ex);
	listen_ex.on_message = on_message_ex;
	listen_ex.on_nack = on_nack_ex;
	listen_ex.ctx = &ex;
	CHECK_STATE(ducq_listen_ex(d, &listen_ex), DUCQ_EMSGINV, "listen_ex ends with the state");
	CHECK(strcmp(ex.route, "switch/3") == 0 && strcmp(ex.payload, "hi") == 0, "split");
	CHECK(strcmp(ex.nack_text, "message invalid") == 0, "the NACK's text decoded");

	/* ducq_receive classifies; then the server closes the connection. */
	char buf[64];
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_PROTOCOL, "an ACK is protocol");
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_ECONNCLOSED, "the server closed");
	CHECK(broker.closes == 1, "the layer was closed");

	/* The next publish connects again by itself. */
	CHECK_STATE(ducq_publish(d, "sensors/t", "22.0", 4), DUCQ_OK, "publish reconnects");
	CHECK(broker.conns == 2, "a second connect");
}

/* Commands, a closing emit, and a reconnect with smaller limits. */
void command(ducq_i *d, Broker &broker)
{
	char buf[64];
	CHECK_STATE(ducq_emit(d, "lsconn", "*", NULL, 0), DUCQ_OK, "emit");
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_PROTOCOL, "PARTS");
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_OK, "a line of data");
	CHECK(strcmp(buf, "TCP:10.0.0.7:4242") == 0, "the line");
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_PROTOCOL, "END");
	CHECK_STATE(ducq_emit_ex(d, "pub", "x", "1", 1, true), DUCQ_OK, "emit, then close");
	CHECK(broker.closes == 2, "emit_ex closed the layer");

	/* At most 128 bytes a message, read 64 at a time: the 269-byte
	 * publication is skipped (and not answered), the next one arrives. */
	CHECK_STATE(ducq_set_limits(d, 64, 128), DUCQ_OK, "limits");
	CHECK_STATE(ducq_conn(d), DUCQ_OK, "connected again");
	CHECK_STATE(ducq_sub(d, "switch/*", NULL), DUCQ_OK, "subscribed again");
	CHECK_STATE(receive(d, buf, sizeof buf), DUCQ_OK, "the small publication");
	CHECK(strcmp(buf, "pub switch/4\nok") == 0, "the one past the limit skipped");

	/* A copy shares the layer and is not connected. */
	ducq_i *copy = ducq_copy(d);
	CHECK(copy != NULL && strcmp(ducq_id(copy), "TCP:") == 0, "an unconnected copy");
	CHECK(!ducq_eq(copy, d) && ducq_eq(d, d), "another connection");
	ducq_free(copy);
	CHECK(broker.closes == 2, "freeing an unconnected copy closes nothing");
}

void run(const Step *script, size_t steps)
{
	Broker broker(script, steps, 7);
	size_t base = heap_in_use();
	heap_reset_peak();

	ducq_seed_entropy(0x5eed5eed12345678ULL);
	ducq_i *d = ducq_new_socket(Broker::table(), &broker);
	CHECK(d != NULL, "a handle over the scripted socket layer");
	CHECK_STATE(ducq_timeout(d, 2), DUCQ_OK, "timeout");
	talk(d, broker);
	command(d, broker);
	ducq_free(d);
	CHECK(broker.closes == 3, "freeing closes the layer");
	CHECK(broker.mismatches == 0, "the client sent exactly the script");
	CHECK(broker.done(), "the whole script ran");

	size_t peak = heap_peak() - base;
	printf("heap peak: %u bytes (256-byte messages)\n", (unsigned)peak);
	CHECK(peak <= 8 * 1024, "heap peak within 8 KiB");
	CHECK(heap_in_use() == base, "every byte given back");
}

/* The original's message helpers, and calls without a handle. */
void helpers()
{
	char msg[] = "pub a/b\nhello";
	const char *end = NULL;
	CHECK(ducq_parse_command(msg, &end) == msg && end == msg + 3, "command");
	CHECK(ducq_parse_route(msg, &end) == msg + 4 && end == msg + 7, "route");
	CHECK(strcmp(ducq_parse_payload(msg), "hello") == 0, "payload");
	struct ducq_msg m = ducq_parse_msg(msg);
	CHECK(strcmp(m.command, "pub") == 0 && strcmp(m.route, "a/b") == 0 &&
	          strcmp(m.payload, "hello") == 0,
	      "parsed in place");
	CHECK(ducq_route_cmp("switch/*", "switch/1") && !ducq_route_cmp("switch/*", "sensors/1"),
	      "routes");
	CHECK_STATE(ducq_ack_to_state("ACK"), DUCQ_OK, "ACK");
	CHECK_STATE(ducq_ack_to_state("NACK *\n17\ncommand unknown"), DUCQ_ENOCMD, "a NACK's code");

	CHECK(ducq_new_socket(NULL, NULL) == NULL, "no table, no handle");
	ducq_socket_vtbl no_send;
	memset(&no_send, 0, sizeof no_send);
	CHECK(ducq_new_socket_ctx(&no_send, NULL, 0) == NULL, "a table without send");
	CHECK_STATE(ducq_conn(NULL), DUCQ_ENULL, "NULL handle");
	CHECK_STATE(ducq_set_limits(NULL, 1, 1), DUCQ_ENULL, "NULL handle");
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
	    {NULL, {"pub switch/3\nhi", NACK_INVALID, NULL}, false},
	    {NULL, {"ACK", NULL, NULL}, true},
	    /* Second connection. */
	    {"pub sensors/t\n22.0", {"ACK", NULL, NULL}, false},
	    {"lsconn *\n", {"PARTS", "TCP:10.0.0.7:4242", "END"}, false},
	    {"pub x\n1", {NULL, NULL, NULL}, false},
	    /* Third connection, with a 128-byte limit. */
	    {"sub switch/*\n", {"ACK", data_big, "pub switch/4\nok"}, false},
	};
	run(script, sizeof script / sizeof script[0]);
	helpers();
	return check_report("qemu");
}
