/*
 * cmd_metadata.c — GETMETADATA and SETMETADATA (RFC 5464: METADATA and
 * METADATA-SERVER), entries kept per account by store_metadata.c.
 *
 * Mailbox "" names the server. Entry names begin with /private or
 * /shared, are compared in any case and answered in lower case (as
 * Dovecot answers), and may not end with "/", hold "//", "*", "%" or
 * anything outside printable ASCII. On a user's own mailbox /private
 * and /shared are both its own; on one shared with it ("Shared/OWNER/M",
 * imap_acl.h) /shared entries are the owner's and /private ones the
 * user's own (RFC 5464 §3.2, store_metadata_set_as), both read and set
 * with "l" and one of "r", "s", "w", "i", "p" (RFC 5464's ACL rule;
 * without "l" the mailbox is not there, NONEXISTENT, without the others
 * NOPERM); setting a /shared entry there takes "w" as well (NOPERM), as
 * Cyrus has it: a user who may only read would otherwise change what the
 * owner and every other grantee read. The server's /shared entries are the administrator's and
 * refused to users with NO [CANNOT], as Dovecot refuses them. A mailbox's
 * /private/specialuse is its special-use attribute (RFC 6154 §4), read
 * only (NO [CANNOT]), as Dovecot has it.
 *
 * GETMETADATA [(MAXSIZE n DEPTH 0|1|infinity)] mailbox entry|(entries):
 * at depth 0 a missing entry is answered NIL, deeper only what exists;
 * values longer than MAXSIZE are left out and the longest such length
 * is told in OK [METADATA LONGENTRIES n]. Nothing found: no untagged
 * METADATA at all. Values go out as quoted strings, or literals when
 * they cannot be quoted (literal8 when they hold NUL).
 *
 * A mailbox that is not there is NO [NONEXISTENT] to both (RFC 5530 §3),
 * as to SELECT and STATUS; Dovecot gives that NO no code.
 *
 * SETMETADATA mailbox (entry value|NIL ...): all or nothing, on the
 * worker pool. Limits: a value of at most IMAP_METADATA_VALUE_MAX octets
 * (a longer literal is refused before "+": NO [METADATA MAXSIZE n]), and
 * per account STORE_METADATA_ENTRIES entries (NO [METADATA TOOMANY]) and
 * STORE_METADATA_BYTES octets (NO [METADATA MAXSIZE n]).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "imap/imap_acl.h"
#include "imap/imap_session.h"

#define MAX_ENTRIES 64 /* entries named in one command: NO past it */

static void bad(struct imap_session *s, const char *cmd, const char *why)
{
	imap_tagged(s, "BAD Error in IMAP command %s: %s", cmd, why);
	imap_session_error(s);
}

/* Checks an entry name (see the top); NULL, or why it is refused. */
static const char *entry_check(struct str e)
{
	if (e.len == 0 || e.p[0] != '/')
		return "Entry name must begin with '/'";
	if (e.len > STORE_METADATA_NAME_MAX)
		return "Entry name too long";
	for (size_t i = 0; i < e.len; i++) {
		unsigned char c = (unsigned char)e.p[i];
		if (c == '*' || c == '%')
			return "Entry name can't contain '*' or '%'";
		if (c < 0x21 || c > 0x7e)
			return "Entry name can't contain that character";
		if (c == '/' && i + 1 < e.len && e.p[i + 1] == '/')
			return "Entry name can't contain '//'";
	}
	if (e.p[e.len - 1] == '/')
		return "Entry name can't end with '/'";
	struct str p8 = str_make(e.p, e.len < 8 ? e.len : 8), s7 = str_make(e.p, e.len < 7 ? e.len : 7);
	if (!((str_eq_ci_c(p8, "/private") && (e.len == 8 || e.p[8] == '/')) ||
	      (str_eq_ci_c(s7, "/shared") && (e.len == 7 || e.p[7] == '/'))))
		return "Entry name must begin with /private or /shared";
	return NULL;
}

/* The entry name in lower case, in the command arena. */
static struct str entry_lower(struct imap_session *s, struct str e)
{
	char *p = arena_alloc(s->cmd_arena, e.len + 1);
	for (size_t i = 0; i < e.len; i++)
		p[i] = e.p[i] >= 'A' && e.p[i] <= 'Z' ? (char)(e.p[i] + 32) : e.p[i];
	p[e.len] = '\0';
	return str_make(p, e.len);
}

/* Resolves the mailbox argument into t: mailbox 0 for "" (the server,
 * the user's), else an own mailbox or one shared with the user with the
 * rights METADATA needs; -1 after a tagged reply. name (size 1024) gets
 * its UTF-8 name. */
static int mailbox_id(struct imap_session *s, const struct imap_arg *a, char *name,
		      struct imap_acl_target *t)
{
	struct str v;

	if (imap_arg_astring(a, &v) == 0 && v.len == 0) {
		name[0] = '\0';
		memset(t, 0, sizeof *t);
		t->owner = s->account;
		t->rights = STORE_ACL_ALL;
		return 0;
	}
	return imap_acl_target(s, a, IMAP_ACL_OP_METADATA, name, 1024, t);
}

/* ---- GETMETADATA ---- */

struct found {
	struct str name, value; /* copies (malloc'ed) */
};

struct get_ctx {
	struct found *all;
	size_t n, cap;
};

static void collect(void *arg, struct str name, struct str value)
{
	struct get_ctx *g = arg;
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		g->all = xrealloc(g->all, g->cap * sizeof(*g->all));
	}
	struct found *f = &g->all[g->n++];
	char *p = xmalloc(name.len + value.len + 2);
	/* The stored spelling in lower case: names compare in any case. */
	for (size_t i = 0; i < name.len; i++)
		p[i] = name.p[i] >= 'A' && name.p[i] <= 'Z' ? (char)(name.p[i] + 32) : name.p[i];
	p[name.len] = '\0';
	memcpy(p + name.len + 1, value.p, value.len);
	p[name.len + 1 + value.len] = '\0';
	f->name = str_make(p, name.len);
	f->value = str_make(p + name.len + 1, value.len);
}

/* /private/specialuse (RFC 6154 §4): the mailbox's special-use attribute
 * as LIST shows it, not a stored value (Dovecot's too). */
#define SPECIALUSE "/private/specialuse"

struct role_ctx {
	uint32_t id;
	const char *attr;
};

static void role_cb(void *arg, const struct store_mailbox_info *info)
{
	struct role_ctx *r = arg;
	if (info->id == r->id)
		r->attr = imap_role_attr(info->role); /* a static string */
}

/* Drops a stored /private/specialuse from g and adds the mailbox's
 * attribute, if it has one. 0, or -1 on a store error. */
static int specialuse_entry(uint32_t owner, uint32_t mbox, struct get_ctx *g)
{
	struct role_ctx r = { .id = mbox };
	int rc = store_mailbox_get(imap_store, owner, mbox, role_cb, &r);
	if (rc != STORE_OK && rc != STORE_ENOTFOUND)
		return -1;
	for (size_t i = 0; i < g->n; i++)
		if (str_eq(g->all[i].name, STR_LIT(SPECIALUSE))) {
			free((char *)g->all[i].name.p);
			g->all[i--] = g->all[--g->n];
		}
	if (r.attr)
		collect(g, STR_LIT(SPECIALUSE), str_make(r.attr, strlen(r.attr)));
	return 0;
}

/* 1 when name is want itself or lies below it within depth (-1: any). */
static int under(struct str name, struct str want, int depth)
{
	if (name.len < want.len || memcmp(name.p, want.p, want.len) != 0)
		return 0;
	if (name.len == want.len)
		return 1;
	if (depth == 0 || name.p[want.len] != '/')
		return 0;
	if (depth < 0)
		return 1;
	return memchr(name.p + want.len + 1, '/', name.len - want.len - 1) == NULL;
}

static void append_value(struct buf *b, struct str v)
{
	if (memchr(v.p, '\0', v.len)) {
		buf_printf(b, "~{%zu}\r\n", v.len);
		buf_append_str(b, v);
	} else {
		imap_append_string(b, v);
	}
}

static int get_options(struct imap_session *s, const struct imap_arg *list, size_t n,
		       int64_t *maxsize, int *depth)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		if (imap_arg_atom_is(&list[i], "MAXSIZE") && i + 1 < n &&
		    imap_arg_number64(&list[i + 1], &v) == 0) {
			*maxsize = (int64_t)v;
			i++;
		} else if (imap_arg_atom_is(&list[i], "DEPTH") && i + 1 < n) {
			i++;
			if (imap_arg_atom_is(&list[i], "0"))
				*depth = 0;
			else if (imap_arg_atom_is(&list[i], "1"))
				*depth = 1;
			else if (imap_arg_atom_is(&list[i], "INFINITY"))
				*depth = -1;
			else {
				bad(s, "GETMETADATA", "Invalid value for DEPTH option");
				return -1;
			}
		} else {
			bad(s, "GETMETADATA", "Unknown option");
			return -1;
		}
	}
	return 0;
}

static void cmd_get(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *args = cmd->args, *opts;
	size_t nargs = cmd->nargs, nopts;
	int64_t maxsize = -1;
	int depth = 0;
	char name[1024];
	struct imap_acl_target t;

	if (nargs && args[0].type == IMAP_ARG_LIST) {
		imap_arg_list(&args[0], &opts, &nopts);
		if (get_options(s, opts, nopts, &maxsize, &depth) < 0)
			return;
		args++;
		nargs--;
	}
	if (nargs != 2) {
		bad(s, "GETMETADATA", "Invalid arguments");
		return;
	}
	/* The entries: one, or a list. */
	const struct imap_arg *el = &args[1];
	size_t ne = 1;
	if (args[1].type == IMAP_ARG_LIST)
		imap_arg_list(&args[1], &el, &ne);
	if (ne > MAX_ENTRIES) {
		/* Well formed, over this server's limit (RFC 5530 LIMIT). */
		imap_tagged(s, "NO [LIMIT] Too many entries in one command (at most %d).",
			    MAX_ENTRIES);
		return;
	}
	struct str want[MAX_ENTRIES];
	for (size_t i = 0; i < ne; i++) {
		struct str e;
		const char *why;
		if (imap_arg_astring(&el[i], &e) < 0) {
			bad(s, "GETMETADATA", "Invalid entry name");
			return;
		}
		if ((why = entry_check(e)) != NULL) {
			bad(s, "GETMETADATA", why);
			return;
		}
		want[i] = entry_lower(s, e);
	}
	if (mailbox_id(s, &args[0], name, &t) < 0)
		return;

	uint32_t mbox = t.mailbox;
	struct get_ctx g = { 0 };
	if (store_metadata_get_as(imap_store, s->account, t.owner, mbox, collect, &g) != STORE_OK ||
	    (mbox && specialuse_entry(t.owner, mbox, &g) < 0)) {
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
		goto out;
	}
	struct buf b;
	size_t longest = 0, shown = 0;
	buf_init(&b, 4u * STORE_METADATA_BYTES);
	buf_append_c(&b, "* METADATA ");
	if (mbox)
		imap_append_mailbox(&b, name);
	else
		buf_append_c(&b, "\"\"");
	buf_append_c(&b, " (");
	uint8_t *sent = xcalloc(g.n + 1, 1);
	for (size_t w = 0; w < ne; w++) {
		int any = 0;
		for (size_t i = 0; i < g.n; i++) {
			if (!under(g.all[i].name, want[w], depth))
				continue;
			any = 1;
			if (sent[i])
				continue;
			sent[i] = 1;
			if (maxsize >= 0 && g.all[i].value.len > (uint64_t)maxsize) {
				if (g.all[i].value.len > longest)
					longest = g.all[i].value.len;
				continue;
			}
			buf_printf(&b, "%s%.*s ", shown++ ? " " : "", (int)g.all[i].name.len,
				   g.all[i].name.p);
			append_value(&b, g.all[i].value);
		}
		if (!any && depth == 0)
			buf_printf(&b, "%s%.*s NIL", shown++ ? " " : "", (int)want[w].len, want[w].p);
	}
	free(sent);
	buf_append_c(&b, ")\r\n");
	if (shown)
		imap_write_big(s, buf_data(&b), buf_len(&b));
	buf_free(&b);
	if (longest)
		imap_tagged(s, "OK [METADATA LONGENTRIES %zu] Getmetadata completed.", longest);
	else
		imap_tagged(s, "OK Getmetadata completed.");
out:
	for (size_t i = 0; i < g.n; i++)
		free((char *)g.all[i].name.p);
	free(g.all);
}

/* ---- SETMETADATA ---- */

/* One malloc'ed block, in j->keywords (job_free frees it, also when the
 * session went away meanwhile): this, the entries, their octets. */
struct set_job {
	struct store_metadata *e;
	size_t n;
};

static void set_run(struct imap_job *j)
{
	struct set_job *sj = (struct set_job *)(void *)j->keywords;
	j->result = store_metadata_set_as(imap_store, j->actor, j->account, j->mailbox, sj->e, sj->n);
}

static void set_done(struct imap_session *s, struct imap_job *j)
{
	switch (j->result) {
	case STORE_OK:
		imap_tagged(s, "OK Setmetadata completed.");
		break;
	case STORE_ENOTFOUND:
		imap_tagged(s, "NO [NONEXISTENT] Mailbox doesn't exist: %s", j->name);
		break;
	case STORE_ELIMIT:
		imap_tagged(s, "NO [METADATA TOOMANY] Too many metadata entries.");
		break;
	case STORE_ETOOBIG:
		imap_tagged(s, "NO [METADATA MAXSIZE %u] Metadata too large.", IMAP_METADATA_VALUE_MAX);
		break;
	case STORE_EFULL: /* the server's disk, as APPEND says it: not a bug */
		imap_disk_full(s);
		break;
	default:
		imap_tagged(s, "NO [SERVERBUG] Internal error.");
		break;
	}
}

static void cmd_set(struct imap_session *s, const struct imap_cmd *cmd)
{
	const struct imap_arg *l;
	size_t n;
	char name[1024];
	struct imap_acl_target t;

	if (cmd->nargs != 2 || imap_arg_list(&cmd->args[1], &l, &n) < 0) {
		bad(s, "SETMETADATA", "Invalid arguments");
		return;
	}
	if (n % 2) {
		bad(s, "SETMETADATA", "Entry value missing");
		return;
	}
	if (n / 2 > MAX_ENTRIES) {
		/* Well formed: refused as a limit of the server, the code RFC
		 * 5464 §4.3 gives for "too many entries" (not BAD). */
		imap_tagged(s, "NO [METADATA TOOMANY] Too many entries in one command (at most %d).",
			    MAX_ENTRIES);
		return;
	}
	size_t total = 0;
	for (size_t i = 0; i < n; i += 2) {
		struct str e;
		const char *why;
		if (imap_arg_astring(&l[i], &e) < 0) {
			bad(s, "SETMETADATA", "Invalid entry name");
			return;
		}
		if ((why = entry_check(e)) != NULL) {
			bad(s, "SETMETADATA", why);
			return;
		}
		const struct imap_arg *v = &l[i + 1];
		if (v->type != IMAP_ARG_NIL && v->type != IMAP_ARG_STRING &&
		    v->type != IMAP_ARG_LITERAL) {
			bad(s, "SETMETADATA", "Invalid entry value");
			return;
		}
		if (v->type != IMAP_ARG_NIL && v->str.len > IMAP_METADATA_VALUE_MAX) {
			imap_tagged(s, "NO [METADATA MAXSIZE %u] Metadata value too long.",
				    IMAP_METADATA_VALUE_MAX);
			return;
		}
		total += e.len + (v->type == IMAP_ARG_NIL ? 0 : v->str.len) + 2;
	}
	if (mailbox_id(s, &cmd->args[0], name, &t) < 0)
		return;
	uint32_t mbox = t.mailbox;
	for (size_t i = 0; i < n; i += 2) {
		struct str e;
		imap_arg_astring(&l[i], &e);
		int shared = str_eq_ci_c(str_make(e.p, e.len < 7 ? e.len : 7), "/shared");
		if (!mbox && shared) {
			imap_tagged(s, "NO [CANNOT] Server /shared entries are the administrator's.");
			return;
		}
		if (shared && !imap_acl_allows(t.rights, IMAP_ACL_OP_METADATA_SHARED)) {
			imap_tagged(s, "NO [NOPERM] Setting /shared entries needs the \"w\" right.");
			return;
		}
		/* RFC 6154 §4 lets the server refuse to set it, and it must
		 * not take any value blindly: CREATE (USE ...) sets the
		 * attribute (as Dovecot refuses it). */
		if (mbox && str_eq_ci_c(e, SPECIALUSE)) {
			imap_tagged(s, "NO [CANNOT] The /private/specialuse entry cannot be changed.");
			return;
		}
	}
	/* Copies for the worker: the command arena goes when it ends. */
	size_t head = sizeof(struct set_job) + (n / 2 + 1) * sizeof(struct store_metadata);
	char *block = xcalloc(1, head + total + 1);
	struct set_job *sj = (struct set_job *)(void *)block;
	sj->n = n / 2;
	sj->e = (struct store_metadata *)(void *)(block + sizeof(*sj));
	char *p = block + head;
	for (size_t i = 0; i < n; i += 2) {
		struct str e;
		imap_arg_astring(&l[i], &e);
		struct str lower = entry_lower(s, e);
		memcpy(p, lower.p, lower.len);
		sj->e[i / 2].name = str_make(p, lower.len);
		p += lower.len + 1;
		if (l[i + 1].type == IMAP_ARG_NIL) {
			sj->e[i / 2].value = STR_NULL;
			continue;
		}
		memcpy(p, l[i + 1].str.p, l[i + 1].str.len);
		sj->e[i / 2].value = str_make(p, l[i + 1].str.len);
		p += l[i + 1].str.len + 1;
	}
	struct imap_job *j = imap_job_new(s);
	j->account = t.owner; /* the mailbox's (the user's own for the server) */
	j->actor = s->account;
	j->mailbox = mbox;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->keywords = block;
	j->run = set_run;
	j->done = set_done;
	imap_job_submit(s, j);
}

void imap_cmd_metadata(struct imap_session *s, const struct imap_cmd *cmd)
{
	if (cmd->id == IMAP_CMD_GETMETADATA)
		cmd_get(s, cmd);
	else
		cmd_set(s, cmd);
}
