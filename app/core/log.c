/*
 * log.c — key=value log records, optionally re-encoded as JSON lines.
 *
 * The caller's pairs are formatted first; the JSON encoder then splits them
 * on spaces, honouring "..." quoting, so both formats come from one printf.
 */
#include "log.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/utf8.h"

static int log_fd = 2;
static enum log_level log_min = LOG_INFO;
static int log_json;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* log_defer_*: this thread's held-back records, whole lines. */
static _Thread_local int defer_on;
static _Thread_local size_t defer_len;
static _Thread_local char defer_buf[PIPE_BUF];

/* The timestamp's text up to the seconds, redone when the second changes. */
static _Thread_local time_t when_sec = (time_t)-1;
static _Thread_local char when_prefix[64];

/* The most recent records, for the admin API's log page (log_ring_walk). */
struct ring_rec {
	uint64_t seq; /* 1, 2, ...: a cursor for paging (api_logs' before=) */
	double time;
	enum log_level level;
	char module[16];
	char text[LOG_RING_TEXT];
};
static struct ring_rec ring[LOG_RING_SIZE];
static size_t ring_next, ring_count;
static uint64_t ring_seq;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;

static void ring_add(const struct timespec *ts, enum log_level lvl, const char *module,
		     const char *session, const char *pairs)
{
	pthread_mutex_lock(&ring_lock);
	struct ring_rec *r = &ring[ring_next];
	r->seq = ++ring_seq;
	r->time = (double)ts->tv_sec + (double)(ts->tv_nsec / 1000000) / 1000.0;
	r->level = lvl;
	size_t m = strlen(module), o = 0, n;
	if (m >= sizeof(r->module))
		m = sizeof(r->module) - 1;
	memcpy(r->module, module, m);
	r->module[m] = '\0';
	/* Truncating copies: a long record keeps its beginning. */
	if (session) {
		int k = snprintf(r->text, sizeof(r->text), "session=%.64s ", session);
		o = k > 0 ? (size_t)k : 0;
	}
	n = strlen(pairs);
	if (n > sizeof(r->text) - 1 - o)
		n = sizeof(r->text) - 1 - o;
	memcpy(r->text + o, pairs, n);
	r->text[o + n] = '\0';
	ring_next = (ring_next + 1) % LOG_RING_SIZE;
	if (ring_count < LOG_RING_SIZE)
		ring_count++;
	pthread_mutex_unlock(&ring_lock);
}

void log_ring_walk(log_ring_cb *cb, void *arg)
{
	pthread_mutex_lock(&ring_lock);
	size_t first = (ring_next + LOG_RING_SIZE - ring_count) % LOG_RING_SIZE;
	for (size_t i = 0; i < ring_count; i++) {
		const struct ring_rec *r = &ring[(first + i) % LOG_RING_SIZE];
		cb(arg, r->seq, r->time, r->level, r->module, r->text);
	}
	pthread_mutex_unlock(&ring_lock);
}

void log_defer_start(void)
{
	defer_on = 1;
}

void log_defer_flush(void)
{
	if (defer_len) {
		ssize_t w = write(log_fd, defer_buf, defer_len);
		(void)w;
		defer_len = 0;
	}
}

void log_defer_stop(void)
{
	log_defer_flush();
	defer_on = 0;
}

const char *log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < 4 ? level_names[lvl] : "?";
}

void log_init(int fd, enum log_level min, int json)
{
	log_fd = fd;
	log_min = min;
	log_json = json;
}

int log_level_parse(const char *s, enum log_level *lvl_r)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static int needs_quote(const char *s, size_t n)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c == 0x7f)
			return 1;
	}
	return 0;
}

static const char *quote(const char *s, size_t n, char *out, size_t outsz, int force)
{
	size_t o = 0;

	if (!force && !needs_quote(s, n) && n < outsz) {
		memcpy(out, s, n);
		out[n] = '\0';
		return out;
	}
	if (outsz < 3)
		return "\"\"";
	out[o++] = '"';
	for (size_t i = 0; i < n && o + 5 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *log_qn(const char *s, size_t n, char *out, size_t outsz)
{
	return quote(s, n, out, outsz, 0);
}

void log_unknown_command(const char *module, const char *session, const char *verb,
			 size_t verb_len, size_t line_len, int withheld)
{
	char q[80];

	if (withheld)
		log_debug(module, session,
			  "event=unknown_command verb=(withheld:after_auth) length=%zu", line_len);
	else
		log_debug(module, session, "event=unknown_command verb=%s",
			  log_qn(verb, verb_len > 32 ? 32 : verb_len, q, sizeof(q)));
}

const char *log_quoted(const char *s, char *out, size_t outsz)
{
	return quote(s ? s : "", s ? strlen(s) : 0, out, outsz, 1);
}

const char *log_q(const char *s, char *out, size_t outsz)
{
	if (!s)
		return "\"\"";
	size_t n = strlen(s);
	if (!needs_quote(s, n))
		return s;
	return log_qn(s, n, out, outsz);
}

/* Appends s as a JSON string body (without quotes). JSON text is UTF-8
 * (RFC 8259 §8.1) and values can be a peer's bytes (a user name): an
 * ill-formed octet becomes U+FFFD, or a log shipper would drop the line. */
static size_t json_escape(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o + 7 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t k = utf8_seq((const unsigned char *)s + i, n - i);
			if (k == 0) {
				memcpy(out + o, "\\ufffd", 6);
				o += 6;
			} else {
				memcpy(out + o, s + i, k); /* k <= 4 < 7 */
				o += k;
				i += k - 1;
			}
		} else if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < ' ') {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	return o;
}

/* Re-encodes "k=v k=\"v w\"" pairs as JSON members appended at out+o. */
static size_t pairs_to_json(char *out, size_t o, size_t cap, const char *p)
{
	while (*p && o + 16 < cap) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		size_t klen = (size_t)(p - k);
		const char *v = "";
		size_t vlen = 0;
		char unq[2048];
		if (*p == '=') {
			p++;
			if (*p == '"') {
				/* Undo log_qn's quoting; \xHH stays literal text. */
				size_t u = 0;
				p++;
				while (*p && *p != '"') {
					if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					/* Past unq's size the rest is dropped, never
					 * read as pairs of its own. */
					if (u + 1 < sizeof(unq))
						unq[u++] = *p;
					p++;
				}
				if (*p == '"')
					p++;
				v = unq;
				vlen = u;
			} else {
				v = p;
				while (*p && *p != ' ')
					p++;
				vlen = (size_t)(p - v);
			}
		}
		out[o++] = ',';
		out[o++] = '"';
		o = json_escape(out, o, cap, k, klen);
		out[o++] = '"';
		out[o++] = ':';
		out[o++] = '"';
		o = json_escape(out, o, cap, v, vlen);
		out[o++] = '"';
	}
	return o;
}

/* The length of the character at s (k octets left) that a viewer obeys
 * instead of showing: a C1 control (U+0080-U+009F; U+009B is a
 * terminal's CSI) or a bidirectional control (U+200E, U+200F, U+061C,
 * U+202A-U+202E, U+2066-U+2069: an override makes "relay=... status=sent"
 * after it read backwards). 0 for any other. Each begins with a lead
 * octet and the others are continuations, so a match never starts inside
 * another: log_scrub matches them from either end alike. */
static size_t invisible_len(const unsigned char *s, size_t k)
{
	if (k >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2;
	if (k >= 2 && s[0] == 0xd8 && s[1] == 0x9c)
		return 2;
	if (k >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] == 0x8e || s[2] == 0x8f || (s[2] >= 0xaa && s[2] <= 0xae)))
		return 3;
	if (k >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
		return 3;
	return 0;
}

/* invisible_len's character ending just before s + m, or 0. */
static size_t invisible_before(const unsigned char *s, size_t m)
{
	for (size_t k = 2; k <= 3; k++)
		if (m >= k && invisible_len(s + m - k, k) == k)
			return k;
	return 0;
}

/* The code point of an invisible_len character of k octets. */
static unsigned invisible_cp(const unsigned char *s, size_t k)
{
	return k == 2 ? (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)
		      : (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
}

/* Rewrites each control byte of s (NUL-terminated, in a buffer of sz
 * bytes) as \xHH, and each invisible_len character as \uHHHH, in place,
 * cutting the end when there is no room. A value a caller forgot to
 * quote may come from a peer (a report's org_name, a remote reply): a raw
 * CR or LF in it would start a record of the peer's making, one
 * fail2ban's anchored filter would take for a failed login; a bidi
 * override would make the rest of the line, read in a terminal or the
 * web admin's log page, say something else. */
static void log_scrub(char *s, size_t sz)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), m = 0, len = 0;

	/* In place, from the end (no second buffer on a small thread stack):
	 * first how much of s fits once escaped, then the copy backwards. */
	while (m < n) {
		size_t k = invisible_len(u + m, n - m), in = k ? k : 1;
		size_t w = k ? 6 : u[m] < ' ' || u[m] == 0x7f ? 4 : 1;
		if (len + w > sz - 1)
			break;
		len += w;
		m += in;
	}
	if (len == m && m == n)
		return; /* nothing to escape */
	s[len] = '\0';
	while (m > 0) {
		static const char hex[] = "0123456789abcdef";
		size_t k = invisible_before(u, m);
		if (k) {
			unsigned cp = invisible_cp(u + m - k, k);
			m -= k;
			for (int i = 0; i < 4; i++, cp >>= 4)
				s[--len] = hex[cp & 15];
			s[--len] = 'u';
			s[--len] = '\\';
			continue;
		}
		unsigned char c = (unsigned char)s[--m];
		if (c < ' ' || c == 0x7f) {
			s[--len] = hex[c & 15];
			s[--len] = hex[c >> 4];
			s[--len] = 'x';
			s[--len] = '\\';
		} else {
			s[--len] = (char)c;
		}
	}
}

void log_msg(enum log_level lvl, const char *module, const char *session, const char *fmt, ...)
{
	char pairs[4096], line[8192];
	struct timespec ts;
	struct tm tm;
	char when[96];
	size_t o;
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(pairs, sizeof(pairs), fmt, ap);
	va_end(ap);
	log_scrub(pairs, sizeof(pairs));

	clock_gettime(CLOCK_REALTIME, &ts);
	ring_add(&ts, lvl, module, session, pairs);
	if (ts.tv_sec != when_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(when_prefix, sizeof(when_prefix), "%04d-%02d-%02dT%02d:%02d:%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		when_sec = ts.tv_sec;
	}
	snprintf(when, sizeof(when), "%s.%03ldZ", when_prefix, ts.tv_nsec / 1000000);

	if (log_json) {
		int n = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"module\":\"%s\"",
				 when, level_names[lvl], module);
		o = (size_t)n;
		if (session)
			o += (size_t)snprintf(line + o, sizeof(line) - o, ",\"session\":\"%s\"", session);
		o = pairs_to_json(line, o, sizeof(line) - 3, pairs);
		line[o++] = '}';
	} else {
		int n = snprintf(line, sizeof(line), "time=%s level=%s module=%s%s%s %s", when,
				 level_names[lvl], module, session ? " session=" : "",
				 session ? session : "", pairs);
		o = n < 0 ? 0 : (size_t)n;
		if (o > sizeof(line) - 2)
			o = sizeof(line) - 2;
	}
	line[o++] = '\n';
	if (defer_on) {
		if (lvl <= LOG_INFO && o <= sizeof(defer_buf)) {
			if (defer_len + o > sizeof(defer_buf))
				log_defer_flush();
			memcpy(defer_buf + defer_len, line, o);
			defer_len += o;
			return;
		}
		log_defer_flush(); /* what came before goes first */
	}
	/* One write per record: lines from several threads never interleave. */
	ssize_t w = write(log_fd, line, o);
	(void)w;
}
