/*
 * tls_pump.c — the TLS pump of server and client connections; see
 * tls_pump.h.
 */
#include "net/tls_pump.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int tls_pump_run(struct tls_pump *p, int readable)
{
	br_ssl_engine_context *eng = p->eng;
	int flags = 0, read_blocked = !readable, write_blocked = 0;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		int progress = 0;
		unsigned char *b;
		size_t len;

		if (st == BR_SSL_CLOSED) {
			p->err = br_ssl_engine_last_error(eng);
			p->closed = 1;
			return flags;
		}
		if ((st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) && !p->done) {
			p->done = 1;
			flags |= TLS_PUMP_NOW_DONE;
		}
		if ((st & BR_SSL_SENDREC) && !write_blocked) {
			b = br_ssl_engine_sendrec_buf(eng, &len);
			if (p->before_write)
				p->before_write();
			ssize_t w = write(p->fd, b, len);
			if (w > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)w);
				p->bytes_out += (uint64_t)w;
				progress = 1;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				p->dead = "write_error";
				return flags;
			} else {
				write_blocked = 1;
			}
		}
		if ((st & BR_SSL_RECVAPP) && buf_room(p->in) > 0 && !p->hold_in) {
			b = br_ssl_engine_recvapp_buf(eng, &len);
			if (len > buf_room(p->in))
				len = buf_room(p->in);
			if (buf_append(p->in, b, len) < 0) {
				p->dead = "out_of_memory";
				return flags;
			}
			/* BearSSL decrypts in place: the plaintext would stay in
			 * its record buffer until the next record overwrote it,
			 * and a client that sent a password and then only waits
			 * (IDLE, an EventSource) sends none. The copy taken is
			 * the session's to wipe. */
			explicit_bzero(b, len);
			br_ssl_engine_recvapp_ack(eng, len);
			flags |= TLS_PUMP_GOT_DATA;
			progress = 1;
		}
		if ((st & BR_SSL_SENDAPP) && buf_len(p->out) > 0) {
			b = br_ssl_engine_sendapp_buf(eng, &len);
			if (len > buf_len(p->out))
				len = buf_len(p->out);
			memcpy(b, buf_data(p->out), len);
			buf_consume(p->out, len);
			p->out_taken += len;
			br_ssl_engine_sendapp_ack(eng, len);
			if (buf_len(p->out) == 0)
				br_ssl_engine_flush(eng, 0);
			progress = 1;
		}
		if ((st & BR_SSL_RECVREC) && !read_blocked && !p->eof) {
			b = br_ssl_engine_recvrec_buf(eng, &len);
			ssize_t r = read(p->fd, b, len);
			if (r > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)r);
				p->bytes_in += (uint64_t)r;
				progress = 1;
			} else if (r == 0) {
				p->eof = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				p->dead = "read_error";
				return flags;
			} else {
				read_blocked = 1;
			}
		}
		if (!progress)
			return flags;
	}
}
