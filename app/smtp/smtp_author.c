/*
 * smtp_author.c — the author fields' check shared by port 587 and JMAP
 * submission (see smtp_author.h).
 */
#include "smtp/smtp_author.h"

#include <string.h>

#include "smtp/smtp_headers.h"
#include "smtp/smtp_session.h"

struct owner {
	struct store *st;
	uint32_t account;
};

/* smtp_name_shows_other's callback: a name may show another address of
 * the same account. */
static int shown_owned(void *arg, const char *shown)
{
	const struct owner *o = arg;
	return smtp_submit_owned(o->st, o->account, shown);
}

int smtp_author_name_shows_other(struct store *st, uint32_t account, const char *name,
				 const char *addr)
{
	struct owner o = {st, account};
	return smtp_name_shows_other(name, addr, shown_owned, &o);
}

/* The verdict for field in r; -1 so that callers return it. */
static int fail(struct smtp_author *r, enum smtp_author_verdict v, const char *field, int single,
		const char *addr)
{
	r->verdict = v;
	r->field = field;
	r->single = single;
	r->addr = addr;
	return -1;
}

/*
 * One author field's value: at most max mailboxes (1 for the Sender
 * kinds), each owned and not shown as another. addrs_r and names_r (max
 * entries) receive them. Returns the count, or -1 with r's verdict set.
 */
static int check_field(struct arena *a, const struct owner *o, const char *field,
		       struct str value, int max, char **addrs_r, char **names_r,
		       struct smtp_author *r)
{
	int single = max == 1;
	int n = smtp_from_mailboxes(a, value, addrs_r, names_r, (unsigned)max);

	if (n < 0 || (single && n != 1))
		return fail(r, SMTP_AUTHOR_UNPARSABLE, field, single, NULL);
	for (int i = 0; i < n; i++) {
		if (!smtp_submit_owned(o->st, o->account, addrs_r[i]))
			return fail(r, SMTP_AUTHOR_NOT_OWNED, field, single, addrs_r[i]);
		if (smtp_author_name_shows_other(o->st, o->account, names_r[i], addrs_r[i]))
			return fail(r, SMTP_AUTHOR_NAME_SHOWS_OTHER, field, single, addrs_r[i]);
	}
	return n;
}

/* The header's shape: what can be checked at all. 0, or -1 with r's verdict. */
static int check_shape(const struct smtp_headers *h, struct smtp_author *r)
{
	/* Readers disagree about what follows a broken header line; a From
	 * there could be shown although it was never checked. */
	if (h->malformed)
		return fail(r, SMTP_AUTHOR_MALFORMED, NULL, 0, NULL);
	if (h->from_fields != 1)
		return fail(r, h->from_fields ? SMTP_AUTHOR_SEVERAL_FROM : SMTP_AUTHOR_NO_FROM, NULL,
			    0, NULL);
	if (h->sender_fields > 1)
		return fail(r, SMTP_AUTHOR_SEVERAL_SENDER, "Sender", 1, NULL);
	if (h->resent_from_fields > SMTP_RESENT_MAX || h->resent_sender_fields > SMTP_RESENT_MAX)
		return fail(r, SMTP_AUTHOR_TOO_MANY_RESENT, NULL, 0, NULL);
	return 0;
}

int smtp_author_check(struct arena *a, struct store *st, uint32_t account,
		      const struct smtp_headers *h, struct smtp_author *r)
{
	const struct owner o = {st, account};
	char *other[SMTP_AUTHOR_FROM_MAX], *names[SMTP_AUTHOR_FROM_MAX];

	memset(r, 0, sizeof *r);
	if (check_shape(h, r) < 0)
		return -1;
	r->nfrom = check_field(a, &o, "From", h->from, SMTP_AUTHOR_FROM_MAX, r->from, r->from_names,
			       r);
	if (r->nfrom < 0)
		return -1;
	if (h->sender_fields) {
		if (check_field(a, &o, "Sender", h->sender, 1, other, names, r) < 0)
			return -1;
		r->sender = other[0];
	}
	for (unsigned i = 0; i < h->resent_from_fields; i++)
		if (check_field(a, &o, "Resent-From", h->resent_from[i], SMTP_AUTHOR_FROM_MAX, other,
				names, r) < 0)
			return -1;
	for (unsigned i = 0; i < h->resent_sender_fields; i++)
		if (check_field(a, &o, "Resent-Sender", h->resent_sender[i], 1, other, names, r) < 0)
			return -1;
	r->verdict = SMTP_AUTHOR_OK;
	return 0;
}
