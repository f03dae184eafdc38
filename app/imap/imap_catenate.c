/*
 * imap_catenate.c — CATENATE (RFC 4469): APPEND's message built from
 * TEXT literals and URL parts naming messages (or parts of them) the
 * user already has, so that a client forwarding an attachment or sending
 * a draft does not upload it again.
 *
 * A URL is relative (imap_url.h); its mailbox is resolved like any
 * of the user's own mailbox names (no shared name yet), or, for a URL
 * that starts at ";UID=", is the selected mailbox, a shared one too
 * (SELECT needed "r" there, which a COPY out of it asks), UIDVALIDITY (when given) must match, the UID must
 * exist, the section must exist (HEADER, TEXT, part numbers, n.HEADER,
 * n.TEXT, n.MIME, [n.]HEADER.FIELDS[.NOT] (names), the last as FETCH's
 * BODY[HEADER.FIELDS (...)] has them: imap_header_filter()), and
 * ;PARTIAL= cuts it (as URL-PARTIAL). Anything else is NO [BADURL url] with the reason, as
 * Dovecot answers (the URL unquoted in the code: RFC 4469's
 * url-resp-text). The message grows in one buffer bounded by the
 * APPENDLIMIT (NO [TOOBIG] past it); TEXT literals were admitted one by
 * one before "+" (imap_append_literal_ok()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/xalloc.h"
#include "imap/imap_session.h"
#include "imap/imap_url.h"
#include "mime/mime_cache.h"
#include "mime/mime_tree.h"

struct find_uid {
	uint32_t uid, email_id;
};

static void find_cb(void *arg, const struct store_email_info *i)
{
	struct find_uid *f = arg;
	if (i->uid == f->uid)
		f->email_id = i->email_id;
}

struct copy_ctx {
	const struct imap_url *u;
	struct buf *b;
	int result; /* 0, 1 no such section, 2 too big, 3 unsupported section */
};

static void copy_cb(void *arg, const void *meta, size_t metalen, const char *d, size_t len)
{
	struct copy_ctx *c = arg;
	const struct imap_url *u = c->u;
	struct str sec = str_make(u->section, u->section_len), spec = sec;
	enum mime_section kind = MIME_SECTION_WHOLE;
	static const struct {
		const char *word;
		enum mime_section kind;
	} words[] = { { "HEADER", MIME_SECTION_HEADER },
		      { "TEXT", MIME_SECTION_TEXT },
		      { "MIME", MIME_SECTION_MIME } };
	uint64_t off = 0, n = len;
	struct imap_arg fields[IMAP_URL_FIELDS_MAX + 1];
	int not = 0, hf = sec.len ? imap_url_header_fields(sec, &spec, &not, fields) : 0;
	char *filtered = NULL;

	if (hf < 0) {
		c->result = 3;
		return;
	}
	if (hf) {
		kind = MIME_SECTION_HEADER;
		sec = spec.len ? spec : str_c("HEADER"); /* where the header is */
	}
	for (size_t w = 0; w < 3 && sec.len && !hf; w++) {
		size_t wl = strlen(words[w].word);
		if (sec.len == wl && str_eq_ci_c(sec, words[w].word)) {
			spec = STR_NULL;
			kind = words[w].kind;
		} else if (sec.len > wl + 1 && sec.p[sec.len - wl - 1] == '.' &&
			   str_eq_ci_c(str_make(sec.p + sec.len - wl, wl), words[w].word)) {
			spec = str_make(sec.p, sec.len - wl - 1);
			kind = words[w].kind;
		}
	}
	if ((!hf && memchr(sec.p, '(', sec.len)) ||
	    (spec.len && (spec.p[0] < '0' || spec.p[0] > '9'))) {
		c->result = 3;
		return;
	}
	if (hf && !spec.len) {
		n = imap_header_end(d, len); /* the message's own header */
	} else if (sec.len && !spec.p && kind != MIME_SECTION_MIME) {
		/* The message's own HEADER or TEXT, as BODY[HEADER] has it. */
		uint64_t h = imap_header_end(d, len);
		off = kind == MIME_SECTION_TEXT ? h : 0;
		n = kind == MIME_SECTION_TEXT ? len - h : h;
	} else if (sec.len) {
		struct arena *a = arena_new(16384);
		struct mime_tree t = { 0 };
		mime_cache_load(meta, metalen, d, len, a, &t);
		if (mime_tree_section_str(&t, spec.p ? spec : str_c(""), kind, NULL, &off,
						     &n) != 0) {
			arena_free(&a);
			c->result = 1;
			return;
		}
		arena_free(&a);
	}
	if (hf) {
		filtered = imap_header_filter(d + off, n, fields, not, &n);
		d = filtered;
		off = 0;
	}
	if (u->partial) {
		uint64_t o = u->offset < n ? u->offset : n;
		off += o;
		n -= o;
		if (n > u->length)
			n = u->length;
	}
	if (n && buf_append(c->b, d + off, (size_t)n) < 0)
		c->result = 2;
	free(filtered);
}

const char *imap_url_read_at(struct imap_session *s, uint32_t account, uint32_t mailbox,
			     const struct imap_url *u, struct buf *b, int *toobig_r)
{
	uint32_t uidvalidity = 0;
	struct find_uid f = { .uid = u->uid };

	*toobig_r = 0;
	/* The selected mailbox is read from the view when it is the one named:
	 * its owner's too (a shared one), as two accounts number their
	 * mailboxes and emails apart. */
	if (s && s->state == IMAP_S_SELECTED && account == s->view.account &&
	    s->view.mailbox == mailbox) {
		uint32_t seq = imap_view_seq(&s->view, u->uid);
		uidvalidity = s->view.uidvalidity;
		f.email_id = seq ? s->view.msgs[seq - 1].email_id : 0;
	} else {
		struct store_view_state vs;
		if (store_mailbox_snapshot(imap_store, account, mailbox, &vs, find_cb, &f) != STORE_OK)
			return "Mailbox doesn't exist";
		uidvalidity = vs.uidvalidity;
	}
	if (u->uidvalidity && u->uidvalidity != uidvalidity)
		return "Invalid UIDVALIDITY";
	if (!f.email_id)
		return "Message not found";
	struct copy_ctx c = { .u = u, .b = b };
	if (store_email_content(imap_store, account, f.email_id, copy_cb, &c) != STORE_OK)
		return "Message not found";
	if (c.result == 1)
		return "Section not found";
	if (c.result == 3)
		return "Section not supported";
	if (c.result == 2) {
		*toobig_r = 1;
		return "Message is larger than the APPENDLIMIT";
	}
	return NULL;
}

const char *imap_url_read(struct imap_session *s, uint32_t account, const struct imap_url *u,
			  struct buf *b, int *toobig_r)
{
	uint32_t mailbox;
	char name[1024];
	struct imap_arg a = { .type = IMAP_ARG_STRING, .str = str_c(u->mailbox) };

	*toobig_r = 0;
	if (imap_mailbox_name(s, &a, name, sizeof(name)) < 0 ||
	    store_mailbox_find(imap_store, account, name, &mailbox) != STORE_OK)
		return "Mailbox doesn't exist";
	return imap_url_read_at(s, account, mailbox, u, b, toobig_r);
}

/* Appends what the URL names to b: 0, or -1 after a tagged reply. */
static int url_part(struct imap_session *s, struct str url, struct buf *b)
{
	struct imap_url u;
	const char *why = NULL;
	int toobig = 0;

	/* A URL that starts at ";UID=" is a relative reference to a message
	 * of the selected mailbox: resolved against that mailbox's URL as the
	 * base (RFC 5092 §7.1 and RFC 3986 §5.2, where ";UID=" is part of the
	 * path), as Dovecot resolves it. Parsed behind a placeholder mailbox
	 * segment; the mailbox read is the selected one. */
	char based[1024];
	int in_selected = s->state == IMAP_S_SELECTED && url.len >= 5 &&
			  strncasecmp(url.p, ";UID=", 5) == 0;
	struct str parsed = url;
	if (in_selected) {
		int n = snprintf(based, sizeof(based), "/-/%.*s", (int)url.len, url.p);
		parsed = n > 0 && (size_t)n < sizeof(based) ? str_make(based, (size_t)n) : str_make("", 0);
	}
	switch (imap_url_parse(parsed, &u)) {
	case IMAP_URL_OK: break;
	case IMAP_URL_NOT_RELATIVE: why = "Invalid IMAP URL: Relative URL required"; break;
	case IMAP_URL_URLAUTH: why = "URLAUTH is not supported"; break;
	default: why = "Invalid IMAP URL"; break;
	}
	if (!why)
		why = in_selected ? imap_url_read_at(s, s->view.account, s->view.mailbox, &u, b, &toobig)
				  : imap_url_read(s, s->account, &u, b, &toobig);
	if (toobig) {
		imap_tagged(s, IMAP_NO_TOOBIG);
		return -1;
	}
	if (why) {
		/* url-resp-text: no CR, LF or "]" */
		char shown[512];
		size_t k = 0;
		for (size_t i = 0; i < url.len && k + 1 < sizeof(shown); i++)
			if (url.p[i] != ']' && url.p[i] != '\r' && url.p[i] != '\n' && url.p[i])
				shown[k++] = url.p[i];
		shown[k] = '\0';
		imap_tagged(s, "NO [BADURL %s] %s", shown, why);
		return -1;
	}
	return 0;
}

int imap_catenate_build(struct imap_session *s, enum imap_cmd_id cmd, const struct imap_arg *l,
			size_t n, char **data_r, size_t *len_r)
{
	struct buf b;

	if (n == 0) {
		imap_tagged(s, "BAD Error in IMAP command %s: Empty CATENATE list", imap_cmd_name(cmd));
		imap_session_error(s);
		return -1;
	}
	buf_init(&b, imap_append_limit());
	for (size_t i = 0; i < n; i += 2) {
		const struct imap_arg *v = i + 1 < n ? &l[i + 1] : NULL;
		if (v && imap_arg_atom_is(&l[i], "TEXT") && v->type == IMAP_ARG_LITERAL) {
			if (buf_append_str(&b, v->str) < 0) {
				imap_tagged(s, IMAP_NO_TOOBIG);
				goto fail;
			}
		} else if (v && imap_arg_atom_is(&l[i], "URL") &&
			   (v->type == IMAP_ARG_STRING || v->type == IMAP_ARG_ATOM ||
			    v->type == IMAP_ARG_LITERAL)) {
			if (url_part(s, v->str, &b) < 0)
				goto fail;
		} else {
			imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments",
				    imap_cmd_name(cmd));
			imap_session_error(s);
			goto fail;
		}
	}
	/* The buffer's storage becomes the message (nothing was consumed
	 * from its front). */
	*len_r = buf_len(&b);
	*data_r = b.p ? b.p : xmalloc(1);
	return 0;
fail:
	buf_free(&b);
	return -1;
}
