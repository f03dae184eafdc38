/*
 * test_http_framing.c — http_framing_status(): which Content-Length and
 * Transfer-Encoding combinations a request may carry (RFC 9112 §6), the
 * request smuggling shapes refused, and a coding we do not implement.
 */
#include "http/http_parse.h"
#include "unit.h"

int main(void)
{
	/* Sound: no body, a length, the same length on two lines, chunked. */
	CHECK_EQ_INT(http_framing_status(0, NULL, NULL), 0);
	CHECK_EQ_INT(http_framing_status(0, "5", NULL), 0);
	CHECK_EQ_INT(http_framing_status(1, "0", NULL), 0);
	CHECK_EQ_INT(http_framing_status(0, "5, 5", NULL), 0);
	CHECK_EQ_INT(http_framing_status(0, NULL, "chunked"), 0);
	CHECK_EQ_INT(http_framing_status(0, NULL, " Chunked\t"), 0);
	CHECK_EQ_INT(http_framing_status(0, NULL, ", chunked,"), 0);
	/* Two lengths that differ, or one that is not digits. */
	CHECK_EQ_INT(http_framing_status(0, "5, 40", NULL), 400);
	CHECK_EQ_INT(http_framing_status(0, "5, 05", NULL), 400);
	CHECK_EQ_INT(http_framing_status(0, "+5", NULL), 400);
	CHECK_EQ_INT(http_framing_status(0, "5 5", NULL), 400);
	CHECK_EQ_INT(http_framing_status(0, "", NULL), 400);
	CHECK_EQ_INT(http_framing_status(0, " , ", NULL), 400);
	/* Both fields; Transfer-Encoding in HTTP/1.0. */
	CHECK_EQ_INT(http_framing_status(0, "30", "chunked"), 400);
	CHECK_EQ_INT(http_framing_status(0, "0", "chunked"), 400);
	CHECK_EQ_INT(http_framing_status(1, NULL, "chunked"), 400);
	/* Chunked not last, twice, absent, or with a parameter. */
	CHECK_EQ_INT(http_framing_status(0, NULL, "chunked, identity"), 400);
	CHECK_EQ_INT(http_framing_status(0, NULL, "chunked, chunked"), 400);
	CHECK_EQ_INT(http_framing_status(0, NULL, "xchunked"), 400);
	CHECK_EQ_INT(http_framing_status(0, NULL, "identity"), 400);
	CHECK_EQ_INT(http_framing_status(0, NULL, ""), 400);
	CHECK_EQ_INT(http_framing_status(0, NULL, "chunked;x=1"), 400);
	/* A coding before chunked that we do not implement. */
	CHECK_EQ_INT(http_framing_status(0, NULL, "gzip, chunked"), 501);
	CHECK_EQ_INT(http_framing_status(0, NULL, "gzip,chunked"), 501);
	return unit_done("test_http_framing");
}
