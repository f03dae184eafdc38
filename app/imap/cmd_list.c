/*
 * cmd_list.c — LIST and LSUB (RFC 3501 §6.3.8-9), with LIST-EXTENDED
 * (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN
 * (RFC 3348).
 *
 * One namespace, personal, hierarchy delimiter "/". The reference is
 * joined to each pattern as RFC 3501 describes for the simple case;
 * "*" matches anything, "%" anything but the delimiter; "INBOX" matches in
 * any case, as the INBOX of its children's names does ("inbox/%").
 * Mailbox roles become the special-use attributes \Sent \Drafts \Trash
 * \Junk \Archive, and \HasChildren/\HasNoChildren are always given
 * (RFC 5258 lets a server send both without being asked).
 *
 * LIST-EXTENDED: selection options SUBSCRIBED, REMOTE (no remote
 * mailboxes here: accepted, changes nothing), RECURSIVEMATCH (with
 * SUBSCRIBED only, as §3 requires a base option) and SPECIAL-USE; a list
 * of patterns; return options SUBSCRIBED (\Subscribed), CHILDREN,
 * SPECIAL-USE and STATUS (items) — an untagged STATUS follows the LIST
 * line of each selectable mailbox. With RECURSIVEMATCH a listed mailbox
 * gets ("CHILDINFO" ("SUBSCRIBED")) when a descendant the patterns do not
 * reach is subscribed, and a mailbox that matches a pattern but not the
 * selection is listed only then (RFC 5258 §3.5 suppresses the redundant
 * ones), so never without CHILDINFO. The store creates every parent of a
 * mailbox, but a subscription is a name of its own (store_subscription.c):
 * one whose mailbox was deleted or renamed, or never existed, is listed by
 * the SUBSCRIBED selection as \NonExistent (RFC 5258) and never by a
 * LIST without it; a level above such a name that is no mailbox is listed
 * by RECURSIVEMATCH as \NonExistent with CHILDINFO.
 *
 * LSUB lists the subscribed names (the default mailboxes start subscribed,
 * as with Dovecot's autosubscribe; CREATE does not subscribe), a name
 * without a mailbox with \Noselect, and an unsubscribed mailbox, or a
 * level that is none, a "%" reaches whose subscribed descendant it does
 * not reach, with \Noselect
 * (RFC 3501 §6.3.9); a pattern without "%" lists no unsubscribed name.
 *
 * With shared mailboxes on (imap_acl.h), another account's mailbox the
 * user may look up ("l") is listed as Shared/OWNER/NAME, the levels above
 * it that are no mailbox of the user's as \Noselect (collect_shared());
 * its name is matched, subscribed and listed like any other, and
 * LIST-STATUS gives its STATUS only with "r".
 *
 * SELECT and EXAMINE in an IMAP4rev2 session list the selected mailbox
 * with the same attributes (imap_list_selected(), RFC 9051 §6.3.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/unorm.h"
#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"
#include "imap/imap_utf7.h"

/*
 * Entries LIST may gather: the mailboxes and the subscribed names without
 * one, each at most 65,535 (TERN_MAX_MAILBOXES' ceiling, and a
 * subscription each a mailbox may be), and the levels above those
 * subscriptions that the patterns reach. Past it LIST answers NO [LIMIT]
 * rather than a shortened list: it stopped at 16,384 entries before and a
 * client saw an account's later mailboxes missing.
 */
#define LIST_MAX_ENTRIES (4u * 65536u)

struct mbx {
	const char *name;
	const char *role;
	int subscribed;
	int nonexistent; /* no mailbox: a subscribed name, or a level above one */
	int kids;        /* a mailbox below it (\HasChildren) */
	int below;       /* below it a name meets the selection that no pattern reaches */
	int matched;     /* a pattern matches it */
	int noselect;    /* a level of the shared namespace that is no mailbox of the user's */
	uint32_t owner;  /* a shared mailbox's owner (0: the user's own) */
	uint32_t rights; /* the user's rights on a shared mailbox */
	struct store_mailbox_info info; /* name and role point above */
};

struct collect {
	struct arena *a;
	struct mbx *v;
	size_t n, cap;
	int over;           /* past LIST_MAX_ENTRIES: not all were kept */
	const char **subs;  /* the subscribed names, before they are merged */
	size_t nsubs, capsubs;
};

static int collect_grow(struct collect *c)
{
	if (c->n == c->cap) {
		if (c->cap >= LIST_MAX_ENTRIES) {
			c->over = 1;
			return -1;
		}
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct mbx *v = arena_alloc(c->a, cap * sizeof(*v));
		if (c->n)
			memcpy(v, c->v, c->n * sizeof(*v));
		c->v = v;
		c->cap = cap;
	}
	return 0;
}

static void collect_cb(void *arg, const struct store_mailbox_info *info)
{
	struct collect *c = arg;
	if (collect_grow(c) < 0)
		return;
	memset(&c->v[c->n], 0, sizeof(c->v[c->n]));
	c->v[c->n].name = arena_strdup(c->a, info->name);
	c->v[c->n].role = arena_strdup(c->a, info->role ? info->role : "");
	c->v[c->n].subscribed = info->subscribed;
	c->v[c->n].info = *info;
	c->v[c->n].info.name = c->v[c->n].name;
	c->v[c->n].info.role = c->v[c->n].role;
	c->n++;
}

/* A subscribed name, kept for collect_subs_merge(). Runs after collect_cb. */
static void collect_sub_cb(void *arg, const char *name)
{
	struct collect *c = arg;
	if (c->nsubs == c->capsubs) {
		size_t cap = c->capsubs ? c->capsubs * 2 : 16;
		const char **v = arena_alloc(c->a, cap * sizeof(*v));
		if (c->nsubs)
			memcpy(v, c->subs, c->nsubs * sizeof(*v));
		c->subs = v;
		c->capsubs = cap;
	}
	c->subs[c->nsubs++] = arena_strdup(c->a, name);
}

static struct ent *entries_sorted(struct collect *c);
static struct mbx *entry_find(const struct ent *idx, size_t n, const char *p, size_t len);


/* A subscribed name: its mailbox's entry says so already (store_mailbox_list);
 * a name without one becomes an entry of its own. Looked up in the sorted
 * mailbox names: a scan of them for each subscription took 65,535 squared
 * comparisons on a full account. */
static void collect_subs_merge(struct collect *c)
{
	size_t n = c->n;
	struct ent *idx = entries_sorted(c);
	for (size_t i = 0; i < c->nsubs; i++) {
		const char *name = c->subs[i];
		struct mbx *f = entry_find(idx, n, name, strlen(name));
		if (f) {
			f->subscribed = 1; /* a shared mailbox's: not known before */
			continue;
		}
		if (collect_grow(c) < 0)
			continue;
		struct mbx *m = &c->v[c->n++];
		memset(m, 0, sizeof(*m));
		m->name = name;
		m->role = "";
		m->subscribed = 1;
		m->nonexistent = 1;
		m->info.name = m->name;
		m->info.role = m->role;
	}
	free(idx);
}

/*
 * A pattern with each run of wildcards made one ("*%" is "*", "%%" is
 * "%"), in the command arena: match_run() relies on it.
 */
static const char *pattern_compact(struct imap_session *s, const char *pat)
{
	char *out = arena_alloc(s->cmd_arena, strlen(pat) + 1);
	size_t n = 0;

	for (const char *p = pat; *p; p++) {
		int wild = *p == '*' || *p == '%';
		if (wild && n && (out[n - 1] == '*' || out[n - 1] == '%')) {
			if (*p == '*')
				out[n - 1] = '*';
		} else {
			out[n++] = *p;
		}
	}
	out[n] = '\0';
	return out;
}

/*
 * A pattern_compact() pattern made ready for matching: pattern positions
 * as bits (bit i: pat[0..i) matched so far), stepped a name octet at a
 * time 64 positions a word. LIST matches up to 64 patterns against every
 * name, and levels a subscription deep are names of their own: one
 * position at a time (the code before), 64 patterns of up to 64 levels
 * over 20,800 subscribed levels took 6 s of a loop thread. The time is
 * still the name's length times the pattern's words, and stops where no
 * position is live; a pattern with more plain octets than a name has
 * cannot match it (nor any: names are at most 1000 octets).
 */
struct cpat {
	size_t np, words, lits;
	size_t slashes; /* without a "*": the levels a name it matches has, less one */
	int any_star;
	uint8_t cls[256]; /* octet: its row of lit, 0 when the pattern has none */
	uint64_t *lit;    /* row c, bit i: pat[i] is that octet */
	uint64_t *star, *pct;
};

#define CPAT_NAME_MAX 1000 /* store_private.h's STORE_MAILBOX_NAME_MAX */

static void cpat_make(struct arena *a, const char *pat, struct cpat *cp)
{
	size_t ncls = 1;
	memset(cp, 0, sizeof(*cp));
	cp->np = strlen(pat);
	for (size_t i = 0; i < cp->np; i++) {
		unsigned char o = (unsigned char)pat[i];
		cp->any_star |= o == '*';
		cp->slashes += o == '/';
		if (o == '*' || o == '%')
			continue;
		cp->lits++;
		if (!cp->cls[o])
			cp->cls[o] = (uint8_t)ncls++;
	}
	if (cp->lits > CPAT_NAME_MAX)
		return; /* matches nothing: no masks needed */
	cp->words = cp->np / 64 + 1; /* np + 1 states */
	uint64_t *m = arena_alloc(a, (ncls + 2) * cp->words * sizeof(*m));
	memset(m, 0, (ncls + 2) * cp->words * sizeof(*m));
	cp->lit = m;
	cp->star = m + ncls * cp->words;
	cp->pct = cp->star + cp->words;
	for (size_t i = 0; i < cp->np; i++) {
		unsigned char o = (unsigned char)pat[i];
		uint64_t *row = o == '*' ? cp->star : o == '%' ? cp->pct : cp->lit + cp->cls[o] * cp->words;
		row[i / 64] |= (uint64_t)1 << (i % 64);
	}
}

/* on |= (on & mask) << 1, over w words: a wildcard may match nothing. */
static void cpat_skip(uint64_t *on, const uint64_t *star, const uint64_t *pct, size_t w)
{
	uint64_t carry = 0;
	for (size_t k = 0; k < w; k++) {
		uint64_t x = on[k] & (star[k] | pct[k]);
		on[k] |= x << 1 | carry;
		carry = x >> 63;
	}
}

/*
 * Wildcard match of a compiled pattern; the first ci octets of the name
 * (the "INBOX" of INBOX and of its children "INBOX/...") are matched in
 * any case, as the store takes "inbox/x" for "INBOX/x". With hit, which
 * levels above name ("a" and "a/b" of "a/b/c") match, in the same pass.
 * len and slashes: name's length and its "/"s.
 */
static int match_run(const struct cpat *cp, const char *name, size_t len, size_t slashes,
		     size_t ci, uint8_t *hit)
{
	size_t w = cp->words, last = cp->np / 64;
	uint64_t endbit = (uint64_t)1 << (cp->np % 64);

	/* Only a "*" spans a "/": without one a name (or, for hit, a level
	 * of it) matches only with as many levels as the pattern has. */
	if (!w || cp->lits > len || (!cp->any_star && (hit ? slashes < cp->slashes : slashes != cp->slashes)))
		return 0;
	/* A compacted pattern has no two wildcards in a row, so one skip
	 * after each step closes it. */
	uint64_t stack[2 * 16];
	uint64_t *on = w <= 16 ? stack : xmalloc(2 * w * sizeof(*on));
	uint64_t *next = on + w;
	memset(on, 0, w * sizeof(*on));
	on[0] = 1;
	cpat_skip(on, cp->star, cp->pct, w);
	for (const char *t = name; *t; t++) {
		unsigned char o = (unsigned char)*t;
		if (hit && o == '/' && (on[last] & endbit))
			hit[t - name] = 1;
		const uint64_t *l = cp->cls[o] ? cp->lit + cp->cls[o] * w : NULL;
		/* INBOX's octets: a pattern's small letter matches the capital. */
		const uint64_t *l2 = NULL;
		if ((size_t)(t - name) < ci && o >= 'A' && o <= 'Z' && cp->cls[o + 32])
			l2 = cp->lit + cp->cls[o + 32] * w;
		uint64_t carry = 0, any = 0;
		for (size_t k = 0; k < w; k++) {
			uint64_t x = on[k] & ((l ? l[k] : 0) | (l2 ? l2[k] : 0));
			next[k] = x << 1 | carry | (on[k] & cp->star[k]) | (o != '/' ? on[k] & cp->pct[k] : 0);
			carry = x >> 63;
			any |= next[k];
		}
		memcpy(on, next, w * sizeof(*on));
		if (!any)
			break;
		cpat_skip(on, cp->star, cp->pct, w);
	}
	int r = (on[last] & endbit) != 0;
	if (on != stack)
		free(on);
	return r;
}

/* The roles (the store's, JMAP's names) and their special-use
 * attributes (RFC 6154 §2, RFC 8457, RFC 9979): the registry's names,
 * the JMAP role lowercase. */
static const char *const role_attrs[][2] = {
    {"sent", "\\Sent"},           {"drafts", "\\Drafts"},   {"trash", "\\Trash"},
    {"junk", "\\Junk"},           {"archive", "\\Archive"}, {"important", "\\Important"},
    {"flagged", "\\Flagged"},     {"all", "\\All"},         {"memos", "\\Memos"},
    {"scheduled", "\\Scheduled"}, {"snoozed", "\\Snoozed"},
};

const char *imap_role_attr(const char *role)
{
	for (size_t i = 0; i < sizeof(role_attrs) / sizeof(role_attrs[0]); i++)
		if (strcmp(role, role_attrs[i][0]) == 0)
			return role_attrs[i][1];
	return NULL;
}

const char *imap_attr_role(const struct imap_arg *attr)
{
	for (size_t i = 0; i < sizeof(role_attrs) / sizeof(role_attrs[0]); i++)
		if (imap_arg_atom_is(attr, role_attrs[i][1]))
			return role_attrs[i][0];
	return NULL;
}

/* In NFC, as the store keeps names (store_mailbox_ops.c): a pattern
 * written decomposed matches them. */
static const char *pattern_nfc(struct imap_session *s, const char *p)
{
	size_t n = strlen(p);
	if (unorm_is_nfc(p, n))
		return p;
	char *o = arena_alloc(s->cmd_arena, UNORM_GROWTH * n + 1);
	o[unorm_nfc(p, n, o)] = '\0';
	return o;
}

/* Decodes a reference or pattern from modified UTF-7; as sent if not
 * valid; in NFC. */
static const char *pattern_utf8(struct imap_session *s, struct str in)
{
	struct buf b;
	if (s->utf8) /* UTF8=ACCEPT / IMAP4rev2: patterns are UTF-8 already */
		return pattern_nfc(s, str_dup(s->cmd_arena, in));
	buf_init(&b, in.len * 4 + 16);
	const char *r = imap_utf7_to_utf8(in, &b) == IMAP_UTF7_OK ? str_dup(s->cmd_arena, buf_str(&b))
								     : str_dup(s->cmd_arena, in);
	buf_free(&b);
	return pattern_nfc(s, r);
}

/* Selection (SEL_) and return (RET_) options. */
#define SEL_SUBSCRIBED 1u
#define SEL_RECURSIVE 2u
#define SEL_SPECIAL 4u
#define RET_SUBSCRIBED 8u
#define RET_STATUS 16u

#define LIST_MAX_PATTERNS 64

struct list_req {
	unsigned opt;
	const char *pats[LIST_MAX_PATTERNS]; /* reference joined, UTF-8 */
	struct cpat *cp;                     /* pats compiled, in the command arena */
	size_t npats;
	const struct imap_arg *status; /* RET_STATUS items */
	size_t nstatus;
	unsigned want;
};

static size_t count_slashes(const char *name)
{
	size_t k = 0;
	for (; *name; name++)
		k += *name == '/';
	return k;
}

static int matches(const struct list_req *q, const char *name)
{
	size_t ci = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/') ? 5 : 0;
	size_t len = strlen(name), sl = count_slashes(name);
	for (size_t i = 0; i < q->npats; i++)
		if (match_run(&q->cp[i], name, len, sl, ci, NULL))
			return 1;
	return 0;
}

/* A name's first len octets, as (p, len): ordered as strcmp orders names. */
struct level {
	const char *p;
	size_t len;
};

static int level_cmp(const void *a, const void *b)
{
	const struct level *x = a, *y = b;
	int r = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* An entry in the sorted index: its name first, as a level. */
struct ent {
	struct level l;
	struct mbx *m;
};

/* The entries sorted by name, for lookups (free it). */
static struct ent *entries_sorted(struct collect *c)
{
	struct ent *idx = xmalloc((c->n ? c->n : 1) * sizeof(*idx));
	for (size_t i = 0; i < c->n; i++)
		idx[i] = (struct ent){ { c->v[i].name, strlen(c->v[i].name) }, &c->v[i] };
	qsort(idx, c->n, sizeof(*idx), level_cmp);
	return idx;
}

static struct mbx *entry_find(const struct ent *idx, size_t n, const char *p, size_t len)
{
	struct level l = { p, len };
	const struct ent *e = bsearch(&l, idx, n, sizeof(*idx), level_cmp);
	return e ? e->m : NULL;
}

/* Appends the level p[0..len) to *lv (*nl of *cap used). */
static void level_push(struct level **lv, size_t *nl, size_t *cap, const char *p, size_t len)
{
	if (*nl == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*lv = xrealloc(*lv, *cap * sizeof(**lv));
	}
	(*lv)[(*nl)++] = (struct level){ p, len };
}

/* Adds one entry per distinct level of lv (nl of them, frees lv): a
 * \Noselect level with noselect (above shared mailboxes), else a
 * \NonExistent one (above a subscription, collect_implied). */
static void levels_add(struct collect *c, struct level *lv, size_t nl, int noselect)
{
	if (nl)
		qsort(lv, nl, sizeof(*lv), level_cmp);
	for (size_t i = 0; i < nl; i++) {
		if ((i && level_cmp(&lv[i - 1], &lv[i]) == 0) || collect_grow(c) < 0)
			continue;
		struct mbx *m = &c->v[c->n++];
		memset(m, 0, sizeof(*m));
		char *name = arena_alloc(c->a, lv[i].len + 1);
		memcpy(name, lv[i].p, lv[i].len);
		name[lv[i].len] = '\0';
		m->name = name;
		m->role = "";
		if (noselect)
			m->noselect = 1;
		else
			m->nonexistent = 1;
		m->info.name = m->name;
		m->info.role = m->role;
	}
	free(lv);
}

/* hit[i] = 1 for each "/" at name[i] whose level before it a pattern
 * matches (hit: strlen(name) zeroed octets); 1 when one matches name. */
static int levels_matching(const struct list_req *q, const char *name, uint8_t *hit)
{
	size_t ci = strncmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/') ? 5 : 0;
	size_t len = strlen(name), sl = count_slashes(name);
	int r = 0;
	for (size_t i = 0; i < q->npats; i++)
		r |= match_run(&q->cp[i], name, len, sl, ci, hit);
	return r;
}

/*
 * The levels above a subscribed name without a mailbox that are neither
 * mailboxes nor subscribed ("a" and "a/b" of a subscribed "a/b/c" once
 * "a" was renamed) become entries too, neither existing nor subscribed:
 * LSUB "%" lists such a level with \Noselect (RFC 3501 §6.3.9, its
 * "news.comp" example), LIST (SUBSCRIBED RECURSIVEMATCH) with
 * \NonExistent and CHILDINFO (RFC 5258 §3.5); they were missed, as no
 * entry had their name. Only levels a pattern reaches are wanted. The
 * subscriptions are as many as the mailboxes may be, each up to about
 * half its length in levels: one pass of the patterns over a name finds
 * its matching levels, which are looked up in the sorted names and
 * deduplicated by sorting, not by a scan each. Runs after collect_sub_cb.
 */
static void collect_implied(struct collect *c, const struct list_req *q)
{
	size_t n = c->n, nl = 0, capl = 0;
	struct ent *idx = entries_sorted(c);
	struct level *lv = NULL;
	uint8_t hit[1024]; /* a name is at most 1000 octets (store_private.h) */

	for (size_t i = 0; i < n; i++) {
		const struct mbx *m = &c->v[i];
		size_t len = strlen(m->name);
		/* A level is listed for a subscribed name below it that no
		 * pattern reaches (a mailbox below would make it one). */
		if (!m->nonexistent || !m->subscribed || len >= sizeof(hit))
			continue;
		memset(hit, 0, len);
		if (levels_matching(q, m->name, hit))
			continue;
		for (size_t k = 0; k < len; k++) {
			if (!hit[k] || entry_find(idx, n, m->name, k))
				continue;
			level_push(&lv, &nl, &capl, m->name, k);
		}
	}
	free(idx);
	levels_add(c, lv, nl, 0);
}

/*
 * The other users' namespace (imap_acl.h): each mailbox another account
 * shared with the user with "l" (RFC 4314 §4: LIST shows it only then)
 * is an entry "Shared/OWNER/NAME" with the owner's mailbox's info, no
 * special use (the owner's roles are not the user's); the levels above
 * ("Shared", "Shared/OWNER", a parent not shared itself) are \Noselect
 * entries. imap_acl_shared_each() reads them.
 */
static void shared_mailbox_cb(void *arg, const char *name, uint32_t owner, uint32_t rights,
			      const struct store_mailbox_info *info)
{
	struct collect *c = arg;
	if (collect_grow(c) < 0)
		return;
	struct mbx *m = &c->v[c->n++];
	memset(m, 0, sizeof(*m));
	m->name = arena_printf(c->a, "%s", name);
	m->role = "";
	m->owner = owner;
	m->rights = rights;
	m->info = *info;
	m->info.name = m->name;
	m->info.role = m->role;
	m->info.subscribed = 0; /* the owner's subscription, not the user's */
}

/* Adds a \Noselect level entry for each level above a shared entry that
 * is no entry yet (idx: the entries sorted, n of them). */
static void shared_levels(struct collect *c, size_t first)
{
	size_t n = c->n, nl = 0;
	struct ent *idx = entries_sorted(c);
	struct level *lv = NULL;
	size_t capl = 0;

	for (size_t i = first; i < n; i++) {
		const char *name = c->v[i].name;
		for (size_t k = sizeof IMAP_ACL_PREFIX - 2; name[k]; k++) {
			if (name[k] != '/' || entry_find(idx, n, name, k))
				continue;
			level_push(&lv, &nl, &capl, name, k);
		}
	}
	free(idx);
	levels_add(c, lv, nl, 1);
}

/* The shared entries and their levels; -1 on a store error. */
static int collect_shared(struct imap_session *s, struct collect *c)
{
	size_t first = c->n;

	if (!IMAP_ACL_ENABLED)
		return 0;
	if (imap_acl_shared_each(imap_store, s->account, LIST_MAX_ENTRIES, shared_mailbox_cb, c) !=
	    STORE_OK)
		return -1;
	if (c->n > first)
		shared_levels(c, first);
	return 0;
}

static int selected(const struct list_req *q, const struct mbx *m);

/*
 * Sets kids (a mailbox below: \HasChildren) and, with want_below, below
 * (a name below meets the selection and no pattern reaches it:
 * RECURSIVEMATCH's CHILDINFO, LSUB's \Noselect parent) on the entries
 * above each entry, nearest first, stopping at one that has it already
 * (whoever set it set those above it too): about a lookup an entry,
 * where a scan of every entry for each listed one took their number
 * squared.
 */
static void mark_above(struct collect *c, const struct list_req *q, int want_below)
{
	struct ent *idx = entries_sorted(c);
	for (size_t i = 0; i < c->n; i++) {
		const struct mbx *d = &c->v[i];
		int kids = !d->nonexistent, below = want_below && selected(q, d) && !d->matched;
		for (size_t k = strlen(d->name); (kids || below) && k-- > 0;) {
			if (d->name[k] != '/')
				continue;
			struct mbx *a = entry_find(idx, c->n, d->name, k);
			if (!a)
				continue;
			if (kids && a->kids)
				kids = 0;
			else if (kids)
				a->kids = 1;
			if (below && a->below)
				below = 0;
			else if (below)
				a->below = 1;
		}
	}
	free(idx);
}

static int selected(const struct list_req *q, const struct mbx *m)
{
	if ((q->opt & SEL_SUBSCRIBED) && !m->subscribed)
		return 0;
	if ((q->opt & SEL_SPECIAL) && !imap_role_attr(m->role))
		return 0;
	return 1;
}

/* Parses the LIST-EXTENDED options around the reference and patterns. 0,
 * or -1 with *why_r (BAD). */
static int list_parse(struct imap_session *s, const struct imap_cmd *cmd, struct list_req *q,
		      const char **why_r)
{
	const struct imap_arg *a = cmd->args, *l;
	size_t n = cmd->nargs, i = 0, ln;
	struct str ref, pat;

	*why_r = "Invalid arguments.";
	if (n && a[0].type == IMAP_ARG_LIST) {
		imap_arg_list(&a[0], &l, &ln);
		for (size_t k = 0; k < ln; k++) {
			if (imap_arg_atom_is(&l[k], "SUBSCRIBED"))
				q->opt |= SEL_SUBSCRIBED | RET_SUBSCRIBED;
			else if (imap_arg_atom_is(&l[k], "RECURSIVEMATCH"))
				q->opt |= SEL_RECURSIVE;
			else if (imap_arg_atom_is(&l[k], "SPECIAL-USE"))
				q->opt |= SEL_SPECIAL;
			else if (!imap_arg_atom_is(&l[k], "REMOTE")) {
				*why_r = "Unknown selection option.";
				return -1;
			}
		}
		if ((q->opt & SEL_RECURSIVE) && !(q->opt & SEL_SUBSCRIBED)) {
			*why_r = "RECURSIVEMATCH needs another selection option.";
			return -1;
		}
		i = 1;
	}
	if (i + 2 > n || imap_arg_astring(&a[i], &ref) < 0)
		return -1;
	const char *r8 = pattern_utf8(s, ref);
	const struct imap_arg *pl = &a[i + 1];
	size_t np = 1;
	if (pl->type == IMAP_ARG_LIST) {
		imap_arg_list(pl, &pl, &np);
		if (np == 0 || np > LIST_MAX_PATTERNS)
			return -1;
	}
	for (size_t k = 0; k < np; k++) {
		if (imap_arg_astring(&pl[k], &pat) < 0 && imap_arg_atom(&pl[k], &pat) < 0)
			return -1;
		const char *p8 = pattern_utf8(s, pat);
		q->pats[q->npats++] = pattern_compact(
			s, pat.len && pat.p[0] == '/' ? p8 : arena_printf(s->cmd_arena, "%s%s", r8, p8));
	}
	i += 2;
	if (i == n)
		return 0;
	if (i + 2 != n || !imap_arg_atom_is(&a[i], "RETURN") || imap_arg_list(&a[i + 1], &l, &ln) < 0)
		return -1;
	for (size_t k = 0; k < ln; k++) {
		if (imap_arg_atom_is(&l[k], "SUBSCRIBED")) {
			q->opt |= RET_SUBSCRIBED;
		} else if (imap_arg_atom_is(&l[k], "CHILDREN") || imap_arg_atom_is(&l[k], "SPECIAL-USE")) {
			/* always given */
		} else if (imap_arg_atom_is(&l[k], "STATUS") && k + 1 < ln &&
			   imap_arg_list(&l[k + 1], &q->status, &q->nstatus) == 0 && q->nstatus) {
			if (imap_status_items(q->status, q->nstatus, &q->want) < 0) {
				*why_r = "Unknown status item.";
				return -1;
			}
			q->opt |= RET_STATUS;
			k++;
		} else {
			*why_r = "Unknown return option.";
			return -1;
		}
	}
	return 0;
}

/* The attributes of a mailbox (not \\NonExistent) LIST gives:
 * \\HasChildren or \\HasNoChildren, its special use, \\Subscribed when
 * asked and so. */
static void append_attrs(struct buf *out, const struct mbx *m, int subscribed)
{
	const char *attr = imap_role_attr(m->role);
	buf_printf(out, "%s%s%s%s", m->kids ? "\\HasChildren" : "\\HasNoChildren", attr ? " " : "",
		   attr ? attr : "", subscribed ? " \\Subscribed" : "");
}

/*
 * RFC 9051 §6.3.2: SELECT and EXAMINE answer an IMAP4rev2 session with
 * the mailbox's LIST line too, "the list of mailbox attributes MUST be
 * accurate": they are found as LIST finds them, from the owner's
 * mailboxes (the user's, or those shared with the user), and asked by a
 * name not in NFC (the store keeps names in NFC and finds them so), the
 * line carries OLDNAME with the name as asked. A store error leaves the
 * line out: the SELECT itself succeeded.
 */
void imap_list_selected(struct imap_session *s, uint32_t owner, uint32_t mailbox, const char *asked)
{
	struct collect c = { .a = s->cmd_arena };
	int shared = owner != s->account;
	if (shared ? collect_shared(s, &c) < 0
		   : store_mailbox_list(imap_store, s->account, collect_cb, &c) != STORE_OK)
		return;
	struct list_req none = { 0 };
	mark_above(&c, &none, 0);
	for (size_t i = 0; i < c.n; i++) {
		const struct mbx *m = &c.v[i];
		if (m->noselect || m->nonexistent || m->info.id != mailbox ||
		    (shared ? m->owner != owner : m->owner != 0))
			continue;
		/* Two names of up to STORE_MAILBOX_NAME_MAX octets each,
		 * longer in modified UTF-7 or quoted: well within the bound.
		 * Should an append fail all the same, the line is left out
		 * rather than sent cut short. */
		struct buf out;
		buf_init(&out, IMAP_OUT_MAX);
		int err = buf_append_c(&out, "* LIST (") < 0;
		append_attrs(&out, m, 0);
		err |= buf_append_c(&out, ") \"/\" ") < 0 || imap_append_mailbox(&out, m->name) < 0;
		if (!unorm_is_nfc(asked, strlen(asked)))
			err |= buf_append_c(&out, " (\"OLDNAME\" (") < 0 ||
			       imap_append_mailbox(&out, asked) < 0 || buf_append_c(&out, "))") < 0;
		err |= buf_append_c(&out, "\r\n") < 0;
		if (!err)
			imap_write(s, buf_data(&out), buf_len(&out));
		buf_free(&out);
		return;
	}
}

void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	int lsub = cmd->id == IMAP_CMD_LSUB;
	const char *word = lsub ? "LSUB" : "LIST";
	struct list_req q = { 0 };
	struct str ref, pat;
	const char *why;

	if (lsub) {
		if (cmd->nargs != 2 || imap_arg_astring(&cmd->args[0], &ref) < 0 ||
		    (imap_arg_astring(&cmd->args[1], &pat) < 0 &&
		     imap_arg_atom(&cmd->args[1], &pat) < 0)) {
			imap_tagged(s, "BAD Error in IMAP command LSUB: Invalid arguments.");
			imap_session_error(s);
			return;
		}
		const char *r8 = pattern_utf8(s, ref), *p8 = pattern_utf8(s, pat);
		q.pats[q.npats++] = pattern_compact(
			s, pat.len && pat.p[0] == '/' ? p8 : arena_printf(s->cmd_arena, "%s%s", r8, p8));
		q.opt = SEL_SUBSCRIBED;
	} else if (list_parse(s, cmd, &q, &why) < 0) {
		imap_tagged(s, "BAD Error in IMAP command LIST: %s", why);
		imap_session_error(s);
		return;
	}
	int basic = !lsub && cmd->nargs == 2 && cmd->args[1].type != IMAP_ARG_LIST;
	if (basic && imap_arg_astring(&cmd->args[1], &pat) == 0 && pat.len == 0) {
		/* RFC 3501: the hierarchy delimiter and the root of the reference. */
		imap_reply(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK List completed.");
		return;
	}
	if (lsub && pat.len == 0) {
		imap_tagged(s, "OK Lsub completed.");
		return;
	}

	q.cp = arena_alloc(s->cmd_arena, q.npats * sizeof(*q.cp));
	for (size_t i = 0; i < q.npats; i++)
		cpat_make(s->cmd_arena, q.pats[i], &q.cp[i]);
	struct collect c = { .a = s->cmd_arena };
	if (store_mailbox_list(imap_store, s->account, collect_cb, &c) != STORE_OK ||
	    collect_shared(s, &c) < 0 ||
	    store_subscription_list(imap_store, s->account, collect_sub_cb, &c) != STORE_OK) {
		imap_tagged(s, "NO [SERVERBUG] Internal error reading mailboxes.");
		return;
	}
	collect_subs_merge(&c);
	/* LSUB's "%" and RECURSIVEMATCH list the levels above subscriptions. */
	if ((lsub && strchr(q.pats[0], '%')) || (q.opt & SEL_RECURSIVE))
		collect_implied(&c, &q);
	if (c.over) {
		imap_tagged(s, "NO [LIMIT] Too many names to list (more than %u); use a narrower pattern.",
			    LIST_MAX_ENTRIES);
		return;
	}
	for (size_t i = 0; i < c.n; i++)
		c.v[i].matched = matches(&q, c.v[i].name);
	mark_above(&c, &q, lsub || (q.opt & SEL_RECURSIVE));
	struct buf out;
	buf_init(&out, IMAP_OUT_MAX * 16);
	/* INBOX first, as clients expect and Dovecot does. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c.n; i++) {
			const struct mbx *m = &c.v[i];
			int inbox = strcmp(m->name, "INBOX") == 0;
			if (inbox != (pass == 0) || !m->matched)
				continue;
			/* Only the SUBSCRIBED selection lists names without a
			 * mailbox (RFC 5258). */
			if (m->nonexistent && !(q.opt & SEL_SUBSCRIBED))
				continue;
			int sel = selected(&q, m);
			/* RFC 5258 §3.5: CHILDINFO when the patterns miss a
			 * selected descendant; a mailbox that does not meet the
			 * selection is listed only then (redundant parents of
			 * listed descendants are suppressed), so never without
			 * it. */
			int childinfo = !lsub && (q.opt & SEL_RECURSIVE) && m->below;
			/* RFC 3501 §6.3.9: LSUB "%" returns the unsubscribed
			 * parent of a subscribed mailbox it does not reach,
			 * flagged \Noselect. Only a "%" stops short of a
			 * descendant: a pattern without one names just the
			 * names it spells, and an unsubscribed one is no
			 * subset of the subscriptions LSUB lists. */
			int lsub_parent = lsub && !sel && strchr(q.pats[0], '%') && m->below;
			if (!sel && !childinfo && !lsub_parent)
				continue;
			buf_printf(&out, "* %s (", word);
			if (lsub_parent || (lsub && (m->nonexistent || m->noselect)))
				buf_append_c(&out, "\\Noselect");
			else if (!lsub && m->noselect)
				buf_append_c(&out, "\\Noselect ");
			if (!lsub && m->nonexistent)
				buf_printf(&out, "\\NonExistent%s",
					   (q.opt & RET_SUBSCRIBED) && m->subscribed ? " \\Subscribed" : "");
			else if (!lsub)
				append_attrs(&out, m, (q.opt & RET_SUBSCRIBED) && m->subscribed);
			buf_append_c(&out, ") \"/\" ");
			if (imap_append_mailbox(&out, m->name) < 0)
				buf_append_c(&out, "\"\"");
			if (childinfo)
				buf_append_c(&out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
			buf_append_c(&out, "\r\n");
			/* RFC 5819: STATUS right after the mailbox's LIST line. A
			 * mailbox that vanished meanwhile just has none. */
			/* A shared one's only with "r" (RFC 4314 §4, STATUS). */
			if ((q.opt & RET_STATUS) && !m->nonexistent && !m->noselect &&
			    (!m->owner || (m->rights & STORE_ACL_R)))
				imap_status_append(s, m->owner ? m->owner : s->account, m->name, &m->info,
						   q.status, q.nstatus, q.want, &out);
		}
	}
	imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	imap_tagged(s, "OK %s completed.", lsub ? "Lsub" : "List");
}
