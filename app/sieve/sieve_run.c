/*
 * sieve_run.c — the interpreter: walks a compiled script's commands and
 * gathers actions into a struct sieve_result. Nothing here performs an
 * action; the delivery stage does, after the run.
 *
 * Implicit keep (RFC 5228 §2.10.2): on unless an action cancels it
 * (discard, fileinto/redirect without :copy, reject, ereject, keep itself
 * which turns it into an explicit keep). A second fileinto of the same
 * mailbox, or a second redirect to the same address, is dropped (§2.10.3).
 * On a run-time error the result is reset to the implicit keep alone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/hex.h"
#include "core/utf8.h"
#include "core/xalloc.h"
#include "mime/mime_date.h"
#include "sieve/sieve_mailto.h"
#include "sieve/sieve_run.h"

void run_fail(struct run *r, const struct sv_node *n, const char *fmt, ...)
{
	va_list ap;
	int off = 0;
	if (r->failed)
		return;
	r->failed = 1;
	if (!n)
		n = r->at;
	/* A line of an included script names that script: the line alone
	 * would point into the script the user runs (as Pigeonhole names
	 * the script of every error). */
	if (n && r->include_depth > 0) {
		int i = r->include_stack[r->include_depth - 1];
		struct str name = r->included[i];
		off = snprintf(r->err, SIEVE_ERROR_MAX, "%sscript \"%.*s\", line %u: ",
		               r->includes_global[i] ? "global " : "", (int)(name.len > 64 ? 64 : name.len),
		               name.p, n->line);
	} else if (n) {
		off = snprintf(r->err, SIEVE_ERROR_MAX, "line %u: ", n->line);
	}
	va_start(ap, fmt);
	vsnprintf(r->err + off, SIEVE_ERROR_MAX - (size_t)off, fmt, ap);
	va_end(ap);
}

int run_spend(struct run *r, uint64_t n)
{
	if (r->steps < n) {
		r->steps = 0;
		run_fail(r, NULL, "the script ran past its budget of %d steps", SIEVE_STEPS_MAX);
		return -1;
	}
	r->steps -= n;
	return 0;
}

const struct sv_arg *node_tag(const struct sv_node *n, int tag)
{
	for (uint16_t i = 0; i < n->ntags; i++)
		if (n->tags[i].tag == tag)
			return &n->tags[i].arg;
	return NULL;
}

static struct str keep_str(struct run *r, struct str s)
{
	return str_make(arena_strndup(r->a, s.p ? s.p : "", s.len), s.len);
}

static struct sieve_action *add_action(struct run *r, const struct sv_node *n,
                                       enum sieve_action_kind k)
{
	if (r->res->nactions >= r->maxactions) {
		run_fail(r, n, "more than %d actions", SIEVE_ACTIONS_MAX);
		return NULL;
	}
	struct sieve_action *a = &r->res->actions[r->res->nactions++];
	memset(a, 0, sizeof(*a));
	a->kind = k;
	a->edits = r->edits;
	return a;
}

/* replace/enclose changed the message (res->message is no longer
 * before): recorded as an action for `tern sieve test`. */
static void note_rewrite(struct run *r, const struct sv_node *n, const char *before,
                         enum sieve_action_kind k)
{
	const struct sv_arg *subj = node_tag(n, G_SUBJECT);
	struct sieve_action *a;
	if (!r->failed && r->res->message.p != before && (a = add_action(r, n, k)))
		a->subject = subj ? keep_str(r, arg_str(r, subj, 0)) : STR_LIT("");
}

/* The flags an action gets: :flags when given, else the internal variable. */
static struct str action_flags(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *fl = node_tag(n, G_FLAGS);
	struct buf b;
	struct str out;

	buf_init(&b, SIEVE_VAR_VALUE_MAX);
	if (fl) {
		for (uint32_t i = 0; i < fl->n; i++)
			flags_add(&b, arg_str(r, fl, i));
	} else if (r->frame->script->exts >> EXT_IMAP4FLAGS & 1 || buf_len(&r->flags)) {
		flags_add(&b, buf_str(&r->flags));
	}
	out = keep_str(r, buf_str(&b));
	buf_free(&b);
	return out;
}

/* Two redirect targets are one address when the local parts are equal
 * octet for octet and the domains in any case (RFC 5321 2.4: a local part
 * may be case-sensitive, so "X@" and "x@" may be two mailboxes, and
 * dropping one would lose mail). */
static int same_address(struct str a, struct str b)
{
	ptrdiff_t ia = str_rchr(a, '@'), ib = str_rchr(b, '@');
	if (ia < 0 || ib < 0 || ia != ib)
		return str_eq(a, b);
	return str_eq(str_make(a.p, (size_t)ia), str_make(b.p, (size_t)ib)) &&
	       str_eq_ci(str_make(a.p + ia, a.len - (size_t)ia), str_make(b.p + ib, b.len - (size_t)ib));
}

static int has_explicit(struct run *r, enum sieve_action_kind k, struct str target)
{
	for (uint32_t i = 0; i < r->res->nactions; i++) {
		const struct sieve_action *a = &r->res->actions[i];
		if (a->kind != k)
			continue;
		if (k == SIEVE_ACT_KEEP || k == SIEVE_ACT_DISCARD)
			return 1;
		if (k == SIEVE_ACT_FILEINTO ? str_eq(a->target, target) : same_address(a->target, target))
			return 1;
	}
	return 0;
}

static int is_inbox(struct str m)
{
	return str_eq_ci(m, STR_LIT("INBOX"));
}

static int conflicts_with_reject(struct run *r, const struct sv_node *n, int adding_reject)
{
	for (uint32_t i = 0; i < r->res->nactions; i++) {
		enum sieve_action_kind k = r->res->actions[i].kind;
		int rej = k == SIEVE_ACT_REJECT || k == SIEVE_ACT_EREJECT;
		int delivers = k == SIEVE_ACT_KEEP || k == SIEVE_ACT_FILEINTO || k == SIEVE_ACT_REDIRECT ||
		               k == SIEVE_ACT_VACATION;
		if ((adding_reject && (delivers || rej)) || (!adding_reject && rej)) {
			run_fail(r, n, "reject cannot be combined with %s",
			         adding_reject && rej ? "another reject" : "keep, fileinto, redirect or vacation");
			return 1;
		}
	}
	return 0;
}

static void cmd_keep(struct run *r, const struct sv_node *n)
{
	struct str flags = action_flags(r, n);
	if (conflicts_with_reject(r, n, 0))
		return;
	r->res->implicit_keep = 0;
	/* keep and fileinto "INBOX" are the same delivery. */
	for (uint32_t i = 0; i < r->res->nactions; i++) {
		struct sieve_action *a = &r->res->actions[i];
		if (a->kind == SIEVE_ACT_KEEP || (a->kind == SIEVE_ACT_FILEINTO && is_inbox(a->target) &&
		                                  !a->mailboxid.len && !a->specialuse.len)) {
			a->flags = flags;
			return;
		}
	}
	struct sieve_action *a = add_action(r, n, SIEVE_ACT_KEEP);
	if (a)
		a->flags = flags;
}

static void cmd_fileinto(struct run *r, const struct sv_node *n)
{
	struct str box = keep_str(r, arg_str(r, &n->pos[0], 0));
	const struct sv_arg *mid = node_tag(n, G_MAILBOXID), *su = node_tag(n, G_SPECIALUSE);
	int copy = node_tag(n, G_COPY) != NULL;
	struct str flags = action_flags(r, n);

	if (conflicts_with_reject(r, n, 0))
		return;
	if (!copy)
		r->res->implicit_keep = 0;
	if (box.len == 0) {
		run_fail(r, n, "fileinto with an empty mailbox name");
		return;
	}
	if (!utf8_valid(box)) {
		run_fail(r, n, "fileinto with a mailbox name that is not UTF-8");
		return;
	}
	struct str mids = mid ? arg_str(r, mid, 0) : STR_LIT(""), sus = su ? arg_str(r, su, 0) : STR_LIT("");
	for (uint32_t i = 0; i < r->res->nactions; i++) {
		struct sieve_action *a = &r->res->actions[i];
		/* INBOX in any case is one mailbox (RFC 9051 §5.1); with
		 * :mailboxid or :specialuse the mailbox may be another one
		 * (RFC 9042 §4, RFC 8579 §4.1): the same only when they are. */
		if ((a->kind == SIEVE_ACT_FILEINTO &&
		     (str_eq(a->target, box) || (is_inbox(a->target) && is_inbox(box))) &&
		     str_eq(a->mailboxid.p ? a->mailboxid : STR_LIT(""), mids) &&
		     str_eq_ci(a->specialuse.p ? a->specialuse : STR_LIT(""), sus)) ||
		    (a->kind == SIEVE_ACT_KEEP && is_inbox(box) && !mid && !su)) {
			a->flags = flags; /* the last one's flags win */
			return;
		}
	}
	struct sieve_action *a = add_action(r, n, SIEVE_ACT_FILEINTO);
	if (!a)
		return;
	a->target = box;
	a->flags = flags;
	a->copy = copy;
	a->create = node_tag(n, G_CREATE) != NULL;
	if (mid)
		a->mailboxid = keep_str(r, arg_str(r, mid, 0));
	if (su)
		a->specialuse = keep_str(r, arg_str(r, su, 0));
}

/* redirect-deliverby (RFC 6009 §5): the deadline and mode of a
 * redirect's copy; 0, or -1 after a run error. */
static int redirect_by(struct run *r, const struct sv_node *n, struct sieve_action *a)
{
	const struct sv_arg *rel = node_tag(n, G_BYTIMERELATIVE), *ab = node_tag(n, G_BYTIMEABSOLUTE);
	const struct sv_arg *mode = node_tag(n, G_BYMODE);

	if (!rel && !ab)
		return 0;
	if (rel) {
		a->by_deadline = r->env->now + (int64_t)(rel->num > 999999999 ? 999999999 : rel->num);
	} else {
		struct str v = str_trim(arg_str(r, ab, 0));
		if (mime_rfc3339_parse(arena_strndup(r->a, v.p, v.len), &a->by_deadline) < 0) {
			run_fail(r, n, ":bytimeabsolute \"%.*s\" is not an RFC 3339 date-time",
			         (int)(v.len > 64 ? 64 : v.len), v.p);
			return -1;
		}
	}
	a->by = 1;
	a->by_return = 1; /* "return" unless :bymode says "notify" */
	if (mode) {
		struct str m = arg_str(r, mode, 0);
		if (str_eq_ci(m, STR_LIT("notify")))
			a->by_return = 0;
		else if (!str_eq_ci(m, STR_LIT("return"))) {
			run_fail(r, n, ":bymode must be \"notify\" or \"return\"");
			return -1;
		}
	}
	a->by_trace = node_tag(n, G_BYTRACE) != NULL;
	return 0;
}

static void cmd_redirect(struct run *r, const struct sv_node *n)
{
	struct str arg = arg_str(r, &n->pos[0], 0);
	struct str to = sieve_address_unwrap(arg, arena_alloc(r->a, arg.len + 1));
	int copy = node_tag(n, G_COPY) != NULL;

	if (conflicts_with_reject(r, n, 0))
		return;
	/* a constant was checked at compile time; one from variables here */
	if (!sieve_mailbox_valid(to)) {
		run_fail(r, n, "redirect to an invalid address \"%.*s\"", (int)(to.len > 64 ? 64 : to.len),
		         to.p);
		return;
	}
	if (!copy)
		r->res->implicit_keep = 0;
	if (has_explicit(r, SIEVE_ACT_REDIRECT, to))
		return;
	if (++r->redirects > SIEVE_REDIRECTS_MAX) {
		run_fail(r, n, "more than %d redirects", SIEVE_REDIRECTS_MAX);
		return;
	}
	struct sieve_action *a = add_action(r, n, SIEVE_ACT_REDIRECT);
	if (!a)
		return;
	a->target = keep_str(r, to);
	a->copy = copy;
	const struct sv_arg *x;
	if ((x = node_tag(n, G_NOTIFY)))
		a->notify = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_RET)))
		a->ret = keep_str(r, arg_str(r, x, 0));
	(void)redirect_by(r, n, a);
}

static void cmd_vacation(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *x;
	struct sieve_action *a;

	if (conflicts_with_reject(r, n, 0))
		return;
	if (++r->vacations > 1) {
		run_fail(r, n, "more than one vacation action");
		return;
	}
	if (!(a = add_action(r, n, SIEVE_ACT_VACATION)))
		return;
	a->text = keep_str(r, arg_str(r, &n->pos[0], 0));
	a->seconds = 7 * 86400;
	if ((x = node_tag(n, G_DAYS)))
		a->seconds = x->num > 365 ? SIEVE_VACATION_MAX_SECONDS : x->num * 86400;
	if ((x = node_tag(n, G_SECONDS)))
		a->seconds = x->num;
	/* RFC 6131's ":seconds 0" (answer every message) too: the site's
	 * minimum wins, as in Pigeonhole. */
	if (a->seconds < SIEVE_VACATION_MIN_SECONDS)
		a->seconds = SIEVE_VACATION_MIN_SECONDS;
	if (a->seconds > SIEVE_VACATION_MAX_SECONDS)
		a->seconds = SIEVE_VACATION_MAX_SECONDS;
	if ((x = node_tag(n, G_SUBJECT)))
		a->subject = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_FROM)))
		a->from = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_HANDLE)))
		a->handle = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_FCC)))
		a->fcc = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_ADDRESSES))) {
		a->addresses = arena_alloc(r->a, (x->n + 1) * sizeof(struct str));
		for (uint32_t i = 0; i < x->n; i++)
			a->addresses[i] = keep_str(r, arg_str(r, x, i));
		a->naddresses = x->n;
	}
	a->mime = node_tag(n, G_MIME) != NULL;
}

static void cmd_notify(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *x;
	struct sieve_action *a;
	struct str method = arg_str(r, &n->pos[0], 0);

	if (!str_has_prefix_ci(method, "mailto:")) {
		run_fail(r, n, "notify method \"%.*s\" is not supported (only mailto)",
		         (int)(method.len > 64 ? 64 : method.len), method.p);
		return;
	}
	/* RFC 5435 §3.5: "1", "2" or "3". A constant is checked when the
	 * script compiles; one from a variable here, a run-time error as
	 * redirect's address (RFC 5228 §2.10.6; Pigeonhole takes no variable
	 * at all), where it was sent as "normal". */
	struct str imp = STR_NULL;
	if ((x = node_tag(n, G_IMPORTANCE))) {
		imp = arg_str(r, x, 0);
		if (!(imp.len == 1 && imp.p[0] >= '1' && imp.p[0] <= '3')) {
			run_fail(r, n, ":importance \"%.*s\" is not \"1\", \"2\" or \"3\"",
			         (int)(imp.len > 64 ? 64 : imp.len), imp.p);
			return;
		}
	}
	if (!(a = add_action(r, n, SIEVE_ACT_NOTIFY)))
		return;
	a->target = keep_str(r, method);
	if ((x = node_tag(n, G_FROM)))
		a->from = keep_str(r, arg_str(r, x, 0));
	if (imp.len)
		a->importance = keep_str(r, imp);
	if ((x = node_tag(n, G_MESSAGE)))
		a->text = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_FCC)))
		a->fcc = keep_str(r, arg_str(r, x, 0));
	if ((x = node_tag(n, G_OPTIONS))) {
		a->addresses = arena_alloc(r->a, (x->n + 1) * sizeof(struct str));
		for (uint32_t i = 0; i < x->n; i++)
			a->addresses[i] = keep_str(r, arg_str(r, x, i));
		a->naddresses = x->n;
	}
}

static void cmd_reject(struct run *r, const struct sv_node *n)
{
	if (conflicts_with_reject(r, n, 1))
		return;
	struct sieve_action *a = add_action(r, n, n->id == C_REJECT ? SIEVE_ACT_REJECT : SIEVE_ACT_EREJECT);
	if (!a)
		return;
	a->text = keep_str(r, arg_str(r, &n->pos[0], 0));
	r->res->implicit_keep = 0;
}

/* RFC 3986 §2.3's unreserved characters: :encodeurl leaves them as
 * they are. */
static int url_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-._~", c));
}

/* Octets octet c takes quoted: a "\" before one of special
 * (:quotewildcard, :quoteregex), or with special NULL a "%XX" for all
 * but the unreserved (:encodeurl, RFC 5435 §6). */
static size_t quoted_len(const char *special, unsigned char c)
{
	if (!special)
		return url_unreserved(c) ? 1 : 3;
	return c && strchr(special, c) ? 2 : 1;
}

/*
 * v quoted (quoted_len). The result goes into a variable, which holds
 * SV_VAR_VALUE_CUT octets; vars_set's cut would fall inside a "%XX" or
 * between a "\" and what it quotes, leaving a URI that does not decode
 * or a key that matches otherwise, so the result ends before the first
 * character (a whole UTF-8 sequence) whose quoted form does not fit.
 */
static struct str quote_cut(struct run *r, struct str v, const char *special)
{
	/* k never passes the cut: no more room than that, whatever v's size */
	char *o = arena_alloc(r->a, (v.len < SV_VAR_VALUE_CUT / 3 ? v.len * 3 : SV_VAR_VALUE_CUT) + 1);
	size_t k = 0;
	for (size_t i = 0, j; i < v.len; i = j) {
		size_t need = 0;
		for (j = i + 1; j < v.len && ((unsigned char)v.p[j] & 0xc0) == 0x80; j++)
			;
		for (size_t x = i; x < j; x++)
			need += quoted_len(special, (unsigned char)v.p[x]);
		if (k + need > SV_VAR_VALUE_CUT)
			break;
		for (size_t x = i; x < j; x++) {
			unsigned char c = (unsigned char)v.p[x];
			if (quoted_len(special, c) == 1) {
				o[k++] = (char)c;
			} else if (special) {
				o[k++] = '\\';
				o[k++] = (char)c;
			} else {
				o[k++] = '%';
				o[k++] = hex_upper[c >> 4];
				o[k++] = hex_upper[c & 15];
			}
		}
	}
	return str_make(o, k);
}

/* RFC 5229 §4.1 modifiers, applied from the highest precedence down. */
static struct str set_modify(struct run *r, const struct sv_node *n, struct str v)
{
	char *o;
	if (node_tag(n, G_LOWER) || node_tag(n, G_UPPER)) {
		int up = node_tag(n, G_UPPER) != NULL;
		o = arena_strndup(r->a, v.p, v.len);
		for (size_t i = 0; i < v.len; i++)
			if (up ? (o[i] >= 'a' && o[i] <= 'z') : (o[i] >= 'A' && o[i] <= 'Z'))
				o[i] = (char)(o[i] ^ 0x20);
		v = str_make(o, v.len);
	}
	if ((node_tag(n, G_LOWERFIRST) || node_tag(n, G_UPPERFIRST)) && v.len) {
		int up = node_tag(n, G_UPPERFIRST) != NULL;
		o = arena_strndup(r->a, v.p, v.len);
		if (up ? (o[0] >= 'a' && o[0] <= 'z') : (o[0] >= 'A' && o[0] <= 'Z'))
			o[0] = (char)(o[0] ^ 0x20);
		v = str_make(o, v.len);
	}
	if (node_tag(n, G_QUOTEREGEX)) /* one of the two: the same precedence */
		v = quote_cut(r, v, "\\*?.+()[]{}|^$");
	else if (node_tag(n, G_QUOTEWILDCARD))
		v = quote_cut(r, v, "\\*?");
	if (node_tag(n, G_ENCODEURL))
		v = quote_cut(r, v, NULL);
	if (node_tag(n, G_LENGTH)) {
		size_t chars = 0;
		for (size_t i = 0; i < v.len; i++)
			chars += ((unsigned char)v.p[i] & 0xc0) != 0x80;
		v = str_c(arena_printf(r->a, "%zu", chars));
	}
	return v;
}

static void cmd_flags(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *list = &n->pos[n->npos - 1];
	struct buf *target = &r->flags;

	if (n->npos == 2) {
		struct str name = arg_str(r, &n->pos[0], 0);
		target = vars_find(r, name, 1);
		if (!target)
			return;
	}
	if (n->id == C_SETFLAG)
		buf_reset(target);
	for (uint32_t i = 0; i < list->n; i++) {
		struct str v = arg_str(r, list, i);
		if (n->id == C_REMOVEFLAG)
			flags_remove(target, v);
		else
			flags_add(target, v);
	}
}

/* RFC 5293 §6: fields whose change would hide where mail came from. */
static int protected_header(struct str s)
{
	return str_eq_ci(s, STR_LIT("Received")) || str_eq_ci(s, STR_LIT("Auto-Submitted"));
}

/*
 * An addheader value as a field body (RFC 5293 §4, RFC 5322 §3.2.2): the
 * line ends that close it go (a text: string, or a variable set from
 * one, ends with one), each other run of CR and LF becomes a CRLF and a
 * space unless whitespace follows (a fold). A bare line end ended the
 * field and started a line that was no field; tern cut the value there,
 * which the RFC does not allow (it is an error or it is encoded).
 */
static struct str fold_line_ends(struct run *r, struct str v)
{
	while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
		v.len--;
	if (!memchr(v.p, '\n', v.len) && !memchr(v.p, '\r', v.len))
		return v;
	char *out = arena_alloc(r->a, 2 * v.len + 1), *o = out;
	for (size_t i = 0; i < v.len;) {
		if (v.p[i] != '\r' && v.p[i] != '\n') {
			*o++ = v.p[i++];
			continue;
		}
		while (i < v.len && (v.p[i] == '\r' || v.p[i] == '\n'))
			i++;
		*o++ = '\r';
		*o++ = '\n';
		if (v.p[i] != ' ' && v.p[i] != '\t') /* i < v.len: the value does not end in one */
			*o++ = ' ';
	}
	return str_make(out, (size_t)(o - out));
}

static void cmd_addheader(struct run *r, const struct sv_node *n)
{
	struct str name = keep_str(r, arg_str(r, &n->pos[0], 0));
	struct str value = keep_str(r, arg_str(r, &n->pos[1], 0));
	int last = node_tag(n, G_LAST) != NULL;
	if (!sieve_field_name_valid(name)) {
		run_fail(r, n, "addheader: invalid field name");
		return;
	}
	if (protected_header(name))
		return;
	/* RFC 5293 §4: a value that is no "unstructured" is an error or is
	 * made one with folding white space. A NUL has no such form (and a
	 * stored NUL breaks IMAP clients): an error. */
	if (value.len && memchr(value.p, '\0', value.len)) {
		run_fail(r, n, "addheader: the value holds a NUL");
		return;
	}
	value = fold_line_ends(r, value);
	if (msg_header_add(r, name, value, last) < 0) {
		run_fail(r, n, "addheader: too many header fields");
		return;
	}
	struct sieve_action *a = add_action(r, n, SIEVE_ACT_ADDHEADER);
	if (!a)
		return;
	a->name = name;
	a->value = value;
	a->last = last;
}

static void cmd_deleteheader(struct run *r, const struct sv_node *n)
{
	struct str name = keep_str(r, arg_str(r, &n->pos[0], 0));
	const struct sv_arg *ix = node_tag(n, G_INDEX);
	int last = node_tag(n, G_LAST) != NULL;
	uint32_t count = 0, seen = 0, want = 0, edited = 0;
	struct sv_matcher m;

	if (!sieve_field_name_valid(name) || protected_header(name))
		return;
	msg_headers(r);
	for (uint32_t i = 0; i < r->nhf; i++)
		count += !r->hf[i].deleted && str_eq_ci(r->hf[i].name, name);
	if (ix) {
		if (ix->num > count)
			return;
		want = last ? count - (uint32_t)ix->num + 1 : (uint32_t)ix->num;
	}
	memset(&m, 0, sizeof(m));
	m.match = n->match;
	m.cmp = n->cmp;
	m.rel = n->rel;
	m.steps = &r->steps;
	for (uint32_t i = 0; i < r->nhf; i++) {
		if (r->hf[i].deleted || !str_eq_ci(r->hf[i].name, name))
			continue;
		seen++;
		if (ix && seen != want)
			continue;
		int del = n->npos < 2;
		if (!del) {
			struct str v = msg_header_value(r, i, 1);
			for (uint32_t k = 0; k < n->pos[1].n && !del; k++) {
				char why[SIEVE_ERROR_MAX];
				int rc = sv_match_one(&m, v, arg_str(r, &n->pos[1], k), why);
				if (rc < 0) {
					run_fail(r, n, "%s", why);
					return;
				}
				del = rc;
			}
		}
		/* The server's own fields are not the script's to delete
		 * (RFC 5293 §6: silently ignored). */
		if (!del || r->hf[i].fixed)
			continue;
		if (!edited)
			edited = ++r->edits;
		r->hf[i].deleted = (uint16_t)edited;
		r->size_delta -= (int64_t)field_size(&r->hf[i]);
		struct sieve_action *a = add_action(r, n, SIEVE_ACT_DELETEHEADER);
		if (!a)
			return;
		a->name = name;
		a->value = keep_str(r, r->hf[i].value);
		a->index = seen;
	}
}

static void run_block(struct run *r, const struct sv_node *n);

/* The included script, compiled through the cache (sieve_cache.c): a
 * script that includes the same library in every delivery, or the same
 * one many times in a run, compiles it once for as long as its text
 * stays, where each include compiled it anew (up to SIEVE_INCLUDES_MAX
 * compiles of a large script, regular expressions and all, per
 * message). *ref_r is the reference to give back. */
static const struct sieve_script *load_include(struct run *r, const struct sv_node *n,
                                               struct str name, int global, int *skip,
                                               struct sieve_ref **ref_r)
{
	struct str text;
	char err[SIEVE_ERROR_MAX];
	*skip = 0;
	if (!r->env->include_text || r->env->include_text(r->env->ctx, name, global, &text) < 0) {
		if (node_tag(n, G_OPTIONAL)) {
			*skip = 1;
			return NULL;
		}
		run_fail(r, n, "include: no script \"%.*s\"", (int)(name.len > 64 ? 64 : name.len), name.p);
		return NULL;
	}
	const struct sieve_script *s = sieve_cache_get(text.p, text.len, err, ref_r);
	if (!s)
		run_fail(r, n, "include \"%.*s\": %s", (int)(name.len > 64 ? 64 : name.len), name.p, err);
	return s;
}

static void cmd_include(struct run *r, const struct sv_node *n)
{
	struct str name = keep_str(r, arg_str(r, &n->pos[0], 0));
	int global = node_tag(n, G_GLOBAL) != NULL, once = node_tag(n, G_ONCE) != NULL, skip;
	struct sieve_ref *ref = NULL;

	if (!sv_script_name_ok(name)) {
		run_fail(r, n, "include: invalid script name");
		return;
	}
	/* RFC 6609 §3.2: with :once a script already in the include tree,
	 * the running one (the root) included, is skipped; without it a
	 * script including itself, directly or through others, is an error
	 * at execution (where it ran again until the depth limit). */
	int cycle = r->env->script_name.p && str_eq(r->env->script_name, name) &&
	           !r->env->script_global == !global;
	for (int i = 0; i < r->includes; i++)
		if (str_eq(r->included[i], name) && r->includes_global[i] == global &&
		    (once || r->includes_once[i]))
			return;
	if (once && cycle)
		return;
	for (int d = 0; d < r->include_depth && !cycle; d++)
		cycle = str_eq(r->included[r->include_stack[d]], name) &&
		       r->includes_global[r->include_stack[d]] == global;
	if (cycle) {
		run_fail(r, n, "include: recursive include of \"%.*s\"", (int)(name.len > 64 ? 64 : name.len),
		         name.p);
		return;
	}
	if (r->include_depth >= SIEVE_INCLUDE_DEPTH_MAX || r->includes >= SIEVE_INCLUDES_MAX) {
		run_fail(r, n, "include nested deeper than %d or more than %d scripts",
		         SIEVE_INCLUDE_DEPTH_MAX, SIEVE_INCLUDES_MAX);
		return;
	}
	r->included[r->includes] = name;
	r->includes_global[r->includes] = global;
	r->includes_once[r->includes++] = once;
	const struct sieve_script *s = load_include(r, n, name, global, &skip, &ref);
	if (!s)
		return;
	struct frame *saved = r->frame;
	struct frame *f = arena_zalloc(r->a, sizeof(*f));
	f->script = s;
	r->frame = f;
	r->include_stack[r->include_depth++] = r->includes - 1;
	run_block(r, s->first);
	r->include_depth--;
	r->returned = 0;
	for (int i = 0; i < f->nvars; i++)
		buf_free(&f->vars[i].val);
	r->frame = saved;
	/* What the run kept of the script (actions, variables) was copied
	 * into its arena; the script may go back to the cache. */
	sieve_cache_release(&ref);
}

static void cmd_global(struct run *r, const struct sv_node *n)
{
	for (uint32_t i = 0; i < n->pos[0].n; i++) {
		struct str name = arg_str(r, &n->pos[0], i);
		if (name.len == 0 || name.len > SIEVE_VAR_NAME_MAX) {
			run_fail(r, n, "global: invalid variable name");
			return;
		}
		/* a name declared again is the same variable; it took a
		 * place of the table each time, so 129 declarations of one
		 * name failed */
		if (vars_is_global(r, name))
			continue;
		if (r->frame->nglobals >= SIEVE_VARS_MAX) {
			run_fail(r, n, "more than %d global variables", SIEVE_VARS_MAX);
			return;
		}
		memcpy(r->frame->globals[r->frame->nglobals], name.p, name.len);
		r->frame->globals[r->frame->nglobals++][name.len] = '\0';
	}
}

static void run_block(struct run *r, const struct sv_node *n);

/*
 * foreverypart (RFC 5703 §3): the block runs once for every MIME part
 * in the order the parts appear (depth first), with that part current for
 * :mime tests: outside loops every part, the message itself first (as
 * Pigeonhole does); inside a loop every part within the current one.
 * A break ends the innermost loop, or with :name the loop of that name
 * and every loop inside it.
 */
static void cmd_foreverypart(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *na = node_tag(n, G_NAME);
	uint32_t outer = r->part;
	uint16_t depth;

	msg_tree(r);
	depth = r->tree.parts[outer].depth;
	r->loops++;
	for (uint32_t i = r->loops == 1 ? 0 : outer + 1;
	     i < r->tree.nparts && (i == outer || r->tree.parts[i].depth > depth); i++) {
		r->part = i;
		run_block(r, n->block);
		if (r->breaking) {
			if (!r->break_name.p || (na && str_eq(na->v[0].s, r->break_name)))
				r->breaking = 0;
			break;
		}
		if (r->failed || r->stopped || r->returned)
			break;
	}
	r->part = outer;
	r->loops--;
	if (!r->loops && r->pending_enclose && !r->failed) {
		const struct sv_node *e = r->pending_enclose;
		const char *before = r->res->message.p;
		r->pending_enclose = NULL;
		cmd_enclose(r, e);
		note_rewrite(r, e, before, SIEVE_ACT_ENCLOSE);
	}
}

/*
 * extracttext (RFC 5703 §7): the current part's text, decoded from its
 * transfer encoding and charset, into a variable; "" for a part that is
 * not text (a multipart, an attachment). :first keeps that many
 * characters (UTF-8 sequences); the variables' modifiers then apply.
 */
static void cmd_extracttext(struct run *r, const struct sv_node *n)
{
	const struct sv_arg *first = node_tag(n, G_FIRST);
	const struct mime_part *p;
	struct str v = STR_LIT(""), text;

	msg_tree(r);
	p = &r->tree.parts[r->part];
	if (!(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) && mime_part_is(p, "text", NULL)) {
		/* RFC 5703 §7 stores the part's text: an HTML part's is what
		 * a reader sees, as body :text has it (and Pigeonhole); it was
		 * the markup */
		if (msg_part_plain(r, r->part, 0, &text) < 0)
			return;
		const unsigned char *b = (const unsigned char *)text.p;
		size_t len = text.len;
		if (first) {
			uint64_t chars = 0;
			size_t i = 0;
			for (; i < len; i++) {
				if ((b[i] & 0xC0) == 0x80)
					continue;
				if (chars++ == first->num)
					break;
			}
			len = i;
		}
		if (len > SIEVE_VAR_VALUE_MAX) { /* a variable's size, not inside a character */
			len = SIEVE_VAR_VALUE_MAX;
			while (len && (b[len] & 0xC0) == 0x80)
				len--;
		}
		v = str_make(text.p, len);
	}
	(void)vars_set(r, arg_str(r, &n->pos[0], 0), set_modify(r, n, v));
}

static void run_command(struct run *r, const struct sv_node *n)
{
	int rc;
	switch (n->id) {
	case C_REQUIRE:
		break;
	case C_IF:
		for (const struct sv_node *b = n; b; b = b->elsenode) {
			if (b->id == C_ELSE) {
				run_block(r, b->block);
				break;
			}
			rc = test_eval(r, b->tests[0]);
			if (rc < 0)
				return;
			if (rc) {
				run_block(r, b->block);
				break;
			}
		}
		break;
	case C_STOP:
		r->stopped = 1;
		break;
	case C_RETURN:
		r->returned = 1;
		break;
	case C_KEEP:
		cmd_keep(r, n);
		break;
	case C_DISCARD:
		r->res->implicit_keep = 0;
		if (!has_explicit(r, SIEVE_ACT_DISCARD, STR_NULL))
			(void)add_action(r, n, SIEVE_ACT_DISCARD);
		break;
	case C_FILEINTO:
		cmd_fileinto(r, n);
		break;
	case C_REDIRECT:
		cmd_redirect(r, n);
		break;
	case C_REJECT:
	case C_EREJECT:
		cmd_reject(r, n);
		break;
	case C_VACATION:
		cmd_vacation(r, n);
		break;
	case C_SET:
		(void)vars_set(r, arg_str(r, &n->pos[0], 0), set_modify(r, n, arg_str(r, &n->pos[1], 0)));
		break;
	case C_ADDFLAG:
	case C_SETFLAG:
	case C_REMOVEFLAG:
		cmd_flags(r, n);
		break;
	case C_INCLUDE:
		cmd_include(r, n);
		break;
	case C_GLOBAL:
		cmd_global(r, n);
		break;
	case C_ADDHEADER:
		cmd_addheader(r, n);
		break;
	case C_DELETEHEADER:
		cmd_deleteheader(r, n);
		break;
	case C_NOTIFY:
		cmd_notify(r, n);
		break;
	case C_FOREVERYPART:
		cmd_foreverypart(r, n);
		break;
	case C_EXTRACTTEXT:
		cmd_extracttext(r, n);
		break;
	case C_REPLACE:
	case C_ENCLOSE: {
		const char *before = r->res->message.p;
		if (n->id == C_REPLACE)
			cmd_replace(r, n);
		else
			cmd_enclose(r, n);
		note_rewrite(r, n, before, n->id == C_REPLACE ? SIEVE_ACT_REPLACE : SIEVE_ACT_ENCLOSE);
		break;
	}
	case C_BREAK: {
		const struct sv_arg *na = node_tag(n, G_NAME);
		r->breaking = 1;
		r->break_name = na ? na->v[0].s : STR_NULL;
		break;
	}
	case C_ERROR: {
		struct str m = arg_str(r, &n->pos[0], 0);
		run_fail(r, n, "error: %.*s", (int)(m.len > 200 ? 200 : m.len), m.p);
		break;
	}
	default:
#ifdef SIEVE_TESTSUITE
		if (n->id >= C_HOOK0 && n->id < C_HOOK_END && sv_hook) {
			sv_hook->command(r, n);
			break;
		}
#endif
		run_fail(r, n, "command \"%.*s\" is not supported", (int)n->name.len, n->name.p);
		break;
	}
}

#ifdef SIEVE_TESTSUITE
void sv_run_block(struct run *r, const struct sv_node *n)
{
	run_block(r, n);
}
#endif

static void run_block(struct run *r, const struct sv_node *n)
{
	for (; n && !r->failed && !r->stopped && !r->returned && !r->breaking; n = n->next) {
		r->at = n;
		if (run_spend(r, 1) < 0)
			return;
		run_command(r, n);
	}
}

/* editheader's work as the result's fields, in order, the deleted ones too
 * (each with the edits that added and deleted it: an action's header is
 * the fields there at its point), when some action added or deleted one. */
static void export_fields(struct run *r)
{
	uint32_t n = 0;
	int edited = 0;
	for (uint32_t i = 0; i < r->res->nactions && !edited; i++)
		edited = r->res->actions[i].kind == SIEVE_ACT_ADDHEADER ||
		         r->res->actions[i].kind == SIEVE_ACT_DELETEHEADER;
	if (!edited)
		return;
	msg_headers(r); /* a replace since the last test: the new message's */
	struct sieve_field *f = arena_alloc(r->a, (r->nhf + 1) * sizeof *f);
	for (uint32_t i = 0; i < r->nhf; i++)
		if (!r->hf[i].fixed)
			f[n++] = (struct sieve_field){ r->hf[i].name, r->hf[i].value, r->hf[i].added,
			                               r->hf[i].deleted };
	r->res->fields = f;
	r->res->nfields = n;
	r->res->edits = r->edits;
}

void sieve_env_host(struct sieve_env *env, const char *host)
{
	env->host = str_c(host);
	ptrdiff_t dot = str_chr(env->host, '.');
	env->domain = dot > 0 && (size_t)dot + 1 < env->host.len
	                  ? str_make(env->host.p + dot + 1, env->host.len - (size_t)dot - 1)
	                  : env->host;
}

int sieve_run(const struct sieve_script *s, const struct sieve_env *env, struct arena *a,
              struct sieve_result *res)
{
	struct run *r = arena_zalloc(a, sizeof(*r));

	memset(res, 0, sizeof(*res));
	res->implicit_keep = 1;
	res->keep_flags = STR_LIT("");
	res->actions = arena_zalloc(a, (SIEVE_ACTIONS_MAX + 8) * sizeof(struct sieve_action));
	r->menv = *env;
	r->env = &r->menv;
	r->a = a;
	r->res = res;
	r->err = res->error;
	r->steps = SIEVE_STEPS_MAX;
	r->expand_left = SIEVE_EXPAND_BYTES_MAX;
	r->maxactions = SIEVE_ACTIONS_MAX;
	/* Match variables need room for ten captures (80 KiB): only scripts
	 * that can use them pay for it (an included script may require
	 * variables when the main one does not). */
	if (s->exts & (1ull << EXT_VARIABLES | 1ull << EXT_INCLUDE)) {
		r->capbuf = arena_alloc(a, (SIEVE_MATCH_VARS_MAX + 1) * SIEVE_VAR_VALUE_MAX);
		r->mcapbuf = arena_alloc(a, (SIEVE_MATCH_VARS_MAX + 1) * SIEVE_VAR_VALUE_MAX);
	}
	r->frame = arena_zalloc(a, sizeof(*r->frame));
	r->frame->script = s;
	buf_init(&r->flags, SIEVE_VAR_VALUE_MAX);
	buf_init(&r->scratch, 256 * 1024);

	run_block(r, s->first);

	res->steps = SIEVE_STEPS_MAX - r->steps;
	if (!r->failed)
		res->keep_flags = keep_str(r, buf_str(&r->flags));
	for (int i = 0; i < r->frame->nvars; i++)
		buf_free(&r->frame->vars[i].val);
	for (int i = 0; i < r->nglobals; i++)
		buf_free(&r->globals[i].val);
	buf_free(&r->flags);
	buf_free(&r->scratch);
	if (!r->failed)
		export_fields(r);
	if (r->failed) {
		res->message = STR_NULL;
		res->fields = NULL;
		res->nfields = 0;
		res->nactions = 0;
		res->implicit_keep = 1;
		res->keep_flags = STR_LIT("");
		return -1;
	}
	return 0;
}

/* ---- the `tern sieve test` rendering ---- */

/* Flags in the order the rendering has always listed them ("\\seen"
 * before "a"): a display order, not the comparator's (sv_cmp_order). */
static int cmp_ci(const void *a, const void *b)
{
	const struct str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = strncasecmp(x->p, y->p, n);
	if (c)
		return c;
	return x->len == y->len ? 0 : x->len < y->len ? -1 : 1;
}

static void put_flags(char *out, size_t outsz, size_t *o, struct str flags)
{
	struct str v[64];
	int n = 0;
	for (size_t i = 0; i < flags.len && n < 64;) {
		size_t j = i;
		while (j < flags.len && flags.p[j] != ' ')
			j++;
		if (j > i)
			v[n++] = str_make(flags.p + i, j - i);
		i = j + 1;
	}
	if (!n)
		return;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_ci);
	*o += (size_t)snprintf(out + *o, *o < outsz ? outsz - *o : 0, " :flags \"");
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k <= v[i].len; k++) {
			char c = k == v[i].len ? (i + 1 < n ? ' ' : '"') : v[i].p[k];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c + 32);
			if (*o + 1 < outsz)
				out[(*o)++] = c;
		}
	if (*o < outsz)
		out[*o] = '\0';
}

/* v on one line: CR and LF (folds) as spaces, leading space dropped,
 * quotes and backslashes escaped. */
static void put_value(char *out, size_t outsz, size_t *o, struct str v)
{
	size_t i = 0;
	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	for (; i < v.len; i++) {
		char c = v.p[i] == '\r' || v.p[i] == '\n' ? ' ' : v.p[i];
		if (v.p[i] == '\r' && i + 1 < v.len && v.p[i + 1] == '\n')
			continue;
		if ((c == '"' || c == '\\') && *o + 1 < outsz)
			out[(*o)++] = '\\'; /* as a Sieve string writes them */
		if (*o + 1 < outsz)
			out[(*o)++] = c;
	}
	if (*o < outsz)
		out[*o] = '\0';
}

void sieve_result_format(const struct sieve_result *res, char *out, size_t outsz)
{
	size_t o = 0;
	if (!outsz)
		return;
	out[0] = '\0';
#define PUT(...) (o += (size_t)snprintf(out + o, o < outsz ? outsz - o : 0, __VA_ARGS__))
	for (uint32_t i = 0; i < res->nactions && o < outsz; i++) {
		const struct sieve_action *a = &res->actions[i];
		switch (a->kind) {
		case SIEVE_ACT_KEEP:
			PUT("keep");
			put_flags(out, outsz, &o, a->flags);
			PUT("\n");
			break;
		case SIEVE_ACT_FILEINTO:
			PUT("fileinto \"%.*s\"", (int)a->target.len, a->target.p);
			put_flags(out, outsz, &o, a->flags);
			PUT("\n");
			break;
		case SIEVE_ACT_REDIRECT:
			PUT("redirect \"%.*s\"", (int)a->target.len, a->target.p);
			if (a->by) {
				/* redirect-deliverby: the copy's deadline in UTC. */
				char when[MIME_RFC3339_MAX];
				mime_rfc3339_format(a->by_deadline, when);
				PUT(" :bytimeabsolute \"%s\" :bymode \"%s\"%s", when,
				    a->by_return ? "return" : "notify", a->by_trace ? " :bytrace" : "");
			}
			PUT("\n");
			break;
		case SIEVE_ACT_REJECT:
		case SIEVE_ACT_EREJECT:
			PUT("%s \"%.*s\"\n", a->kind == SIEVE_ACT_REJECT ? "reject" : "ereject",
			    (int)a->text.len, a->text.p);
			break;
		case SIEVE_ACT_DISCARD:
			PUT("discard\n");
			break;
		case SIEVE_ACT_VACATION:
			PUT("vacation\n");
			break;
		case SIEVE_ACT_NOTIFY:
			PUT("notify \"%.*s\"\n", (int)a->target.len, a->target.p);
			break;
		/* The edits, so that a script's changes can be checked before
		 * it is put to work (one line each, the removed field's value
		 * as it was, folds unfolded to spaces). */
		case SIEVE_ACT_ADDHEADER:
			PUT("addheader%s \"%.*s\" \"", a->last ? " :last" : "", (int)a->name.len, a->name.p);
			put_value(out, outsz, &o, a->value);
			PUT("\"\n");
			break;
		case SIEVE_ACT_DELETEHEADER:
			PUT("deleteheader \"%.*s\" \"", (int)a->name.len, a->name.p);
			put_value(out, outsz, &o, a->value);
			PUT("\"\n");
			break;
		case SIEVE_ACT_REPLACE:
		case SIEVE_ACT_ENCLOSE:
			PUT("%s", a->kind == SIEVE_ACT_REPLACE ? "replace" : "enclose");
			if (a->subject.len) {
				PUT(" :subject \"");
				put_value(out, outsz, &o, a->subject);
				PUT("\"");
			}
			PUT("\n");
			break;
		default:
			break; /* duplicate tracking is not a delivery */
		}
	}
	if (res->implicit_keep && o < outsz) {
		PUT("keep");
		put_flags(out, outsz, &o, res->keep_flags);
		PUT("\n");
	}
#undef PUT
	if (o >= outsz)
		out[outsz - 1] = '\0';
}
