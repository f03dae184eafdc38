/*
 * cmd_list.c — LIST and LSUB (RFC 3501 §6.3.8-9, SPECIAL-USE RFC 6154,
 * CHILDREN RFC 3348).
 *
 * One namespace, personal, hierarchy delimiter "/". The reference is
 * joined to the pattern as RFC 3501 describes for the simple case;
 * "*" matches anything, "%" anything but the delimiter; "INBOX" matches in
 * any case. Mailbox roles become the special-use attributes \Sent \Drafts
 * \Trash \Junk \Archive. LIST-EXTENDED (selection and RETURN options) is
 * not implemented and not advertised: a list in the first argument is BAD.
 *
 * LSUB lists the subscribed mailboxes (the default ones start subscribed,
 * as with Dovecot's autosubscribe; CREATE does not subscribe).
 */
#include <stdio.h>
#include <string.h>

#include "imap/imap_session.h"
#include "imap/imap_utf7.h"

#define LIST_MAX_MAILBOXES 10000

struct mbx {
	const char *name;
	const char *role;
	int subscribed;
};

struct collect {
	struct arena *a;
	struct mbx *v;
	size_t n, cap;
};

static void collect_cb(void *arg, const struct store_mailbox_info *info)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		if (c->cap >= LIST_MAX_MAILBOXES)
			return;
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct mbx *v = arena_alloc(c->a, cap * sizeof(*v));
		if (c->n)
			memcpy(v, c->v, c->n * sizeof(*v));
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n].name = arena_strdup(c->a, info->name);
	c->v[c->n].role = arena_strdup(c->a, info->role ? info->role : "");
	c->v[c->n].subscribed = info->subscribed;
	c->n++;
}

/* Wildcard match; for the name INBOX (all capitals) the pattern matches in any case. */
static int match(const char *pat, const char *name, int inbox)
{
	for (;; pat++, name++) {
		if (*pat == '*' || *pat == '%') {
			int star = *pat == '*';
			for (const char *t = name;; t++) {
				if (match(pat + 1, t, inbox))
					return 1;
				if (!*t || (!star && *t == '/'))
					return 0;
			}
		}
		if (!*pat || !*name)
			return !*pat && !*name;
		char a = *pat, b = *name;
		if (inbox && a >= 'a' && a <= 'z')
			a = (char)(a - 32);
		if (a != b)
			return 0;
	}
}

static const char *role_attr(const char *role)
{
	static const char *const map[][2] = {
		{ "sent", "\\Sent" },   { "drafts", "\\Drafts" },   { "trash", "\\Trash" },
		{ "junk", "\\Junk" },   { "archive", "\\Archive" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(role, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

static int has_children(const struct collect *c, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < c->n; i++)
		if (strncmp(c->v[i].name, name, n) == 0 && c->v[i].name[n] == '/')
			return 1;
	return 0;
}

/* Decodes a reference or pattern from modified UTF-7; as sent if not valid. */
static const char *pattern_utf8(struct imap_session *s, struct str in)
{
	struct buf b;
	buf_init(&b, in.len * 4 + 16);
	const char *r = imap_utf7_to_utf8(in, &b) == IMAP_UTF7_OK ? str_dup(s->cmd_arena, buf_str(&b))
								     : str_dup(s->cmd_arena, in);
	buf_free(&b);
	return r;
}

void imap_cmd_list(struct imap_session *s, const struct imap_cmd *cmd)
{
	int lsub = cmd->id == IMAP_CMD_LSUB;
	const char *word = lsub ? "LSUB" : "LIST";
	struct str ref, pat;

	if (cmd->nargs != 2 || imap_arg_astring(&cmd->args[0], &ref) < 0 ||
	    (imap_arg_astring(&cmd->args[1], &pat) < 0 && imap_arg_atom(&cmd->args[1], &pat) < 0)) {
		imap_tagged(s, "BAD Error in IMAP command %s: Invalid arguments%s.", word,
			    cmd->nargs && cmd->args[0].type == IMAP_ARG_LIST
				    ? " (LIST-EXTENDED is not supported)"
				    : "");
		imap_session_error(s);
		return;
	}
	if (pat.len == 0) {
		/* RFC 3501: the hierarchy delimiter and the root of the reference. */
		if (!lsub)
			imap_reply(s, "* LIST (\\Noselect) \"/\" \"\"");
		imap_tagged(s, "OK %s completed.", lsub ? "Lsub" : "List");
		return;
	}
	const char *r8 = pattern_utf8(s, ref), *p8 = pattern_utf8(s, pat);
	const char *full = pat.p[0] == '/' || !r8[0] ? p8 : arena_printf(s->cmd_arena, "%s%s", r8, p8);

	struct collect c = { .a = s->cmd_arena };
	if (store_mailbox_list(imap_store, s->account, collect_cb, &c) != STORE_OK) {
		imap_tagged(s, "NO [SERVERBUG] Internal error reading mailboxes.");
		return;
	}
	struct buf out;
	buf_init(&out, IMAP_OUT_MAX * 16);
	/* INBOX first, as clients expect and Dovecot does. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c.n; i++) {
			int inbox = strcmp(c.v[i].name, "INBOX") == 0;
			if (inbox != (pass == 0) || !match(full, c.v[i].name, inbox))
				continue;
			if (lsub && !c.v[i].subscribed)
				continue;
			const char *attr = lsub ? NULL : role_attr(c.v[i].role);
			buf_printf(&out, "* %s (", word);
			if (!lsub)
				buf_printf(&out, "%s%s%s", has_children(&c, c.v[i].name) ? "\\HasChildren" : "\\HasNoChildren",
					   attr ? " " : "", attr ? attr : "");
			buf_append_c(&out, ") \"/\" ");
			if (imap_append_mailbox(&out, c.v[i].name) < 0)
				buf_append_c(&out, "\"\"");
			buf_append_c(&out, "\r\n");
		}
	}
	imap_write_big(s, buf_data(&out), buf_len(&out));
	buf_free(&out);
	imap_tagged(s, "OK %s completed.", lsub ? "Lsub" : "List");
}
