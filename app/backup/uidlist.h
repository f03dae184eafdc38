/*
 * uidlist.h — Dovecot's `dovecot-uidlist`, the file beside a Maildir's
 * cur/ and new/ that gives each message file its IMAP UID, read by
 * `tern import` so that a mailbox moved from Dovecot keeps its
 * UIDVALIDITY and its messages their UIDs (clients then download nothing
 * again; POP3 UIDLs, made of the two, stay the same too).
 *
 * The format (Dovecot's Maildir documentation): a header line, then one
 * line per message.
 *   version 3 (Dovecot 1.1 on): "3 V<uidvalidity> N<next uid> G<guid>",
 *     fields in any order, more may come (each a letter and a value);
 *     message lines "<uid> <fields> :<file name base>", the fields
 *     (W<size>, S<size>, G<guid>, P<POP3 UIDL>...) before the colon.
 *   version 1 (Courier's courierimapuiddb): "1 <uidvalidity> <next uid>",
 *     message lines "<uid> <file name base>".
 * The base is the file name without its info part (":2,FLAGS"), so a
 * flag change, which renames the file, keeps its UID.
 *
 * Design. The text stays the caller's (a mapped file): entries point into
 * it. Nothing is sized from a number in the file; the entries are at
 * most the lines. A line that does not parse is left out (counted in
 * bad): its message then gets a new UID, as Dovecot would give it.
 *
 * Caveats. Version 2 (a few Dovecot 1.0 betas) is not read (-1): the
 * import then gives new UIDs. UIDs are not checked to increase: the
 * importer keeps a UID only when it is above the ones before it.
 */
#ifndef TERN_BACKUP_UIDLIST_H
#define TERN_BACKUP_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

struct uidlist_ent {
	const char *base; /* into the text; not NUL-terminated */
	uint32_t len, uid;
};

struct uidlist {
	uint32_t uidvalidity, uidnext; /* uidvalidity non-zero once parsed */
	struct uidlist_ent *v;         /* sorted by base, for uidlist_find */
	size_t n, bad;
};

/* Reads text[0..len) into *ul (zeroed first): 0, or -1 when the header is
 * not one of a version read here or has no UIDVALIDITY (*ul then holds
 * nothing). The caller frees with uidlist_free, either way. */
int uidlist_parse(const char *text, size_t len, struct uidlist *ul);
/* The UID of the Maildir file name (its info part, from the first ':',
 * is not part of the match), or 0 when the list has none. */
uint32_t uidlist_find(const struct uidlist *ul, const char *name);
void uidlist_free(struct uidlist *ul);

#endif
