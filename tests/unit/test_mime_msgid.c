/*
 * test_mime_msgid.c — RFC 5322 §3.6.4 msg-ids read strictly (what JMAP's
 * asMessageIds gives, RFC 8621 §4.1.2.3) and checked for writing.
 */
#include <stdio.h>
#include <string.h>

#include "mime/mime_msgid.h"
#include "unit.h"

/* The ids of value joined by '|', or "NULL" when it is no msg-id list. */
static void list(const char *value, const char *want, int line)
{
	char got[512] = "";
	size_t pos = 0, n = 0;
	struct str v = str_c(value), id;
	int r;

	while ((r = mime_msgid_list_next(v, &pos, &id)) == 1) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%.*s", n ? "|" : "", (int)id.len,
		                      id.p);
	}
	if (r < 0 || !mime_msgid_list_valid(v))
		snprintf(got, sizeof(got), "NULL");
	if (strcmp(got, want) != 0)
		fprintf(stderr, "line %d: \"%s\" -> \"%s\"\n", line, value, got);
	CHECK_EQ_STR(got, want);
}

static void test_lists(void)
{
	list("<a@b>", "a@b", __LINE__);
	list(" <a@b.c>\r\n\t<d.e@[1.2.3.4]> ", "a@b.c|d.e@[1.2.3.4]", __LINE__);
	list("<a@b><c@d>", "a@b|c@d", __LINE__);
	list("(comment (nested) \\) ) <a@b> (x)", "a@b", __LINE__);
	list("<\"a b\"@x>", "\"a b\"@x", __LINE__);                   /* obs-id-left */
	list("<caf\xc3\xa9@x.test>", "caf\xc3\xa9@x.test", __LINE__); /* RFC 6532 */
	/* RFC 5322 §4.5.4: phrase words between ids in the obsolete form */
	list("Your message of \"Mon, 1 Jan\" <a@b>", "a@b", __LINE__);
	list("Mr. Smith's note <a@b>", "a@b", __LINE__);
	/* no ids, or an id broken anywhere: not a list */
	list("", "NULL", __LINE__);
	list("   (just a comment) ", "NULL", __LINE__);
	list("words only", "NULL", __LINE__);
	list("<a@b> <broken", "NULL", __LINE__);
	list("<a@b> <c d@e>", "NULL", __LINE__);
	list("<a@b>, <c@d>", "NULL", __LINE__);
	list("<a@b> <here>", "NULL", __LINE__);
	list("<a@b> c@d", "NULL", __LINE__);
	list("<a@b> >", "NULL", __LINE__);
	list("<a@b> (unclosed", "NULL", __LINE__);
	list("<a@b> \"unclosed", "NULL", __LINE__);
	list("<@b>", "NULL", __LINE__);
	list("<a@>", "NULL", __LINE__);
	list("<a@b@c>", "NULL", __LINE__);
	list("<a..b@c>", "NULL", __LINE__);
	list("<.a@c>", "NULL", __LINE__);
	list("<a.@c>", "NULL", __LINE__);
	list("<a@b.>", "NULL", __LINE__);
	list("<a@[1 2]>", "NULL", __LINE__);
	list("<a(b)@c>", "NULL", __LINE__);
	list("<a@b>\x01", "NULL", __LINE__);
}

static void valid(const char *id, int want)
{
	if (mime_msgid_valid(str_c(id)) != want)
		fprintf(stderr, "\"%s\" valid? want %d\n", id, want);
	CHECK_EQ_INT(mime_msgid_valid(str_c(id)), want);
}

static void test_valid(void)
{
	valid("a@b", 1);
	valid("a.b+c@x.test", 1);
	valid("a@[10.0.0.1]", 1);
	valid("caf\xc3\xa9@x", 1);
	valid("", 0);
	valid("a", 0);
	valid("@b", 0);
	valid("a@", 0);
	valid("a@b@c", 0);
	valid("a..b@c", 0);
	valid("a(b)@c", 0);
	valid("a,b@c", 0);
	valid("\"a b\"@x", 0); /* obsolete: read, never written */
	valid("a@[x]y", 0);
	valid("a@[x", 0);
	valid("a@b ", 0);
}

/* A list of many ids is read whole, in order, with no limit. */
static void test_many(void)
{
	static char v[20000];
	size_t n = 0, pos = 0, count = 0;
	struct str id;

	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(v + n, sizeof(v) - n, " <%d@x>", i);
	CHECK_EQ_INT(mime_msgid_list_valid(str_make(v, n)), 1);
	while (mime_msgid_list_next(str_make(v, n), &pos, &id) == 1) {
		char want[16];
		snprintf(want, sizeof(want), "%zu@x", count++);
		CHECK(id.len == strlen(want) && memcmp(id.p, want, id.len) == 0);
	}
	CHECK_EQ_INT((int)count, 1000);
}

int main(void)
{
	test_lists();
	test_valid();
	test_many();
	return unit_done("test_mime_msgid");
}
