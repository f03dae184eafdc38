/*
 * forward_copy.c — a forwarded copy's bytes, ARC set and queue entry.
 * See forward_copy.h.
 */
#include "forward/forward_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/arc.h"
#include "core/buf.h"
#include "core/spool.h"
#include "core/xalloc.h"
#include "deliver/deliver.h"
#include "dkim/dkim.h"
#include "forward/forward.h"
#include "store/store.h"

/* An ARC set is a few KB; this bounds it all the same. */
#define ARC_SET_MAX (64 * 1024)

/* The bytes before the ARC set: Delivered-To fields, head, the message. */
static int compose(const struct forward_copy_in *in, struct forward_copy *c)
{
	struct buf h;
	struct spool sp;
	struct str out = {NULL, 0};
	int rc = -1;

	buf_init(&h, in->ndelivered_to * (STORE_ADDR_MAX + 20) + in->head.len + 1);
	for (size_t i = 0; i < in->ndelivered_to; i++)
		buf_printf(&h, "Delivered-To: %s\r\n", in->delivered_to[i]);
	buf_append(&h, in->head.p, in->head.len);
	if (deliver_compose(&sp, str_make(buf_data(&h), buf_len(&h)), in->message,
			    in->authserv_id) == 0 &&
	    spool_finish(&sp, &out) == 0 && out.len) {
		c->data = xmalloc(out.len);
		memcpy(c->data, out.p, out.len);
		c->len = out.len;
		rc = 0;
	}
	spool_free(&sp);
	buf_free(&h);
	return rc;
}

/* Puts an ARC set in front of c->data when it can (see forward_copy.h). */
static void seal(const struct forward_copy_in *in, struct forward_copy *c)
{
	enum arc_cv cv = ARC_CV_NONE;

	if (forward_has_arc(c->data, c->len)) {
		if (!in->arc_known) {
			c->arc = "skipped_chain";
			return;
		}
		cv = (enum arc_cv)in->arc_cv;
	}
	struct dkim_keys *keys = xmalloc(sizeof *keys);
	const struct dkim_key *key = NULL;
	if (store_dkim_get_either(in->st, in->fwd_domain, keys) == STORE_OK)
		key = arc_key_pick(keys);
	c->arc = "no_key";
	if (key) {
		struct arc_seal_params p = {.key = key, .domain = in->fwd_domain,
					    .authres = in->authres, .cv = cv, .now = in->now};
		struct buf set;
		buf_init(&set, ARC_SET_MAX);
		c->arc = "failed";
		int rc = arc_seal(&p, c->data, c->len, &set);
		if (rc == ARC_OK) {
			char *d = xmalloc(buf_len(&set) + c->len);
			memcpy(d, buf_data(&set), buf_len(&set));
			memcpy(d + buf_len(&set), c->data, c->len);
			free(c->data);
			c->data = d;
			c->len += buf_len(&set);
			c->arc = "sealed";
		} else if (rc == ARC_ECHAIN) {
			c->arc = "chain_closed";
		}
		buf_free(&set);
	}
	dkim_keys_wipe(keys);
	free(keys);
}

int forward_copy_build(const struct forward_copy_in *in, struct forward_copy *c)
{
	struct store_queue_entry *e = &c->e;
	char sender[SRS_ADDR_MAX + 1];

	memset(c, 0, sizeof *c);
	if (compose(in, c) < 0)
		return -1;
	if (in->fwd_domain)
		seal(in, c);
	else
		c->arc = "none";
	store_blob_id(c->data, c->len, e->blob_id);

	/* SRS into the forwarding domain, unless the sender is ours already. */
	const char *at = strrchr(in->sender, '@');
	int local = at && store_domain_is_local(in->st, at + 1) == 1;
	c->srs_rc = forward_sender(in->sender, local || !in->fwd_domain,
				   in->fwd_domain ? in->fwd_domain : "", in->now, sender, sizeof sender);

	e->rcpts = xcalloc(in->ntargets ? in->ntargets : 1, sizeof *e->rcpts);
	for (size_t i = 0; i < in->ntargets && e->nrcpts < SQ_RCPTS_MAX; i++) {
		size_t k = 0;
		while (k < e->nrcpts && strcmp(e->rcpts[k].addr, in->targets[i]) != 0)
			k++;
		if (k < e->nrcpts)
			continue;
		uint8_t notify = in->target_notify ? in->target_notify[i] : 0;
		const char *orcpt = in->target_orcpt && in->target_orcpt[i] ? in->target_orcpt[i] : "";
		e->rcpts[e->nrcpts++] = (struct store_queue_rcpt){
		    xstrdup(in->targets[i]), xstrdup(orcpt), xstrdup(""), xstrdup(""), SQ_PENDING,
		    in->notify_ok ? notify : SQ_NOTIFY_NEVER, 0};
	}
	e->created_at = e->next_attempt = in->now;
	/* A redirect's :ret replaces whatever RET the message came with. */
	uint32_t other = in->flags & ~(uint32_t)(SQ_RET_FULL | SQ_RET_HDRS);
	e->flags = in->ret > 0 ? other | SQ_RET_FULL : in->ret < 0 ? other | SQ_RET_HDRS : in->flags;
	e->by_deadline = (in->flags & SQ_BY) ? in->by_deadline : 0;
	e->size = c->len;
	e->sender = xstrdup(sender);
	e->envid = xstrdup(in->envid ? in->envid : "");
	return 0;
}

int forward_copy_hook(struct store *st, void *txn, struct store_delivery *d)
{
	struct forward_copy *c = d->hook_arg;
	return store_queue_add_txn(st, txn, &c->e, c->data, c->len);
}

void forward_copy_free(struct forward_copy *c)
{
	store_queue_entry_free(&c->e);
	free(c->data);
	c->data = NULL;
	c->len = 0;
}

/* 1 when f is an author field (submission's check, smtp_author.h). */
static int is_author_field(struct str f)
{
	struct str n = dkim_field_name(f);
	return str_eq_ci(n, STR_LIT("From")) || str_eq_ci(n, STR_LIT("Sender")) ||
	       str_eq_ci(n, STR_LIT("Resent-From")) || str_eq_ci(n, STR_LIT("Resent-Sender"));
}

/* The next author field of head from *pos on, or 0 at its end. */
static int next_author(struct str head, size_t *pos, struct str *f)
{
	while (dkim_header_next(head, pos, f))
		if (is_author_field(*f))
			return 1;
	return 0;
}

/* The header section of m (before the empty line), or -1 without one. */
static ptrdiff_t header_len(struct str m)
{
	for (size_t i = 0; i < m.len; i++) {
		if (m.p[i] != '\n')
			continue;
		if (i + 1 < m.len && m.p[i + 1] == '\n')
			return (ptrdiff_t)i + 1;
		if (i + 2 < m.len && m.p[i + 1] == '\r' && m.p[i + 2] == '\n')
			return (ptrdiff_t)i + 1;
	}
	return m.len >= 2 && m.p[0] == '\r' && m.p[1] == '\n' ? 0 : -1;
}

int forward_authors_same(struct str a, struct str b)
{
	ptrdiff_t la = header_len(a), lb = header_len(b);
	if (la < 0 || lb < 0)
		return 0;
	struct str ha = str_make(a.p, (size_t)la), hb = str_make(b.p, (size_t)lb), fa, fb;
	size_t pa = 0, pb = 0;
	for (;;) {
		int ma = next_author(ha, &pa, &fa), mb = next_author(hb, &pb, &fb);
		if (ma != mb || (ma && !str_eq(fa, fb)))
			return 0;
		if (!ma)
			return 1;
	}
}
