/*
 * jmap_send.c — sending a composed message for a JMAP method (see
 * jmap_send.h).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/hostname.h"
#include "core/latch.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/punycode.h"
#include "core/xalloc.h"
#include "jmap/jmap_private.h"
#include "jmap/jmap_send.h"
#include "queue/queue.h"
#include "mime/mime_date.h"
#include "smtp/smtp_rate.h"
#include "smtp/smtp_session.h"
#include "spam/spam_sent.h"
#include "store/store.h"

#define RECEIVED_MAX 2048

static int utf8_address(const char *a)
{
	for (; a && *a; a++)
		if ((unsigned char)*a >= 0x80)
			return 1;
	return 0;
}

/* Whether the header section (up to the empty line) has 8-bit octets. */
static int utf8_header(struct str m)
{
	for (size_t i = 0; i < m.len; i++) {
		if ((unsigned char)m.p[i] >= 0x80)
			return 1;
		if (m.p[i] == '\n' && (i + 1 == m.len || m.p[i + 1] == '\n' ||
		                       (m.p[i + 1] == '\r' && i + 2 < m.len && m.p[i + 2] == '\n')))
			return 0;
	}
	return 0;
}

/* queue_submit() from a thread that may wait: done() opens the latch. */
static void enqueued(struct queue_request *q, void *arg)
{
	(void)q;
	latch_open(arg);
}

/* Our Received field (RFC 5321 §4.4), as submission writes its own:
 * the client's address, this host, the account that sent it. */
static void received(struct jmap_request *r, const struct jmap_outgoing *o, struct buf *out)
{
	char date[MIME_DATE_MAX], login[STORE_ADDR_MAX + 1] = "";
	const char *ip = r->client_ip && r->client_ip[0] ? r->client_ip : "127.0.0.1";

	mime_date_format((int64_t)time(NULL), date);
	store_account_email(r->st, r->account, login, sizeof login);
	for (char *p = login; *p; p++)
		if ((unsigned char)*p < ' ' || *p == '(' || *p == ')' || *p == '\\')
			*p = '?';
	/* An address-literal (RFC 5321 §4.1.3): "[IPv6:...]" for IPv6, as
	 * smtp_tx.c writes it. */
	const char *v6 = strchr(ip, ':') ? "IPv6:" : "";
	buf_printf(out, "Received: from [%s%s] ([%s%s])\r\n\tby %s (tern) with JMAP\r\n"
			"\t(Authenticated sender: %s)", v6, ip, v6, ip, hostname_now(), login);
	if (o->nrcpts == 1) {
		/* A UTF-8 domain in its A-labels (as smtp_tx.c writes it). */
		char alabels[1024];
		buf_printf(out, "\r\n\tfor <%s>",
			   punycode_address_ascii(o->rcpts[0], alabels, sizeof alabels) ? alabels
											 : o->rcpts[0]);
	}
	buf_printf(out, ";\r\n\t%s\r\n", date);
}

int jmap_send(struct jmap_request *r, struct jmap_outgoing *o)
{
	/* The account's hourly limit, the one port 587 keeps (smtp_rate.h). */
	if (!smtp_rate_allowed(r->account, loop_now_ms())) {
		log_info("jmap", NULL, "event=rate_limited account=%u", r->account);
		return JMAP_SEND_RATE;
	}
	struct buf rcv, sigs;
	buf_init(&rcv, RECEIVED_MAX);
	buf_init(&sigs, STORE_DKIM_SIGS_MAX);
	received(r, o, &rcv);
	/* Submission's signer, over what goes out: Received and the message. */
	struct str p[2] = {buf_str(&rcv), o->msg};
	unsigned nsigs;
	store_dkim_sign(r->st, o->sign_domain, p, 2, &sigs, &nsigs);
	size_t total = buf_len(&sigs) + buf_len(&rcv) + o->msg.len;
	char *out = xmalloc(total + 1);
	memcpy(out, buf_data(&sigs), buf_len(&sigs));
	memcpy(out + buf_len(&sigs), buf_data(&rcv), buf_len(&rcv));
	memcpy(out + buf_len(&sigs) + buf_len(&rcv), o->msg.p, o->msg.len);
	o->signed_ = nsigs > 0;
	buf_free(&rcv);
	buf_free(&sigs);

	struct queue_rcpt *qr = xcalloc(o->nrcpts ? o->nrcpts : 1, sizeof *qr);
	for (size_t i = 0; i < o->nrcpts; i++) {
		qr[i].addr = o->rcpts[i];
		qr[i].notify = o->notify ? o->notify[i] : 0;
		qr[i].orcpt = o->orcpt ? o->orcpt[i] : NULL;
	}
	struct latch w = LATCH_INIT;
	struct queue_request q;
	memset(&q, 0, sizeof q);
	q.data = out;
	q.len = total;
	q.sender = o->mail_from;
	q.envid = o->envid;
	q.flags = o->flags;
	q.mt_priority = o->mt_priority; /* the account signed in: trusted, as on 587 */
	/* 8-bit octets go out as 8BITMIME whatever the client said, and an
	 * address or a header field in UTF-8 (RFC 6532) as SMTPUTF8 (RFC
	 * 6531 §3.4): a peer without it gets no mangled address, the queue
	 * returns the message instead. */
	for (size_t i = 0; i < total && !(q.flags & QUEUE_8BITMIME); i++)
		if ((unsigned char)out[i] >= 0x80)
			q.flags |= QUEUE_8BITMIME;
	if (utf8_address(o->mail_from) || utf8_header(o->msg))
		q.flags |= QUEUE_SMTPUTF8;
	for (size_t i = 0; i < o->nrcpts; i++)
		if (utf8_address(o->rcpts[i]))
			q.flags |= QUEUE_SMTPUTF8;
	q.rcpts = qr;
	q.nrcpts = o->nrcpts;
	q.account = r->account;
	q.received_at = (int64_t)time(NULL);
	q.signed_by = nsigs ? o->sign_domain : NULL;
	q.done = enqueued;
	q.arg = &w;
	/* Replies to it will lean ham (spam/spam_sent.h): noted in the
	 * message's own commit. */
	struct spam_sent_note sent;
	int noting = spam_sent_note_make(&sent, r->account, "", 0, out, total);
	if (noting) {
		q.txn_also = spam_sent_note_txn;
		q.txn_also_arg = &sent;
	}
	queue_submit(r->st, &q);
	latch_wait(&w);
	if (q.result == STORE_OK) {
		if (noting)
			spam_sent_noted(r->st);
		smtp_rate_record(r->account, loop_now_ms());
	}
	free(out);
	free(qr);
	o->queue_id = q.queue_id;
	o->nlocal = q.nlocal;
	o->nremote = q.nremote;
	o->at = q.received_at;
	if (q.result == STORE_OK)
		return JMAP_SEND_OK;
	if (q.result == STORE_EFULL)
		return JMAP_SEND_FULL;
	return q.result == STORE_EINVAL ? JMAP_SEND_REFUSED : JMAP_SEND_FAILED;
}

/* One patch member of an email named by several keys. */
struct then_member {
	const struct json_value *m;
	size_t order;
};

static int then_member_cmp(const void *a, const void *b)
{
	const struct then_member *x = a, *y = b;
	int d = strcmp(x->m->key, y->m->key);
	return d ? d : (x->order > y->order) - (x->order < y->order);
}

/*
 * The patch of an email that several keys name (two submissions of one
 * email): one object, each path once, the first key's value where two
 * set it (sorted by path, so n log n however large the patches).
 * key[i], patch[i] for i < n are all the keys; from is the first of em.
 */
static void then_patch_merged(struct jw *tw, struct arena *a, const char **em,
			      const struct json_value **patch, size_t n, size_t from)
{
	size_t count = 0, k = 0;

	for (size_t i = from; i < n; i++)
		if (!strcmp(em[i], em[from]) && patch[i]->type == JSON_OBJECT)
			count += patch[i]->count;
	struct then_member *v = arena_alloc(a, (count + 1) * sizeof *v);
	for (size_t i = from; i < n; i++)
		if (!strcmp(em[i], em[from]) && patch[i]->type == JSON_OBJECT)
			for (const struct json_value *m = patch[i]->first; m; m = m->next, k++)
				v[k] = (struct then_member){m, k};
	qsort(v, count, sizeof *v, then_member_cmp);
	jw_obj_begin(tw);
	for (size_t i = 0; i < count; i++)
		if (i == 0 || strcmp(v[i].m->key, v[i - 1].m->key)) {
			jw_key(tw, v[i].m->key);
			jw_value(tw, v[i].m);
		}
	jw_obj_end(tw);
}

void jmap_then_email_set(struct jmap_call *c, const struct json_value *update,
			 const struct json_value *destroy, jmap_email_of_fn *email_of, void *arg)
{
	struct buf then;
	struct jw tw;
	int any = 0;

	buf_init(&then, 4 * 1024 * 1024);
	jw_init(&tw, &then);
	jw_arr_begin(&tw);
	jw_str(&tw, "Email/set");
	jw_obj_begin(&tw);
	jw_key(&tw, "accountId");
	jmap_w_id(&tw, 'A', c->r->account);
	/*
	 * Two keys may name one email (two submissions of it, or a
	 * submission by "#cid" and by id): it is written once, or the call
	 * would hold a key twice, which is no JSON object and was dropped
	 * whole. A patch named once is written as given.
	 */
	if (update) {
		size_t n = 0;
		const char **em = arena_alloc(c->r->a, (update->count + 1) * sizeof *em);
		const struct json_value **patch =
		    arena_alloc(c->r->a, (update->count + 1) * sizeof *patch);
		for (const struct json_value *o = update->first; o; o = o->next) {
			const char *e = email_of(arg, o->key);
			if (e) {
				em[n] = e;
				patch[n++] = o;
			}
		}
		jw_key(&tw, "update");
		jw_obj_begin(&tw);
		for (size_t i = 0; i < n; i++) {
			size_t first = 0, more = 0;
			while (strcmp(em[first], em[i]))
				first++;
			if (first < i)
				continue; /* written with the first */
			for (size_t k = i + 1; k < n && !more; k++)
				more = !strcmp(em[k], em[i]);
			jw_key(&tw, em[i]);
			if (more && patch[i]->type == JSON_OBJECT)
				then_patch_merged(&tw, c->r->a, em, patch, n, i);
			else
				jw_value(&tw, patch[i]);
			any = 1;
		}
		jw_obj_end(&tw);
	}
	if (destroy) {
		size_t n = 0;
		const char **em = arena_alloc(c->r->a, (destroy->count + 1) * sizeof *em);
		jw_key(&tw, "destroy");
		jw_arr_begin(&tw);
		for (const struct json_value *o = destroy->first; o; o = o->next) {
			const char *e = o->type == JSON_STRING ? email_of(arg, o->str) : NULL;
			size_t k = 0;
			while (e && k < n && strcmp(em[k], e))
				k++;
			if (!e || k < n)
				continue;
			em[n++] = e;
			jw_str(&tw, e);
			any = 1;
		}
		jw_arr_end(&tw);
	}
	jw_obj_end(&tw);
	jw_str(&tw, c->id);
	jw_arr_end(&tw);
	if (any && !jw_failed(&tw)) {
		char err[64];
		c->r->then = json_parse(buf_data(&then), buf_len(&then), c->r->a, err, sizeof err);
	}
	buf_free(&then);
}
