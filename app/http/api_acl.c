/*
 * api_acl.c — shared mailboxes through the REST API: the grants (RFC
 * 4314) on an account's mailboxes, and what other accounts share with it.
 *
 *   GET    /api/v1/accounts/{email}/acl[?mailbox=NAME]  the grants, all or one mailbox's
 *   PUT    /api/v1/accounts/{email}/acl   {"mailbox","identifier","rights","password"?}
 *   DELETE /api/v1/accounts/{email}/acl?mailbox=NAME&identifier=ID
 *   GET    /api/v1/accounts/{email}/shared              mailboxes shared with the account
 *
 * The mailbox is a member or a query parameter, not a path segment: a
 * name holds "/" (the hierarchy separator), which a segment cannot.
 *
 * What `tern acl` and SETACL do, with the same store calls: the rights
 * as SETACL reads them (store_acl_change_parse: letters replace, "+"
 * adds, "-" takes away, "c" and "d" as RFC 4314 §2.1.1 says), the
 * identifier an account's address or "anyone" (store_acl_identifier; an
 * alias is refused: a grant names one account), never the owner, whose
 * rights are all and implicit. A grant that gives a right takes, from an
 * admin session, the admin password in "password"
 * (http_session_password_check: lasting access to another account's
 * mail). A write is logged as the other admin writes are (event=acl_set,
 * event=acl_deleted).
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "http/http_internal.h"
#include "http/json.h"
#include "imap/imap_acl.h"
#include "store/store.h"

/* Room for a mailbox's name (the store keeps them under 1000 octets). */
#define MAILBOX_NAME_SZ 1024

/* The writer the store's callbacks add their objects to. */
struct grant_out {
	struct jw *w;
};

static void write_identifier(struct jw *w, const char *key, uint32_t id)
{
	char addr[STORE_ADDR_MAX + 1];
	if (id == STORE_ACL_ANYONE)
		snprintf(addr, sizeof addr, "anyone");
	else if (store_account_email(http_store, id, addr, sizeof addr) != STORE_OK)
		snprintf(addr, sizeof addr, "#%u", id); /* removed meanwhile */
	jw_kstr(w, key, addr);
}

static void write_rights(struct jw *w, uint32_t rights)
{
	char r[16];
	store_acl_rights_format(rights, r, sizeof r);
	jw_kstr(w, "rights", r);
}

static void copy_name(void *arg, const struct store_mailbox_info *m)
{
	snprintf(arg, MAILBOX_NAME_SZ, "%s", m->name);
}

/* The owner's name of a mailbox, or "#ID" when it went meanwhile. */
static void mailbox_name(uint32_t owner, uint32_t mailbox, char name[MAILBOX_NAME_SZ])
{
	if (store_mailbox_get(http_store, owner, mailbox, copy_name, name) != STORE_OK)
		snprintf(name, MAILBOX_NAME_SZ, "#%u", mailbox);
}

static void grant_each(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		       uint32_t rights)
{
	struct grant_out *o = arg;
	char name[MAILBOX_NAME_SZ];

	mailbox_name(owner, mailbox, name);
	jw_obj_begin(o->w);
	jw_kstr(o->w, "mailbox", name);
	write_identifier(o->w, "identifier", grantee);
	write_rights(o->w, rights);
	jw_obj_end(o->w);
}

/* The mailbox a name stands for, of owner: 0, or -1 after a 400 (no
 * name) or a 404 (no such mailbox). */
static int mailbox_of(struct http_ctx *x, uint32_t owner, const char *name, uint32_t *id_r)
{
	if (!name || !*name) {
		http_problem(x, 400, "missing_field", "mailbox", "the mailbox's name is required");
		return -1;
	}
	int rc = store_mailbox_find(http_store, owner, name, id_r);
	if (rc == STORE_ENOTFOUND)
		http_problem(x, 404, "not_found", "mailbox", "%s has no mailbox %.200s", x->param[0],
			     name);
	else if (rc != STORE_OK)
		http_store_problem(x, rc, "store error, see the log");
	return rc == STORE_OK ? 0 : -1;
}

/* The grantee an identifier names, never the owner: 0, or -1 after a
 * 400 naming field "identifier". */
static int grantee_of(struct http_ctx *x, uint32_t owner, const char *text, uint32_t *id_r)
{
	int rc = text && *text ? store_acl_identifier(http_store, text, id_r) : STORE_ENOTFOUND;
	if (rc == STORE_OK && *id_r == owner) {
		http_problem(x, 400, "invalid_field", "identifier",
			     "%s owns the mailbox and always holds every right", x->param[0]);
		return -1;
	}
	if (rc == STORE_ENOTFOUND)
		http_problem(x, 400, "invalid_field", "identifier",
			     "field 'identifier' must be an account's address or \"anyone\" "
			     "(an alias is refused: give the address of the account)");
	else if (rc != STORE_OK)
		http_store_problem(x, rc, "store error, see the log");
	return rc == STORE_OK ? 0 : -1;
}

/* A string member of the body (checked present by http_body_check), or
 * NULL after a 400 when it holds a NUL: read as a C string, "INBOX\u0000x"
 * would name INBOX. */
static const char *body_text(struct http_ctx *x, const char *field)
{
	const struct json_value *v = json_get(x->json, field);
	if (strlen(v->str) == v->len)
		return v->str;
	http_problem(x, 400, "invalid_field", field, "field '%s' holds a NUL character", field);
	return NULL;
}

void api_acl_list(struct http_ctx *x)
{
	const char *name = http_query(x, "mailbox");
	uint32_t owner, mailbox = 0; /* 0: every mailbox of owner */
	struct jw w;
	struct grant_out o = {.w = &w};

	if (http_account_param(x, &owner) < 0 || (name && mailbox_of(x, owner, name, &mailbox) < 0))
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "grants");
	jw_arr_begin(&w);
	int rc = store_acl_list(http_store, owner, mailbox, grant_each, &o);
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (rc != STORE_OK)
		http_store_problem(x, rc, "store error, see the log"); /* replaces the body */
}

void api_acl_put(struct http_ctx *x)
{
	static const struct json_field fields[] = {
		{ "mailbox", JK_STRING, 1 },
		{ "identifier", JK_STRING, 1 },
		{ "rights", JK_STRING, 1 },
		{ "password", JK_STRING, 0 },
	};
	uint32_t owner, mailbox, grantee, rights, now = 0;
	int mode;

	if (http_body_check(x, fields, 4) < 0 || http_account_param(x, &owner) < 0)
		return;
	const struct json_value *r = json_get(x->json, "rights");
	if (strlen(r->str) != r->len ||
	    store_acl_change_parse(r->str, r->len, &mode, &rights) != STORE_OK) {
		http_problem(x, 400, "invalid_field", "rights",
			     "field 'rights' must be letters of lrswipkxtea (and c, d; RFC 4314), "
			     "with + to add or - to take away");
		return;
	}
	/* A grant that gives a right is access to an account's mail that
	 * outlives a change of the admin password: a session gives that
	 * password too (as forwarding does); taking rights away needs none,
	 * nor does an admin bearer token. */
	int gives = rights && mode != STORE_ACL_REMOVE;
	if (gives && http_session_password_check(x, "password") < 0)
		return;
	const char *name = body_text(x, "mailbox"), *who = body_text(x, "identifier");
	if (!name || !who || mailbox_of(x, owner, name, &mailbox) < 0 ||
	    grantee_of(x, owner, who, &grantee) < 0)
		return;
	int rc = store_acl_modify_by(http_store, 0, owner, mailbox, grantee, mode, rights, &now);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, rc == STORE_ENOTFOUND ? "the mailbox or the account is gone"
								: "store error, see the log");
		return;
	}
	char letters[16];
	store_acl_rights_format(now, letters, sizeof letters);
	log_info("http", NULL, "event=acl_set account_id=%u mailbox_id=%u grantee_id=%u rights=%s ip=%s",
		 owner, mailbox, grantee, letters[0] ? letters : "-", x->ip);
	struct jw w;
	char stored[MAILBOX_NAME_SZ]; /* the store's name: "inbox" is INBOX */
	mailbox_name(owner, mailbox, stored);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kstr(&w, "mailbox", stored);
	write_identifier(&w, "identifier", grantee);
	write_rights(&w, now);
	jw_obj_end(&w);
}

void api_acl_del(struct http_ctx *x)
{
	uint32_t owner, mailbox, grantee;

	if (http_account_param(x, &owner) < 0 ||
	    mailbox_of(x, owner, http_query(x, "mailbox"), &mailbox) < 0)
		return;
	const char *who = http_query(x, "identifier");
	if (!who || !*who) {
		http_problem(x, 400, "missing_field", "identifier", "the identifier is required");
		return;
	}
	if (grantee_of(x, owner, who, &grantee) < 0)
		return;
	/* The administrator's change, as a PUT's: no account is changedBy
	 * in the grantee's share notification (RFC 9670 §5). */
	int rc = store_acl_modify_by(http_store, 0, owner, mailbox, grantee, STORE_ACL_REPLACE, 0,
				     NULL);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, rc == STORE_ENOTFOUND ? "the mailbox or the account is gone"
								: "store error, see the log");
		return;
	}
	log_info("http", NULL, "event=acl_deleted account_id=%u mailbox_id=%u grantee_id=%u ip=%s",
		 owner, mailbox, grantee, x->ip);
	http_no_content(x);
}

/* One mailbox shared with the account: its owner, the owner's name, the
 * name the account's IMAP client sees, the account's rights. */
static void shared_each(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			uint32_t rights)
{
	struct grant_out *o = arg;
	char addr[STORE_ADDR_MAX + 1], name[MAILBOX_NAME_SZ];
	char full[sizeof IMAP_ACL_PREFIX + sizeof addr + sizeof name];

	(void)grantee;
	if (store_account_email(http_store, owner, addr, sizeof addr) != STORE_OK)
		return; /* removed meanwhile: its grants went with it */
	mailbox_name(owner, mailbox, name);
	snprintf(full, sizeof full, "%s%s/%s", IMAP_ACL_PREFIX, addr, name);
	jw_obj_begin(o->w);
	jw_kstr(o->w, "owner", addr);
	jw_kstr(o->w, "mailbox", name);
	jw_kstr(o->w, "name", full);
	write_rights(o->w, rights);
	jw_obj_end(o->w);
}

void api_acl_shared(struct http_ctx *x)
{
	uint32_t account;
	struct jw w;
	struct grant_out o = {.w = &w};

	if (http_account_param(x, &account) < 0)
		return;
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "mailboxes");
	jw_arr_begin(&w);
	int rc = store_acl_shared_with(http_store, account, shared_each, &o);
	jw_arr_end(&w);
	jw_obj_end(&w);
	if (rc != STORE_OK)
		http_store_problem(x, rc, "store error, see the log");
}
