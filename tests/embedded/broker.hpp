/*
 * A scripted ducq broker behind the socket-layer table, for the device
 * tests under QEMU (no network there). The client's bytes are cut into
 * TCP frames (<len>\n<body>) and each body must equal the script's next
 * expected message; the script then answers with its replies, and goes on
 * with the server-initiated steps (a PING, a publication, a NACK, a close)
 * that follow. The server's bytes are handed out a few at a time, so the
 * client reassembles frames across reads. A mismatch is printed, counted
 * and answered with a NACK instead of the script's replies, so the client
 * sees it too.
 */
#ifndef DUCQ_EMBEDDED_BROKER_HPP
#define DUCQ_EMBEDDED_BROKER_HPP

#include <stdio.h>
#include <string.h>

#include "ducq.h"

/* One step of a script: a message the client must send (expect) and the
 * answers to it; expect NULL means the server speaks first; close ends
 * the connection once everything before it was read. */
struct Step {
	const char *expect;
	const char *replies[3];
	bool close;
};

/* The answer to a message the script did not expect. */
static const char broker_mismatch[] = "NACK *\n15\nnot what the script expected";

class Broker {
public:
	Broker(const Step *script, size_t steps, size_t piece)
	    : mismatches(0), conns(0), closes(0), frames_in(0), script_(script), steps_(steps),
	      piece_(piece), pos_(0), in_len_(0), out_len_(0), out_pos_(0), closing_(false)
	{
	}

	/* The socket-layer table over a Broker (the ctx). */
	static const ducq_socket_vtbl *table()
	{
		static const ducq_socket_vtbl t = {conn_cb, send_cb, recv_cb, close_cb, id_cb};
		return &t;
	}

	/* Whether the whole script ran. */
	bool done() const { return pos_ == steps_ && out_pos_ == out_len_; }

	int mismatches;
	int conns;
	int closes;
	int frames_in;

private:
	const Step *script_;
	size_t steps_, piece_, pos_;
	char in_[1024];
	size_t in_len_;
	char out_[2048];
	size_t out_len_, out_pos_;
	bool closing_;

	void queue(const char *body, size_t len)
	{
		int n = snprintf(out_ + out_len_, sizeof out_ - out_len_, "%u\n", (unsigned)len);
		if (n < 0 || out_len_ + (size_t)n + len > sizeof out_) {
			printf("broker: output full\n");
			mismatches++;
			return;
		}
		out_len_ += (size_t)n;
		memcpy(out_ + out_len_, body, len);
		out_len_ += len;
	}

	/* Runs the server's own steps from the current position. */
	void speak()
	{
		while (pos_ < steps_ && script_[pos_].expect == NULL && !closing_) {
			const Step &s = script_[pos_++];
			for (const char *r : s.replies)
				if (r != NULL)
					queue(r, strlen(r));
			closing_ = s.close;
		}
	}

	void on_frame(const char *body, size_t len)
	{
		frames_in++;
		if (pos_ >= steps_ || script_[pos_].expect == NULL) {
			printf("broker: unexpected message from the client: %.*s\n", (int)len, body);
			mismatches++;
			return;
		}
		const Step &s = script_[pos_++];
		if (strlen(s.expect) != len || memcmp(s.expect, body, len) != 0) {
			printf("broker: expected \"%s\", got \"%.*s\"\n", s.expect, (int)len, body);
			mismatches++;
			queue(broker_mismatch, sizeof broker_mismatch - 1);
			return;
		}
		for (const char *r : s.replies)
			if (r != NULL)
				queue(r, strlen(r));
		closing_ = s.close;
		speak();
	}

	/* Cuts the client's bytes into frames. */
	void take(const char *buf, size_t len)
	{
		if (in_len_ + len > sizeof in_) {
			printf("broker: input full\n");
			mismatches++;
			return;
		}
		memcpy(in_ + in_len_, buf, len);
		in_len_ += len;
		for (;;) {
			const char *nl = (const char *)memchr(in_, '\n', in_len_);
			if (nl == NULL)
				return;
			size_t head = (size_t)(nl - in_) + 1, body = 0;
			for (const char *p = in_; p < nl; p++)
				body = body * 10 + (size_t)(*p - '0');
			if (in_len_ < head + body)
				return;
			on_frame(in_ + head, body);
			memmove(in_, in_ + head + body, in_len_ - head - body);
			in_len_ -= head + body;
		}
	}

	static Broker *of(void *ctx) { return static_cast<Broker *>(ctx); }

	static ducq_state conn_cb(void *ctx, int timeout_ms)
	{
		Broker *b = of(ctx);
		(void)timeout_ms;
		b->conns++;
		b->in_len_ = b->out_len_ = b->out_pos_ = 0;
		b->closing_ = false;
		b->speak();
		return DUCQ_OK;
	}

	static ducq_state send_cb(void *ctx, const void *buf, size_t len, size_t *sent)
	{
		of(ctx)->take(static_cast<const char *>(buf), len);
		*sent = len;
		return DUCQ_OK;
	}

	static ducq_state recv_cb(void *ctx, void *buf, size_t len, size_t *received,
	                          int timeout_ms)
	{
		Broker *b = of(ctx);
		(void)timeout_ms;
		size_t left = b->out_len_ - b->out_pos_;
		if (left == 0) {
			if (b->closing_) {
				*received = 0;
				return DUCQ_OK;
			}
			return DUCQ_ETIMEOUT;
		}
		size_t n = left < len ? left : len;
		if (n > b->piece_)
			n = b->piece_;
		memcpy(buf, b->out_ + b->out_pos_, n);
		b->out_pos_ += n;
		*received = n;
		return DUCQ_OK;
	}

	static ducq_state close_cb(void *ctx)
	{
		of(ctx)->closes++;
		return DUCQ_OK;
	}

	static const char *id_cb(void *ctx)
	{
		(void)ctx;
		return "10.0.0.7:4242";
	}
};

#endif
