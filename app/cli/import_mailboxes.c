/*
 * import_mailboxes.c — a source's mailboxes, their roles (special-use)
 * and its subscriptions, put on the account before the source's mail
 * goes in (cli_import.h): one implementation for tern import (an archive
 * tern export wrote: account.json, read at the end of this file) and tern
 * migrate (another server's LIST (SPECIAL-USE) and LSUB, cmd_migrate.c).
 *
 * Roles. A migrating user's client finds Sent, Drafts, Junk, Trash and
 * Archive by role (IMAP SPECIAL-USE, JMAP role), so the role must be on
 * the mailbox that holds the old mail: a source's "Sent Items" with the
 * sent role gets it. A new account already has "Sent" with that role;
 * JMAP has one mailbox per role (RFC 8621 §2), so the role moves, but
 * only from a mailbox as account creation made it (its default name, no
 * messages), which then stays as a plain empty folder; a holder the user
 * chose or filled keeps the role, and a line says the source's mailbox
 * came in without it (imapsync --automap merges such folders instead;
 * moving mail between names is the user's call, not an import's).
 * This runs before the mail, so a default "Sent" the source also fills
 * (an old plain "Sent" beside the sent "Sent Items") is still empty when
 * the role is decided. A mailbox of the same name as the holder is the
 * same mailbox: nothing to do. INBOX stays the INBOX, whatever role a
 * source gave it.
 *
 * Subscriptions are names (RFC 9051 §6.3.7): each one the source lists
 * is subscribed, with or without a mailbox; nothing is unsubscribed.
 *
 * Every mailbox the source has is created first, an empty one too (an
 * mbox archive has no file for it, a Maildir++ one an empty folder), so
 * that it can take its role.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_import.h"
#include "core/arena.h"
#include "core/buf.h"
#include "http/json.h"
#include "store/store.h"

/* Every role a mailbox can be given (store_mailbox_role_valid). */
static const char *const roles[] = {"sent",    "drafts",    "trash",   "junk",
                                    "archive", "important", "flagged", "all",
                                    "memos",   "scheduled", "snoozed"};
#define NROLES (sizeof roles / sizeof roles[0])

/* The account's mailboxes as they are now (names and roles copied). */
struct mb_one {
	char *name, *role;
	uint32_t messages;
};
struct mb_now {
	struct mb_one *v;
	size_t n;
};

static void now_cb(void *arg, const struct store_mailbox_info *in)
{
	struct mb_now *l = arg;
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	if (!l->v)
		abort();
	l->v[l->n].name = strdup(in->name);
	l->v[l->n].role = strdup(in->role);
	l->v[l->n].messages = in->messages;
	if (!l->v[l->n].name || !l->v[l->n].role)
		abort();
	l->n++;
}

static void now_free(struct mb_now *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].role);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The role of name in l (NULL: no such mailbox), or the first holder of role. */
static const char *role_of(const struct mb_now *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return l->v[i].role;
	return NULL;
}

static const struct mb_one *holder_of(const struct mb_now *l, const char *role)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].role, role) == 0)
			return &l->v[i];
	return NULL;
}

/* A JSON string usable as a C string (no NUL inside). */
static const char *cstr(const struct json_value *v)
{
	return v && v->type == JSON_STRING && strlen(v->str) == v->len ? v->str : NULL;
}

/*
 * One role for the mailbox name: 1 given, 0 left as it is (told why), -1
 * after printing an error. given[] holds the mailbox each role went to in
 * this run: a second mailbox of the source with the same role (IMAP
 * CREATE-SPECIAL-USE allows it) does not take it back.
 */
static int role_one(struct store *st, uint32_t account, const char *name, size_t r,
                    const char *given[NROLES])
{
	const char *role = roles[r];
	struct mb_now l = {0};
	int rc = 0;

	if (given[r]) {
		fprintf(stderr, "tern: mailbox \"%s\" comes without role %s: \"%s\" has it\n", name,
		        role, given[r]);
		return 0;
	}
	if (store_mailbox_list(st, account, now_cb, &l) != STORE_OK) {
		fprintf(stderr, "tern: cannot list the mailboxes\n");
		return -1;
	}
	const char *had = role_of(&l, name);
	const struct mb_one *holder = holder_of(&l, role);
	if (had && strcmp(had, role) == 0) {
		given[r] = name; /* the same mailbox: nothing to move */
		goto out;
	}
	if (!had)
		goto out; /* could not be created: import_mailboxes_create told why */
	switch (store_mailbox_set_role(st, account, name, role)) {
	case STORE_OK:
		given[r] = name;
		rc = 1;
		if (holder)
			printf("roles: %s moved to \"%s\" from \"%s\" (empty, as the account was "
			       "made)\n",
			       role, name, holder->name);
		break;
	case STORE_EEXIST:
		if (had && had[0])
			fprintf(stderr,
			        "tern: mailbox \"%s\" keeps its role %s: role %s is not kept\n",
			        name, had, role);
		else
			fprintf(
			    stderr,
			    "tern: mailbox \"%s\" comes without role %s: \"%s\" keeps it (%s)\n",
			    name, role, holder ? holder->name : "another mailbox",
			    holder && holder->messages ? "it holds mail"
			                               : "not made with the account");
		break;
	default:
		fprintf(stderr, "tern: mailbox \"%s\": role %s not stored\n", name, role);
		rc = -1;
	}
out:
	now_free(&l);
	return rc;
}

int import_mailboxes_create(struct store *st, uint32_t account, const char *const *names, size_t n)
{
	int fail = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t id;
		int r = store_mailbox_find(st, account, names[i], &id);
		if (r == STORE_ENOTFOUND)
			r = store_mailbox_create(st, account, names[i], NULL);
		if (r != STORE_OK && r != STORE_EEXIST) {
			fprintf(stderr, "tern: cannot open or create mailbox \"%s\" (%d)\n",
			        names[i], r);
			fail = 1;
		}
	}
	return fail ? -1 : 0;
}

int import_roles_give(struct store *st, uint32_t account, const struct import_role *v, size_t n)
{
	const char *given[NROLES] = {0};
	int set = 0, fail = 0;

	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(v[i].name, "INBOX") == 0)
			continue; /* the INBOX is the INBOX by its name */
		size_t r = 0;
		while (r < NROLES && strcmp(roles[r], v[i].role) != 0)
			r++;
		if (r == NROLES) {
			fprintf(stderr, "tern: mailbox \"%s\": role \"%s\" is not one tern has\n",
			        v[i].name, v[i].role);
			continue;
		}
		int got = role_one(st, account, v[i].name, r, given);
		if (got < 0)
			fail = 1;
		else
			set += got;
	}
	if (set > 0)
		printf("roles: %d given\n", set);
	return fail ? -1 : set;
}

int import_subscribe(struct store *st, uint32_t account, const char *const *names, size_t n)
{
	int done = 0, fail = 0;
	for (size_t i = 0; i < n; i++) {
		int r = store_mailbox_subscribe(st, account, names[i], 1);
		if (r == STORE_OK) {
			done++;
			continue;
		}
		fprintf(stderr, "tern: \"%s\" not subscribed: %s\n", names[i],
		        r == STORE_EINVAL    ? "not a mailbox name"
		        : r == STORE_ETOOBIG ? "name too long here"
		        : r == STORE_ELIMIT  ? "as many subscriptions as mailboxes allowed"
		                             : "store error");
		fail = 1;
	}
	if (done > 0)
		printf("subscriptions: %d names subscribed\n", done);
	return fail ? -1 : done;
}

/* The members of account.json. */

static size_t json_count(const struct json_value *v)
{
	return v && v->type == JSON_ARRAY ? v->count : 0;
}

/* Each mailbox's "name": -1 after printing why for an entry without one
 * (the others go on). */
static int json_names(struct store *st, uint32_t account, struct arena *a,
                      const struct json_value *mb)
{
	const char **names = arena_alloc(a, (json_count(mb) + 1) * sizeof *names);
	size_t n = 0;
	int fail = 0;
	for (const struct json_value *v = json_count(mb) ? mb->first : NULL; v; v = v->next) {
		const char *name = cstr(json_get(v, "name"));
		if (name)
			names[n++] = name;
		else {
			fprintf(stderr, "tern: a mailbox entry of account.json is not usable\n");
			fail = 1;
		}
	}
	if (import_mailboxes_create(st, account, names, n) != 0)
		fail = 1;
	return fail ? -1 : 0;
}

/* Each mailbox's "role" (always written with the mailbox list). */
static int json_roles(struct store *st, uint32_t account, struct arena *a,
                      const struct json_value *mb)
{
	struct import_role *v = arena_alloc(a, (json_count(mb) + 1) * sizeof *v);
	size_t n = 0;
	int fail = 0;

	for (const struct json_value *e = json_count(mb) ? mb->first : NULL; e; e = e->next) {
		const struct json_value *rv = json_get(e, "role");
		const char *name = cstr(json_get(e, "name")), *role = cstr(rv);
		if (!rv || (role && (role[0] == '\0' || strcmp(role, "inbox") == 0)))
			continue; /* none, or INBOX, which is INBOX by its name */
		if (!name || !role) {
			if (name) /* a bad name: json_names said so */
				fprintf(stderr, "tern: mailbox \"%s\": its role is not usable\n",
				        name);
			fail = 1;
			continue;
		}
		v[n].name = name;
		v[n].role = role;
		n++;
	}
	if (import_roles_give(st, account, v, n) < 0)
		fail = 1;
	return fail ? -1 : 0;
}

/* "subscriptions": every subscribed name, one without a mailbox too; an
 * archive from before has only each mailbox's "subscribed". */
static int json_subscriptions(struct store *st, uint32_t account, struct arena *a,
                              const struct json_value *root)
{
	const struct json_value *subs = json_get(root, "subscriptions"),
	                        *mb = json_get(root, "mailboxes");
	const char **names =
	    arena_alloc(a, (json_count(subs) + json_count(mb) + 1) * sizeof *names);
	size_t n = 0;
	int fail = 0;

	if (subs && subs->type != JSON_ARRAY) {
		fprintf(stderr, "tern: account.json's subscriptions are not a list\n");
		fail = 1;
	}
	for (const struct json_value *v = json_count(subs) ? subs->first : NULL; v; v = v->next) {
		const char *name = cstr(v);
		if (name)
			names[n++] = name;
		else {
			fprintf(stderr, "tern: a subscription of account.json is not usable\n");
			fail = 1;
		}
	}
	for (const struct json_value *v = !subs && json_count(mb) ? mb->first : NULL; v;
	     v = v->next) {
		const struct json_value *on = json_get(v, "subscribed");
		const char *name = cstr(json_get(v, "name"));
		if (on && on->type == JSON_BOOL && on->boolean && name)
			names[n++] = name;
	}
	if (import_subscribe(st, account, names, n) < 0)
		fail = 1;
	return fail ? -1 : 0;
}

int import_account_mailboxes(struct store *st, const char *email, const char *path)
{
	struct arena *a = arena_new(64 << 10);
	const struct json_value *root = NULL;
	struct buf js;
	uint32_t account;
	int rc = 0;

	int lr = account_json_load(path, a, &js, &root);
	if (lr != 0) {
		arena_free(&a);
		return lr > 0 ? 0 : -1;
	}
	if (store_account_id(st, email, &account) != STORE_OK) {
		fprintf(stderr, "tern: no account %s\n", email);
		rc = -1;
		goto out;
	}
	const struct json_value *mb = json_get(root, "mailboxes");
	if (json_names(st, account, a, mb) != 0)
		rc = -1;
	if (json_roles(st, account, a, mb) != 0)
		rc = -1;
	if (json_subscriptions(st, account, a, root) != 0)
		rc = -1;
out:
	buf_free(&js);
	arena_free(&a);
	return rc;
}
