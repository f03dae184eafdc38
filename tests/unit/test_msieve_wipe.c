/*
 * test_msieve_wipe.c — a refused ManageSieve line leaves no credentials in
 * the input buffer. An accepted AUTHENTICATE was wiped from it, but a
 * refused line (malformed, or too long and cut into pieces) was dropped
 * with buf_consume: its octets, SASL response and all, stayed in the
 * buffer's storage until overwritten. The session is compiled here and
 * fed through its input loop; the conn is only two buffers.
 */
#include "../../app/sieve/msieve_session.c"

#include "unit.h"

#define SECRET "c2VjcmV0UGFzcw"

/* The secret anywhere in the input buffer's storage, consumed or not. */
static int secret_left(const struct conn *c)
{
	return c->in.p && memmem(c->in.p, c->in.cap, SECRET, strlen(SECRET)) != NULL;
}

static void setup(struct conn *c, struct ms_session *s)
{
	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	buf_init(&c->in, MSIEVE_IN_MAX);
	buf_init(&c->out, 1 << 20);
	/* Storage that never moves: what is checked is what was read into. */
	size_t avail;
	CHECK(buf_reserve(&c->in, 3 * MSIEVE_LINE_MAX, &avail) != NULL);
	s->conn = c;
	s->state = MS_NONAUTH;
}

static void teardown(struct conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
}

int main(void)
{
	struct conn c;
	struct ms_session s;

	/* A malformed AUTHENTICATE line, whole: refused, and wiped. */
	setup(&c, &s);
	const char *bad = "AUTHENTICATE \"PLAIN\" \"" SECRET "\"junk\r\n";
	CHECK(buf_append(&c.in, bad, strlen(bad)) == 0);
	session_input(&s);
	CHECK_EQ_INT((long)buf_len(&c.in), 0);
	CHECK(str_has_prefix_ci(buf_str(&c.out), "NO "));
	CHECK(!secret_left(&c));
	teardown(&c);

	/* Too long, in two pieces: the first is held (no line end yet), the
	 * second makes it refused for length; then the line's end. */
	setup(&c, &s);
	const char *head = "AUTHENTICATE \"PLAIN\" " SECRET;
	CHECK(buf_append(&c.in, head, strlen(head)) == 0);
	session_input(&s);
	CHECK_EQ_INT((long)buf_len(&c.out), 0); /* waits for more */
	char fill[MSIEVE_LINE_MAX];
	memset(fill, 'A', sizeof(fill));
	CHECK(buf_append(&c.in, fill, sizeof(fill)) == 0);
	session_input(&s);
	CHECK(str_has_prefix_ci(buf_str(&c.out), "NO "));
	CHECK(s.discard_line);
	CHECK(buf_append(&c.in, "AAAA\r\n", 6) == 0);
	session_input(&s);
	CHECK(!s.discard_line);
	CHECK_EQ_INT((long)buf_len(&c.in), 0);
	CHECK(!secret_left(&c));
	teardown(&c);

	return unit_done("test_msieve_wipe");
}
