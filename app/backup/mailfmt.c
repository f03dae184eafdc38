/*
 * mailfmt.c — Maildir file-name info and mbox messages (mailfmt.h).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "backup/mailfmt.h"
#include "core/buf.h"

static const struct {
	char maildir, status, xstatus; /* letters; 0: none in that place */
	unsigned bit;
	const char *kw;
} flag_map[] = {
    {'D', 0, 'T', MF_DRAFT, "$draft"},
    {'F', 0, 'F', MF_FLAGGED, "$flagged"},
    {'P', 0, 0, MF_FORWARDED, "$forwarded"},
    {'R', 0, 'A', MF_ANSWERED, "$answered"},
    {'S', 'R', 0, MF_SEEN, "$seen"},
    {'T', 0, 'D', MF_DELETED, "$deleted"},
};
#define NFLAGS (sizeof flag_map / sizeof flag_map[0])

size_t maildir_info_parse(const char *name, size_t len, unsigned *flags_r, uint32_t *kw_r)
{
	*flags_r = 0;
	*kw_r = 0;
	for (size_t i = len; i >= 3; i--) {
		const char *p = name + i - 3;
		if ((p[0] != ':' && p[0] != '!') || p[1] != '2' || p[2] != ',')
			continue;
		for (size_t j = i; j < len; j++) {
			char c = name[j];
			if (c >= 'a' && c <= 'z')
				*kw_r |= 1u << (c - 'a');
			for (size_t f = 0; f < NFLAGS; f++)
				if (flag_map[f].maildir && flag_map[f].maildir == c)
					*flags_r |= flag_map[f].bit;
		}
		return i - 3;
	}
	return len;
}

size_t maildir_info_format(char *out, unsigned flags, uint32_t kw)
{
	size_t n = 0;
	out[n++] = ':';
	out[n++] = '2';
	out[n++] = ',';
	for (size_t f = 0; f < NFLAGS; f++) /* flag_map is in ASCII order */
		if (flags & flag_map[f].bit)
			out[n++] = flag_map[f].maildir;
	for (int i = 0; i < 26; i++)
		if (kw & (1u << i))
			out[n++] = (char)('a' + i);
	out[n] = '\0';
	return n;
}

unsigned mailfmt_flags_of(const char *kw, size_t len, char *others, size_t othersz)
{
	unsigned flags = 0;
	size_t on = 0;
	if (othersz)
		others[0] = '\0';
	for (size_t i = 0; i < len;) {
		while (i < len && kw[i] == ' ')
			i++;
		size_t s = i;
		while (i < len && kw[i] != ' ')
			i++;
		if (i == s)
			break;
		size_t n = i - s, f;
		for (f = 0; f < NFLAGS; f++)
			if (strlen(flag_map[f].kw) == n && strncasecmp(flag_map[f].kw, kw + s, n) == 0)
				break;
		if (f < NFLAGS) {
			flags |= flag_map[f].bit;
		} else if (on + n + 2 <= othersz) {
			if (on)
				others[on++] = ' ';
			memcpy(others + on, kw + s, n);
			on += n;
			others[on] = '\0';
		}
	}
	return flags;
}

void mailfmt_flags_to_keywords(unsigned flags, struct buf *out)
{
	for (size_t f = 0; f < NFLAGS; f++)
		if (flags & flag_map[f].bit) {
			if (buf_len(out))
				buf_append(out, " ", 1);
			buf_append_c(out, flag_map[f].kw);
		}
}

/* ---- mbox ---- */

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static int num_at(const char *p, size_t len, size_t *i, int maxd, int *v_r)
{
	int v = 0, d = 0;
	while (*i < len && p[*i] >= '0' && p[*i] <= '9' && d < maxd) {
		v = v * 10 + (p[*i] - '0');
		(*i)++;
		d++;
	}
	*v_r = v;
	return d ? 0 : -1;
}

static void skip_sp(const char *p, size_t len, size_t *i)
{
	while (*i < len && p[*i] == ' ')
		(*i)++;
}

int mbox_date_parse(const char *p, size_t len, time_t *t_r)
{
	size_t i = 0;
	int mon = -1, day, h, mi, s = 0, y;
	struct tm tm;

	if (len < 3)
		return -1;
	int wd = -1;
	for (int k = 0; k < 7; k++)
		if (strncmp(p, wdays[k], 3) == 0)
			wd = k;
	if (wd < 0)
		return -1;
	i = 3;
	skip_sp(p, len, &i);
	if (i + 3 > len)
		return -1;
	for (int k = 0; k < 12; k++)
		if (strncmp(p + i, months[k], 3) == 0)
			mon = k;
	if (mon < 0)
		return -1;
	i += 3;
	skip_sp(p, len, &i);
	if (num_at(p, len, &i, 2, &day) || i >= len || p[i] != ' ')
		return -1;
	skip_sp(p, len, &i);
	if (num_at(p, len, &i, 2, &h) || i >= len || p[i++] != ':' || num_at(p, len, &i, 2, &mi))
		return -1;
	if (i < len && p[i] == ':') {
		i++;
		if (num_at(p, len, &i, 2, &s))
			return -1;
	}
	skip_sp(p, len, &i);
	/* An optional zone name ("GMT", "+0200") before the year. */
	if (i < len && (p[i] < '0' || p[i] > '9' || len - i > 4)) {
		size_t z = i;
		while (i < len && p[i] != ' ')
			i++;
		if (i == z)
			return -1;
		skip_sp(p, len, &i);
	}
	if (num_at(p, len, &i, 4, &y) || y < 1970 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*t_r = timegm(&tm);
	return 0;
}

int mbox_is_from_line(const char *p, size_t len)
{
	size_t i = 5;
	if (len < 5 || memcmp(p, "From ", 5) != 0)
		return 0;
	skip_sp(p, len, &i);
	/* The sender: anything up to the next space (may be quoted). */
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++)
			;
		i++;
	}
	while (i < len && p[i] != ' ')
		i++;
	skip_sp(p, len, &i);
	time_t t;
	return i < len && mbox_date_parse(p + i, len - i, &t) == 0;
}

static time_t from_line_date(const char *p, size_t len)
{
	size_t i = 5;
	time_t t;
	skip_sp(p, len, &i);
	if (i < len && p[i] == '"') {
		for (i++; i < len && p[i] != '"'; i++)
			;
		i++;
	}
	while (i < len && p[i] != ' ')
		i++;
	skip_sp(p, len, &i);
	return i < len && mbox_date_parse(p + i, len - i, &t) == 0 ? t : 0;
}

/* End of the line starting at i (index of its '\n', or len). */
static size_t line_end(const char *p, size_t len, size_t i)
{
	const char *nl = memchr(p + i, '\n', len - i);
	return nl ? (size_t)(nl - p) : len;
}

static size_t trim_cr(const char *p, size_t s, size_t e)
{
	return e > s && p[e - 1] == '\r' ? e - 1 : e;
}

/*
 * Where a message starting at b ends by its Content-Length header: that
 * offset, when the header has one (the first, a plain number) and the
 * body it measures ends at the end of p, or right before an empty line
 * and a From_ line, or (a last message written without its separator)
 * right before a From_ line; 0 when not, and the caller splits by From_
 * lines instead.
 */
static size_t content_length_end(const char *p, size_t len, size_t b)
{
	size_t i = b, cl = SIZE_MAX;
	for (;;) {
		if (i >= len)
			return 0;
		size_t e = line_end(p, len, i), te = trim_cr(p, i, e);
		if (te == i) { /* the empty line: the body starts after it */
			i = e < len ? e + 1 : len;
			break;
		}
		if (cl == SIZE_MAX && te - i > 15 && strncasecmp(p + i, "Content-Length:", 15) == 0) {
			size_t k = i + 15, v = 0, digits = 0;
			while (k < te && (p[k] == ' ' || p[k] == '\t'))
				k++;
			while (k < te && p[k] >= '0' && p[k] <= '9' && digits < 15) {
				v = v * 10 + (size_t)(p[k] - '0');
				k++, digits++;
			}
			while (k < te && (p[k] == ' ' || p[k] == '\t'))
				k++;
			if (digits && k == te)
				cl = v;
		}
		i = e < len ? e + 1 : len;
	}
	if (cl == SIZE_MAX || cl > len - i)
		return 0;
	size_t end = i + cl, n = end;
	if (n == len)
		return end;
	if (p[n] == '\n')
		n++;
	else if (n + 1 < len && p[n] == '\r' && p[n + 1] == '\n')
		n += 2;
	if (n == len)
		return end;
	size_t e = line_end(p, len, n);
	return mbox_is_from_line(p + n, trim_cr(p, n, e) - n) ? end : 0;
}

int mbox_next(const char *p, size_t len, size_t *off, struct mbox_msg *m)
{
	size_t i = *off;

	/* Find a From_ line at the start of a line. */
	while (i < len) {
		size_t e = line_end(p, len, i);
		if (mbox_is_from_line(p + i, trim_cr(p, i, e) - i))
			break;
		i = e < len ? e + 1 : len;
	}
	if (i >= len) {
		*off = len;
		return 0;
	}
	size_t e = line_end(p, len, i);
	m->from_line = p + i;
	m->from_len = trim_cr(p, i, e) - i;
	m->date = from_line_date(m->from_line, m->from_len);
	size_t b = e < len ? e + 1 : len, j = b, prev_empty = 0;
	m->verbatim = 0;
	size_t cl_end = content_length_end(p, len, b);
	if (cl_end) {
		m->body = p + b;
		m->body_len = cl_end - b;
		m->verbatim = 1;
		j = cl_end;
		/* Past the empty separator line, onto the next From_ line. */
		if (j < len && p[j] == '\n')
			j++;
		else if (j + 1 < len && p[j] == '\r' && p[j + 1] == '\n')
			j += 2;
		*off = j;
		return 1;
	}
	/* The message runs to the next From_ line that follows an empty
	 * line (the empty line belongs to the mbox, not to the message). */
	while (j < len) {
		size_t le = line_end(p, len, j), te = trim_cr(p, j, le);
		if (j > b && prev_empty && mbox_is_from_line(p + j, te - j))
			break;
		prev_empty = te == j;
		j = le < len ? le + 1 : len;
	}
	size_t end = j;
	if (end >= b + 2 && p[end - 1] == '\n' && p[end - 2] == '\n')
		end--;
	else if (end >= b + 4 && memcmp(p + end - 4, "\r\n\r\n", 4) == 0)
		end -= 2;
	m->body = p + b;
	m->body_len = end - b;
	*off = j;
	return 1;
}

static int is_mbox_state_field(const char *p, size_t n)
{
	static const char *const names[] = {"Status:", "X-Status:", "X-Keywords:", "X-UID:",
	                                    "X-IMAPbase:", "X-IMAP:", "Content-Length:"};
	for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
		size_t l = strlen(names[k]);
		if (n >= l && strncasecmp(p, names[k], l) == 0)
			return 1;
	}
	return 0;
}

/* Appends one line (without its end) and CRLF. */
static void state_field(const char *p, size_t n, unsigned *flags, char *kw, size_t kwsz)
{
	const char *colon = memchr(p, ':', n);
	size_t v = colon ? (size_t)(colon - p) + 1 : n;
	if (n >= 7 && strncasecmp(p, "Status:", 7) == 0) {
		for (size_t i = v; i < n; i++)
			for (size_t f = 0; f < NFLAGS; f++)
				if (flag_map[f].status && flag_map[f].status == p[i])
					*flags |= flag_map[f].bit;
	} else if (n >= 9 && strncasecmp(p, "X-Status:", 9) == 0) {
		for (size_t i = v; i < n; i++)
			for (size_t f = 0; f < NFLAGS; f++)
				if (flag_map[f].xstatus && flag_map[f].xstatus == p[i])
					*flags |= flag_map[f].bit;
	} else if (n >= 11 && strncasecmp(p, "X-Keywords:", 11) == 0) {
		size_t kl = strlen(kw);
		for (size_t i = v; i < n;) {
			while (i < n && (p[i] == ' ' || p[i] == ',' || p[i] == '\t'))
				i++;
			size_t s = i;
			while (i < n && p[i] != ' ' && p[i] != ',' && p[i] != '\t')
				i++;
			if (i > s && kl + (i - s) + 2 <= kwsz) {
				if (kl)
					kw[kl++] = ' ';
				memcpy(kw + kl, p + s, i - s);
				kl += i - s;
				kw[kl] = '\0';
			}
		}
	}
}

int mbox_message_decode_to(const char *body, size_t len, int verbatim, mailfmt_put_fn *put,
                           void *arg, unsigned *flags_r, char *keywords, size_t kwsz)
{
	size_t i = 0;
	int in_header = 1;

	*flags_r = 0;
	if (kwsz)
		keywords[0] = '\0';
	while (i < len) {
		size_t e = line_end(body, len, i), le = trim_cr(body, i, e);
		const char *p = body + i;
		size_t n = le - i;
		i = e < len ? e + 1 : len;
		if (in_header) {
			/* A continuation line is kept even after a state field:
			 * writers put those on one line, and a message may well
			 * start with white space (the export's own fields come
			 * first, right before it). */
			if (n == 0) {
				in_header = 0;
			} else if (p[0] != ' ' && p[0] != '\t' && is_mbox_state_field(p, n)) {
				state_field(p, n, flags_r, keywords, kwsz);
				continue;
			}
		}
		/* mboxrd: ">From " -> "From ", ">>From " -> ">From ". */
		size_t q = 0;
		while (q < n && p[q] == '>')
			q++;
		if (!verbatim && q > 0 && n - q >= 5 && memcmp(p + q, "From ", 5) == 0) {
			p++;
			n--;
		}
		if (e == len) { /* the last line had no newline: keep it so */
			if (n && put(arg, p, n))
				return -1;
			break;
		}
		if ((n && put(arg, p, n)) || put(arg, "\r\n", 2))
			return -1;
	}
	return 0;
}

static int put_buf(void *arg, const void *p, size_t n)
{
	return buf_append(arg, p, n) ? -1 : 0;
}

int mbox_message_decode(const char *body, size_t len, int verbatim, struct buf *out,
                        unsigned *flags_r, char *keywords, size_t kwsz)
{
	return mbox_message_decode_to(body, len, verbatim, put_buf, out, flags_r, keywords, kwsz);
}

int mbox_message_encode(const char *msg, size_t len, time_t date, unsigned flags,
                        const char *others, struct buf *out)
{
	struct tm tm;
	char when[64], st[8], xst[8];
	size_t sn = 0, xn = 0;

	gmtime_r(&date, &tm);
	if (strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm) == 0)
		return -1;
	for (size_t f = 0; f < NFLAGS; f++) {
		if ((flags & flag_map[f].bit) && flag_map[f].status)
			st[sn++] = flag_map[f].status;
		if ((flags & flag_map[f].bit) && flag_map[f].xstatus)
			xst[xn++] = flag_map[f].xstatus;
	}
	st[sn++] = 'O'; /* seen by a client before: not new */
	st[sn] = '\0';
	xst[xn] = '\0';
	if (buf_printf(out, "From MAILER-DAEMON %s\nStatus: %s\n", when, st))
		return -1;
	if (xn && buf_printf(out, "X-Status: %s\n", xst))
		return -1;
	/* $Forwarded has no letter in mbox: a keyword, as Dovecot keeps it. */
	if ((flags & MF_FORWARDED) || (others && others[0])) {
		if (buf_printf(out, "X-Keywords:%s%s%s%s\n", (flags & MF_FORWARDED) ? " $Forwarded" : "",
		               others && others[0] ? " " : "", others ? others : "", "") != 0)
			return -1;
	}
	/* The message's own state fields (a sender may write "X-Status: D")
	 * stay out, as Dovecot's mbox writer keeps them out: a reader takes
	 * them for the mailbox's, flags and Content-Length alike. */
	int in_header = 1, skipping = 0;
	for (size_t i = 0; i < len;) {
		size_t e = line_end(msg, len, i), le = trim_cr(msg, i, e);
		const char *p = msg + i;
		size_t n = le - i, q = 0;
		if (in_header) {
			if (n == 0)
				in_header = 0;
			else if (p[0] != ' ' && p[0] != '\t')
				skipping = is_mbox_state_field(p, n);
			if (in_header && skipping) {
				i = e < len ? e + 1 : len;
				continue;
			}
		}
		while (q < n && p[q] == '>')
			q++;
		if (n - q >= 5 && memcmp(p + q, "From ", 5) == 0 && buf_append(out, ">", 1))
			return -1;
		if (buf_append(out, p, n) || buf_append(out, "\n", 1))
			return -1;
		i = e < len ? e + 1 : len;
	}
	return buf_append(out, "\n", 1);
}
