/*
 * A device publisher written the way the original device example (its
 * DucqSink) is: a handle from ducq_new_tcp, never connected by hand; each
 * reading formatted with snprintf and published with
 * ducq_publish(ducq, route, payload, size), which connects by itself; the
 * state's text shown; ducq_free at the end. Only the original's device
 * calls, in C99.
 *
 * scripts/test-embedded.sh builds this file unchanged twice: for an
 * emulated rv32imc CPU, linked with libducq_embedded.a and scripted_port.cpp
 * (a ducq_new_tcp over the scripted broker), where it also gives the flash
 * figure (linked again with -DBASELINE, the same program without the ducq
 * calls); and for Linux, linked with the device library built for the host
 * and ports/esp-idf/ducq_socket.c, against a live ducq-server.
 *
 *   publisher [HOST PORT]
 */
#include "ducq.h"

#include <stdio.h>

/* One reading, published. */
static ducq_state save(ducq_i *ducq, const char *route, int tenths)
{
	char payload[256] = "";
	size_t size = (size_t)snprintf(payload, sizeof payload, "{temperature:%d.%d}", tenths / 10,
	                               tenths % 10);
#ifdef BASELINE
	(void)ducq;
	printf("%s %s: %s\n", route, payload, "ok");
	return size > 0 ? DUCQ_OK : DUCQ_ERROR;
#else
	ducq_state state = ducq_publish(ducq, route, payload, size);
	printf("%s %s: %s\n", route, payload, ducq_state_tostr(state));
	return state;
#endif
}

int main(int argc, char **argv)
{
	const char *host = argc > 2 ? argv[1] : "192.168.1.10";
	const char *port = argc > 2 ? argv[2] : "59090";
	ducq_state first, second;
#ifdef BASELINE
	ducq_i *ducq = NULL;
	printf("%s:%s\n", host, port);
#else
	ducq_i *ducq = ducq_new_tcp(host, port);
#endif
	first = save(ducq, "meteo", 215);
	second = save(ducq, "meteo", 217);
#ifndef BASELINE
	ducq_free(ducq);
#endif
	return first == DUCQ_OK && second == DUCQ_OK ? 0 : 1;
}
