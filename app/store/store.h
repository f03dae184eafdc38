/*
 * store.h — the mail store: one LMDB environment in TERN_DATA_DIR.
 *
 * Design. Everything durable lives in one LMDB environment (schema in
 * SCHEMA.md). Readers open read transactions directly on whatever thread
 * they run (cheap, mmap). Writes that sessions make go through ONE writer
 * thread that takes every pending request, applies the whole batch in one
 * write transaction and commits once — group commit: many deliveries share
 * one fsync. A request's completion callback runs on the requesting
 * session's loop (loop_post) only after the commit returned, so a session
 * replies "250" only for durable data.
 *
 * Administrative changes (accounts, domains, aliases) are rare and come from
 * the CLI (another process) or the admin API: they use their own write
 * transaction synchronously. LMDB serialises writers across threads and
 * processes, so the CLI works while the server runs.
 *
 * The map grows by itself: when a write hits MDB_MAP_FULL the batch is
 * aborted, the map doubled and the batch retried. When the address space
 * has no room for the larger map, it stays as it is and new mail gets
 * STORE_EFULL, as on a full disk (store.c, map_set). On a (nearly) full disk
 * new mail is refused alone with STORE_EFULL while deletions and other
 * writes go on, using a reserve kept for them (store_reserve_set); a
 * write that fails all the same (an I/O error, no reserve left) fails its
 * whole batch (every request gets STORE_ETEMP) and leaves the environment
 * as it was at the last commit.
 *
 * Caveats: all names (domains, addresses) are stored lowercase; callers may
 * pass any case. Functions that take err/errsz write a one-line human
 * message there on failure.
 */
#ifndef TERN_STORE_STORE_H
#define TERN_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

struct loop;
struct store;

/* Result codes (negative, never colliding with errno values we pass on). */
#define STORE_OK 0
#define STORE_ENOTFOUND (-30900) /* no such domain/account/alias/mailbox/email */
#define STORE_EEXIST (-30901)    /* already exists */
#define STORE_EINVAL (-30902)    /* malformed name or argument */
#define STORE_ETEMP (-30903)     /* temporary: I/O error, disk full; retry later */
#define STORE_EQUOTA (-30904)    /* over quota: the message does not fit now; retry later */
#define STORE_EFULL (-30905)     /* the server's storage is (nearly) full; retry later */
/* What an admin is told of STORE_EFULL (the CLI, the REST API's 507). */
#define STORE_EFULL_TEXT "the server's disk is full: free some space, then try again"
#define STORE_ETOOBIG (-30906)   /* larger than the account's whole quota: never fits */
#define STORE_EBUSY (-30907)     /* another tern serve holds the data directory */
#define STORE_ELIMIT (-30908)    /* an account's limit reached (mailboxes): never fits now */
#define STORE_EACTIVE (-30909)   /* the Sieve script is active (cannot be deleted) */
#define STORE_EGONE (-30910)     /* a message named was expunged meanwhile (nothing done) */
#define STORE_EACCES (-30911)    /* another account's mailbox: the acting one lacks the right */

/* Open flags. */
#define STORE_SERVER 1u   /* start the writer thread (tern serve) */
#define STORE_READONLY 2u /* open read-only (tern fetch, list commands) */

/*
 * Opens (creating if needed) the environment in dir: sets up the schema or
 * runs migrations up to the current version, after copying the store to
 * dir/backup-schema-N (STORE_EFULL, nothing changed, when there is no
 * room for that copy); refuses a newer schema (STORE_EINVAL), and a
 * directory a server has used whose data.mdb is gone (STORE_EINVAL: an
 * empty store there would lose every account), unless read-only.
 * With STORE_SERVER it first takes an exclusive lock on dir (flock on the
 * directory, held until store_close): one server per data directory, while
 * other openers (the CLI) never take it. Returns STORE_OK and *st_r, or an
 * error with err filled: STORE_EBUSY when another server holds dir.
 */
int store_open(const char *dir, unsigned flags, struct store **st_r, char *err, size_t errsz);
/* The data directory given to store_open() (valid until store_close). */
const char *store_data_dir(const struct store *st);
/*
 * Stops the writer after it has committed everything queued (each queued
 * request gets its completion), closes the environment, sets *st to NULL.
 */
void store_close(struct store **st);

/*
 * Tells the store that the server opened with it is serving (tern serve,
 * after its start-up went through). The copy an upgrade left
 * (DIR/backup-schema-N, store_upgrade.c) is kept through the first serve
 * after it and removed by the second: the upgrade has run and been
 * restarted.
 */
void store_started(struct store *st);

/*
 * A halted store (store_writer.c, "A failed flush"): a flush of the file
 * failed, or LMDB met an I/O error writing a commit, so the file may not
 * hold what was committed. From then on every write is refused with
 * STORE_ETEMP without a transaction, reads go on, and the process should
 * end: store_halted() says 1, and the function given to
 * store_on_halt() runs once, on the thread that met the failure (tern
 * serve stops as on SIGTERM and exits with STORE_EXIT_HALTED, 75, sysexits'
 * EX_TEMPFAIL, for the supervisor to start it again on what the file holds).
 */
#define STORE_EXIT_HALTED 75
int store_halted(struct store *st);
void store_on_halt(struct store *st, void (*fn)(void));

/*
 * Keeps bytes back for deletions (store_reserve.c): a reserve file of that
 * size in the data directory, given back when a write that adds no mail
 * meets a full disk, and a floor: new mail (deliveries, APPEND, the
 * outbound queue) is refused with STORE_EFULL when storing it would leave
 * less than that for the store. STORE_RESERVE_AUTO: 1/32 of the file
 * system, from 256 KiB to 64 MiB; 0: none. tern serve calls it once after
 * store_open. STORE_OK, or STORE_EFULL when the file could not be made
 * (the floor holds all the same; the writer tries again later).
 */
#define STORE_RESERVE_AUTO UINT64_MAX
int store_reserve_set(struct store *st, uint64_t bytes);

/* Schema version this build writes. */
uint32_t store_schema_version(void);

/* ---- Domains ---- */
/* The form the store keeps domain in (store_names.c: ASCII letters
 * lowercased, UTF-8 in NFC, so a U-label stays a U-label and an A-label
 * an A-label) into out (outsz octets): 0, or -1 when domain is not a name
 * the store takes. The one rule for every domain the administrator gives:
 * `tern domain add`, the web admin and TERN_DOMAIN. */
int store_domain_canonical(const char *domain, char *out, size_t outsz);
int store_domain_add(struct store *st, const char *domain, char *err, size_t errsz);
/* Refuses (STORE_EEXIST) while accounts of the domain exist. */
int store_domain_del(struct store *st, const char *domain, char *err, size_t errsz);
/* 1 when domain is local, 0 when not, STORE_ETEMP on error. */
int store_domain_is_local(struct store *st, const char *domain);
/* As store_domain_is_local, in either IDN spelling: 1 also when domain's
 * A-label form is served as a U-label or the reverse (RFC 5890 §2.3.2.1:
 * one domain). */
int store_domain_served(struct store *st, const char *domain);
/*
 * An internationalised domain is one domain in either spelling (RFC 5890
 * §2.3.2.1): most senders write it in A-labels (no SMTPUTF8 needed), one
 * with SMTPUTF8 may write the U-labels, and the administrator added it in
 * one of the two. addr ("local@domain", NUL-terminated, room addrsz) gets
 * its domain in the spelling we serve it in when we serve it only in the
 * other; otherwise it is left as it is. Every lookup of an address of
 * ours (RCPT, the queue's local recipients, sender ownership) goes
 * through it first.
 */
void store_served_spelling(struct store *st, char *addr, size_t addrsz);
typedef void store_domain_cb(void *arg, const char *domain);
int store_domain_list(struct store *st, store_domain_cb *cb, void *arg);

/* ---- Accounts ---- */
/*
 * Creates an account: its domain must exist; hashes password with argon2id;
 * creates INBOX, Sent, Drafts, Trash, Junk, Archive with their roles.
 * quota is in bytes, 0 = unlimited. *id_r may be NULL.
 */
int store_account_add(struct store *st, const char *email, const char *password, uint64_t quota,
		      uint32_t *id_r, char *err, size_t errsz);
int store_account_passwd(struct store *st, const char *email, const char *password, char *err,
			 size_t errsz);
/* Deletes the account, its mailboxes, emails (dropping blob references), changes.
 * store_account_del_id also gives the removed account's id (for what
 * lies outside the store: its JMAP uploads, jmap_upload_drop_account). */
int store_account_del(struct store *st, const char *email, char *err, size_t errsz);
int store_account_del_id(struct store *st, const char *email, uint32_t *id_r, char *err,
			 size_t errsz);
int store_account_set_quota(struct store *st, const char *email, uint64_t quota, char *err,
			    size_t errsz);
/* Account id for an exact (lowercased) address. STORE_OK or STORE_ENOTFOUND. */
int store_account_id(struct store *st, const char *email, uint32_t *id_r);
/*
 * Verifies a password in constant time with respect to the stored hash; an
 * unknown account still costs one hash so timing does not reveal it.
 * Returns 1 valid, 0 invalid, STORE_ETEMP on error.
 */
int store_account_check_password(struct store *st, const char *email, const char *password);
/*
 * A mail protocol's login: the check of store_account_check_password(),
 * with the account's id and hash read in one transaction, and one of the
 * account's app passwords accepted too (its use recorded). An account
 * with two-factor sign-in on (store_totp) takes app passwords only: its
 * own password cannot carry a code. email may be in any case. Returns 1
 * when the password matches, with the id in *id_r, the credentials stamp
 * in *cred_r and the app password's id in *apppass_r (0: the account's
 * own password; any of the three may be NULL); 0 when not (an unknown
 * account costs the same); STORE_LOGIN_NOLOGIN when the password (or app
 * password) matches but the account's state forbids sign-in (nothing is
 * set, no app password use recorded): only who knows the password learns
 * the account is disabled; STORE_ETEMP on error.
 */
#define STORE_LOGIN_NOLOGIN 2
int store_account_login(struct store *st, const char *email, const char *password,
			uint32_t *id_r, uint64_t *cred_r, uint32_t *apppass_r);
/* The same with scope STORE_APPPASS_JMAP: only the account's JMAP bearer
 * tokens are checked (never its password or mail app passwords), 2FA or
 * not; *apppass_r gets the token's id. MAIL is store_account_login. */
int store_account_login_scoped(struct store *st, const char *email, const char *password,
			       int scope, uint32_t *id_r, uint64_t *cred_r, uint32_t *apppass_r);
/* The address of account id into email (size >= STORE_ADDR_MAX + 1):
 * STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_account_email(struct store *st, uint32_t id, char *email, size_t emailsz);
/* The id the account's next new mailbox will get: every mailbox id the
 * account ever had is below it. STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_account_next_mailbox_id(struct store *st, uint32_t id, uint32_t *next_r);
/*
 * Credentials stamps of n logins, read in one transaction: creds_r[i] is a
 * non-zero 64-bit digest of what account ids[i]'s login with app password
 * apppass[i] (0: its own password) rests on: the stored password hash and
 * the state, and the app password's existence or, for the account's own
 * password, whether two-factor sign-in is on. It changes with a password
 * change, a change of state, the app password's revocation, 2FA turned
 * on; not with a login's re-hash of the same password (SCHEMA.md,
 * stamp_src); it is 0 when the account no longer exists. apppass may be NULL (all
 * 0). Sessions compare it with the stamp their login got (auth/login.h).
 * STORE_OK or STORE_ETEMP.
 */
int store_account_creds(struct store *st, const uint32_t *ids, const uint32_t *apppass,
			uint64_t *creds_r, size_t n);
/*
 * What an account may do (schema 11). ACTIVE: signs in and receives mail.
 * NOLOGIN ("cannot sign in"): every sign-in fails (mail protocols, the
 * portal), mail still arrives. INACTIVE: no sign-in and mail to it is
 * refused (SMTP 550 5.2.1, STORE_RCPT_INACTIVE); its stored mail stays.
 */
enum store_account_state {
	STORE_ACCOUNT_ACTIVE = 0,
	STORE_ACCOUNT_NOLOGIN = 1,
	STORE_ACCOUNT_INACTIVE = 2,
};
/* "active", "cannot_sign_in", "inactive" (the API's and CLI's words);
 * store_account_state_parse: 0 with *st_r, -1 for another word. */
const char *store_account_state_name(enum store_account_state s);
int store_account_state_parse(const char *word, enum store_account_state *st_r);
/* Display name: UTF-8, at most this many octets, no control characters. */
#define STORE_DISPLAY_NAME_MAX 128
int store_display_name_valid(const char *name);

struct store_account_info {
	uint32_t id;
	const char *email;
	uint64_t quota;  /* 0 = unlimited */
	uint64_t used;   /* bytes of stored messages */
	uint32_t emails; /* number of emails */
	int disabled;    /* 1 when the state is not ACTIVE (no sign-in) */
	enum store_account_state state;
	const char *display_name; /* "" when none */
};
typedef void store_account_cb(void *arg, const struct store_account_info *info);
int store_account_list(struct store *st, store_account_cb *cb, void *arg);
/* How many accounts the store holds (one LMDB stat, no walk). */
int store_account_count(struct store *st, size_t *n_r);

/* ---- SCRAM keys (store_scram.c; auth/scram_login.h uses them) ---- */
/*
 * Each account's SCRAM-SHA-1 and SCRAM-SHA-256 keys (RFC 5803 form),
 * sealed by the caller, written by store_account_add and
 * store_account_passwd beside the password hash, or at the account's
 * next password login when it has none (a password set before).
 */
#define STORE_SCRAM_SEALED_MAX 600
/* What a SCRAM login rests on, read in one transaction. */
struct store_scram {
	uint32_t id;
	uint64_t cred;  /* the stamp a login with the account's password gets */
	int active;     /* the account may sign in (STORE_ACCOUNT_ACTIVE) */
	int totp;       /* two-factor sign-in is on: SCRAM cannot carry a code */
	char sealed[STORE_SCRAM_SEALED_MAX]; /* "" when the account has no keys yet */
};
/* Reads account email's record for hash which (enum scram_hash): STORE_OK,
 * STORE_ENOTFOUND (no such account, or one without a password),
 * STORE_ETEMP. */
int store_account_scram(struct store *st, const char *email, int which, struct store_scram *r);

/* ---- App passwords (store_apppass.c) ---- */
/*
 * Passwords for mail clients, per account: each has a name (unique in the
 * account, 1..STORE_APPPASS_NAME_MAX characters), a secret generated here
 * and shown once (STORE_APPPASS_SECRET_LEN characters, "xxxx-xxxx-xxxx-xxxx"),
 * kept only as an argon2id hash. store_account_login() accepts them in
 * place of the account password and records when each was last used.
 */
#define STORE_APPPASS_NAME_MAX 64
#define STORE_APPPASS_SECRET_LEN 19
#define STORE_APPPASS_MAX 32
int store_apppass_name_valid(const char *name);
/* Creates one; the secret (NUL-terminated) goes to secret. STORE_EEXIST
 * for a name in use, STORE_ELIMIT past STORE_APPPASS_MAX, STORE_ENOTFOUND
 * without the account. */
int store_apppass_add(struct store *st, uint32_t account, const char *name, char *secret,
                      size_t secretsz, char *err, size_t errsz);
/*
 * What a secret opens: MAIL, the app passwords above (IMAP, POP3,
 * submission, ManageSieve, JMAP's Basic); JMAP, a bearer token for the
 * JMAP endpoint only (Authorization: Bearer, api_jmap.c), never a mail
 * login. Both share the name space and the STORE_APPPASS_MAX of the
 * account. store_apppass_add is add_scoped with MAIL.
 */
enum store_apppass_scope { STORE_APPPASS_MAIL = 0, STORE_APPPASS_JMAP = 1 };
int store_apppass_add_scoped(struct store *st, uint32_t account, enum store_apppass_scope scope,
                             const char *name, char *secret, size_t secretsz, char *err,
                             size_t errsz);
/* Revokes the one named name, of any scope. STORE_ENOTFOUND when there is
 * none; _scoped only one of scope (enum store_apppass_scope; -1 any). */
int store_apppass_del(struct store *st, uint32_t account, const char *name, char *err,
                      size_t errsz);
int store_apppass_del_scoped(struct store *st, uint32_t account, int scope, const char *name,
                             char *err, size_t errsz);
struct store_apppass_info {
	uint32_t id;
	const char *name;
	int64_t created_at, last_used; /* seconds; last_used 0 = never */
	enum store_apppass_scope scope;
};
typedef void store_apppass_cb(void *arg, const struct store_apppass_info *info);
int store_apppass_list(struct store *st, uint32_t account, store_apppass_cb *cb, void *arg);

/* ---- Two-factor records (store_totp.c; auth/twofactor.h uses them) ---- */
/*
 * owner is an account id, or STORE_TOTP_ADMIN (0) for the web admin. The
 * secret is opaque text here (the caller seals it); last_step is the last
 * TOTP step accepted (RFC 6238: a code is refused a second time); each
 * recovery code is kept as a STORE_TOTP_HASH-byte hash, all zeros once
 * used. on is 0 while an enrolment waits for its first code.
 */
#define STORE_TOTP_ADMIN 0u
#define STORE_TOTP_RECOVERY 10
#define STORE_TOTP_HASH 16
#define STORE_TOTP_SECRET_MAX 256
struct store_totp {
	int on;
	uint64_t last_step;
	int64_t created_at;
	char secret[STORE_TOTP_SECRET_MAX];
	uint8_t recovery[STORE_TOTP_RECOVERY][STORE_TOTP_HASH];
};
/* Reads owner's record: STORE_OK, STORE_ENOTFOUND (none), STORE_ETEMP. */
int store_totp_get(struct store *st, uint32_t owner, struct store_totp *t_r);
/* Writes it whole: STORE_OK; STORE_ENOTFOUND (no such account);
 * STORE_EINVAL (empty secret); STORE_ETEMP. */
int store_totp_put(struct store *st, uint32_t owner, const struct store_totp *t);
/* Removes it (2FA off): STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_totp_del(struct store *st, uint32_t owner);
/* In one write transaction: when step is after the last accepted one,
 * records it and returns 1; else 0 (a replay, or no record); STORE_ETEMP. */
int store_totp_advance(struct store *st, uint32_t owner, uint64_t step);
/* In one write transaction: when hash is one of the unused recovery codes
 * of an enabled record, marks it used and returns 1; else 0; STORE_ETEMP. */
int store_totp_recovery_use(struct store *st, uint32_t owner,
			    const uint8_t hash[STORE_TOTP_HASH]);

/* ---- Aliases ---- */
/*
 * alias is "local@domain" or "@domain" (catch-all for that domain); target is
 * a full address: a local account, another alias (resolution follows up to
 * 8 levels), or an address outside our domains, to which the message is
 * forwarded (forward/forward.h). The alias's domain must be local. Several
 * targets per alias are allowed (one call per target), local and outside
 * mixed. STORE_EINVAL for a malformed alias ("invalid alias ...") or target
 * ("invalid target ..."), with the reason in err.
 */
int store_alias_add(struct store *st, const char *alias, const char *target, char *err,
		    size_t errsz);
/*
 * As store_alias_add, and a target in one of our domains must be exactly
 * an account's address or an alias (as delivery resolves a target: no
 * "+tag" stripped, no catch-all), else STORE_EINVAL ("invalid target
 * ...") and nothing is stored: mail to the alias would bounce. Checked
 * after the alias's own checks (STORE_ENOTFOUND, STORE_EEXIST). The API
 * adds aliases with it; the CLI with store_alias_add.
 */
int store_alias_add_known(struct store *st, const char *alias, const char *target, char *err,
			  size_t errsz);
/* target NULL removes every target of the alias. */
int store_alias_del(struct store *st, const char *alias, const char *target, char *err,
		    size_t errsz);
typedef void store_alias_cb(void *arg, const char *alias, const char *target);
int store_alias_list(struct store *st, store_alias_cb *cb, void *arg);

/* ---- Recipient resolution (read-only, any thread) ---- */
enum store_rcpt {
	STORE_RCPT_OK,           /* accounts filled */
	STORE_RCPT_NOT_LOCAL,    /* domain is not ours: relaying denied */
	STORE_RCPT_UNKNOWN,      /* local domain, no such user */
	STORE_RCPT_OVER_QUOTA,   /* every resolved account is over quota */
	STORE_RCPT_TEMPFAIL,     /* store error */
	STORE_RCPT_INACTIVE,     /* every account it names is inactive, no forward */
};
/*
 * Resolves an envelope address to local accounts: lowercases it; tries an
 * alias, then an account, on the full address (so a name that literally
 * contains '+' wins), then both again on "user" without the "+tag", then
 * the domain's catch-all "@domain". Alias targets chain up to 8 levels;
 * cycles and outside targets are dropped (store_resolve_forwards keeps
 * the latter). Writes up to max distinct
 * account ids to accounts_r and their count to *n_r (also for
 * STORE_RCPT_OVER_QUOTA). When only some accounts are over quota the
 * result is STORE_RCPT_OK with all of them (a soft limit for those).
 */
enum store_rcpt store_resolve_rcpt(struct store *st, const char *address, uint32_t *accounts_r,
				   size_t max, size_t *n_r);
/* The most accounts one address resolves to (more are left out, logged
 * event=resolve_truncated): a caller that delivers to all of them passes
 * a max this large, so that no account an accepted address names is
 * dropped unseen. */
#define STORE_RESOLVE_ACCOUNTS_MAX 256

/* Address limits (octets): RFC 5321 §4.5.3.1's local part and domain. */
#define STORE_LOCAL_MAX 64
#define STORE_DOMAIN_MAX 253
#define STORE_ADDR_MAX (STORE_LOCAL_MAX + 1 + STORE_DOMAIN_MAX)

/* One outside target reached while resolving: where to forward, and the
 * alias (lowercased, as stored) whose target it is. */
struct store_forward {
	char addr[STORE_ADDR_MAX + 1];
	char alias[STORE_ADDR_MAX + 1];
};
/*
 * As store_resolve_rcpt, and also collects the outside targets of the
 * aliases reached (each address once, at most fmax; *nf_r their count).
 * STORE_RCPT_OK when there is an account or a forward (*n_r may be 0);
 * STORE_RCPT_OVER_QUOTA only when every account is full and nothing is
 * forwarded. store_resolve_rcpt is this without forwards: an address that
 * only forwards is STORE_RCPT_UNKNOWN to it.
 */
enum store_rcpt store_resolve_forwards(struct store *st, const char *address, uint32_t *accounts_r,
				       size_t max, size_t *n_r, struct store_forward *fwd_r,
				       size_t fmax, size_t *nf_r);

/* ---- An account's forwarding (store_forward.c) ---- */
/*
 * Where mail for the account is also (keep 1) or only (keep 0) sent: up
 * to STORE_FORWARD_MAX addresses outside our domains, lowercased. Port 25
 * delivery reaches them through store_resolve_forwards, as outside alias
 * targets named by the account's address (SRS, ARC and the forward rate
 * as for aliases); callers that cannot forward (store_resolve_rcpt)
 * deliver locally as before. n 0 = no forwarding.
 */
#define STORE_FORWARD_MAX 4
struct store_account_forward {
	int keep;
	size_t n;
	char to[STORE_FORWARD_MAX][STORE_ADDR_MAX + 1];
};
/* The account's record into f_r (n 0 when none): STORE_OK, STORE_ETEMP. */
int store_account_forward_get(struct store *st, uint32_t id, struct store_account_forward *f_r);
/* Replaces it (n 0 removes it). Each address is validated and
 * lowercased, duplicates dropped. STORE_EINVAL with the reason in err
 * (a bad address, one at our own domains, too many); STORE_ENOTFOUND (no
 * such account); STORE_ETEMP. */
int store_account_forward_set(struct store *st, uint32_t id, const struct store_account_forward *f,
			      char *err, size_t errsz);

/* ---- An account's encryption at rest (store_crypt.c) ---- */
/*
 * The public key mail to the account is encrypted to before it is stored
 * (crypt/crypt_rest.h): method 1 OpenPGP, 2 S/MIME (0: none), the AES key
 * size, when it was set, whether the user's own appends are sealed too,
 * and the key as the user gave it (armored or
 * PEM text, or binary), at most STORE_ENCRYPT_KEY_MAX octets. The store
 * does not read the key: callers check it with crypt_key_load() first.
 */
#define STORE_ENCRYPT_KEY_MAX (512 * 1024)
struct store_encrypt {
	int method;
	int aes_bits;
	int64_t set_at;
	int on_append; /* also what the user stores (IMAP APPEND, JMAP) */
	char *key; /* malloc'd by _get, NUL after keylen; the caller's for _set */
	size_t keylen;
};
/* Into e_r (method 0 when none; free with store_encrypt_free):
 * STORE_OK, STORE_ETEMP. */
int store_account_encrypt_get(struct store *st, uint32_t id, struct store_encrypt *e_r);
/* Replaces it (method 0 removes it): STORE_OK, STORE_ENOTFOUND (no such
 * account), STORE_EINVAL, STORE_ETEMP. */
int store_account_encrypt_set(struct store *st, uint32_t id, const struct store_encrypt *e);
void store_encrypt_free(struct store_encrypt *e);

/* ---- Delivery (group commit through the writer thread) ---- */
/* Content id of a blob: BLAKE2b-256 of its bytes (see store_blob.c). */
void store_blob_id(const void *data, size_t len, uint8_t id_r[32]);

/*
 * Where one account's copy of a delivery goes: the account's mailbox with
 * role (STORE_TARGET_INBOX, STORE_TARGET_JUNK; an account without a
 * mailbox of that role, one whose user deleted Junk, gets it in its
 * INBOX) and keywords (space-separated, any case, NULL = none; a bad
 * keyword is left out, never the copy). mailbox, when not NULL, names
 * the account's mailbox instead of role (Sieve fileinto), looked up in
 * the delivery's write transaction; with create set a missing one (and
 * its parents) is created there, under IMAP CREATE's rules and limits
 * (TERN_MAX_MAILBOXES, TERN_MAX_MAILBOX_NAME), so it commits with the
 * copy. A mailbox missing without create, or that cannot be created,
 * gets the copy in the INBOX, logged (event=fileinto_fallback): RFC 5228
 * §4.1's error handling, mail is never lost.
 */
enum store_target_role { STORE_TARGET_INBOX = 0, STORE_TARGET_JUNK = 1 };
/*
 * A copy's own bytes (Sieve editheader, replace, enclose: one account's
 * edited message), stored as a blob of their own instead of the
 * delivery's; fields as store_delivery's data, len, blob_id, meta.
 */
struct store_bytes {
	const char *data;
	size_t len;
	uint8_t blob_id[32];
	const void *meta;
	size_t metalen;
};

/*
 * Where one copy of a delivery goes. Each copy is an email of its own
 * (its flags are its own, as an IMAP COPY's), in the order given; copies
 * for the same account with the same bytes (bytes equal, NULL included)
 * and the same keywords share one blob (a reference each) and show the
 * first one's IMAP EMAILID, and a second such copy into a mailbox one
 * went to already is dropped.
 */
struct store_target {
	enum store_target_role role;
	const char *keywords;
	const char *mailbox; /* NULL: by role */
	int create;
	const struct store_bytes *bytes; /* NULL: the delivery's data */
};

struct store_seen;

struct store_delivery {
	/* Input, owned by the caller until done() runs. */
	const char *data; /* the whole message as stored (with Return-Path/Received) */
	size_t len;
	uint8_t blob_id[32];   /* store_blob_id(data), computed by the caller */
	const void *meta;      /* cached MIME structure (mime/mime_cache.h record), may be NULL */
	size_t metalen;
	const uint32_t *accounts; /* deliver one copy into each account's INBOX */
	size_t naccounts;
	/* Optional, parallel to accounts: where each copy goes instead of the
	 * INBOX, and its keywords (deliver/deliver.h builds these). NULL: all
	 * to INBOX without keywords. */
	const struct store_target *targets;
	/* Optional, parallel to accounts: the SMTP envelope that led to each
	 * account (MAIL FROM and the RCPT TO lines with their DSN
	 * parameters, as text), kept with the email. May be NULL. */
	const char *const *envelopes;
	/* Optional (port 25, the spam filter ran): the reputation subjects
	 * the filter saw for this message (app/spam/spam_rep.h: the client
	 * network's key, '\n', the sender domain's key; either may be
	 * empty), kept with each email created (meta spamfrom/, SCHEMA.md)
	 * so that a user's Junk move corrects what tern saw, never fields a
	 * client could write. Its presence also marks the email as one tern
	 * received itself (spam_learn.h: only those vote for the global
	 * model). NULL: none (APPEND, imports, submission, notices). */
	const char *spam_from;
	int64_t received_at; /* seconds since the epoch */
	/* The zone received_at was given in, minutes east of UTC (IMAP
	 * APPEND's date-time; -5999..5999): IMAP shows the internal date in
	 * it and SEARCH BEFORE/ON/SINCE take its day there. 0: +0000 (every
	 * other writer). */
	int16_t received_zone;
	/*
	 * 1: check the accounts' quotas again in the commit (port 25). The
	 * message is refused, with nothing written and txn_hook not run, when
	 * none of its accounts can take it: STORE_EQUOTA, or STORE_ETOOBIG
	 * when it is larger than their whole quota. When some can, all get
	 * it (RCPT's rule: full ones go over a little). Also the queue's
	 * delivery of a local recipient that waited for room (QUEUE_QUOTA).
	 * 0: no check here (notices and local copies of submitted mail that
	 * fitted when looked at, queue.h; soft like aliases).
	 */
	int quota_check;

	/* Output, valid in done(). */
	int result; /* STORE_OK, STORE_ETEMP (retry), STORE_EINVAL, STORE_EQUOTA,
	             * STORE_ETOOBIG (quota_check), STORE_EFULL (storage full) */
	uint32_t *email_ids;       /* optional, caller-provided, naccounts entries (also for
	                            * an append to a mailbox: each message of the chain its own) */

	/* Completion: runs on loop via loop_post after commit (or failure). */
	struct loop *loop;
	void (*done)(struct store_delivery *d, void *arg);
	void *arg;
	/*
	 * Optional, with done: runs once, before done and the same way (on
	 * loop, with arg), as soon as the request's transaction is
	 * committed with result STORE_OK, before the flush that makes it
	 * durable (store_writer.c, "One flush per commit"). The change is
	 * then in the file: a killed process (kill -9) keeps it, the kernel
	 * holds the pages, but a power cut may not. Not run for a request
	 * that failed. done still comes after the flush, and may still say
	 * STORE_ETEMP (the flush failed): what promises delivery (an SMTP
	 * 250) waits for done. Until done, the writer still writes d's
	 * outputs: applied reads none of them.
	 */
	void (*applied)(struct store_delivery *d, void *arg);

	/*
	 * Optional: runs in the same write transaction right after the
	 * copies above (txn is the MDB_txn *), e.g. the outbound queue adding
	 * or updating its entry (store/store_queue.h). It may run more than
	 * once (a map growth retries the whole batch) and must derive what it
	 * writes from its inputs only. Returns 0, or an LMDB error that fails
	 * the whole batch (every request then gets STORE_ETEMP). A request
	 * with no accounts and a hook touches nothing but what the hook does.
	 */
	int (*txn_hook)(struct store *st, void *txn, struct store_delivery *d);
	void *hook_arg;
	/*
	 * Optional, with txn_hook: runs first in the request's part of the
	 * transaction, before anything of it is written. Returns 1 when the
	 * request is in the store already (a retry of one whose commit went
	 * in but whose flush failed, so it was answered STORE_ETEMP): the
	 * request then writes nothing, its copies included, and gets
	 * STORE_OK. 0 goes on; an LMDB error fails the batch as txn_hook's.
	 */
	int (*txn_once)(struct store *st, void *txn, struct store_delivery *d);
	/* Bytes of new mail the hook stores (a message entering the outbound
	 * queue), for the floor kept for deletions: when there is no room
	 * for them the request gets STORE_EFULL and the hook does not run.
	 * 0 for a hook that only updates. */
	size_t hook_len;
	/* 1: never refused for room, and may use the reserve as deletions
	 * do: for a hook whose write must not be lost (the queue recording
	 * an attempt's outcome, with a small notice to a local sender: left
	 * unrecorded, a message sent would be sent again). */
	int keep_always;
	/* Optional: Sieve's memory entries (vacation's replied-to senders,
	 * duplicate's ids; store_sieve_seen_put) the delivery records, in
	 * the same transaction, when it stores the message (an SMTP
	 * delivery: not when it is refused), instead of a commit and flush
	 * of their own after it. */
	const struct store_seen *seen;
	size_t nseen;

	/*
	 * IMAP APPEND (optional; all zero for an SMTP delivery). With mailbox
	 * set, naccounts must be 1 and the message goes into that mailbox of
	 * the account instead of its INBOX, with keywords (space-separated,
	 * any case; NULL = none). The quota is enforced: a message that
	 * would take the account past it gets STORE_EQUOTA. also chains
	 * further messages (MULTIAPPEND) for the same account and mailbox:
	 * the head and its chain are stored in one transaction or not at all
	 * (result, on the head only: STORE_ENOTFOUND for a missing mailbox,
	 * STORE_EQUOTA, STORE_EINVAL for a bad keyword). Only the head's
	 * done() runs. Output per message: uidvalidity_r, uid_r.
	 */
	uint32_t mailbox;
	const char *keywords;
	struct store_delivery *also;
	uint32_t uidvalidity_r, uid_r;
	/*
	 * tern import and migrate (with mailbox set; store_mailbox_uids_keep
	 * first): the UID the message keeps from its source, at least the
	 * mailbox's UIDNEXT and above the UIDs kept by the messages before it
	 * in the chain; UIDNEXT then goes past it. A UID that is not gets
	 * STORE_EEXIST on the head and nothing is written, one past
	 * STORE_UID_KEEP_MAX STORE_EINVAL. 0: the next UID, as APPEND gives.
	 */
	uint32_t uid;
	/*
	 * IMAP REPLACE (RFC 8508; optional, with mailbox set and no also):
	 * with replace_uid set, message replace_uid of replace_mailbox of the
	 * same account is expunged in the same write transaction as the
	 * append, so that a crash leaves either the old message or the new
	 * one, never both or neither. replace_uidvalidity must match that
	 * mailbox's UIDVALIDITY and the message must still be there,
	 * otherwise nothing is written and the head gets STORE_ENOTFOUND
	 * with replace_gone_r set to 1 (0 when the target mailbox is the
	 * missing one). The quota is checked as for APPEND (the old
	 * message still counts). replace_account, when not 0, is the
	 * account holding replace_mailbox if not the delivery's (a REPLACE
	 * into or out of a mailbox shared with the user, imap_acl.h): the
	 * expunge is there, in the same transaction, and published to it.
	 */
	uint32_t replace_mailbox, replace_uidvalidity, replace_uid, replace_account;
	int replace_gone_r;

	struct store_delivery *next_; /* private: writer queue link */
	uint64_t queued_us_;          /* private: when store_deliver queued it for the writer (metrics) */
	struct store *st_;            /* private: counted in store_inflight until done ran */
};
/*
 * Queues d for the writer thread. Thread-safe. The blob is stored once
 * however many accounts and deliveries share it. done() is always called
 * exactly once; with loop NULL it runs on the writer thread. Without
 * STORE_SERVER the delivery is made synchronously before this returns.
 * An account deleted since resolution is skipped (its email_ids entry 0);
 * a malformed request, or a blob_id already stored with another length,
 * gets STORE_EINVAL.
 */
void store_deliver(struct store *st, struct store_delivery *d);
/* Requests given to store_deliver with a loop whose done has not yet run
 * there: shutdown waits for none before it stops the loops, so no
 * completion is posted to a stopped loop and lost with its memory. */
unsigned store_inflight(struct store *st);
/*
 * Synchronous delivery in the calling thread's own write transaction (CLI,
 * tests, a store opened without STORE_SERVER). Returns STORE_OK or an error;
 * fills d->email_ids when set. done/loop are ignored.
 */
int store_deliver_sync(struct store *st, struct store_delivery *d);

/* ---- Mailbox access control lists (store_acl.c; RFC 4314) ---- */
/* Rights, one bit each in RFC 4314 §2.1's order of letters "lrswipkxtea". */
#define STORE_ACL_L (1u << 0)  /* lookup: the mailbox is visible (LIST) */
#define STORE_ACL_R (1u << 1)  /* read: SELECT, EXAMINE, STATUS, FETCH, SEARCH */
#define STORE_ACL_S (1u << 2)  /* keep \Seen */
#define STORE_ACL_W (1u << 3)  /* write flags other than \Seen and \Deleted */
#define STORE_ACL_I (1u << 4)  /* insert: APPEND, COPY/MOVE into */
#define STORE_ACL_P (1u << 5)  /* post (advisory: no submission address) */
#define STORE_ACL_K (1u << 6)  /* create mailboxes under it */
#define STORE_ACL_X (1u << 7)  /* delete (or rename) the mailbox */
#define STORE_ACL_T (1u << 8)  /* set or clear \Deleted */
#define STORE_ACL_E (1u << 9)  /* expunge */
#define STORE_ACL_A (1u << 10) /* administer: SETACL, DELETEACL, GETACL, LISTRIGHTS */
#define STORE_ACL_ALL 0x7ffu
/* RFC 4314 §2.1.1's obsolete letters: "c" stands for k, "d" for x, t
 * and e (the rights RFC 2086's create and delete were split into; the
 * RIGHTS=texk capability). */
#define STORE_ACL_CREATE_OLD STORE_ACL_K
#define STORE_ACL_DELETE_OLD (STORE_ACL_X | STORE_ACL_T | STORE_ACL_E)
/* Rights letters (len octets, "c" and "d" taken as above) into *rights_r:
 * STORE_OK, or STORE_EINVAL for a letter that is no right. */
int store_acl_rights_parse(const char *text, size_t len, uint32_t *rights_r);
/* A grant's change as SETACL writes it (RFC 4314 §3.1): "+letters" adds
 * (*mode_r STORE_ACL_ADD), "-letters" takes away (STORE_ACL_REMOVE),
 * plain letters replace (STORE_ACL_REPLACE; "" removes the grant). The
 * letters as store_acl_rights_parse reads them: STORE_OK or STORE_EINVAL. */
int store_acl_change_parse(const char *text, size_t len, int *mode_r, uint32_t *rights_r);
/* An ACL identifier into a grantee: "anyone" (any case) is
 * STORE_ACL_ANYONE, else an account's address (an alias is none: a grant
 * names one account). STORE_OK, STORE_ENOTFOUND or STORE_ETEMP. */
int store_acl_identifier(struct store *st, const char *text, uint32_t *grantee_r);
/* The letters of rights into out (NUL-terminated; 14 octets hold all),
 * "c" and "d" added when one of their members is there (RFC 4314
 * §2.1.1). Returns the length. */
size_t store_acl_rights_format(uint32_t rights, char *out, size_t outsz);
/*
 * What account may do with mailbox (owner, mailbox): every right for the
 * owner (no store read), else the union of the account's grant and
 * anyone's. No right at all means: for this account, no such mailbox.
 * STORE_OK or STORE_ETEMP (*rights_r 0).
 */
int store_mailbox_rights(struct store *st, uint32_t account, uint32_t owner, uint32_t mailbox,
			 uint32_t *rights_r);
/* Grantee 0 is "anyone": every account of this server. */
#define STORE_ACL_ANYONE 0u
/*
 * Gives grantee exactly rights on the owner's mailbox (0 removes the
 * grant). STORE_OK; STORE_ENOTFOUND when the mailbox or the grantee
 * account does not exist; STORE_EINVAL when grantee is the owner (its
 * rights are implicit and cannot change) or rights has unknown bits.
 * A grant whose rights change writes a Mailbox update of the mailbox in
 * the owner's change log at a new modseq (STORE_CHANGE_GRANT below).
 */
int store_acl_set(struct store *st, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		  uint32_t rights);
/* The same as a change of grantee's grant (SETACL's "+" and "-", RFC
 * 4314 §3.1), read and written in one transaction: mode STORE_ACL_ADD
 * adds rights, STORE_ACL_REMOVE takes them away, STORE_ACL_REPLACE is
 * store_acl_set. *now_r (may be NULL) gets the grant's rights after. */
#define STORE_ACL_REPLACE 0
#define STORE_ACL_ADD 1
#define STORE_ACL_REMOVE 2
int store_acl_modify(struct store *st, uint32_t owner, uint32_t mailbox, uint32_t grantee,
		     int mode, uint32_t rights, uint32_t *now_r);
typedef void store_acl_cb(void *arg, uint32_t owner, uint32_t mailbox, uint32_t grantee,
			  uint32_t rights);
/* The grants on one mailbox, by grantee (anyone first), or with mailbox
 * 0 on every mailbox of owner, by mailbox: STORE_OK or STORE_ETEMP. */
int store_acl_list(struct store *st, uint32_t owner, uint32_t mailbox, store_acl_cb *cb,
		   void *arg);
/* The access control list as RFC 4314 GETACL shows it (IMAP GETACL and
 * `tern acl list` alike): store_acl_list's grants, each mailbox's led by
 * its owner with its implicit rights (grantee owner, STORE_ACL_ALL;
 * RFC 4314 §2). With mailbox 0 only the mailboxes that have a grant. */
int store_acl_entries(struct store *st, uint32_t owner, uint32_t mailbox, store_acl_cb *cb,
		      void *arg);
/* The other accounts' mailboxes account holds a right on, by (owner,
 * mailbox), each once with its rights (its grant and anyone's together;
 * grantee is account): STORE_OK, STORE_EINVAL for account 0, STORE_ETEMP. */
int store_acl_shared_with(struct store *st, uint32_t account, store_acl_cb *cb, void *arg);
/* store_acl_modify with the account that made the change named (by; 0:
 * an administrator, not an account): the grantee's share notification
 * names it (store_sharenote.c). store_acl_modify names the owner. */
int store_acl_modify_by(struct store *st, uint32_t by, uint32_t owner, uint32_t mailbox,
			uint32_t grantee, int mode, uint32_t rights, uint32_t *now_r);

/*
 * ---- Share notifications (store_sharenote.c; JMAP's ShareNotification,
 * RFC 9670 §5) ----
 * One per change of a grant given to an account, whoever made it; at
 * most STORE_SHARENOTE_MAX per account, the oldest dropped first.
 */
#define STORE_SHARENOTE_MAX 100
struct store_sharenote {
	uint64_t seq;        /* the notification's number in its account, from 1 */
	int64_t created;     /* Unix seconds */
	uint32_t changed_by; /* the account that changed it, 0: an administrator */
	uint32_t owner, mailbox;
	uint32_t old_rights, new_rights; /* STORE_ACL_* */
	const char *name;    /* the mailbox's full name then (valid in the callback) */
};
typedef void store_sharenote_cb(void *arg, const struct store_sharenote *n);
/* account's notifications, oldest first. STORE_OK or STORE_ETEMP. */
int store_sharenote_list(struct store *st, uint32_t account, store_sharenote_cb *cb, void *arg);
/* Removes one: STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_sharenote_del(struct store *st, uint32_t account, uint64_t seq);
/* Removes account's notifications about owner's mailbox, the one it has
 * just subscribed to (RFC 9670 §5), and tells account's change feed
 * when there were some: STORE_OK (none is OK too), STORE_ETEMP. */
int store_sharenote_drop_about(struct store *st, uint32_t account, uint32_t owner,
			       uint32_t mailbox);

/* ---- Change feed ---- */
/*
 * A subscription for one account's changes. After each commit that changed
 * the account, cb(arg, account, modseq) runs on loop (via loop_post). The
 * struct is owned by the caller and must stay put while subscribed.
 * store_unsubscribe(), called on the subscriber's loop thread, guarantees cb
 * does not run afterwards.
 */
struct store_sub {
	uint32_t account;
	struct loop *loop;
	void (*cb)(void *arg, uint32_t account, uint64_t modseq);
	void *arg;
	/* private */
	uint64_t gen_;
	struct store_sub *next_;
};
void store_subscribe(struct store *st, struct store_sub *sub); /* loop, cb required */
void store_unsubscribe(struct store *st, struct store_sub *sub);
/* Tells subscribers of account about a commit made outside the writer
 * (synchronous writes such as expunge, JMAP objects kept in meta). Call
 * after the commit returned; modseq is the account's now. */
void store_publish_change(struct store *st, uint32_t account, uint64_t modseq);
/* The modseq store_publish_change tells for an account that was removed
 * (store_account_del, store_xchg_poll). Not 0: an account that exists but
 * has made no change yet is told with 0 (a grant to it, acl_publish_grant),
 * and its sessions must not take that for its removal. */
#define STORE_MODSEQ_GONE UINT64_MAX
/* The server, once a second: publishes the accounts another process
 * (a `tern` command) changed since the last call (store_xchg.c).
 * Returns how many, or -1 when the store could not be read. */
int store_xchg_poll(struct store *st);

/*
 * ---- Reading mail ----
 * Callbacks run inside a read transaction: they may call other read
 * functions of the store, never a writing one.
 */
/*
 * The first level of the other users' namespace (IMAP's shared mailboxes,
 * imap_acl.h: "Shared/OWNER/NAME"). No own mailbox is named so or under
 * it: a new name there is STORE_EINVAL, and the schema 17 migration gave
 * older ones a free name ("Shared (personal)").
 */
#define STORE_SHARED_ROOT "Shared"
/* Mailbox id by name ("INBOX" case-insensitive, others exact). */
int store_mailbox_find(struct store *st, uint32_t account, const char *name, uint32_t *mailbox_r);
/* Whether store_mailbox_create could make a mailbox of that name (were it
 * not there yet): STORE_OK, STORE_ETOOBIG past the name limit, STORE_EINVAL
 * for a name no mailbox can have. Lets APPEND, COPY and MOVE tell a client
 * to CREATE only a name it can (RFC 9051 §6.3.12, §6.4.7 TRYCREATE). */
int store_mailbox_name_creatable(struct store *st, const char *name);
/*
 * IMAP \Recent of a mailbox, read only: its first recent uid and its
 * uidnext (no recent message when they are equal; see
 * store_mailbox_claim_recent_async()). STORE_OK, STORE_ENOTFOUND or
 * STORE_ETEMP.
 */
int store_mailbox_recent(struct store *st, uint32_t account, uint32_t mailbox,
			 uint32_t *first_r, uint32_t *uidnext_r);
/*
 * As store_mailbox_recent(), and the messages from *first_r to *uidnext_r
 * become the caller's: the read and the note of the claim are one step
 * for every loop thread, so two sessions told of the same new message at
 * once do not both show it \Recent. The caller then makes the claim
 * lasting with store_mailbox_claim_recent_async(claim 1, upto *uidnext_r).
 * Caveat: with more than STORE_RECENT_CLAIMS mailboxes being claimed at
 * once the note may not be kept, and the old race is back for them.
 */
int store_mailbox_recent_take(struct store *st, uint32_t account, uint32_t mailbox,
			      uint32_t *first_r, uint32_t *uidnext_r);
struct store_mailbox_info {
	uint32_t id;
	const char *name;
	const char *role; /* "inbox", "sent", ... or "" */
	uint32_t uidvalidity, uidnext;
	uint64_t highest_modseq;
	uint32_t messages;
	uint32_t parent; /* mailbox id, 0 = top level */
	int subscribed;  /* 0/1: its name is subscribed */
	uint32_t first_recent; /* IMAP \Recent: messages with uid >= this one
	                        * arrived since a session last claimed them */
	/* RFC 8621 §2's counts, kept by the writer (store_counts.c): distinct
	 * emails, those with neither $seen nor $draft, threads, unread threads. */
	uint32_t total_emails, unread_emails, total_threads, unread_threads;
	uint32_t sort_order; /* JMAP's sortOrder (store_mailbox_sort_order()) */
};
typedef void store_mailbox_cb(void *arg, const struct store_mailbox_info *info);
int store_mailbox_list(struct store *st, uint32_t account, store_mailbox_cb *cb, void *arg);
/* As store_mailbox_list() for the one mailbox: cb is called once, or
 * STORE_ENOTFOUND (no such mailbox, or account). A lookup, not a walk of
 * the account's mailboxes (STATUS asks for each of thousands). */
int store_mailbox_get(struct store *st, uint32_t account, uint32_t mailbox, store_mailbox_cb *cb,
		      void *arg);
struct store_email_info {
	uint32_t email_id;
	uint32_t object_id; /* IMAP EMAILID (RFC 8474): email_id, or for an IMAP
	                     * COPY's copy the EMAILID of the email it was made from */
	uint32_t uid;
	int64_t received_at;
	int16_t zone; /* received_at's zone, minutes east of UTC (store_delivery) */
	uint64_t size;
	const void *meta; /* as given at delivery; valid during the callback */
	size_t metalen;
	uint8_t blob_id[32];
	/* Keywords of the email, space-separated ("$seen $flagged $Forwarded"),
	 * not NUL-terminated; valid during the callback. Never "$deleted":
	 * that one is the membership's (deleted below). */
	const char *keywords;
	size_t keywords_len;
	uint64_t modseq; /* the email's last change (CONDSTORE MODSEQ) */
	uint32_t thread_id; /* IMAP THREADID (OBJECTID) */
	int64_t saved_at;   /* when it entered this mailbox (IMAP SAVEDATE): the
	                     * uid entry's date, else received_at */
	int deleted;        /* IMAP \Deleted in this mailbox: per membership, so
	                     * that EXPUNGE here never removes a copy elsewhere */	uint16_t nmembers;  /* the email's memberships, this one included (IMAP
	                     * COPY adds one): its bytes go only with the last */
};
typedef void store_email_cb(void *arg, const struct store_email_info *info);
/* Emails of a mailbox in UID order. */
int store_email_list(struct store *st, uint32_t account, uint32_t mailbox, store_email_cb *cb,
		     void *arg);
/*
 * Calls cb with the raw bytes of an email (valid only during the callback:
 * they point into the map). STORE_ENOTFOUND when there is no such email.
 */
typedef void store_raw_cb(void *arg, const char *data, size_t len);
int store_email_raw(struct store *st, uint32_t account, uint32_t email_id, store_raw_cb *cb,
		    void *arg);
/*
 * Calls cb with an email's cached meta record (as given at delivery, may be
 * NULL with length 0) and its raw bytes, both from one read transaction and
 * valid only during the callback. STORE_ENOTFOUND when there is no such
 * email.
 */
typedef void store_content_cb(void *arg, const void *meta, size_t metalen, const char *data,
			      size_t len);
int store_email_content(struct store *st, uint32_t account, uint32_t email_id,
			store_content_cb *cb, void *arg);
/*
 * A stream's hold on an email's bytes (store_hold.c): once taken they stay
 * readable through the hold until it is released, even if the email is
 * expunged or its account deleted meanwhile. For a message sent in chunks
 * (FETCH, RETR), each chunk read in its own transaction.
 */
struct store_hold {
	uint64_t seq;      /* the bytes' key in blobdata (0: a schema 1 blob) */
	uint8_t id[32];
	int held;
};
/* store_email_content() (cb may be NULL) that also takes a hold on the
 * email's bytes (h NULL: none, which is store_email_content()). On any
 * result but STORE_OK nothing is held. */
int store_email_hold(struct store *st, uint32_t account, uint32_t email_id,
                     store_content_cb *cb, void *arg, struct store_hold *h);
/* Calls cb with the held bytes (valid during the callback). STORE_ETEMP, or
 * STORE_ENOTFOUND for a schema 1 blob freed meanwhile. */
int store_hold_read(struct store *st, const struct store_hold *h, store_raw_cb *cb, void *arg);
/* Releases a hold (no-op when none is held). */
void store_hold_release(struct store *st, struct store_hold *h);
/* The SMTP envelope kept with an email at delivery; STORE_ENOTFOUND when none. */
int store_email_envelope(struct store *st, uint32_t account, uint32_t email_id, store_raw_cb *cb,
			 void *arg);
/*
 * ---- A session's snapshot of a mailbox (store_view.c) ----
 * The state read with it, from the same read transaction: the account's
 * modseq and the mailbox record's counters.
 */
struct store_view_state {
	uint64_t account_modseq;
	uint32_t uidvalidity, uidnext, messages;
	uint64_t highest_modseq;
};
/*
 * Emails of mailbox in UID order to cb (as store_email_list()), with the
 * state above. STORE_OK, STORE_ENOTFOUND (no account or mailbox),
 * STORE_ETEMP.
 */
int store_mailbox_snapshot(struct store *st, uint32_t account, uint32_t mailbox,
			   struct store_view_state *vs, store_email_cb *cb, void *arg);
/*
 * What changed in mailbox after the account's modseq since, from the
 * change log: every membership of mailbox that a change above since
 * names, or that holds an email changed in another mailbox, goes to cb
 * with its current email when the UID is in the mailbox, else to gone.
 * A UID may be reported more than once, always in the same state, and in
 * no particular order. With the state above (nothing is reported when
 * vs->account_modseq is since). STORE_OK; STORE_ENOTFOUND (no account or
 * mailbox); STORE_EEXIST when more than max UIDs would be reported, or
 * more than 16 x max change entries read (read the whole mailbox
 * instead; cb and gone may have been called);
 * STORE_ETEMP.
 */
typedef void store_gone_cb(void *arg, uint32_t uid);
int store_mailbox_delta(struct store *st, uint32_t account, uint32_t mailbox, uint64_t since,
			size_t max, struct store_view_state *vs, store_email_cb *cb,
			store_gone_cb *gone, void *arg);
/*
 * store_email_content() for the emails ids[0..n) in one read transaction:
 * cb(arg, i, ...) for each ids[i] in order, with data valid during the
 * call only; an email that no longer exists is skipped. With mcb, each
 * email's meta is given to mcb(arg, i, meta, metalen) first, and when it
 * returns 1 (done with the meta alone) the bytes are not read and cb is
 * not called. For a command that reads many messages (IMAP SEARCH on
 * text). STORE_OK, STORE_ETEMP (the callbacks may have run for some).
 */
typedef int store_meta_first_cb(void *arg, size_t i, const void *meta, size_t metalen);
typedef void store_contents_cb(void *arg, size_t i, const void *meta, size_t metalen,
			       const char *data, size_t len);
int store_emails_content(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
			 store_meta_first_cb *mcb, store_contents_cb *cb, void *arg);
/* ---- The full-text index (store_fts.c; search/fts.h) ---- */
struct fts_cond;
/* Through which email id the account is indexed (0: nothing yet), and
 * how many emails were indexed (UINT32_MAX: an index made from text
 * read another way, by an older tern, that must be dropped). STORE_OK
 * or STORE_ETEMP. */
int store_fts_state(struct store *st, uint32_t account, uint32_t *through, uint32_t *docs);
/*
 * The account's emails after id after, ascending, into ids[0..max), their
 * number in *n_r, and in *upto_r how far the index may say it is once
 * they are in: the last of them when max were found, else the highest id
 * the account has given out. STORE_OK, STORE_ENOTFOUND (no account),
 * STORE_EINVAL (max 0), STORE_ETEMP.
 */
int store_fts_todo(struct store *st, uint32_t account, uint32_t after, uint32_t *ids, size_t max,
		   size_t *n_r, uint32_t *upto_r);
/* One posting: term[0..len) occurs in email id. */
struct store_fts_post {
	const char *term;
	uint32_t len;
	uint32_t id;
};
/*
 * Adds postings v[0..n) (sorted by term, then id; ids above expect) and
 * moves the account's index from through expect to through, docs more
 * emails, in the writer's next batch. STORE_EEXIST when the index is no
 * longer through expect (dropped meanwhile), STORE_ENOTFOUND (no
 * account), STORE_EINVAL (a term of 0 or more than FTS_TERM_MAX octets;
 * a repeated posting is kept once), STORE_EFULL (the disk is down to
 * what is kept for deletions and new mail), STORE_ETEMP.
 */
int store_fts_apply(struct store *st, uint32_t account, uint32_t expect, uint32_t through,
		    uint32_t docs, const struct store_fts_post *v, size_t n);
/* Deletes the account's index (it starts again from nothing). */
int store_fts_drop(struct store *st, uint32_t account);
/*
 * The emails that may meet all of c[0..nc) (fts_plan): a bitmap by email
 * id in *bits_r (malloc'ed, ids 0..*through_r; an id above *through_r is
 * not indexed yet and may match). *bits_r NULL: the index narrows
 * nothing (no conditions, nothing indexed, or conditions too wide).
 * STORE_OK or STORE_ETEMP.
 */
int store_fts_candidates(struct store *st, uint32_t account, const struct fts_cond *c, size_t nc,
			 uint64_t **bits_r, uint32_t *through_r);

/* ---- For JMAP (store_jmap.c) ---- */
/* One entry of the change log (SCHEMA.md, "change record"). */
#define STORE_CHANGE_EMAIL_CREATED 1
#define STORE_CHANGE_EMAIL_UPDATED 2
#define STORE_CHANGE_EMAIL_DESTROYED 3
#define STORE_CHANGE_MAILBOX_CREATED 4
#define STORE_CHANGE_MAILBOX_UPDATED 5
/* The thread (id) of the email (uid) an EMAIL_DESTROYED entry just before
 * it named; mailbox 0. Records written before it have none. */
#define STORE_CHANGE_EMAIL_THREAD 7
/* The record's keyword changes moved no mailbox count (id 0). */
#define STORE_CHANGE_EMAIL_QUIET 8
#define STORE_CHANGE_MAILBOX_DESTROYED 6
struct store_change {
	uint64_t modseq;
	unsigned kind;        /* STORE_CHANGE_* */
	uint32_t id;          /* email or mailbox id */
	uint32_t mailbox, uid; /* email kinds: the membership concerned */
};
/*
 * A grant change (store_acl_modify_by) writes a MAILBOX_UPDATED entry of
 * the mailbox whose mailbox field is the grantee (STORE_ACL_ANYONE: 0)
 * and whose uid field is STORE_CHANGE_GRANT | was << 16 | now, the
 * grant's rights before and after; every other MAILBOX_UPDATED has uid 0.
 */
#define STORE_CHANGE_GRANT (1u << 31)
/* 1 and the grant's grantee and rights before and after when c is a
 * grant change's entry, else 0. */
int store_change_grant(const struct store_change *c, uint32_t *grantee_r, uint32_t *was_r,
		       uint32_t *now_r);
/* Non-zero stops the walk. */
typedef int store_change_cb(void *arg, const struct store_change *c);
/*
 * Calls cb for every change log entry of account above modseq since, in
 * modseq order, in one read transaction. The log is complete from the
 * account's creation, or from its restore (store_changes_floor), so every
 * since from the floor to the account's modseq can be answered.
 * STORE_OK or STORE_ETEMP.
 */
int store_changes_since(struct store *st, uint32_t account, uint64_t since, store_change_cb *cb,
			void *arg);
/*
 * The oldest modseq the change log answers from into *floor_r: 0, or,
 * once the store was restored from a backup, the modseq its first open
 * moved the account to less one (the log then starts with that open's
 * empty record) (the states before it may be ones the
 * lost store handed out: a client holding one must start over,
 * cannotCalculateChanges). STORE_OK or STORE_ETEMP.
 */
int store_changes_floor(struct store *st, uint32_t account, uint64_t *floor_r);
/* An email as JMAP reads it; pointers valid during the callback. */
struct store_email_brief {
	uint32_t email_id, thread_id;
	uint64_t modseq, size;
	int64_t received_at;
	const char *keywords; /* space-separated, not NUL-terminated */
	size_t keywords_len;
	const uint8_t *members; /* nmembers x (u32 mailbox, u32 uid), big-endian */
	size_t nmembers;
	uint8_t blob_id[32];
	const void *meta; /* the MIME cache record */
	size_t metalen;
};
/* i: the index in the caller's list; b NULL when that email does not exist. */
typedef void store_email_brief_cb(void *arg, size_t i, const struct store_email_brief *b);
/* The emails ids[0..n) of account, in that order, in one read transaction. */
int store_emails_get(struct store *st, uint32_t account, const uint32_t *ids, size_t n,
		     store_email_brief_cb *cb, void *arg);
/* Every email of account, in id order. STORE_OK or STORE_ETEMP. */
int store_emails_all(struct store *st, uint32_t account, store_email_brief_cb *cb, void *arg);
/*
 * The emails of account with a message in mailbox, in id order, each once
 * (i counts them from 0): what store_emails_all gives that has mailbox
 * among its members. A mailbox holding up to half of the account's
 * emails is read from the uid index (its UIDs, which IMAP's views walk)
 * and one email record each, not every email of the account; a larger
 * one by the walk over every record. None for a mailbox or account that
 * does not exist. STORE_OK or STORE_ETEMP.
 */
int store_mailbox_emails(struct store *st, uint32_t account, uint32_t mailbox,
			 store_email_brief_cb *cb, void *arg);
/*
 * The emails of thread (the thread index, store_counts.c) in email id
 * order, each with its receivedAt, in one read transaction; a thread with
 * no email left calls cb for none. STORE_OK or STORE_ETEMP.
 */
/*
 * The lowest id of account's emails whose bytes have content id blob
 * (store_blob_id), from the index the writers keep with every email
 * created or destroyed (store_counts.c): *email_r, 0 when none.
 * STORE_OK or STORE_ETEMP.
 */
int store_blob_email(struct store *st, uint32_t account, const uint8_t blob[32],
		     uint32_t *email_r);
typedef void store_thread_email_cb(void *arg, uint32_t email_id, int64_t received_at);
int store_thread_emails(struct store *st, uint32_t account, uint32_t thread,
			store_thread_email_cb *cb, void *arg);
/* 1 when the space-separated keywords kw[0..len) hold name (any case). */
int store_keywords_has(const char *kw, size_t len, const char *name);

/* Account's current highest modseq (0 before any change). */
int store_account_modseq(struct store *st, uint32_t account, uint64_t *modseq_r);
/*
 * UIDs of mailbox expunged after modseq since (QRESYNC VANISHED), from the
 * change log (store_changes.c): ascending, each once, malloc'ed into
 * *uids_r (NULL when none; the caller frees). STORE_OK or STORE_ETEMP.
 */
int store_mailbox_vanished(struct store *st, uint32_t account, uint32_t mailbox, uint64_t since,
			   uint32_t **uids_r, size_t *n_r);
/* Account's quota (0 = unlimited) and bytes used. STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_account_usage(struct store *st, uint32_t account, uint64_t *quota_r, uint64_t *used_r);
/*
 * Whether a message of len octets fits the quotas of accounts (n of them),
 * by the rule a port-25 delivery's commit applies (store_delivery's
 * quota_check): STORE_OK when one of them can take it (or none has a
 * quota, or none exists any more), else STORE_ETOOBIG when it is larger
 * than every such account's whole quota (it never fits) and STORE_EQUOTA
 * when it does not fit now; STORE_ETEMP. SMTP asks it at RCPT with the
 * size MAIL declared (RFC 1870), so that a message that will not fit is
 * refused before its data comes; the commit asks again where it cannot race.
 */
int store_quota_fits(struct store *st, const uint32_t *accounts, size_t n, uint64_t len);

/*
 * ---- Changing mail ----
 * Synchronous writes: they return after the commit (fsync), so call them
 * from a worker thread or the CLI, never from an event loop.
 */
/*
 * Expunges from mailbox the messages with the given UIDs, as IMAP EXPUNGE
 * does: each uid entry is removed; the email loses that membership and,
 * when it was its last, is destroyed (record, envelope, one blob
 * reference; the account's used and emails drop); the mailbox's message
 * count drops; one change record at one new modseq (a further one per
 * 65535 entries) lists the memberships removed — kind "email destroyed"
 * for a last membership, "email updated" otherwise — and mailbox and
 * account take that modseq as their highest. UIDs not (or no longer) in
 * the mailbox are skipped; when none is left, nothing is written.
 * uidvalidity is the mailbox's UIDVALIDITY the UIDs belong to.
 * The write joins the writer thread's next batch (store_write_grouped)
 * and this returns once it is on disk. After the commit, when anything
 * was removed, the change feed's subscribers of the account are told at
 * the new modseq (store_publish_change): an IMAP session in IDLE sends
 * its EXPUNGE/VANISHED at once, JMAP push (EventSource, push
 * subscriptions) sends a StateChange. Email/changes and a NOOP read the
 * change record whether told or not.
 * Returns STORE_OK with *removed_r (memberships removed) and *modseq_r (the
 * last modseq used, 0 when nothing was removed), both may be NULL;
 * STORE_ENOTFOUND when the account or mailbox does not exist or its
 * UIDVALIDITY differs (nothing removed); STORE_EINVAL for uids NULL with
 * n > 0; STORE_ETEMP on a store error (nothing removed).
 */
int store_expunge(struct store *st, uint32_t account, uint32_t mailbox, uint32_t uidvalidity,
		  const uint32_t *uids, size_t n, size_t *removed_r, uint64_t *modseq_r);

/*
 * Retention of \Trash and \Junk (store_retention.c, server/retention.h).
 * store_retention_expired: 1 when a membership saved at saved_at (IMAP
 * SAVEDATE, seconds) is at least days whole days old at now; 0 when it is
 * younger, or days is 0 (retention off).
 */
int store_retention_expired(int64_t saved_at, int64_t now, unsigned days);
struct store_retention_scan {
	uint32_t account, mailbox;
	int64_t now;   /* the clock the ages are taken at */
	unsigned days; /* store_retention_expired()'s */
	size_t visit;  /* uid entries read at most (one read transaction) */
	size_t max;    /* UIDs returned at most: uids holds this many */
};
/*
 * Reads the uid entries of q->mailbox after UID *cursor (0: from the
 * first) in UID order, at most q->visit of them, and puts the UIDs whose
 * save date is expired into uids (at most q->max, caller's array).
 * *cursor becomes the last UID read, so the next call goes on from there;
 * *done_r is 1 when the walk reached the mailbox's end. *uidvalidity_r is
 * the mailbox's, for store_expunge(). Returns STORE_OK, STORE_ENOTFOUND
 * (no such mailbox), STORE_EINVAL (visit or max 0, uids NULL) or
 * STORE_ETEMP.
 */
int store_retention_scan(struct store *st, const struct store_retention_scan *q,
			 uint32_t *cursor, uint32_t *uids, size_t *n_r, uint32_t *uidvalidity_r,
			 int *done_r);

/*
 * ---- Named settings in meta (store_meta.c; layouts in SCHEMA.md) ----
 * Names must contain a '/' ("setting/hostname"): the store's own meta keys
 * are out of reach. Values are opaque bytes (at most 64 KiB).
 * store_meta_get copies the value into val (size valsz) and its length to
 * *len_r: STORE_OK, STORE_ENOTFOUND, STORE_EINVAL (bad name), STORE_ETEMP
 * (store error, or the value does not fit). store_meta_put writes it in its
 * own write transaction; with excl 1 an existing value is kept and
 * STORE_EEXIST returned. store_meta_del: STORE_OK or STORE_ENOTFOUND.
 * store_meta_list calls cb for every name starting with prefix, in order,
 * inside a read transaction (value valid during cb only).
 */
int store_meta_get(struct store *st, const char *name, void *val, size_t valsz, size_t *len_r);
int store_meta_put(struct store *st, const char *name, const void *val, size_t len, int excl);
/* store_meta_put (excl 0) inside the caller's write transaction (txn: an
 * MDB_txn *, e.g. queue_request.txn_also): what it writes commits with
 * the rest of that transaction. 0, or an LMDB error (MDB_BAD_VALSIZE for
 * a bad name or a value over 64 KiB). */
int store_meta_put_txn(struct store *st, void *txn, const char *name, const void *val, size_t len);
/* Meta names of reports waiting to be sent (SCHEMA.md): TLS-RPT counts
 * of a day (report/tlsrpt_seen.h) and DMARC failure reports kept across
 * a stop (report/dmarc_fail.h). The first open of a restored store drops
 * them with the DMARC results of DB dmarc_seen (store_restore.c): the
 * lost store may have sent them since the backup. */
#define STORE_TLSRPT_SEEN_PREFIX "tlsrpt-seen/"
#define STORE_DMARC_FAIL_PREFIX "dmarc/fail-pending/"
/*
 * Writes n values in one write transaction: all of them or none (a
 * certificate and its key, which must never be stored apart; every field
 * of a PUT /settings). Names and values as for store_meta_put, excl 0;
 * an item whose val is NULL removes its name instead (absent is no
 * error). The items are read during the call only. STORE_OK,
 * STORE_EINVAL (a bad name or a value over 64 KiB: nothing written), or
 * the store's error.
 */
struct store_meta_item {
	const char *name;
	const void *val;
	size_t len;
};
int store_meta_put_all(struct store *st, const struct store_meta_item *items, size_t n);
/*
 * store_meta_put_all while name holds exactly expect (expect_len bytes),
 * compared in the same write transaction: a compare-and-swap (the admin
 * password's re-hash, admin_meta.c). STORE_OK, 1 when name holds anything
 * else or nothing (nothing written), STORE_EINVAL, or the store's error.
 */
int store_meta_put_if(struct store *st, const char *name, const void *expect, size_t expect_len,
		      const struct store_meta_item *items, size_t n);
int store_meta_del(struct store *st, const char *name);
/* Removes the n names in one write transaction: all or none; a name
 * absent is no error. STORE_OK, STORE_EINVAL (a bad name: nothing
 * removed), or the store's error. */
int store_meta_del_all(struct store *st, const char *const *names, size_t n);
/* store_meta_del inside the caller's write transaction (txn: an MDB_txn *,
 * e.g. queue_request.txn_also); an absent name is no error. 0, or an LMDB
 * error. */
int store_meta_del_txn(struct store *st, void *txn, const char *name);
typedef void store_meta_cb(void *arg, const char *name, const void *val, size_t len);
int store_meta_list(struct store *st, const char *prefix, store_meta_cb *cb, void *arg);
/*
 * store_meta_list one page at a time: at most max names under prefix
 * after the name in cursor (from the first when cursor is "" or not
 * under prefix), cursor then holding the last name visited, or "" once
 * the prefix's end was reached (the next page starts over). A sweep
 * walks a table in bounded steps this way. cursorsz: at least 129.
 * STORE_OK, STORE_EINVAL, STORE_ETEMP.
 */
int store_meta_list_page(struct store *st, const char *prefix, char *cursor, size_t cursorsz,
                         size_t max, store_meta_cb *cb, void *arg);

/*
 * Sets an account's state (enum store_account_state); the password and
 * app passwords are kept, so ACTIVE again restores them. Any change of
 * state changes the credentials stamp (store_account_creds), so sessions
 * signed in end. store_account_set_disabled(on) is set_state NOLOGIN (on)
 * or ACTIVE (0). STORE_OK, STORE_ENOTFOUND, STORE_EINVAL, STORE_ETEMP.
 */
int store_account_set_state(struct store *st, const char *email, enum store_account_state state,
			    char *err, size_t errsz);
int store_account_set_disabled(struct store *st, const char *email, int on, char *err,
			       size_t errsz);
/* Sets the display name ("" removes it): STORE_EINVAL for an invalid one
 * (store_display_name_valid), STORE_ENOTFOUND, STORE_ETEMP. */
int store_account_set_name(struct store *st, const char *email, const char *name, char *err,
			   size_t errsz);
/* The display name of account id into name (size namesz, "" when none).
 * STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_account_name(struct store *st, uint32_t id, char *name, size_t namesz);
/* A number that changes whenever a display name is set (SCHEMA.md
 * `names_gen`) and differs between two stores this process opened, for
 * a reader that keeps something computed from every account's name.
 * Adding an account changes nothing (it has no name yet), deleting one
 * need not (its id is never handed out again). STORE_OK, STORE_ETEMP. */
int store_names_gen(struct store *st, uint64_t *gen_r);

/* Bytes the map may use now (for tests of growth) and bytes in use. */
int store_map_info(struct store *st, uint64_t *mapsize_r, uint64_t *used_r);

/* ---- DKIM keys ---- */
struct dkim_keys; /* dkim/dkim.h */
/*
 * Stores the DKIM key set of a local domain (lowercased like every name).
 * With replace 0 an existing set is kept and STORE_EEXIST returned (two
 * processes creating keys at once: the first one wins, the other reads
 * it); with 1 it is replaced (rotation). Deleting the domain deletes its
 * keys. Returns STORE_OK; STORE_ENOTFOUND when the domain does not exist;
 * STORE_EINVAL for a bad domain name or a set that is empty or has a
 * damaged key; STORE_EEXIST; STORE_ETEMP.
 */
int store_dkim_put(struct store *st, const char *domain, const struct dkim_keys *keys,
		   int replace, char *err, size_t errsz);
/*
 * store_domain_add() and store_dkim_put() of keys in one write
 * transaction: a new domain is never stored without its keys (killed or
 * out of room between two writes). The returns of store_domain_add(), and
 * STORE_EINVAL for a key set store_dkim_put() refuses.
 */
int store_domain_add_dkim(struct store *st, const char *domain, const struct dkim_keys *keys,
			  char *err, size_t errsz);
/*
 * Puts key (an imported one: dkim_key_from_text) in the key set of domain
 * in place of every key of its algorithm; the other algorithm's keys stay.
 * The set is read, changed and written back as one change: a writer in
 * between makes it start again. The new set is left in *keys_r (the
 * caller wipes it). Returns STORE_OK; STORE_ENOTFOUND when the domain has
 * no key set; STORE_EINVAL when the selector is another key's or the key
 * is refused (err says which); STORE_EFULL; STORE_ETEMP.
 */
struct dkim_key;
int store_dkim_set_key(struct store *st, const char *domain, const struct dkim_key *key,
                       struct dkim_keys *keys_r, char *err, size_t errsz);
/*
 * Reads the key set of domain into *keys_r, which holds private keys: the
 * caller wipes it (dkim_keys_wipe) when done. Returns STORE_OK;
 * STORE_ENOTFOUND when the domain has no keys (an unknown domain, or one
 * added by a build without DKIM); STORE_ETEMP on a store error or a record
 * this build cannot read (logged). *keys_r is zeroed on any error.
 */
int store_dkim_get(struct store *st, const char *domain, struct dkim_keys *keys_r);
/* The same, the domain given in either spelling of an IDN (its U-labels
 * or A-labels, as d= has them): the keys of whichever one was added. */
int store_dkim_get_either(struct store *st, const char *domain, struct dkim_keys *keys_r);
/*
 * The one DKIM signing of outgoing mail (submission, JMAP's
 * EmailSubmission and MDN through jmap_send.c, a submitted message a
 * script edited and redirected: queue.c): appends to sigs the
 * DKIM-Signature fields of every key of domain over the message given as
 * the pieces p[0..n) in order. DKIM_OK with *nsigs_r the number of
 * signatures; else the store's or the signer's error (STORE_ENOTFOUND:
 * the domain has no keys; DKIM_EINVAL: no domain or not a DKIM one), sigs
 * then unchanged. Thread-safe (reads the store).
 */
struct buf;
struct str;
int store_dkim_sign(struct store *st, const char *domain, const struct str *p, size_t n,
                    struct buf *sigs, unsigned *nsigs_r);
/* The ceiling of sigs' buffer for its callers: room for every key's
 * DKIM-Signature field of a domain. */
#define STORE_DKIM_SIGS_MAX 16384

/*
 * ---- Keywords and mailbox management (store_flags.c, store_mailbox_ops.c) ----
 * Synchronous writes like store_expunge(): each is one write transaction
 * that returns after the commit (call them from a worker thread or the
 * CLI, never an event loop) and tells the change feed's subscribers after
 * the commit.
 */
#define STORE_KEYWORD_MAX 255 /* octets of one keyword */
/* Keywords on one email, not counting IMAP's system flags ($seen, $answered,
 * $flagged, $draft, $deleted): those come on top (store_flags.c). */
#define STORE_KEYWORDS_MAX 64

/* 1 when kw (n octets) is a valid keyword: IMAP atom characters only. */
int store_keyword_valid(const char *kw, size_t n);

enum store_kw_op { STORE_KW_SET, STORE_KW_ADD, STORE_KW_REMOVE };
enum store_kw_status {
	STORE_KW_GONE = 0, /* no such uid in the mailbox (expunged): nothing done */
	STORE_KW_CHANGED,  /* keywords changed; modseq is the new one */
	STORE_KW_SAME,     /* the operation changed nothing; modseq unchanged */
	STORE_KW_MODIFIED, /* modified after unchangedsince: left alone (RFC 7162) */
};
struct store_kw_result {
	uint32_t uid;
	enum store_kw_status status;
	uint64_t modseq; /* the email's modseq after the call (0 when gone) */
	char *keywords;  /* malloc'ed, NUL-terminated, space-separated;
			  * NULL when gone. Free with store_kw_results_free(). */
};
/*
 * Sets (replaces), adds or removes keywords of the emails at uids in
 * mailbox. keywords is a space-separated list (compared in any case; an
 * email keeps the case a keyword was first given, store_flags.c; "$seen"
 * etc. for IMAP's system flags; "" is allowed, e.g.
 * to clear with STORE_KW_SET). Every email whose keywords change takes one
 * new modseq (one per 65535 emails), listed in one change record as "email
 * updated"; the account and every mailbox the email is in take it as
 * their highest. unchangedsince, when not 0, leaves alone an email whose
 * modseq is above it (STORE_KW_MODIFIED). uidvalidity 0 skips the
 * UIDVALIDITY check. res has n entries (the caller's), filled per uid.
 * Returns STORE_OK and *modseq_r (the last modseq used, 0 when nothing
 * changed; may be NULL); STORE_ENOTFOUND (no such account/mailbox or
 * another UIDVALIDITY); STORE_EINVAL (a bad keyword, more than
 * STORE_KEYWORDS_MAX on an email, bad arguments; nothing changed);
 * STORE_ETEMP. res holds nothing to free after an error.
 */
int store_email_keywords(struct store *st, uint32_t account, uint32_t mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n, enum store_kw_op op,
			 const char *keywords, uint64_t unchangedsince,
			 struct store_kw_result *res, uint64_t *modseq_r);
/* Frees the keyword strings of n results (the array stays the caller's). */
void store_kw_results_free(struct store_kw_result *res, size_t n);


/*
 * Mailbox names below are full UTF-8 paths with "/" between levels, at
 * most 1000 octets, without control characters, "*", "%", empty levels or
 * a leading/trailing "/"; a first level "INBOX" matches in any case.
 * A new name (CREATE, RENAME's target, a delivery's :create) has no level
 * "." or ".." either (STORE_EINVAL; existing ones stay usable).
 *
 * Limits (store_mailbox_limits): a new name (CREATE, RENAME's target and
 * the children it renames) longer than the name limit is STORE_ETOOBIG; a
 * create that would take the account past the mailbox limit (missing
 * parents count) is STORE_ELIMIT. Existing longer names stay usable.
 *
 * Creates name with a new UIDVALIDITY (and its missing parents); it is
 * subscribed only if its name already was (subscriptions are names,
 * store_mailbox_subscribe()). Returns STORE_OK and *mailbox_r (may be NULL), STORE_EEXIST,
 * STORE_EINVAL (bad name), STORE_ETOOBIG, STORE_ELIMIT, STORE_ENOTFOUND
 * (account), STORE_ETEMP.
 */
int store_mailbox_create(struct store *st, uint32_t account, const char *name,
			 uint32_t *mailbox_r);
/*
 * tern import and migrate keep a source mailbox's UIDs: mailbox name of
 * account takes the UIDVALIDITY uidvalidity (non-zero) when it holds no
 * message (its UIDs start again at 1), and its UIDNEXT goes up to uidnext
 * when that is higher (0: not known). The same UIDVALIDITY again changes
 * only UIDNEXT (a second or resumed run). Then each message appended with
 * store_delivery.uid keeps that UID. *uidnext_r (may be NULL) gets the
 * mailbox's UIDNEXT. Returns STORE_OK, STORE_EEXIST when the mailbox has
 * messages under another UIDVALIDITY (nothing changed; *uidnext_r set:
 * the caller may go on with new UIDs), STORE_ENOTFOUND, STORE_EINVAL
 * (uidvalidity 0, uidnext past STORE_UID_KEEP_MAX + 1), STORE_ETEMP. A mailbox changed is a "mailbox updated"
 * change.
 */
int store_mailbox_uids_keep(struct store *st, uint32_t account, const char *name,
			    uint32_t uidvalidity, uint32_t uidnext, uint32_t *uidnext_r);
/* The highest UID, and UIDNEXT, a source may give (store_mailbox_uids_keep,
 * store_delivery.uid; more is STORE_EINVAL): the upper half of the UID
 * space stays for the mailbox's own messages after the move, so that a
 * source cannot bring UIDNEXT to the end of the 32 bits. */
#define STORE_UID_KEEP_MAX 0x7fffffffu
/*
 * Renames from to to; its children follow (their names change, ids and
 * UIDVALIDITY stay); missing parents of to are created. Renaming INBOX
 * creates to and moves INBOX's messages there with new UIDs (RFC 3501
 * §6.3.5); INBOX stays, empty, and its children stay. Returns STORE_OK,
 * STORE_ENOTFOUND (no mailbox from), STORE_EEXIST (to exists),
 * STORE_EINVAL (bad name, into itself), STORE_ETOOBIG (a new name too
 * long), STORE_ELIMIT (new parents past the limit), STORE_ETEMP.
 */
int store_mailbox_rename(struct store *st, uint32_t account, const char *from, const char *to);
/*
 * Sets the limits for new mailboxes (TERN_MAX_MAILBOXES, TERN_MAX_MAILBOX_NAME):
 * at most max_mailboxes per account (1..65535) and names of at most
 * max_name octets (1..1000). Until called, the structural maxima apply
 * (65535 and 1000). Call before the store is shared between threads.
 */
void store_mailbox_limits(struct store *st, unsigned max_mailboxes, unsigned max_name);
/*
 * Deletes a mailbox: its messages are expunged as store_expunge() does
 * (an email in other mailboxes stays), then the mailbox goes. INBOX cannot
 * be deleted (STORE_EINVAL); nor a mailbox with children (STORE_EEXIST:
 * delete them first, as Dovecot says). Special-use mailboxes can.
 * Returns STORE_OK, STORE_ENOTFOUND, STORE_EINVAL, STORE_EEXIST, STORE_ETEMP.
 */
int store_mailbox_delete(struct store *st, uint32_t account, const char *name);
/*
 * CREATE, DELETE and RENAME of owner's mailboxes by another account,
 * actor, with its rights (RFC 4314 §4; IMAP names them "Shared/OWNER/M",
 * imap_acl.h), each checked in the transaction that writes:
 *   create  needs "k" on the closest existing parent of name, or on the
 *           owner's INBOX for a new top level (as Cyrus, where every
 *           mailbox of a user sits under its INBOX, and Dovecot's
 *           acl_defaults_from_inbox). Every mailbox made (missing
 *           parents too) takes a copy of that parent's grants, as Cyrus
 *           and Dovecot do, so the creator sees what it made;
 *   delete  needs "x" on the mailbox; one with a mailbox under it that
 *           actor may not look up is STORE_EACCES, not STORE_EEXIST
 *           (that one is not there for actor: RFC 4314 §6);
 *   rename  needs "x" on from and on every mailbox under it (they move
 *           with it) and "k" on to's closest existing parent
 *           (or INBOX); the mailboxes keep their grants (ids), parents
 *           made on the way take the grants as a create's do. The
 *           owner's INBOX is not renamed by another (STORE_EINVAL).
 * A mailbox actor may not look up ("l") is, for it, not there:
 * STORE_ENOTFOUND; an existing name it may look up, STORE_EEXIST; one it
 * may not, STORE_EACCES. The mailboxes are the owner's (its limits, its
 * change feed). actor == owner is the owner's own call. Otherwise as
 * store_mailbox_create, _delete and _rename, and STORE_EACCES when a
 * right is missing.
 */
int store_mailbox_create_as(struct store *st, uint32_t actor, uint32_t owner, const char *name,
			    uint32_t *mailbox_r);
int store_mailbox_delete_as(struct store *st, uint32_t actor, uint32_t owner, const char *name);
int store_mailbox_rename_as(struct store *st, uint32_t actor, uint32_t owner, const char *from,
			    const char *to);
/*
 * As store_mailbox_create(), and the new mailbox takes role (one
 * store_mailbox_role_valid() knows; IMAP CREATE-SPECIAL-USE). Other
 * mailboxes may hold the same role. STORE_EINVAL for another role.
 */
int store_mailbox_create_role(struct store *st, uint32_t account, const char *name,
			      const char *role, uint32_t *mailbox_r);
/*
 * Gives the existing mailbox name the role (as store_mailbox_create_role()
 * names them) and takes it from the account's other holders, so one
 * mailbox has it (tern import of an archive whose "Sent Items" was the
 * sent mailbox). A holder gives it up only when account creation made it
 * and it was never used: named as a new account's mailbox of that role
 * ("Sent", "Drafts", "Trash", "Junk", "Archive") and without messages;
 * any other holder keeps it. Each mailbox changed is a "mailbox updated"
 * change. Returns STORE_OK (also when name had the role already: nothing
 * written); STORE_EEXIST when another holder keeps the role or name has
 * another role (nothing changed); STORE_ENOTFOUND (no such mailbox or
 * account); STORE_EINVAL (another role); STORE_ETEMP.
 */
int store_mailbox_set_role(struct store *st, uint32_t account, const char *name,
			   const char *role);
/*
 * Mailbox name's role becomes role (as store_mailbox_create_role() names
 * them; NULL: none) as JMAP's Mailbox/set sets it (RFC 8621 §2): a role
 * is one mailbox's, so STORE_EEXIST when another mailbox has it; the
 * INBOX keeps its own. One "mailbox updated" change; none when name had
 * role already. Returns STORE_OK, STORE_EEXIST, STORE_EINVAL (another
 * role, or name is the INBOX), STORE_ENOTFOUND, STORE_ETEMP.
 */
int store_mailbox_role(struct store *st, uint32_t account, const char *name, const char *role);
/* 1 when role is one store_mailbox_role() can give: "sent", "drafts",
 * "trash", "junk", "archive" (RFC 6154), and the rest of the IANA "IMAP
 * Mailbox Name Attributes" registry's names JMAP uses (RFC 8621 §2):
 * "important" (RFC 8457), "flagged", "all" (RFC 6154), "memos",
 * "scheduled", "snoozed" (RFC 9979); else 0. */
int store_mailbox_role_valid(const char *role);
/*
 * COPY (move 0) or MOVE (move 1) of the messages at uids (ascending) of
 * mailbox from, under UIDVALIDITY uidvalidity, into mailbox to
 * (store_copy.c): each email gets a membership with a new UID in to (and,
 * for a move, loses the one in from) in one transaction. Keywords are the
 * email's, so such copies share them and add no bytes to the quota; with
 * STORE_COPY_NEW (below) each copy is an email of its own. UIDs no
 * longer in from are skipped (without STORE_COPY_ALL, below). r (the caller's) gets the target's
 * UIDVALIDITY, the pairs copied (src_uids[i] -> dst_uids[i], malloc'ed;
 * free with store_copy_result_free() whatever the result) and the modseq.
 * Returns STORE_OK (r->n may be 0), STORE_ENOTFOUND (no mailbox to),
 * STORE_EINVAL (no account or mailbox from, another UIDVALIDITY, an email
 * in 65535 mailboxes), STORE_EGONE (STORE_COPY_ALL), STORE_EQUOTA
 * (STORE_COPY_NEW), STORE_ETEMP.
 */
struct store_copy_result {
	uint32_t uidvalidity;
	uint32_t *src_uids, *dst_uids;
	size_t n;
	uint64_t modseq;
	/* The email the last uid copied is in the target: a copy of its
	 * own's new id (JMAP Email/copy's created id), a move's same one. */
	uint32_t last_email;
	/* How many of the uids the transaction has gone through so far,
	 * written by the thread that runs it while it runs (IMAP INPROGRESS
	 * reads it from a loop): read it with __atomic_load_n(). */
	size_t done;
};
/* move: 1 moves, 0 copies; | STORE_COPY_NO_LESSON: no store_junk_notify
 * (the caller tells the hook itself what the whole change was: JMAP's
 * Email/set changes several memberships at once). */
#define STORE_COPY_NO_LESSON 2
/* | STORE_COPY_ALL: all or nothing; a uid no longer in from makes it
 * STORE_EGONE with nothing copied or moved (IMAP COPY and MOVE, RFC 9051
 * §6.4.7: a failed COPY leaves the target as it was). */
#define STORE_COPY_ALL 4
/* | STORE_COPY_NEW (copies only): each copy is a new email of its own
 * (IMAP COPY, RFC 9051 §6.4.7: its flags are its own from then on) on
 * the same stored bytes, with the source's keywords, received date and
 * thread, shown with the source's IMAP EMAILID (RFC 8474 §5.1). It counts
 * against the quota: STORE_EQUOTA when the account would go over, nothing
 * copied. The source email and its mailbox do not change. Without it a
 * copy is one more membership of the same email, sharing its keywords
 * (JMAP mailboxIds, RFC 8621 §4.1.1). */
#define STORE_COPY_NEW 8
int store_email_copy(struct store *st, uint32_t account, uint32_t from, uint32_t uidvalidity,
		     const uint32_t *uids, size_t n, uint32_t to, int move,
		     struct store_copy_result *r);
void store_copy_result_free(struct store_copy_result *r);

/*
 * Junk moves (store_junk.c): the hook is told, after the commit, that
 * emails entered the account's Junk mailbox (to_junk 1: from a mailbox
 * that is not Junk, or appended there) or left it for a mailbox that is
 * neither Junk nor Trash (to_junk 0). One process-wide hook (the spam
 * filter's learning, spam/spam_learn.h); NULL: none. It runs on the
 * thread that saw the commit (a loop or the caller of the synchronous
 * form): it must only queue work. emails is valid during the call.
 * Deliveries never call it (the filter's own filing is not a lesson).
 */
typedef void store_junk_hook_fn(struct store *st, uint32_t account, const uint32_t *emails,
				size_t n, int to_junk);
void store_junk_hook_set(store_junk_hook_fn *fn);
/* After a commit that put emails into mailbox to (from 0: appended;
 * else copied or moved from mailbox from): calls the hook as above. */
void store_junk_notify(struct store *st, uint32_t account, uint32_t from, uint32_t to,
		       const uint32_t *emails, size_t n);

/*
 * Asynchronous forms for event loops (store_group.c): the work of
 * store_email_keywords(), store_expunge() and store_email_copy(), done
 * inside the writer thread's group commit, so concurrent sessions share
 * one commit and no thread waits for the fsync. done(arg, result) runs on
 * loop after the commit, with the outputs filled as by the synchronous
 * form (res, removed_r, modseq_r, r: the caller's, valid until then;
 * uids too). Same results, and subscribers are told the same way.
 */
typedef void store_async_cb(void *arg, int result);
void store_email_keywords_async(struct store *st, struct loop *loop, uint32_t account,
				uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				size_t n, enum store_kw_op op, const char *keywords,
				uint64_t unchangedsince, struct store_kw_result *res,
				uint64_t *modseq_r, store_async_cb *done, void *arg);
/*
 * As store_email_keywords_async(), for as->actor working in a mailbox of
 * account shared with it (IMAP STORE and FETCH's implicit \Seen in
 * "Shared/OWNER/M"). An email's keywords are one set whatever mailboxes
 * it is in (JMAP's model), so changing one changes it in each of them:
 * a keyword of an email changes only when the actor's rights on every
 * mailbox the email is in (its grant and anyone's, as
 * store_mailbox_rights() reads them, in the writing transaction) let it
 * set that keyword, as JMAP's Email/set asks (RFC 8621 §2).
 * as->keywords_filter (imap_acl.h's) says which keywords rights let the
 * user set (required), as store_copy_into's does. A keyword it may not change
 * keeps its state on that email while the others change, and the
 * result's keywords are the email's after (STORE_KW_SAME when nothing
 * was left to change); with as->refuse, such a change fails the call
 * instead (STORE_EACCES, nothing written). $deleted is the membership's,
 * not the email's: not checked here (the caller checked "t" on the
 * mailbox). as is read during the call only; NULL, or as->actor ==
 * account, is the owner's call and reads no right.
 */
struct store_kw_actor {
	uint32_t actor;
	size_t (*keywords_filter)(uint32_t rights, char *kw, size_t len);
	/* JMAP's Email/set (RFC 8620 §5.3: the whole change is refused,
	 * "forbidden"): 1 fails the call with STORE_EACCES, nothing
	 * written, where a keyword would be left as it is; 0 (IMAP) leaves
	 * it (RFC 4314 §4). */
	int refuse;
};
void store_email_keywords_as_async(struct store *st, struct loop *loop,
				   const struct store_kw_actor *as, uint32_t account,
				   uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				   size_t n, enum store_kw_op op, const char *keywords,
				   uint64_t unchangedsince, struct store_kw_result *res,
				   uint64_t *modseq_r, store_async_cb *done, void *arg);
/*
 * A patch of keywords (JMAP's Email/set, "keywords/K": true or null):
 * as store_email_keywords_as_async() with STORE_KW_ADD of add, the
 * keywords of remove (space-separated as add; NULL or "" for none)
 * taken off in the same write transaction, before add's go on (so one
 * that makes room lets an add in; a keyword in both ends removed). An
 * email whose keywords change takes one modseq and one change record
 * entry for the whole patch, and with as->refuse a change of either
 * half the rights do not allow fails the whole call (STORE_EACCES,
 * nothing written, RFC 8620 §5.3). No UIDVALIDITY check, no
 * unchangedsince, no modseq_r: each result's modseq is the email's.
 */
void store_email_keywords_patch_async(struct store *st, struct loop *loop,
				      const struct store_kw_actor *as, uint32_t account,
				      uint32_t mailbox, const uint32_t *uids, size_t n,
				      const char *add, const char *remove,
				      struct store_kw_result *res, store_async_cb *done, void *arg);

/* One membership of an email: a mailbox under a UIDVALIDITY, and the uid. */
struct store_member {
	uint32_t mailbox, uidvalidity, uid;
};
/*
 * One email's change of keywords and mailboxes (JMAP's Email/set update
 * and destroy, RFC 8620 §5.3: whole or not at all), for
 * store_email_update_async(). Each part is optional:
 * - keywords, through the membership kw (the email's keywords are the
 *   email's, whichever): set to kw_set when not NULL, else kw_add added
 *   and kw_remove taken off (a patch, as
 *   store_email_keywords_patch_async()); all NULL: unchanged.
 * - copies: new memberships in to[0..nto) from the membership from (the
 *   same email, no bytes copied); with move the last copy moves from
 *   (one membership for another: from need not be named in gone).
 * - gone[0..ngone): memberships removed; the email goes with its last.
 * as: NULL for the owner; another user's (refuse must be 1) is held to
 * its rights inside the write: the keywords as
 * store_email_keywords_patch_async() holds them, "i" on each mailbox of
 * to, "t" and "e" on each membership removed (gone, and from with move).
 * max_members: when not 0, the most memberships the email may have
 * after the change (a parallel change may have added some).
 */
struct store_email_update {
	const struct store_kw_actor *as;
	uint32_t account;
	struct store_member kw;
	const char *kw_set, *kw_add, *kw_remove;
	struct store_member from;
	const uint32_t *to;
	size_t nto;
	int move;
	const struct store_member *gone;
	size_t ngone;
	uint32_t max_members;
};
/*
 * Applies u in one write transaction through the writer's group commit
 * (as store_email_keywords_async()): one new modseq for the whole change
 * and one change record listing each keyword change, new and removed
 * membership; every part written or none. No Junk lesson (the caller
 * decides on one from the email's mailboxes before and after). u and
 * what it points to are the caller's until done. *modseq_r (may be NULL)
 * gets the new modseq, 0 when nothing changed. done gets STORE_OK,
 * STORE_EGONE (a membership named is gone: the email expunged or moved
 * meanwhile, or from's mailbox under a new UIDVALIDITY), STORE_EACCES
 * (as lacks a right), STORE_EINVAL (bad or too many keywords),
 * STORE_ELIMIT (past max_members), STORE_ENOTFOUND (a mailbox gone, or
 * one of gone under a new UIDVALIDITY), STORE_EFULL or STORE_ETEMP.
 */
void store_email_update_async(struct store *st, struct loop *loop,
			      const struct store_email_update *u, uint64_t *modseq_r,
			      store_async_cb *done, void *arg);

/*
 * IMAP \Recent (RFC 3501 §2.3.2): claims the mailbox's recent messages
 * for one session, through the writer (asynchronous, as
 * store_email_keywords_async()). *first_r and *uidnext_r are set to the
 * mailbox's first recent uid and uidnext before the claim (the messages
 * in between are the session's recent ones; a first recent uid of 0
 * means all), and with claim the first recent uid becomes upto (the
 * uidnext the session read; never past the uidnext; 0: the uidnext at
 * the commit), so no later session sees them recent (claim 0: only
 * read, for EXAMINE). A claim with upto counts for store_mailbox_recent()
 * from this call on, before its commit. No modseq, no change record.
 * done gets STORE_OK, STORE_ENOTFOUND or STORE_ETEMP.
 */
void store_mailbox_claim_recent_async(struct store *st, struct loop *loop, uint32_t account,
				      uint32_t mailbox, int claim, uint32_t upto, uint32_t *first_r,
				      uint32_t *uidnext_r, store_async_cb *done, void *arg);
void store_expunge_async(struct store *st, struct loop *loop, uint32_t account, uint32_t mailbox,
			 uint32_t uidvalidity, const uint32_t *uids, size_t n, size_t *removed_r,
			 uint64_t *modseq_r, store_async_cb *done, void *arg);
/*
 * As store_expunge_async(), but a UID whose membership does not have
 * \Deleted ($deleted) at the commit is left (IMAP EXPUNGE, UID EXPUNGE and CLOSE: what another
 * session took \Deleted off since this one read it stays, RFC 9051
 * §6.4.3).
 */
void store_expunge_deleted_async(struct store *st, struct loop *loop, uint32_t account,
				 uint32_t mailbox, uint32_t uidvalidity, const uint32_t *uids,
				 size_t n, size_t *removed_r, uint64_t *modseq_r,
				 store_async_cb *done, void *arg);
void store_email_copy_async(struct store *st, struct loop *loop, uint32_t account, uint32_t from,
			    uint32_t uidvalidity, const uint32_t *uids, size_t n, uint32_t to,
			    int move, struct store_copy_result *r, store_async_cb *done, void *arg);
/*
 * IMAP COPY with the target in another account, or in a mailbox shared
 * with the user (imap_acl.h): as store_email_copy() with
 * STORE_COPY_ALL | STORE_COPY_NEW, each copy an email of its own of
 * to->account on the same stored bytes (one more blob reference, no data
 * copied), charged to to->account's quota (STORE_EQUOTA), in a thread of
 * that account's and with its own EMAILID when the accounts differ (no
 * Junk lesson then: the spam filter's sender record stays the source
 * account's). Of
 * the source's keywords and \Deleted, the copy keeps those
 * to->keywords_filter (when set) keeps for to->rights. r gets the
 * target's UIDVALIDITY and UIDs; the change is published to
 * to->account. The source is only read. The async form joins the
 * writer's group from loop, as store_email_copy_async().
 */
struct store_copy_into {
	uint32_t account, mailbox; /* the target */
	uint32_t rights;           /* the user's STORE_ACL_* on it */
	/* Keeps of kw (len octets, keywords separated by spaces) those
	 * rights let the user set, in place; the new length. NULL: all. */
	size_t (*keywords_filter)(uint32_t rights, char *kw, size_t len);
	/* A copy into another account (JMAP Email/copy, RFC 8621 §4.7)
	 * may start with other keywords and received date than the
	 * source's: keywords non-NULL gives them (keywords_len octets, as
	 * kw above, "" for none; \Deleted then starts off), before the
	 * filter; received_at non-zero the date. */
	const char *keywords;
	size_t keywords_len;
	int64_t received_at;
	/* 1: a MOVE (RFC 6851). Into another account: the source messages
	 * copied are expunged in the same transaction (never in both
	 * accounts or in neither), and the change is published to the
	 * source account too. Within one account (between two mailboxes
	 * shared with the user): the ordinary move of store_email_copy()
	 * (the same email, a new membership), its \Deleted and the email's
	 * keywords filtered by keywords_filter as a copy's are. */
	int move;
	/* Into another account only: when non-NULL, one entry per uid (in
	 * uids' order) whose data, when non-NULL, are the bytes the copy
	 * is stored as instead of one more reference to the source's (the
	 * target's sealed form, crypt/crypt_copy.h): stored under id (the
	 * store_blob_id of data[0..len)) with meta (mime_cache_build of
	 * them), and len is what the target's quota is charged. */
	const struct store_copy_blob *blobs;
};
struct store_copy_blob {
	const char *data;
	size_t len;
	uint8_t id[32];
	const void *meta;
	size_t metalen;
};
int store_email_copy_into(struct store *st, uint32_t account, uint32_t from,
			  uint32_t uidvalidity, const uint32_t *uids, size_t n,
			  const struct store_copy_into *to, struct store_copy_result *r);
void store_email_copy_into_async(struct store *st, struct loop *loop, uint32_t account,
				 uint32_t from, uint32_t uidvalidity, const uint32_t *uids, size_t n,
				 const struct store_copy_into *to, struct store_copy_result *r,
				 store_async_cb *done, void *arg);

/*
 * Subscribes (on 1) or unsubscribes the name. A subscription is a name of
 * the account's, not a mailbox's flag (RFC 9051 §6.3.7): the name need not
 * exist, and DELETE and RENAME of a mailbox leave subscriptions alone. A
 * subscription to a mailbox's name writes a "mailbox updated" change.
 * STORE_OK (also when it was so already); on 1: STORE_EINVAL (not a valid
 * name), STORE_ETOOBIG (longer than the limit), STORE_ELIMIT (the account
 * has as many subscriptions as it may have mailboxes); on 0: STORE_ENOTFOUND
 * (not subscribed); STORE_ETEMP.
 */
int store_mailbox_subscribe(struct store *st, uint32_t account, const char *name, int on);
/*
 * Sets the JMAP sortOrder of the mailbox named name (RFC 8621 §2: where a
 * client shows it among its siblings; IMAP has none). A change is a
 * mailbox update (Mailbox/changes). STORE_OK, or STORE_ENOTFOUND.
 */
int store_mailbox_sort_order(struct store *st, uint32_t account, const char *name, uint32_t order);

/*
 * Calls cb with each subscribed name of the account (store_subscription.c),
 * in no particular order, inside a read transaction: the name is valid
 * during the call, and cb must not call a writing store function.
 * STORE_OK or STORE_ETEMP.
 */
typedef void store_subscription_cb(void *arg, const char *name);
int store_subscription_list(struct store *st, uint32_t account, store_subscription_cb *cb,
			    void *arg);

/*
 * ---- DMARC aggregate reports (store_dmarc.c) ----
 * Reports received for a served domain (RFC 9990), and the DMARC results
 * of received mail kept until tern reports them.
 */
struct dmarc_report; /* report/dmarc_report.h */
#define STORE_DMARC_KEEP_DAYS 180 /* a report goes once its period ended this long ago */
#define STORE_DMARC_KEEP_MAX 1000 /* reports kept per domain (the oldest go first) */
/*
 * Stores a parsed report under the served domain its policy domain is or
 * belongs to (example.org for a report on news.example.org), replacing
 * one with the same reporter, report_id and begin; then applies the
 * retention limits above to that domain (now: seconds since the epoch).
 * Returns STORE_OK; STORE_ENOTFOUND when no served domain matches;
 * STORE_EINVAL for a policy domain that is not a domain name; STORE_ETEMP.
 */
int store_dmarc_report_put(struct store *st, const struct dmarc_report *r, int64_t now,
			   char *err, size_t errsz);
/* Called with each report (valid during the call) and when it was stored. */
typedef void store_dmarc_report_cb(void *arg, const struct dmarc_report *r, int64_t received_at);
/*
 * Calls cb for each report stored under domain, oldest period first.
 * STORE_OK; STORE_ENOTFOUND for a domain that is not served;
 * STORE_EINVAL; STORE_ETEMP. A record this build cannot read is logged
 * and skipped.
 */
int store_dmarc_report_list(struct store *st, const char *domain, store_dmarc_report_cb *cb,
			    void *arg);

/*
 * Adds counts to the DMARC results kept for reporting: n rows of policy
 * domain pdomain on day (days since the epoch, UTC), each an opaque text
 * (report/dmarc_seen.c writes and reads it; at most 4000 bytes) with the
 * number of messages it stands for. One transaction. STORE_OK,
 * STORE_EINVAL (a row too long, a bad domain), STORE_ETEMP.
 */
int store_dmarc_seen_add(struct store *st, uint32_t day, const char *pdomain,
			 const char *const *rows, const uint32_t *counts, size_t n);
/* Called for each kept row: its day, policy domain, text and count. */
typedef void store_dmarc_seen_cb(void *arg, uint32_t day, const char *pdomain,
				 const char *row, uint32_t count);
/* Calls cb for every kept row of a day before `before`, by day then domain. */
int store_dmarc_seen_list(struct store *st, uint32_t before, store_dmarc_seen_cb *cb, void *arg);
/* Removes the rows of (day, pdomain): reported, or given up. STORE_OK, STORE_ETEMP. */
int store_dmarc_seen_del(struct store *st, uint32_t day, const char *pdomain);
/* The same inside the caller's write transaction (txn: an MDB_txn *): the
 * commit that queues the report (queue_request.txn_also). 0, or an LMDB
 * error (MDB_BAD_VALSIZE for a bad pdomain). */
int store_dmarc_seen_del_txn(struct store *st, void *txn, uint32_t day, const char *pdomain);

/*
 * METADATA entries (RFC 5464, store_metadata.c): per account, on the
 * server (mailbox 0) or on a mailbox (its id). A name is compared in any
 * case and kept as first written; values are octets.
 */
#define STORE_METADATA_NAME_MAX 400       /* octets of an entry name */
#define STORE_METADATA_ENTRIES 1000       /* entries per account */
#define STORE_METADATA_BYTES (1024 * 1024) /* names and values per account */
struct store_metadata {
	struct str name;  /* "/private/comment" */
	struct str value; /* p NULL: remove the entry */
};
/*
 * Sets (or removes) e[0..n) on the mailbox (0: the server) in one write:
 * all or nothing. STORE_OK; STORE_ENOTFOUND (the mailbox is gone);
 * STORE_ELIMIT (more than STORE_METADATA_ENTRIES entries would be held);
 * STORE_ETOOBIG (more than STORE_METADATA_BYTES); STORE_EINVAL (an empty
 * or too long name); STORE_ETEMP. Blocks: a worker thread, not a loop.
 * After a write the change feed is told, with the account's modseq as it
 * is (entries have none), so NOTIFY sessions look again.
 */
int store_metadata_set(struct store *st, uint32_t account, uint32_t mailbox,
		       const struct store_metadata *e, size_t n);
/*
 * Calls cb with each entry of the mailbox (0: the server), in the order of
 * their lower-case names (so "/private/a" comes before "/private/a/b"),
 * inside one read transaction: name and value are valid during the call
 * only, and cb must not call a writing store function. STORE_OK or
 * STORE_ETEMP.
 */
typedef void store_metadata_cb(void *arg, struct str name, struct str value);
int store_metadata_get(struct store *st, uint32_t account, uint32_t mailbox,
		       store_metadata_cb *cb, void *arg);
/*
 * As store_metadata_set and _get for user acting on account's mailbox
 * (one shared with it, RFC 4314; the caller checked the rights): /shared
 * entries are account's, /private entries user's own (RFC 5464 §3.2),
 * kept with account's (the mailbox's) and counted against its limits.
 * The owner's walk shows none of another user's. user == account is the
 * owner's own call.
 */
int store_metadata_set_as(struct store *st, uint32_t user, uint32_t account, uint32_t mailbox,
			  const struct store_metadata *e, size_t n);
int store_metadata_get_as(struct store *st, uint32_t user, uint32_t account, uint32_t mailbox,
			  store_metadata_cb *cb, void *arg);
/*
 * One entry of the mailbox (0: the server) by name (any case): its value
 * appended to value. STORE_OK; STORE_ENOTFOUND (no such entry);
 * STORE_ETOOBIG (value's maximum refused it); STORE_ETEMP. A look-up by
 * key, not a walk of the entries (Sieve's metadata tests at delivery).
 */
int store_metadata_get_one(struct store *st, uint32_t account, uint32_t mailbox,
			   struct str name, struct buf *value);

/*
 * ---- Sieve scripts (store_sieve.c) ----
 *
 * Scripts per account, at most STORE_SIEVE_SCRIPTS_MAX of at most
 * STORE_SIEVE_BYTES_MAX octets together, one active. Names: RFC 5804
 * §1.6 (UTF-8, no controls, no U+2028/9), 1..STORE_SIEVE_NAME_CHARS
 * characters (code points) in NFC, so at most STORE_SIEVE_NAME_MAX octets
 * once normalised, the bound of every name buffer; any other name is
 * STORE_EINVAL. The store keeps text; checking
 * that it compiles is the caller's (ManageSieve PUTSCRIPT, the CLI).
 * Account id STORE_SIEVE_GLOBAL (no account has it) holds the
 * administrator's global scripts, under the same rules: its active one
 * runs before each account's at delivery (deliver_sieve.h).
 */
#define STORE_SIEVE_GLOBAL 0u
#define STORE_SIEVE_NAME_CHARS 128
#define STORE_SIEVE_NAME_MAX (4 * STORE_SIEVE_NAME_CHARS) /* octets */
#define STORE_SIEVE_SCRIPTS_MAX 32
#define STORE_SIEVE_BYTES_MAX (1024u * 1024)
/* Octets a name may have as given, before NFC: a character of its NFC
 * may come from several code points (e + U+0301, Hangul's jamo). */
#define STORE_SIEVE_NAME_IN_MAX 1024
struct buf;
/* 1 when name is a valid script name: its NFC is (RFC 5804 §1.6 limits
 * a name after encoding to Net-Unicode). */
int store_sieve_name_valid(const char *name);
/* name (at most STORE_SIEVE_NAME_IN_MAX octets) in NFC into nfc: 0, or -1
 * when it is no valid script name (nfc then ""). */
int store_sieve_name_nfc(const char *name, char nfc[STORE_SIEVE_NAME_MAX + 1]);
/* Creates or replaces a script (an active one stays active). STORE_OK,
 * STORE_EINVAL, STORE_ENOTFOUND (no account), STORE_ETOOBIG (over the
 * byte limit alone), STORE_ELIMIT (count or bytes with the others), STORE_ETEMP. */
int store_sieve_put(struct store *st, uint32_t account, const char *name, const char *text,
                    size_t len, int64_t now);
/* store_sieve_put and then store_sieve_activate(active) in one
 * transaction: both done or neither, even across a crash (a reply
 * turned on or off is never half-applied). Their returns. */
int store_sieve_put_activate(struct store *st, uint32_t account, const char *name,
                             const char *text, size_t len, int64_t now, const char *active);
/* Deletes a script. STORE_OK, STORE_ENOTFOUND, STORE_EACTIVE, STORE_ETEMP. */
int store_sieve_del(struct store *st, uint32_t account, const char *name);
/* Renames. STORE_OK, STORE_ENOTFOUND, STORE_EEXIST (newname taken), STORE_EINVAL. */
int store_sieve_rename(struct store *st, uint32_t account, const char *name, const char *newname);
/* Makes name the active script (NULL or "": none active). STORE_OK, STORE_ENOTFOUND. */
int store_sieve_activate(struct store *st, uint32_t account, const char *name);
/* Appends the script's text to out (may be NULL) and sets *active_r
 * (may be NULL). STORE_OK, STORE_ENOTFOUND, STORE_ETEMP. */
int store_sieve_get(struct store *st, uint32_t account, const char *name, struct buf *out,
                    int *active_r);
typedef void store_sieve_list_cb(void *arg, const char *name, int active, size_t size);
/* Calls cb for each script of the account, in name order (octet by
 * octet), inside a read transaction: cb must not write to the store. */
int store_sieve_list(struct store *st, uint32_t account, store_sieve_list_cb *cb, void *arg);
/* The active script: appends its text to text (may be NULL) and copies
 * its name to name_r (may be NULL). STORE_OK or STORE_ENOTFOUND (none). */
int store_sieve_active(struct store *st, uint32_t account, struct buf *text,
                       char name_r[STORE_SIEVE_NAME_MAX + 1]);
/*
 * What JMAP (RFC 9661) sees: every script of the account with its id, a
 * number that stays with the script through renames and is never given
 * again, and the account's SieveScript state, which every write to its
 * scripts changes. A script stored before ids existed is given one here
 * (a write). out is sorted by name. STORE_OK or STORE_ETEMP.
 */
struct store_sieve_info {
	uint32_t id;
	int active;
	size_t size;
	char name[STORE_SIEVE_NAME_MAX + 1];
};
int store_sieve_index(struct store *st, uint32_t account,
                      struct store_sieve_info out[STORE_SIEVE_SCRIPTS_MAX], size_t *n_r,
                      uint32_t *state_r);
/* Whether a script of len octets named name would fit (ManageSieve
 * HAVESPACE). STORE_OK, STORE_ETOOBIG, STORE_ELIMIT, STORE_EINVAL. */
int store_sieve_room(struct store *st, uint32_t account, const char *name, size_t len);
/*
 * Sieve's memory (vacation's :days per sender, duplicate's ids): key is
 * a 32-byte hash the caller makes. store_sieve_seen: 1 when an entry
 * exists that expires after now, 0 when not, or a STORE_* error.
 * store_sieve_seen_put: records (or extends) it until expires.
 * store_sieve_seen_sweep: deletes expired entries (at most 10000 a call).
 */
int store_sieve_seen(struct store *st, uint32_t account, const uint8_t key[32], int64_t now);
/* One entry for a delivery to record (store_delivery.seen). */
struct store_seen {
	uint32_t account;
	uint8_t key[32];
	int64_t expires;
};
int store_sieve_seen_put(struct store *st, uint32_t account, const uint8_t key[32],
                         int64_t expires);
int store_sieve_seen_sweep(struct store *st, int64_t now);

/*
 * The spam filter's state per account (app/spam/, schema 12): records of
 * a kind (STORE_SPAM_MODEL: the classifier's token counts;
 * STORE_SPAM_FUZZY: the fuzzy hashes of what the user trained as spam)
 * whose bytes only app/spam/ interprets. Account 0 holds the global
 * ones. A record is at most STORE_SPAM_RECORD_MAX octets.
 *
 * store_spam_get() reads the records of kind for accounts[0..n) (n at
 * most 4) in one read transaction and calls cb once with them in place,
 * recs[i] for accounts[i] (p == NULL when there is none), valid only
 * during the call. Returns STORE_OK (cb called) or STORE_ETEMP.
 *
 * store_spam_update() reads the record and replaces it with what fn
 * writes, in one synchronous write transaction, so two trainers never
 * lose each other's counts. fn gets the old bytes (NULL, 0 when none)
 * and a buffer with the record ceiling; it returns 0 to store the
 * buffer (an empty buffer deletes the record) or non-zero to leave the
 * record as it was (store_spam_update returns that value). Otherwise
 * STORE_OK or a store error.
 */
#define STORE_SPAM_MODEL 1u
#define STORE_SPAM_FUZZY 2u
#define STORE_SPAM_LESSONS 3u /* the byte-gram regression's lessons (account 0) */
#define STORE_SPAM_GRAMS 4u   /* and its weights */
#define STORE_SPAM_PHISH 5u   /* the phishing URL list (account 0, spam/spam_phish.h) */
#define STORE_SPAM_HASHES 6u  /* the malware attachment list (account 0, spam/spam_hashes.h) */
#define STORE_SPAM_RECORD_MAX ((size_t)16 * 1024 * 1024)
typedef void store_spam_cb(void *arg, const struct str *recs);
int store_spam_get(struct store *st, const uint32_t *accounts, size_t n, unsigned kind,
                   store_spam_cb *cb, void *arg);
struct buf;
typedef int store_spam_update_fn(void *arg, const void *old, size_t oldlen, struct buf *out);
int store_spam_update(struct store *st, uint32_t account, unsigned kind, store_spam_update_fn *fn,
                      void *arg);
/*
 * One batch of the sweep of spam lessons whose email is gone (meta
 * spamlesson/, SCHEMA.md: a lesson that raced its email's expunge wrote
 * its name after the store removed the rest, and it stayed with the
 * spamtrained/ and spamvote/ records it held until the account went):
 * at most max names from the one after cursor ("" to start; at least 48
 * bytes, cursorsz), each dropped with its records as destroying the
 * email does. cursor is left where the batch ended, "" once the walk
 * reached the end. *dropped_r: names dropped. STORE_OK or an error.
 */
int store_spam_sweep(struct store *st, char *cursor, size_t cursorsz, size_t max,
                     size_t *dropped_r);

#endif
