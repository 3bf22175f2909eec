/*
 * The platform port of publisher.c under QEMU: its ducq_new_tcp, made the
 * way ports/esp-idf/ducq_socket.c makes it (ducq_new_socket_ctx, the
 * handle keeping its own copy of the context), over the scripted broker
 * instead of lwIP. The broker answers anything but the two publications
 * it expects with a NACK, so publisher.c fails on a wrong message.
 */
#include "ducq.h"

#include "broker.hpp"

namespace {
const Step script[] = {
    {"pub meteo\n{temperature:21.5}", {"ACK", NULL, NULL}, false},
    {"pub meteo\n{temperature:21.7}", {"ACK", NULL, NULL}, false},
};
Broker broker(script, 2, 64);

/* The context the handle copies: here, only the broker. */
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

const ducq_socket_vtbl layer = {conn, send, recv, close, NULL};
} // namespace

ducq_i *ducq_new_tcp(const char *host, const char *port)
{
	(void)host;
	(void)port;
	Scripted ctx = {&broker};
	return ducq_new_socket_ctx(&layer, &ctx, sizeof ctx);
}
