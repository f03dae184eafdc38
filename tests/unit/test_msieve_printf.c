/*
 * test_msieve_printf.c — a ManageSieve line is never cut. ms_printf
 * formatted into 1 KiB on the stack and cut what did not fit: a "SIEVE"
 * capability line grown past it (it is ~470 octets, and grows with each
 * extension) lost its closing quote and CRLF. The session's static
 * writer is reached by compiling the session here; the conn is only an
 * output buffer (conn_write appends to it).
 */
#include "../../app/sieve/msieve_session.c"

#include "unit.h"

static void check_line(struct ms_session *s, size_t vlen)
{
	char *v = xmalloc(vlen + 1);
	for (size_t i = 0; i < vlen; i++)
		v[i] = (char)('a' + i % 26);
	v[vlen] = '\0';
	buf_reset(&s->conn->out);
	ms_printf(s, "\"SIEVE\" \"%s\"\r\n", v);
	struct str out = buf_str(&s->conn->out);
	CHECK_EQ_INT((long)out.len, (long)(vlen + 12));
	CHECK(out.len == vlen + 12 && memcmp(out.p, "\"SIEVE\" \"", 9) == 0 &&
	      memcmp(out.p + 9, v, vlen) == 0 && memcmp(out.p + 9 + vlen, "\"\r\n", 3) == 0);
	free(v);
}

int main(void)
{
	struct conn c;
	struct ms_session s;

	memset(&c, 0, sizeof c);
	memset(&s, 0, sizeof s);
	buf_init(&c.out, 1 << 20);
	s.conn = &c;
	/* Short, at the stack buffer's edge (1023 and 1024 octets in all),
	 * and well past it. */
	check_line(&s, 10);
	check_line(&s, 1023 - 12);
	check_line(&s, 1024 - 12);
	check_line(&s, 5000);
	/* A literal's count and its octets agree, however long. */
	buf_reset(&c.out);
	ms_printf(&s, "{%zu}\r\n%s\r\n", (size_t)3, "abc");
	CHECK(str_eq(buf_str(&c.out), str_c("{3}\r\nabc\r\n")));
	buf_free(&c.out);
	return unit_done("test_msieve_printf");
}
