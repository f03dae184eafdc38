/*
 * mailfmt.h — the two mail folder formats other software keeps mail in,
 * as `tern export` writes them and `tern import` reads them:
 *
 * Maildir (and Maildir++, Dovecot's and Courier's layout): one file per
 * message; flags in the file name's info part ":2,<letters>" (D draft,
 * F flagged, P passed, R replied, S seen, T trashed, in ASCII order),
 * keywords as the letters a..z, each an index into the folder's
 * `dovecot-keywords` file ("0 $Label1" per line), as Dovecot does; the
 * internal date is the file's modification time.
 *
 * mbox (mboxrd): messages one after another, each starting with a From_
 * line "From SENDER DATE" (DATE in asctime form), a body line that would
 * start with ">*From " getting one more ">"; flags in Status: (R seen,
 * O old) and X-Status: (A answered, F flagged, T draft, D deleted) and
 * keywords in X-Keywords: ($Forwarded among them: mbox has no letter
 * for it), as Dovecot and mutt write them. A line of an mbox may end in
 * LF or CRLF, so a message line ending in CR CR LF comes back with one
 * CR less.
 *
 * Flags are the store's keyword names: $seen $answered $flagged $draft
 * $forwarded, and $deleted for IMAP \Deleted (T in Maildir, D in mbox).
 *
 * The parsers take untrusted files: lengths are those of the buffers
 * given, nothing is sized from the input.
 */
#ifndef TERN_BACKUP_MAILFMT_H
#define TERN_BACKUP_MAILFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

/* System flags as bits. */
#define MF_SEEN 1u
#define MF_ANSWERED 2u
#define MF_FLAGGED 4u
#define MF_DRAFT 8u
#define MF_FORWARDED 16u
#define MF_DELETED 32u

/*
 * The info part of a Maildir file name: flags into *flags_r, keyword
 * letters a..z into *kw_r (bit i = letter 'a' + i). Names without ":2,"
 * (or "!2,", the form for file systems without ':') have none. Unknown
 * letters are ignored, as Dovecot ignores them. Returns the length of
 * the name before the info part (its unique part).
 */
size_t maildir_info_parse(const char *name, size_t len, unsigned *flags_r, uint32_t *kw_r);

/* Writes ":2," and the letters for flags and kw (ASCII order) into out
 * (at least 40 bytes). Returns the length. */
size_t maildir_info_format(char *out, unsigned flags, uint32_t kw);

/* The flag bits and the other keywords of a store keyword list
 * ("$seen $Label"): others, space-separated, go to others (NUL-terminated,
 * cut at othersz). */
unsigned mailfmt_flags_of(const char *kw, size_t len, char *others, size_t othersz);

/* A store keyword list from flag bits, appended to out with spaces. */
void mailfmt_flags_to_keywords(unsigned flags, struct buf *out);

/* One message found in an mbox. */
struct mbox_msg {
	const char *from_line; /* the From_ line, without its newline */
	size_t from_len;
	const char *body;      /* the message as stored in the file (after the From_ line) */
	size_t body_len;
	time_t date;           /* from the From_ line; 0 when it has none that parses */
	int verbatim;          /* 1: its Content-Length held (mboxcl2): nothing was quoted */
};

/*
 * Whether the line at p (len bytes, without its newline) is a From_
 * line: "From " then a sender, then a date that starts with a weekday
 * name (as mutt checks, so that a body line "From here on..." that an
 * mboxo writer did not quote is not taken for one).
 */
int mbox_is_from_line(const char *p, size_t len);

/*
 * The next message of an mbox held in memory, from *off on: 1 and *m
 * (pointers into p), *off moved past it; 0 at the end. Text before the
 * first From_ line is skipped.
 *
 * A message whose header has a Content-Length that ends its body exactly
 * where the file ends or the next From_ line starts (after the empty
 * separator line) is taken by that length, verbatim: mutt and neomutt
 * write such mboxcl2 files, leaving body lines that start with "From "
 * or ">From " as they are. Otherwise the message runs to the next From_
 * line after an empty line and is mboxrd-quoted.
 */
int mbox_next(const char *p, size_t len, size_t *off, struct mbox_msg *m);

/*
 * The message of body (as mbox_next found it) as the store keeps it:
 * one ">" less on ">+From " lines (mboxrd; not when verbatim, as
 * mbox_next said), CRLF line ends, and the
 * header fields that only carry mbox state (Status, X-Status, X-Keywords,
 * X-UID, X-IMAPbase, X-IMAP, Content-Length) left out; their flags and
 * keywords go to *flags_r and keywords (space-separated, cut at kwsz).
 * Appends to out: 0, or -1 when out is full.
 */
int mbox_message_decode(const char *body, size_t len, int verbatim, struct buf *out,
                        unsigned *flags_r, char *keywords, size_t kwsz);
/* The same, each piece of the result given to put(arg, p, n) (0 to go
 * on, else the decode stops and returns -1): the message need not be
 * held whole in memory (tern import writes it into a spool). */
typedef int mailfmt_put_fn(void *arg, const void *p, size_t n);
int mbox_message_decode_to(const char *body, size_t len, int verbatim, mailfmt_put_fn *put,
                           void *arg, unsigned *flags_r, char *keywords, size_t kwsz);

/*
 * One message appended to an mbox being written: the From_ line (sender
 * "MAILER-DAEMON", date), Status/X-Status/X-Keywords for the flags and
 * keywords (others: space-separated, may be empty), then the message with
 * LF line ends and mboxrd quoting, less its own header fields that a
 * reader takes for mbox state (Status, X-Status, X-Keywords, X-UID,
 * X-IMAPbase, X-IMAP, Content-Length: mbox_message_decode drops them
 * too), then an empty line. 0 or -1 (full).
 */
int mbox_message_encode(const char *msg, size_t len, time_t date, unsigned flags,
                        const char *others, struct buf *out);


/* asctime-form date of a From_ line ("Www Mmm dd hh:mm:ss yyyy" with
 * optional zone before the year) to UTC seconds: 0 or -1. */
int mbox_date_parse(const char *p, size_t len, time_t *t_r);

#endif
