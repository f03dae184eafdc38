/*
 * cmd_migrate.c — tern migrate EMAIL --from imap[s]://USER@HOST[:PORT]
 * [--password-file FILE] [--sieve [--sieve-port N]]: every folder and
 * message of an account on another IMAP server, with flags, keywords and
 * internal dates, like imapsync; with --sieve also its Sieve scripts over
 * ManageSieve (migrate_sieve.c). The password comes from the file or stdin.
 *
 * How. One blocking connection (cli_client.h): CAPABILITY, STARTTLS when
 * imap:// and the server offers it, LOGIN, CAPABILITY again (SPECIAL-USE
 * is often announced only now), ENABLE UTF8=ACCEPT when offered (the
 * stored bytes, not a header downgraded for an older client; every name
 * then comes in UTF-8), NAMESPACE (after ENABLE: its prefixes in the
 * encoding of the names listed), LIST "" "*" (RETURN (SPECIAL-USE) when announced), LSUB "" "*" (LIST (SUBSCRIBED)
 * when LSUB fails), then per folder EXAMINE (read-only: \Seen stays as it
 * was) and one UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[]), each
 * response read whole (its literal capped at MSG_MAX before it is read)
 * and handed to the import path (cli_import.h): folders created, messages stored as
 * APPEND stores them, and a message already in the target folder (same
 * bytes) skipped, so a second run copies only what is new and a run cut
 * short resumes. Each folder keeps the UIDVALIDITY EXAMINE gave and each
 * message its UID (import_mailbox_uids; --new-uids for a folder whose
 * mailbox holds other mail), and UIDNEXT goes up to the source's.
 *
 * Before any mail, as tern import does (import_mailboxes.c, one policy):
 * every folder is created, each with a special-use attribute (\Sent,
 * \Drafts, \Junk, \Trash, \Archive; RFC 6154) takes that role when the
 * account's holder is still as account creation made it (so "Sent Items"
 * becomes the sent mailbox and the mail goes there), and every
 * subscribed name is subscribed (nothing unsubscribed). The attributes
 * are asked for with RETURN (SPECIAL-USE) when the server announces
 * SPECIAL-USE, and taken from a plain LIST as well (Zoho and IMAP4rev2
 * servers mark folders without the capability). A server that marks no
 * folder gets no roles mapped, and a line says so: XLIST and guesses by
 * name ("Sent Items", "Deleted Items") are not tried, as a wrong guess
 * would move a role the user relies on. Subscriptions that cannot
 * be read (LSUB and LIST (SUBSCRIBED) both refused) are a warning: the
 * mail is still copied.
 *
 * Folder names: the server's delimiter becomes "/", modified UTF-7 is
 * decoded. Folders marked \Noselect or \NonExistent are not selectable;
 * \All (Gmail's "All Mail") is skipped, as imapsync's Gmail profile does:
 * every message there is also under its labels, which Gmail lists as
 * folders, so each label becomes a folder holding its messages.
 * Namespaces (RFC 2342): a personal prefix ("INBOX." on Courier and
 * Cyrus-style servers) is taken off the names (of folders and
 * subscriptions alike), so INBOX.Sent becomes Sent; folders in the other
 * users' and shared namespaces (Exchange's public
 * folders, Dovecot's shared.* and Public.*) belong to others and are not
 * copied.
 *
 * TLS. imaps:// verifies the server's certificate against the built-in
 * roots (net/anchors.h, TERN_TLS_CA_FILE). imap:// upgrades with STARTTLS
 * (verified the same way) whenever the server offers it; only a server
 * that offers none gets the password in clear text, with a warning.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "backup/imap_resp.h"
#include "backup/mailfmt.h"
#include "cli/cli.h"
#include "cli/cli_client.h"
#include "cli/cli_import.h"
#include "cli/migrate_sieve.h"
#include "core/buf.h"
#include "core/hex.h"
#include "core/str.h"
#include "core/xalloc.h"
#include "core/utf8.h"
#include "imap/imap_utf7.h"
#include "net/anchors.h"
#include "store/store.h"

#define LINE_MAX_ ((size_t)64 << 10)
#define MSG_MAX ((size_t)1 << 30)

/* Sends a command with a new tag; reads responses, handing each untagged
 * one to cb, until the tagged one: 0 for OK, -1 otherwise (its text in
 * err). */
static int src_cmd(struct cli_client *s, unsigned *tagn, const char *cmd,
                   void (*cb)(void *, const char *, size_t), void *arg, struct buf *resp, char *err,
                   size_t errsz)
{
	char tag[16], line[4096];
	int n = snprintf(tag, sizeof tag, "m%u", ++*tagn);
	int ln = snprintf(line, sizeof line, "%s %s\r\n", tag, cmd);
	if (ln < 0 || (size_t)ln >= sizeof line || cli_client_write(s, line, (size_t)ln))
		return snprintf(err, errsz, "cannot send to the server: %s", cli_client_error(s)),
		       -1;
	for (;;) {
		if (cli_client_response(s, resp, LINE_MAX_, MSG_MAX))
			return snprintf(err, errsz, "%s, or a response too long",
			                cli_client_error(s)),
			       -1;
		const char *p = buf_data(resp);
		size_t len = buf_len(resp);
		if (len > (size_t)n + 1 && memcmp(p, tag, (size_t)n) == 0 && p[n] == ' ') {
			if (len >= (size_t)n + 3 && strncasecmp(p + n + 1, "OK", 2) == 0)
				return 0;
			snprintf(err, errsz, "%.*s", (int)(len > 300 ? 300 : len - 2), p);
			return -1;
		}
		if (p[0] == '*' && cb)
			cb(arg, p, len);
	}
}

/* What one listing command gave: the folders of LIST, or the subscribed
 * names of LSUB or LIST (SUBSCRIBED), each also as tern names it. */
enum listing_kind { LISTING_FOLDERS, LISTING_LSUB, LISTING_SUBSCRIBED };
struct listing {
	enum listing_kind kind;
	char **names;       /* as sent (for SELECT) */
	char **local;       /* tern's name */
	const char **roles; /* tern's role from the special-use attribute, or NULL */
	size_t n;
	const struct imapr_ns *ns; /* NULL when the server has no NAMESPACE */
	int utf8;                  /* UTF8=ACCEPT enabled: names come in UTF-8, not modified UTF-7 */
	unsigned others;           /* names in other users' and shared namespaces left */
	unsigned over;             /* names past LISTING_MAX left */
};

/* The most names one LIST or LSUB of the source server is taken for: the
 * list grows from what the peer sends, so it has a ceiling (far above
 * any real account's folders). */
#define LISTING_MAX 20000

/* Whether name lies in namespace prefix (or is the prefix's own folder,
 * the prefix without its delimiter). */
static int in_prefix(const char *name, const char *prefix, char delim)
{
	size_t n = strlen(prefix);
	if (n == 0)
		return 0;
	if (strncmp(name, prefix, n) == 0)
		return 1;
	return delim && prefix[n - 1] == delim && strlen(name) == n - 1 &&
	       strncmp(name, prefix, n - 1) == 0;
}

/* The folder name with the personal namespace's prefix taken off; NULL
 * for a folder of another user's or a shared namespace. */
static const char *personal_name(const struct imapr_ns *ns, const char *raw)
{
	if (!ns)
		return raw;
	for (int k = IMAPR_NS_OTHER; k <= IMAPR_NS_SHARED; k++)
		for (size_t i = 0; i < ns->n[k]; i++)
			if (in_prefix(raw, ns->v[k][i].prefix, ns->v[k][i].delim))
				return NULL;
	for (size_t i = 0; i < ns->n[IMAPR_NS_PERSONAL]; i++) {
		const char *pre = ns->v[IMAPR_NS_PERSONAL][i].prefix;
		size_t n = strlen(pre);
		if (n && strncmp(raw, pre, n) == 0 && raw[n])
			return raw + n;
	}
	return raw;
}

/* Whether the attributes (as sent, inside the parentheses) hold attr,
 * a whole one in any case. */
static int has_attr(const char *attrs, size_t an, const char *attr)
{
	size_t n = strlen(attr);
	for (size_t i = 0; i + n <= an; i++)
		if ((i == 0 || attrs[i - 1] == ' ') && strncasecmp(attrs + i, attr, n) == 0 &&
		    (i + n == an || attrs[i + n] == ' '))
			return 1;
	return 0;
}

/* tern's role for the folder's special-use attribute (RFC 6154), or NULL:
 * \All and \Flagged are not carried: on the servers that have them they
 * are views (Gmail's All Mail and Starred), and the copy is a plain
 * folder. */
static const char *special_use(const char *attrs, size_t an)
{
	static const char *const su[][2] = {{"\\Sent", "sent"},
	                                    {"\\Drafts", "drafts"},
	                                    {"\\Junk", "junk"},
	                                    {"\\Trash", "trash"},
	                                    {"\\Archive", "archive"}};
	for (size_t i = 0; i < sizeof su / sizeof su[0]; i++)
		if (has_attr(attrs, an, su[i][0]))
			return su[i][1];
	return NULL;
}

/* tern's name for the server's name raw (delim its delimiter; utf8: in
 * UTF-8, else modified UTF-7) into local, NUL-terminated: 1; 0 for a name
 * in another user's or a shared namespace; -1 when it does not decode.
 * Folders and subscriptions are translated alike, so each subscription
 * names the folder copied. */
static int local_name(const struct imapr_ns *ns, const char *raw, char delim, int utf8,
		      struct buf *local)
{
	const char *own = personal_name(ns, raw);
	if (!own)
		return 0;
	char *conv = xstrdup(own);
	for (char *q = conv; delim && delim != '/' && *q; q++)
		if (*q == delim)
			*q = '/';
	int r = -1;
	if (strcasecmp(conv, "INBOX") == 0)
		r = buf_append(local, "INBOX", 6) == 0 ? 1 : -1;
	else if (utf8 ? utf8_valid(str_c(conv)) && buf_append(local, conv, strlen(conv) + 1) == 0
		      : imap_utf7_to_utf8(str_c(conv), local) == 0 && buf_append(local, "", 1) == 0)
		r = 1;
	free(conv);
	return r;
}

/* Whether a name with these attributes belongs in the listing: a
 * folder that can be selected (not Gmail's \All, see the top), or a
 * subscription (LIST (SUBSCRIBED) marks each one). */
static int listing_wants(const struct listing *l, const char *attrs, size_t an)
{
	if (l->kind == LISTING_FOLDERS)
		return !has_attr(attrs, an, "\\Noselect") &&
		       !has_attr(attrs, an, "\\NonExistent") && !has_attr(attrs, an, "\\All");
	return l->kind == LISTING_LSUB || has_attr(attrs, an, "\\Subscribed");
}

static void listing_cb(void *arg, const char *p, size_t len)
{
	struct listing *l = arg;
	const char *attrs;
	size_t an;
	char delim;
	struct buf name, local;
	buf_init(&name, 4096);
	buf_init(&local, 8192);
	if (imapr_list(p, len, &attrs, &an, &delim, &name) != 1 || !buf_len(&name) ||
	    !listing_wants(l, attrs, an) || buf_append(&name, "", 1) != 0)
		goto out;
	int r = local_name(l->ns, buf_data(&name), delim, l->utf8, &local);
	if (r == 0)
		l->others++;
	if (r != 1)
		goto out;
	if (l->n >= LISTING_MAX) {
		l->over++;
		goto out;
	}
	l->names = xrealloc(l->names, (l->n + 1) * sizeof *l->names);
	l->local = xrealloc(l->local, (l->n + 1) * sizeof *l->local);
	l->roles = xrealloc(l->roles, (l->n + 1) * sizeof *l->roles);
	l->names[l->n] = xstrdup(buf_data(&name));
	l->local[l->n] = xstrdup(buf_data(&local));
	l->roles[l->n] = special_use(attrs, an);
	l->n++;
out:
	buf_free(&name);
	buf_free(&local);
}

/* Empties l (its kind and namespaces stay). */
static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->local[i]);
	}
	free(l->names);
	free(l->local);
	free(l->roles);
	l->names = l->local = NULL;
	l->roles = NULL;
	l->n = l->others = l->over = 0;
}

static void caps_cb(void *arg, const char *p, size_t len)
{
	struct buf *caps = arg;
	if (len > 13 && strncasecmp(p, "* CAPABILITY ", 13) == 0) {
		buf_reset(caps);
		buf_append(caps, p + 12, len - 12); /* keeps the leading space */
	}
}

/* Whether the capability list (as caps_cb kept it) holds name. */
static int has_cap(const struct buf *caps, const char *name)
{
	size_t n = strlen(name), len = buf_len(caps);
	const char *p = buf_data(caps);
	for (size_t i = 0; i + n < len; i++)
		if (p[i] == ' ' && strncasecmp(p + i + 1, name, n) == 0 &&
		    (i + 1 + n == len || p[i + 1 + n] == ' ' || p[i + 1 + n] == '\r'))
			return 1;
	return 0;
}

static void ns_cb(void *arg, const char *p, size_t len)
{
	struct imapr_ns *ns = arg;
	if (imapr_namespace(p, len, ns) < 0)
		memset(ns, 0, sizeof *ns);
}

struct fetch_ctx {
	struct imp *im;
	uint64_t seen;
};

/* IMAP flags as sent to the import's flags and keywords. */
static void fetch_cb(void *arg, const char *p, size_t len)
{
	struct fetch_ctx *fc = arg;
	struct imapr_fetch f;
	char others[4096];
	unsigned flags = 0;
	size_t on = 0;

	if (imapr_fetch(p, len, &f) != 1 || !f.has_body)
		return;
	others[0] = '\0';
	for (size_t i = 0; f.flags && i < f.flags_len;) {
		while (i < f.flags_len && f.flags[i] == ' ')
			i++;
		size_t s = i;
		while (i < f.flags_len && f.flags[i] != ' ')
			i++;
		size_t n = i - s;
		const char *w = f.flags + s;
		static const struct {
			const char *name;
			unsigned bit;
		} sys[] = {{"\\Seen", MF_SEEN},       {"\\Answered", MF_ANSWERED},
		           {"\\Flagged", MF_FLAGGED}, {"\\Draft", MF_DRAFT},
		           {"\\Deleted", MF_DELETED}, {"$Forwarded", MF_FORWARDED}};
		size_t k;
		for (k = 0; k < sizeof sys / sizeof sys[0]; k++)
			if (strlen(sys[k].name) == n && strncasecmp(sys[k].name, w, n) == 0)
				break;
		if (k < sizeof sys / sizeof sys[0])
			flags |= sys[k].bit;
		else if (n && w[0] != '\\' && on + n + 2 < sizeof others) {
			if (on)
				others[on++] = ' ';
			memcpy(others + on, w, n);
			on += n;
			others[on] = '\0';
		}
	}
	import_add(fc->im, f.body, f.body_len, 0, flags, others, f.internaldate, f.uid);
	fc->seen++;
}

/* What EXAMINE tells of the folder: its UIDVALIDITY and UIDNEXT (0 when
 * not said). */
struct examine {
	uint32_t uidvalidity, uidnext;
};

static void examine_cb(void *arg, const char *p, size_t len)
{
	struct examine *ex = arg;
	if (imapr_code_num(p, len, "UIDVALIDITY", &ex->uidvalidity) == 0)
		imapr_code_num(p, len, "UIDNEXT", &ex->uidnext);
}

/* Fails the migration: prints why and returns 1. */
static int fail(const char *what, const char *why)
{
	fprintf(stderr, "tern: %s%s%s\n", what, why && why[0] ? ": " : "", why ? why : "");
	return 1;
}

/*
 * Right after LOGIN, before any name is read: what the server announces
 * now (into caps; a failure keeps what was announced before LOGIN), and
 * ENABLE UTF8=ACCEPT when offered. The messages as stored: a server
 * offering UTF8=ACCEPT may give a client that has not enabled it
 * downgraded headers (RFC 6855 §3, as tern itself does), which would be
 * copied as if they were the mail. Enabled, every name (NAMESPACE's
 * prefixes as LIST's folders: one encoding for both, or a non-ASCII
 * prefix read in modified UTF-7 matches no folder listed in UTF-8) comes
 * in UTF-8 and goes back so. Returns 1 when enabled, else 0.
 */
static int src_enable(struct cli_client *s, unsigned *tag, struct buf *caps, struct buf *resp,
                      char *err, size_t errsz)
{
	src_cmd(s, tag, "CAPABILITY", caps_cb, caps, resp, err, errsz);
	return has_cap(caps, "UTF8=ACCEPT") &&
	       src_cmd(s, tag, "ENABLE UTF8=ACCEPT", NULL, NULL, resp, err, errsz) == 0;
}

/*
 * After src_enable: what the server announces (SPECIAL-USE often comes
 * only after LOGIN: *special_r), its folders with their special-use attributes,
 * and its subscriptions (*subscribed_r 0 when it gave none: a warning
 * says why). 0, or -1 when LIST failed (its answer in err).
 */
static int src_lists(struct cli_client *s, unsigned *tag, struct buf *caps, struct listing *fl,
                     struct listing *sb, int *special_r, int *subscribed_r, struct buf *resp,
                     char *err, size_t errsz)
{
	char lerr[512];

	*special_r = has_cap(caps, "SPECIAL-USE");
	/* RETURN (SPECIAL-USE) is LIST-EXTENDED syntax: a server that refuses
	 * it is asked plainly. A plain LIST may carry the attributes too, with
	 * or without the capability (RFC 6154 §2; IMAP4rev2 has them in its
	 * base LIST): they are the server's own marks, taken alike. */
	int lr = -1;
	if (*special_r) {
		lr = src_cmd(s, tag, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", listing_cb, fl, resp,
		             err, errsz);
		if (lr != 0)
			listing_free(fl);
	}
	if (lr != 0 && src_cmd(s, tag, "LIST \"\" \"*\"", listing_cb, fl, resp, err, errsz) != 0)
		return -1;

	/* LSUB is gone from IMAP4rev2: then LIST (SUBSCRIBED) (RFC 5258). */
	*subscribed_r = 1;
	sb->kind = LISTING_LSUB;
	if (src_cmd(s, tag, "LSUB \"\" \"*\"", listing_cb, sb, resp, lerr, sizeof lerr) == 0)
		return 0;
	listing_free(sb);
	if (has_cap(caps, "LIST-EXTENDED") || has_cap(caps, "IMAP4rev2")) {
		sb->kind = LISTING_SUBSCRIBED;
		if (src_cmd(s, tag, "LIST (SUBSCRIBED) \"\" \"*\"", listing_cb, sb, resp, err,
		            errsz) == 0)
			return 0;
		listing_free(sb);
		fprintf(stderr,
		        "tern: warning: subscriptions not copied: LSUB failed (%s), "
		        "LIST (SUBSCRIBED) too (%s)\n",
		        lerr, err);
	} else {
		fprintf(stderr,
		        "tern: warning: subscriptions not copied: LSUB failed (%s) and the "
		        "server offers no LIST (SUBSCRIBED)\n",
		        lerr);
	}
	*subscribed_r = 0;
	return 0;
}

/*
 * Before the mail, as tern import does (import_mailboxes.c, the one
 * policy for both): every folder made, the special-use folders given
 * their roles while the account's own folders are still as they were
 * made, and the subscribed names subscribed. 0, or -1 after printing why
 * for what could not be stored.
 */
static int put_mailboxes(struct store *st, const char *email, const struct listing *fl, int special,
                         const struct listing *sb, int subscribed)
{
	uint32_t account;
	int rc = 0;

	if (store_account_id(st, email, &account) != STORE_OK) {
		fail("no account", email);
		return -1;
	}
	if (import_mailboxes_create(st, account, (const char *const *)fl->local, fl->n) != 0)
		rc = -1;
	struct import_role *v = xcalloc(fl->n + 1, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < fl->n; i++)
		if (fl->roles[i]) {
			v[n].name = fl->local[i];
			v[n++].role = fl->roles[i];
		}
	if (n == 0)
		printf("roles: no folder marked \\Sent, \\Drafts, \\Junk, \\Trash or \\Archive%s: "
		       "no roles mapped\n",
		       special ? "" : " (the server announces no SPECIAL-USE)");
	if (import_roles_give(st, account, v, n) < 0)
		rc = -1;
	free(v);
	if (subscribed && import_subscribe(st, account, (const char *const *)sb->local, sb->n) < 0)
		rc = -1;
	if (sb->others)
		printf("%u subscriptions in other users' or shared namespaces left out\n",
		       sb->others);
	return rc;
}

/* imap[s]://USER@HOST[:PORT]: 0 or -1. USER may hold '@' (taken up to the
 * last one) and %XX escapes; HOST is a name, an IPv4 address or an IPv6
 * one in brackets ("[2001:db8::1]"), host set to the address alone. */
static int parse_url(const char *url, int *tls, char *user, size_t usz, char *host, size_t hsz,
                     char *port, size_t psz)
{
	const char *p;
	if (strncasecmp(url, "imaps://", 8) == 0)
		*tls = 1, p = url + 8;
	else if (strncasecmp(url, "imap://", 7) == 0)
		*tls = 0, p = url + 7;
	else
		return -1;
	const char *at = strrchr(p, '@');
	if (!at || at == p)
		return -1;
	/* The user part percent-decoded (RFC 5092 §3: "%40" for an "@" in
	 * it); a malformed escape or a NUL is no user name. */
	size_t u;
	if (pct_decode(p, (size_t)(at - p), user, usz, &u, PCT_NO_NUL) < 0)
		return -1;
	const char *h = at + 1, *colon;
	size_t hl;
	if (*h == '[') {
		/* An IPv6 literal (RFC 3986 §3.2.2): the brackets are the URL's;
		 * getaddrinfo() takes the address without them. */
		const char *rb = strchr(h, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return -1;
		h++;
		hl = (size_t)(rb - h);
		colon = rb[1] ? rb + 1 : NULL;
	} else {
		colon = strrchr(h, ':');
		hl = colon ? (size_t)(colon - h) : strlen(h);
		if (memchr(h, ':', hl))
			return -1; /* a bare IPv6 address: which colon starts the port? */
	}
	if (hl == 0 || hl >= hsz || (colon && !colon[1]))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	unsigned char bin[16];
	if (at[1] == '[' && inet_pton(AF_INET6, host, bin) != 1)
		return -1;
	snprintf(port, psz, "%s", colon ? colon + 1 : (*tls ? "993" : "143"));
	return 0;
}

int cli_migrate(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL, *from = NULL, *pwfile = NULL, *sieve_port = "4190";
	char user[512], host[256], port[16], pw[512], err[512], cmd[4096], q1[1100], q2[1100];
	int tls, sieve = 0, new_uids = 0, rc = 0;
	unsigned tag = 0;
	struct imapr_ns ns;
	struct listing fl = {.kind = LISTING_FOLDERS}, sb = {.kind = LISTING_LSUB};
	struct store *st = NULL;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			pwfile = argv[++i];
		else if (strcmp(argv[i], "--sieve") == 0)
			sieve = 1;
		else if (strcmp(argv[i], "--new-uids") == 0)
			new_uids = 1;
		else if (strcmp(argv[i], "--sieve-port") == 0 && i + 1 < argc &&
		         argv[i + 1][0] >= '1' && argv[i + 1][0] <= '9' &&
		         strtoul(argv[i + 1], NULL, 10) <= 65535)
			sieve = 1, sieve_port = argv[++i];
		else if (argv[i][0] != '-' && !email)
			email = argv[i];
		else
			goto usage;
	}
	if (!email || !from)
		goto usage;
	if (parse_url(from, &tls, user, sizeof user, host, sizeof host, port, sizeof port))
		return cli_bad_arg("migrate", "--from", NULL,
				   "imap[s]://USER@HOST[:PORT], USER's %XX escapes well formed");
	if (pwfile) {
		FILE *f = fopen(pwfile, "r");
		if (!f || !fgets(pw, sizeof pw, f)) {
			fprintf(stderr, "tern: cannot read %s\n", pwfile);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
		pw[strcspn(pw, "\r\n")] = '\0';
	} else if (cli_read_secret(pw, sizeof pw) != 0) {
		fprintf(stderr, "tern: no password on stdin\n");
		return 1;
	}
	if (cfg->tls_ca_file[0] && anchors_add_file(cfg->tls_ca_file, err, sizeof err) < 0) {
		fprintf(stderr, "tern: TERN_TLS_CA_FILE: %s\n", err);
		explicit_bzero(pw, sizeof pw);
		return 2;
	}

	struct buf resp, caps;
	buf_init(&resp, MSG_MAX + LINE_MAX_);
	buf_init(&caps, LINE_MAX_);
	err[0] = '\0';
	struct cli_client *s = cli_client_connect(host, port, tls, err, sizeof err);
	if (!s) {
		rc = fail(err, NULL);
		goto out;
	}
	if (cli_client_response(s, &resp, LINE_MAX_, MSG_MAX) != 0 ||
	    strncmp(buf_data(&resp), "* OK", 4) != 0) {
		rc = fail("no greeting from the server", cli_client_error(s));
		goto out;
	}
	if (src_cmd(s, &tag, "CAPABILITY", caps_cb, &caps, &resp, err, sizeof err) != 0) {
		rc = fail("CAPABILITY failed", err);
		goto out;
	}
	if (!tls && has_cap(&caps, "STARTTLS")) {
		if (src_cmd(s, &tag, "STARTTLS", NULL, NULL, &resp, err, sizeof err) != 0 ||
		    cli_client_starttls(s, err, sizeof err) != 0) {
			rc = fail("STARTTLS failed", err);
			goto out;
		}
		/* What the server said before TLS could have been forged. */
		buf_reset(&caps);
		if (src_cmd(s, &tag, "CAPABILITY", caps_cb, &caps, &resp, err, sizeof err) != 0) {
			rc = fail("TLS with the server failed", err);
			goto out;
		}
	} else if (!tls && has_cap(&caps, "LOGINDISABLED")) {
		rc = fail("the server refuses LOGIN without TLS and offers no STARTTLS", NULL);
		goto out;
	} else if (!tls) {
		fprintf(stderr, "tern: warning: the server offers no STARTTLS: the password goes "
		                "in clear text\n");
	}
	if (cli_client_quote(user, q1, sizeof q1) || cli_client_quote(pw, q2, sizeof q2)) {
		rc = fail("user or password cannot be sent", NULL);
		goto out;
	}
	snprintf(cmd, sizeof cmd, "LOGIN %s %s", q1, q2);
	explicit_bzero(q2, sizeof q2);
	int lr = src_cmd(s, &tag, cmd, NULL, NULL, &resp, err, sizeof err);
	explicit_bzero(cmd, sizeof cmd);
	if (lr != 0) {
		rc = fail("login refused", err);
		goto out;
	}
	fl.utf8 = sb.utf8 = src_enable(s, &tag, &caps, &resp, err, sizeof err);
	/* NAMESPACE may be announced only after LOGIN: ask, a BAD is fine. */
	memset(&ns, 0, sizeof ns);
	if (src_cmd(s, &tag, "NAMESPACE", ns_cb, &ns, &resp, err, sizeof err) == 0 &&
	    ns.n[0] + ns.n[1] + ns.n[2])
		fl.ns = sb.ns = &ns;
	int special, subscribed;
	if (src_lists(s, &tag, &caps, &fl, &sb, &special, &subscribed, &resp, err, sizeof err) !=
	    0) {
		rc = fail("LIST failed", err);
		goto out;
	}
	if (fl.others)
		printf("%u folders of other users or shared namespaces left out\n", fl.others);
	if (fl.over || sb.over)
		fprintf(stderr, "tern: warning: %u folder and %u subscribed names past the first %d "
			"the server listed left out\n", fl.over, sb.over, LISTING_MAX);
	st = cli_store_open(cfg, CLI_STORE_CREATE);
	struct imp *im = st ? import_begin(cfg, st, email, "migrate") : NULL;
	if (!im) {
		rc = 1;
		goto out;
	}
	if (new_uids)
		import_new_uids(im);
	int pre = put_mailboxes(st, email, &fl, special, &sb, subscribed);
	int irc = 0;
	for (size_t i = 0; i < fl.n && irc == 0 && !import_fatal(im); i++) {
		struct fetch_ctx fc = {im, 0};
		if (cli_client_quote(fl.names[i], q1, sizeof q1) ||
		    import_mailbox(im, fl.local[i]) != 0) {
			irc = -1;
			break;
		}
		snprintf(cmd, sizeof cmd, "EXAMINE %s", q1);
		struct examine ex = {0, 0};
		if (src_cmd(s, &tag, cmd, examine_cb, &ex, &resp, err, sizeof err) != 0) {
			fprintf(stderr, "tern: skipping %s: %s\n", fl.names[i], err);
			continue;
		}
		/* The folder's UIDVALIDITY and the UIDs UID FETCH gives are
		 * kept (import_mailbox_uids): clients moved over find the
		 * mail they have. A folder holding other mail is left out
		 * (without --new-uids). */
		int ur = ex.uidvalidity ? import_mailbox_uids(im, ex.uidvalidity, ex.uidnext) : 0;
		if (ur > 0)
			continue;
		if (ur < 0) {
			irc = -1;
			break;
		}
		if (src_cmd(s, &tag, "UID FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[])", fetch_cb,
		            &fc, &resp, err, sizeof err) != 0) {
			fprintf(stderr, "tern: fetching %s failed: %s\n", fl.names[i], err);
			import_mailbox_cut(im);
			irc = -1;
		}
		import_flush(im);
	}
	src_cmd(s, &tag, "LOGOUT", NULL, NULL, &resp, err, sizeof err);
	rc = import_end(im, email, irc);
	if (pre != 0)
		rc = 1;
	if (sieve && migrate_sieve(st, email, host, sieve_port, cli_client_tls(s), user, pw) != 0)
		rc = 1;
out:
	explicit_bzero(pw, sizeof pw);
	store_close(&st);
	listing_free(&fl);
	listing_free(&sb);
	cli_client_close(&s);
	buf_free(&resp);
	buf_free(&caps);
	return rc;
usage:
	return cli_usage("migrate");
}
