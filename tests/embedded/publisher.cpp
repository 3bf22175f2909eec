/*
 * A device publisher written the way the original device example is:
 * ducq_new_tcp, a publish that connects by itself, the state's text,
 * ducq_free. It runs under QEMU like qemu_app.cpp, and gives the flash
 * figure: scripts/test-embedded.sh links it twice, as is and with
 * -DBASELINE (the same program without the ducq calls), and reports the
 * difference.
 *
 * ducq_new_tcp here stands in for ports/esp-idf/ducq_socket.c, which needs
 * lwIP: it makes the handle the same way (ducq_new_socket_ctx), over the
 * scripted broker.
 */
#include "ducq.h"

#include <stdio.h>

#ifndef BASELINE
#include "broker.hpp"

namespace {
const Step script[] = {
    {"pub sensors/t\n21.5", {"ACK", NULL, NULL}, false},
};
Broker broker(script, 1, 64);

/* The context ducq_new_socket_ctx copies: here, only the broker. */
struct Scripted {
	Broker *broker;
};

Broker *of(void *ctx) { return static_cast<Scripted *>(ctx)->broker; }

ducq_state conn(void *ctx, int ms) { return Broker::table()->conn(of(ctx), ms); }

ducq_state send(void *ctx, const void *buf, size_t len, size_t *sent)
{
	return Broker::table()->send(of(ctx), buf, len, sent);
}

ducq_state recv(void *ctx, void *buf, size_t len, size_t *got, int ms)
{
	return Broker::table()->recv(of(ctx), buf, len, got, ms);
}

ducq_state close(void *ctx) { return Broker::table()->close(of(ctx)); }

const ducq_vtbl layer = {conn, send, recv, close, NULL};
} // namespace

ducq_i *ducq_new_tcp(const char *host, const char *port)
{
	(void)host;
	(void)port;
	Scripted ctx = {&broker};
	return ducq_new_socket_ctx(&layer, &ctx, sizeof ctx);
}
#endif

int main()
{
#ifdef BASELINE
	printf("publish: %s\n", "ok");
	return 0;
#else
	ducq_i *ducq = ducq_new_tcp("192.168.1.10", "9090");
	ducq_state state = ducq_publish(ducq, "sensors/t", "21.5");
	printf("publish: %s\n", ducq_state_tostr(state));
	ducq_free(ducq);
	return state == DUCQ_OK && broker.mismatches == 0 && broker.done() ? 0 : 1;
#endif
}
