/*
 * cli_import.h — the one way mail enters an account from outside
 * (cmd_import.c), shared by tern import (files) and tern migrate
 * (another IMAP server): mailboxes created as needed, messages stored as
 * IMAP APPEND stores them in chains of commits, and a message whose bytes
 * are already in the target mailbox skipped (idempotent, resumable).
 */
#ifndef TERN_CLI_CLI_IMPORT_H
#define TERN_CLI_CLI_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct imp;
struct store;

/* Starts importing into email's account (progress labelled op); NULL
 * after printing why (no such account, no spool directory). Messages are
 * held in spools (core/spool.h) in cfg's data directory's spool/: past
 * cfg's memory budget, in files. */
struct config;
struct imp *import_begin(const struct config *cfg, struct store *st, const char *email,
                         const char *op);
/* Makes name the mailbox messages go to (created when missing): 0, 1
 * when no mailbox can have that name (said on stderr; the import's exit
 * status becomes 1, the caller goes on with the next folder), or -1. */
int import_mailbox(struct imp *im, const char *name);
/*
 * One message (raw bytes as found; line ends are made CRLF; is_mbox: an
 * mbox message body, its state fields read and, when 1, its mboxrd
 * quoting undone; 2 for a verbatim (mboxcl2) one, mailfmt.h) with flags
 * (mailfmt.h MF_*), other keywords (space-separated, may be NULL) and its
 * internal date (0: now). Stored with the next commit of the chain.
 */
void import_add(struct imp *im, const char *raw, size_t len, int is_mbox, unsigned flags,
                const char *others, time_t date, uint32_t uid);
/*
 * The current mailbox keeps the source's UIDs: it takes the UIDVALIDITY
 * uidvalidity (store_mailbox_uids_keep: when it holds no other mail, or
 * the same UIDVALIDITY from a run before), each message import_add gives
 * a uid keeps it when above the UIDs before it (the others, and messages
 * without one, get the next past them and past uidnext, the source's
 * UIDNEXT, 0 when not known), and when the mailbox is done its UIDNEXT
 * goes up to uidnext. Prints a line saying so and returns 0; when the
 * mailbox holds other mail: with import_new_uids, a line and 0 (new UIDs,
 * as without this call), else 1 after an error on stderr that names
 * --new-uids (the caller leaves the folder out; the exit status becomes
 * 1); -1 for a store error.
 */
int import_mailbox_uids(struct imp *im, uint32_t uidvalidity, uint32_t uidnext);
/* The source's mailbox could not be read to its end (a fetch failed):
 * what is gathered is stored with its UIDs, and the mailbox's UIDNEXT
 * is left where they put it, so that a later run gives the messages not
 * copied their own UIDs too. */
void import_mailbox_cut(struct imp *im);
/* --new-uids: a mailbox that holds other mail takes the source's
 * messages with new UIDs instead of being left out. */
void import_new_uids(struct imp *im);
/* Commits what is gathered. */
void import_flush(struct imp *im);
/* Whether a commit failed for good (quota, disk): stop. */
int import_fatal(const struct imp *im);
/* Commits, prints the counts, frees im; returns the exit status (1 when
 * rc != 0 or a commit failed). */
int import_end(struct imp *im, const char *email, int rc);

/*
 * The account archive's settings beside the mail. account_json_load
 * (export_sieve.c) reads path/account.json, a file tern export wrote:
 * 1 when path has none (not such an archive: nothing to do), 0 with
 * *root_r (allocated in a; js, its text, is then the caller's to free
 * with buf_free), or -1 after printing why.
 *
 * import_account_mailboxes (import_mailboxes.c), called before the mail
 * goes in, creates each mailbox account.json lists (an empty one too),
 * gives them their roles (special-use) and subscribes the subscribed
 * names ("role" of each mailbox; "subscriptions", or each mailbox's
 * "subscribed" in an archive from before that member was written), with
 * import_mailboxes_create, import_roles_give and import_subscribe below.
 * Returns 0 (also without account.json), or -1 after printing why when a
 * mailbox, role or subscription could not be stored.
 *
 * The rest (export_sieve.c):
 * export_account_extras writes the members "app_passwords" and "sieve"
 * (each starting with a comma) to account.json's open object f and the
 * scripts into root/sieve/; import_account_extras reads them back from a
 * folder tern export wrote (a path without account.json: nothing to do),
 * storing each script that compiles and making the active one active,
 * and setting each mailbox's "sort_order" (cmd_export.c writes it; absent
 * is 0). Both return 0, or -1 after printing why.
 */
#include <stdio.h>
#include <stdint.h>
struct arena;
struct buf;
struct json_value;
int account_json_load(const char *path, struct arena *a, struct buf *js,
                      const struct json_value **root_r);
int import_account_mailboxes(struct store *st, const char *email, const char *path);

/*
 * A source's mailboxes, roles and subscriptions, put on the account
 * before the source's mail goes in (import_mailboxes.c): the one policy
 * of tern import (account.json, above) and tern migrate (another
 * server's special-use attributes and subscriptions). Names are tern's
 * ("/" between levels, UTF-8); the strings are the caller's.
 *
 * import_mailboxes_create creates each of names[0..n) that is missing:
 * 0, or -1 after printing why for one that cannot be made (the others
 * are made).
 *
 * import_roles_give gives each mailbox v[i].name (existing: create it
 * first) the role v[i].role (one store_mailbox_role_valid() knows;
 * another is named on stderr and left; INBOX is skipped): the
 * role goes to it if the account has no mailbox with it or only the one
 * account creation made under the default name, still empty
 * (store_mailbox_set_role), and a line on stdout says it moved; else the
 * account keeps its own holder and a line on stderr says the mailbox came
 * without it. A second mailbox of v with a role already given comes
 * without it. No role is taken from a mailbox that has mail. Prints
 * "roles: N given" when N > 0; returns N, or -1 after printing why when a
 * role could not be stored.
 *
 * import_subscribe subscribes each of names[0..n), with or without a
 * mailbox (subscriptions are names); nothing is unsubscribed. Prints
 * "subscriptions: N names subscribed" when N > 0; returns N, or -1 after
 * printing why for a name that could not be (the others are).
 */
struct import_role {
	const char *name, *role;
};
int import_mailboxes_create(struct store *st, uint32_t account, const char *const *names, size_t n);
int import_roles_give(struct store *st, uint32_t account, const struct import_role *v, size_t n);
int import_subscribe(struct store *st, uint32_t account, const char *const *names, size_t n);

int export_account_extras(struct store *st, uint32_t account, const char *root, FILE *f);
int import_account_extras(struct store *st, const char *email, const char *path);

/*
 * maildirpp_name appends to out (NUL-terminated) tern's name for the
 * Maildir++ storage name storage[0..len) whose levels are separated by
 * sep: "/" between levels, "\NN" (two hex digits: a character escaped as
 * Dovecot's listescape plugin and tern export write a '.' in a level)
 * decoded when sep is '.', modified UTF-7 decoded (a name that is not, but is UTF-8, as
 * Dovecot keeps with mailbox_list_utf8, taken as it is). 0, or -1 when it
 * is neither or too long.
 *
 * import_maildirpp_subscriptions subscribes the names root's Dovecot
 * "subscriptions" or Courier "courierimapsubscribed" file lists
 * (import_subscriptions.c) with import_subscribe: 0 (also when there is
 * no such file), or -1 after printing why for a file or a name that
 * could not be read or subscribed (the others are).
 */
int maildirpp_name(const char *storage, size_t len, char sep, struct buf *out);
/*
 * The names of a subscriptions file's text[0..len) (courier: Courier's
 * file, else Dovecot's of either version) into names[0..max), each
 * allocated (the caller frees them); returns how many. bad(arg, line,
 * length) is called for each line that is no mailbox name, and *over
 * counts the names past max. Used by import_maildirpp_subscriptions.
 */
size_t maildirpp_subscriptions_parse(const char *text, size_t len, int courier, char **names,
                                     size_t max, void (*bad)(void *, const char *, size_t),
                                     void *arg, size_t *over);
int import_maildirpp_subscriptions(struct store *st, uint32_t account, const char *root);

#endif
