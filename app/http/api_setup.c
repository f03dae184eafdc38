/*
 * api_setup.c — the first-run wizard's endpoints (/api/v1/setup/...).
 *
 * Gate: until an admin exists (and TERN_ADMIN_PASSWORD is unset) every
 * wizard call needs the one-time setup code in X-Setup-Code; a wrong code
 * counts as a failed login for the client's address. Once the admin exists
 * the same calls need a session or token instead, and after
 * POST /setup/complete the wizard's writes are closed (409 setup_done):
 * the admin pages take over.
 *
 * Answers given by environment variables are reported as locked and
 * refused (409 locked). Host name and relay are stored in meta and apply
 * at the next start (restart_required); domain and account are live.
 */
#include <stdio.h>
#include <string.h>

#include "admin/admin_domain.h"
#include "admin/admin_auth.h"
#include "admin/admin_meta.h"
#include "auth/password_policy.h"
#include "core/hostname.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "store/store.h"

/* A public host name: fully qualified, in the one syntax (core/hostname.h). */
static int valid_name(const char *h)
{
	return hostname_syntax_ok(h) && hostname_is_fqdn(h);
}

void api_primary_domain(char *out, size_t outsz)
{
	if (admin_setting_locked(SETTING_DOMAIN) ||
	    admin_setting_get(http_store, SETTING_DOMAIN, out, outsz) != STORE_OK || !out[0])
		snprintf(out, outsz, "%s", http_cfg->domain);
}

void api_effective(enum admin_setting s, const char *running, char *out, size_t outsz)
{
	if (admin_setting_locked(s) || admin_setting_get(http_store, s, out, outsz) != STORE_OK ||
	    !out[0])
		snprintf(out, outsz, "%s", running);
}

static void count_account(void *arg, const struct store_account_info *info)
{
	(void)info;
	(*(unsigned *)arg)++;
}

int api_restart_required(void)
{
	char v[256];
	api_effective(SETTING_HOSTNAME, http_cfg->hostname, v, sizeof(v));
	if (strcmp(v, http_cfg->hostname) != 0)
		return 1;
	api_effective(SETTING_RELAY_HOST, http_cfg->relay_host, v, sizeof(v));
	if (strcmp(v, http_cfg->relay_host) != 0)
		return 1;
	api_effective(SETTING_ACME_EMAIL, http_cfg->acme_email, v, sizeof(v));
	if (strcmp(v, http_cfg->acme_email) != 0)
		return 1;
	api_effective(SETTING_RELAY_USER, http_cfg->relay_user, v, sizeof(v));
	return strcmp(v, http_cfg->relay_user) != 0;
}

static void write_state(struct http_ctx *x, int status)
{
	struct jw w;
	char v[256], dom[256];
	unsigned accounts = 0;
	int admin = admin_exists(http_store), completed = admin_setup_completed(http_store);

	store_account_list(http_store, count_account, &accounts);
	http_json_begin(x, &w, status);
	jw_obj_begin(&w);
	jw_kbool(&w, "completed", completed);
	jw_kbool(&w, "admin_exists", admin);
	jw_kbool(&w, "code_required", !admin && !completed);
	jw_kbool(&w, "restart_required", api_restart_required());

	jw_key(&w, "admin");
	jw_obj_begin(&w);
	jw_kbool(&w, "done", admin);
	jw_kbool(&w, "locked", http_cfg->admin_password[0] != 0);
	char why[128];
	/* An old TERN_ADMIN_PASSWORD below today's rule: still accepted, warned about. */
	jw_kbool(&w, "weak", http_cfg->admin_password[0] &&
				  password_policy_check(http_cfg->admin_password, why, sizeof why) < 0);
	jw_obj_end(&w);

	jw_key(&w, "hostname");
	jw_obj_begin(&w);
	api_effective(SETTING_HOSTNAME, http_cfg->hostname, v, sizeof(v));
	jw_kstr(&w, "value", v);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_HOSTNAME));
	jw_kbool(&w, "fqdn", hostname_is_fqdn(v));
	/* What still uses the start-time name: only the certificate. */
	jw_kbool(&w, "restart_required", strcmp(v, http_cfg->hostname) != 0);
	jw_obj_end(&w);

	jw_key(&w, "domain");
	jw_obj_begin(&w);
	api_primary_domain(dom, sizeof(dom));
	jw_kstr(&w, "value", dom);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_DOMAIN));
	jw_kbool(&w, "done", dom[0] && store_domain_is_local(http_store, dom) == 1);
	jw_obj_end(&w);

	jw_key(&w, "account");
	jw_obj_begin(&w);
	jw_kbool(&w, "done", accounts > 0);
	jw_kuint(&w, "count", accounts);
	jw_obj_end(&w);

	jw_key(&w, "relay");
	jw_obj_begin(&w);
	api_effective(SETTING_RELAY_HOST, http_cfg->relay_host, v, sizeof(v));
	jw_kstr(&w, "host", v);
	api_effective(SETTING_RELAY_USER, http_cfg->relay_user, v, sizeof(v));
	jw_kstr(&w, "user", v);
	api_effective(SETTING_RELAY_PASSWORD, http_cfg->relay_password, v, sizeof(v));
	jw_kbool(&w, "password_set", v[0] != 0);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_RELAY_HOST));
	jw_obj_end(&w);

	jw_key(&w, "certificate");
	jw_obj_begin(&w);
	api_effective(SETTING_ACME_EMAIL, http_cfg->acme_email, v, sizeof(v));
	jw_kstr(&w, "acme_email", v);
	jw_kbool(&w, "locked", admin_setting_locked(SETTING_ACME_EMAIL));
	jw_obj_end(&w);
	jw_obj_end(&w);
}

/*
 * The wizard's gate for a call. write: the call changes something (closed
 * after completion). Returns 0 to proceed, -1 after answering.
 */
static int gate(struct http_ctx *x, int write)
{
	if (admin_exists(http_store)) {
		if (http_auth_require(x) < 0)
			return -1;
		if (write && admin_setup_completed(http_store)) {
			http_problem(x, 409, "setup_done", NULL,
				     "the setup is complete: use the admin pages instead");
			return -1;
		}
		return 0;
	}
	struct login_ticket t;
	if (http_login_admit(x, NULL, &t) < 0)
		return -1;
	const char *code = http_req_header(x, "X-Setup-Code");
	if (!code || !admin_setup_code_check(http_store, code)) {
		http_login_failed(x, &t, "setup_code");
		http_problem(x, 403, "setup_code", NULL,
			     "the X-Setup-Code header must carry the setup code from the log "
			     "(or from: tern setup-code)");
		return -1;
	}
	http_login_ok(x, &t);
	return 0;
}

int http_setup_gate(struct http_ctx *x)
{
	return gate(x, 1);
}

/*
 * Who may read the whole state: the admin (session or token), or, before
 * an admin exists, whoever holds the setup code (a wrong code counts as a
 * failed login, so GET cannot be used to guess it). Anyone else learns
 * only what the wizard's first steps need, and after completion only that
 * setup is done: the relay, host name and account count are nobody's
 * business (issue 28, finding 7).
 */
static int may_read_state(struct http_ctx *x) /* 1 all, 0 public, -1 answered */
{
	struct login_ticket t;
	int who = http_auth_present(x);
	if (who)
		return who; /* 1, or -1 after a 429 for a bad token */
	const char *code = http_req_header(x, "X-Setup-Code");
	if (!code || admin_exists(http_store))
		return 0;
	if (http_login_admit(x, NULL, &t) < 0)
		return -1;
	if (admin_setup_code_check(http_store, code)) {
		http_login_ok(x, &t);
		return 1;
	}
	http_login_failed(x, &t, "setup_code");
	return 0;
}

static void write_public_state(struct http_ctx *x)
{
	struct jw w;
	int admin = admin_exists(http_store), completed = admin_setup_completed(http_store);

	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kbool(&w, "completed", completed);
	if (!completed) {
		jw_kbool(&w, "admin_exists", admin);
		jw_kbool(&w, "code_required", !admin);
		jw_key(&w, "admin");
		jw_obj_begin(&w);
		jw_kbool(&w, "done", admin);
		jw_kbool(&w, "locked", http_cfg->admin_password[0] != 0);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
}

void api_setup_get(struct http_ctx *x)
{
	int r = may_read_state(x);
	if (r > 0)
		write_state(x, 200);
	else if (r == 0)
		write_public_state(x);
}

void api_setup_code(struct http_ctx *x)
{
	static const struct json_field f[] = { { "code", JK_STRING, 1 } };

	struct login_ticket t;

	if (http_body_check(x, f, 1) < 0)
		return;
	if (admin_exists(http_store)) {
		http_problem(x, 409, "exists", NULL, "an admin exists already: log in instead");
		return;
	}
	if (http_login_admit(x, NULL, &t) < 0)
		return;
	if (!admin_setup_code_check(http_store, http_body_str(x, "code"))) {
		http_login_failed(x, &t, "setup_code");
		http_problem(x, 403, "setup_code", "code", "wrong setup code");
		return;
	}
	http_login_ok(x, &t);
	http_no_content(x);
}

int http_setup_admin_gate(struct http_ctx *x)
{
	if (http_cfg->admin_password[0]) {
		http_problem(x, 409, "locked", "password", "the admin password is set by TERN_ADMIN_PASSWORD");
		return -1;
	}
	return gate(x, 1);
}

/* Its gate ran first (http_setup_admin_gate). */
void api_setup_admin(struct http_ctx *x)
{
	static const struct json_field f[] = { { "password", JK_STRING, 1 } };

	if (admin_exists(http_store)) {
		http_problem(x, 409, "exists", NULL, "an admin exists already: log in instead");
		return;
	}
	if (http_body_check(x, f, 1) < 0)
		return;
	const char *pw = http_body_str(x, "password");
	if (http_password_ok(x, "password", pw) < 0)
		return;
	http_hash_enter();
	int rc = admin_password_set(http_store, pw, 1);
	http_hash_leave();
	if (rc == STORE_EEXIST) {
		http_problem(x, 409, "exists", NULL, "an admin exists already: log in instead");
		return;
	}
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the admin password");
		return;
	}
	log_info("http", NULL, "event=admin_created ip=%s", x->ip);
	http_session_start(x, 201);
}

/*
 * PUT /admin/password {"current","password"}: the admin changes the admin
 * password, as an account does in its portal. The current one is checked
 * like a sign-in (the same limits; a wrong one is logged as
 * what=admin_password): a session left open or stolen, or a token, must
 * not be enough to take the admin for good. Then every other admin
 * session ends (by the password's stamp, http_admin_session_refresh);
 * this one goes on. 409 locked while TERN_ADMIN_PASSWORD is set: the
 * variable wins.
 */
void api_admin_password(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "current", JK_STRING, 1 },
		{ "password", JK_STRING, 1 },
	};
	struct login_ticket t;

	if (http_cfg->admin_password[0]) {
		http_problem(x, 409, "locked", "password", "the admin password is set by TERN_ADMIN_PASSWORD");
		return;
	}
	if (http_body_check(x, f, 2) < 0)
		return;
	const char *pw = http_body_str(x, "password");
	if (http_password_ok(x, "password", pw) < 0 || http_login_admit(x, "(admin)", &t) < 0)
		return;
	http_hash_enter();
	if (admin_password_check(http_store, NULL, http_body_str(x, "current")) != 1) {
		http_hash_leave();
		http_login_failed(x, &t, "admin_password");
		http_problem(x, 400, "wrong_password", "current", "the current password is wrong");
		return;
	}
	http_login_ok(x, &t);
	int rc = admin_password_set(http_store, pw, 0);
	http_hash_leave();
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the admin password");
		return;
	}
	http_admin_session_refresh(x);
	log_info("http", NULL, "event=admin_password_changed ip=%s", x->ip);
	http_no_content(x);
}

void api_setup_hostname(struct http_ctx *x)
{
	static const struct json_field f[] = { { "hostname", JK_STRING, 1 } };

	if (http_body_check(x, f, 1) < 0)
		return;
	if (admin_setting_locked(SETTING_HOSTNAME)) {
		http_problem(x, 409, "locked", "hostname", "the host name is set by TERN_HOSTNAME");
		return;
	}
	const char *h = http_body_str(x, "hostname");
	if (!valid_name(h)) {
		http_problem(x, 400, "invalid_field", "hostname",
			     "field 'hostname' must be a host name such as mail.example.com");
		return;
	}
	char low[256];
	str_lower_into(str_c(h), low, sizeof(low));
	int rc = admin_setting_set(http_store, SETTING_HOSTNAME, low);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the host name");
		return;
	}
	hostname_set(low); /* live; the certificate takes it at the next start */
	log_info("http", NULL, "event=hostname_changed hostname=%s ip=%s", low, x->ip);
	write_state(x, 200);
}

/* The wizard's "get a certificate from Let's Encrypt": the ACME e-mail ("" turns it off). */
void api_setup_certificate(struct http_ctx *x)
{
	static const struct json_field f[] = { { "acme_email", JK_STRING, 1 } };

	if (http_body_check(x, f, 1) < 0)
		return;
	if (admin_setting_locked(SETTING_ACME_EMAIL)) {
		http_problem(x, 409, "locked", "acme_email", "the ACME e-mail is set by TERN_ACME_EMAIL");
		return;
	}
	const char *e = http_body_str(x, "acme_email");
	const char *at = strchr(e, '@');
	if (e[0] && (at == NULL || at == e || !strchr(at, '.') || strlen(e) > 254 ||
		     strpbrk(e, " \t\r\n<>\"") != NULL)) {
		http_problem(x, 400, "invalid_field", "acme_email",
			     "field 'acme_email' must be an e-mail address, or empty");
		return;
	}
	int rc = admin_setting_set(http_store, SETTING_ACME_EMAIL, e);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the ACME e-mail");
		return;
	}
	log_info("http", NULL, "event=setup_certificate acme=%s", e[0] ? "on" : "off");
	write_state(x, 200);
}

void api_setup_domain(struct http_ctx *x)
{
	static const struct json_field f[] = { { "domain", JK_STRING, 1 } };
	char err[256], dom[256];
	struct dkim_keys keys;

	if (http_body_check(x, f, 1) < 0)
		return;
	if (admin_setting_locked(SETTING_DOMAIN)) {
		http_problem(x, 409, "locked", "domain", "the primary domain is set by TERN_DOMAIN");
		return;
	}
	/* The rule of `tern domain add` and TERN_DOMAIN (store.h): an IDN as
	 * a U-label or an A-label, kept in the store's form. */
	const char *d = http_body_str(x, "domain");
	if (store_domain_canonical(d, dom, sizeof dom) != 0 || !hostname_is_fqdn(dom)) {
		http_problem(x, 400, "invalid_field", "domain",
			     "field 'domain' must be a domain such as example.com or bücher.example");
		return;
	}
	int rc = store_domain_served(http_store, dom) == 1
			 ? admin_domain_keys(http_store, dom, &keys, err, sizeof(err))
			 : admin_domain_add(http_store, dom, &keys, err, sizeof(err));
	dkim_keys_wipe(&keys);
	if (rc != STORE_OK) {
		http_store_problem(x, rc, err);
		return;
	}
	if ((rc = admin_setting_set(http_store, SETTING_DOMAIN, dom)) != STORE_OK) {
		http_store_problem(x, rc, "cannot store the primary domain");
		return;
	}
	log_info("http", NULL, "event=setup_domain domain=%s", dom);
	write_state(x, 200);
}

void api_setup_account(struct http_ctx *x)
{
	/* Once an admin exists the wizard's session is an admin session like
	 * any other (perhaps a stolen cookie): a new account is a lasting way
	 * in, so it takes the admin password in "current", as POST /accounts
	 * does. Before, the setup code was the proof. */
	api_account_create(x, admin_exists(http_store) ? "current" : NULL);
	if (x->status != 201)
		return;
	/* The first account the wizard makes gets postmaster@ mail until the
	 * administrator chooses another (admin_auth.h); a failed creation
	 * leaves no account, and nothing is set. */
	char pm[330];
	admin_auth_get(http_store, ADMIN_AUTH_POSTMASTER, pm, sizeof pm);
	if (!pm[0])
		admin_auth_set_postmaster(http_store, http_body_str(x, "email"));
}

static int printable(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int api_relay_items(struct http_ctx *x, const char *fhost, const char *fuser, const char *fpass,
		    const char *current, char sealed[][ADMIN_SECRET_SEALED_MAX],
		    struct store_meta_item *it, size_t *n)
{
	const char *host = http_body_str(x, fhost), *user = http_body_str(x, fuser),
		   *pass = http_body_str(x, fpass);

	if ((host || user || pass) && admin_setting_locked(SETTING_RELAY_HOST)) {
		http_problem(x, 409, "locked", fhost, "the relay is set by TERN_RELAY_HOST");
		return -1;
	}
	/* Empty turns the relay off; anything else passes the check start-up
	 * makes of TERN_RELAY_HOST, so a saved value never stops a restart. */
	if (host && host[0] && (strlen(host) >= sizeof http_cfg->relay_host ||
				!config_relay_host_valid(host))) {
		http_problem(x, 400, "invalid_field", fhost, "field '%s' must be %s", fhost,
			     CONFIG_RELAY_HOST_EXPECTED);
		return -1;
	}
	if ((user && !printable(user, 255)) || (pass && !printable(pass, 255))) {
		http_problem(x, 400, "invalid_field", user && !printable(user, 255) ? fuser : fpass,
			     "relay user and password must be printable, at most 255 characters");
		return -1;
	}
	/*
	 * A new relay host receives every message sent out (and the stored
	 * relay credentials, when only the host changes) from the next start
	 * on: diverting mail that outlives a change of the admin password,
	 * so a session (perhaps a stolen cookie) sets one only with it.
	 * Turning the relay off, or keeping the host, needs none.
	 */
	if (current && host && host[0]) {
		char was[256];
		api_effective(SETTING_RELAY_HOST, http_cfg->relay_host, was, sizeof was);
		if (strcmp(host, was) != 0 && http_session_password_check(x, current) < 0)
			return -1;
	}
	/* An empty host turns the relay off: its credentials go with it. */
	struct { enum admin_setting s; const char *v; } f[3] = {
		{SETTING_RELAY_HOST, host},
		{SETTING_RELAY_USER, user ? user : (host && !host[0]) ? "" : NULL},
		{SETTING_RELAY_PASSWORD, pass ? pass : (host && !host[0]) ? "" : NULL},
	};
	for (size_t i = 0; i < 3; i++) {
		if (!f[i].v)
			continue;
		int rc = admin_setting_item(http_store, f[i].s, f[i].v, sealed[i], sizeof sealed[i],
					    &it[*n]);
		if (rc != STORE_OK) {
			http_store_problem(x, rc, "cannot store the relay settings");
			return -1;
		}
		(*n)++;
	}
	return 0;
}

int api_store_relay(struct http_ctx *x, const char *fhost, const char *fuser, const char *fpass,
		    const char *current)
{
	char sealed[3][ADMIN_SECRET_SEALED_MAX];
	struct store_meta_item it[3];
	size_t n = 0;

	if (api_relay_items(x, fhost, fuser, fpass, current, sealed, it, &n) < 0)
		return -1;
	int rc = n ? store_meta_put_all(http_store, it, n) : STORE_OK;
	if (rc != STORE_OK) {
		http_store_problem(x, rc, "cannot store the relay settings");
		return -1;
	}
	return 0;
}

void api_setup_relay(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "host", JK_STRING, 1 },
		{ "user", JK_STRING, 0 },
		{ "password", JK_STRING, 0 },
		{ "current", JK_STRING, 0 },
	};

	if (http_body_check(x, f, 4) < 0)
		return;
	/* A new relay host from a session takes the admin password in
	 * "current", as PUT /settings does (api_store_relay). */
	if (api_store_relay(x, "host", "user", "password",
			    admin_exists(http_store) ? "current" : NULL) < 0)
		return;
	write_state(x, 200);
}

void api_setup_dns(struct http_ctx *x)
{
	char dom[256];

	if (gate(x, 0) < 0)
		return;
	api_primary_domain(dom, sizeof(dom));
	if (!dom[0]) {
		http_problem(x, 404, "not_found", NULL, "no primary domain yet (PUT /api/v1/setup/domain)");
		return;
	}
	api_dns_object(x, dom, 1);
}

void api_setup_complete(struct http_ctx *x)
{
	/* It takes {}: any field is refused (API.md), not ignored. */
	if (http_body_check(x, NULL, 0) < 0)
		return;
	if (!admin_setup_completed(http_store)) {
		int rc = admin_setup_complete(http_store);
		if (rc != STORE_OK) {
			http_store_problem(x, rc, "cannot store the wizard's state");
			return;
		}
		log_info("http", NULL, "event=setup_completed ip=%s", x->ip);
	}
	write_state(x, 200);
}
