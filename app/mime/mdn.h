/*
 * mdn.h — the fields of a message disposition notification (RFC 8098
 * §3.1: the body of a message/disposition-notification part): parsed
 * from a received one, written for one we send. JMAP's MDN/parse and
 * MDN/send (RFC 9007, app/jmap/jmap_mdn.c) are the consumers; the
 * multipart/report around the fields is theirs.
 *
 * Design. The block is a header section, so the one RFC 5322 parser
 * splits it into fields; this file only interprets them: the known
 * per-message fields (Reporting-UA, MDN-Gateway, Original-Recipient,
 * Final-Recipient, Original-Message-ID, Disposition, Error) and every
 * other well-formed field as an extension field, in order. Values are
 * unfolded and trimmed, otherwise as written ("rfc822; a@b.example"
 * stays whole, as RFC 9007's finalRecipient shows it). Disposition is
 * read into its three parts, case-insensitively, white space and
 * comments allowed around its separators; its modifiers are ignored
 * (RFC 8098 keeps only "error", reported through the Error fields).
 *
 * mdn_report_write() writes the same fields back, so a report written
 * and parsed again gives the same values (fuzz_mdn checks it).
 *
 * Caveats: at most MDN_ERRORS_MAX Error and MDN_EXT_MAX extension fields
 * are kept (more are ignored, not refused: a report is still a report);
 * a known field given twice keeps the first.
 */
#ifndef TERN_MIME_MDN_H
#define TERN_MIME_MDN_H

#include <stddef.h>

#include "core/str.h"

struct arena;
struct buf;

#define MDN_ERRORS_MAX 8
#define MDN_EXT_MAX 16
/* Longest value mdn_report_write() writes of one field (longer: cut). */
#define MDN_VALUE_MAX 998

enum mdn_type { MDN_DELETED, MDN_DISPATCHED, MDN_DISPLAYED, MDN_PROCESSED };

struct mdn_ext {
	struct str name, value;
};

struct mdn_report {
	/* p NULL when the field is absent. */
	struct str reporting_ua, mdn_gateway, original_recipient, final_recipient,
		original_message_id;
	int manual_action; /* 1 "manual-action", 0 "automatic-action" */
	int sent_manually; /* 1 "MDN-sent-manually", 0 "MDN-sent-automatically" */
	enum mdn_type type;
	struct str errors[MDN_ERRORS_MAX];
	size_t nerrors;
	struct mdn_ext ext[MDN_EXT_MAX];
	size_t next;
};

/* "deleted", "dispatched", "displayed", "processed". */
const char *mdn_type_name(enum mdn_type t);
/* The type named s (any case): 0, or -1 when it names none. */
int mdn_type_parse(struct str s, enum mdn_type *t_r);

/*
 * Parses the fields p[0..len) into r (values in a's memory). 0, or -1
 * when it is no report: no Final-Recipient, no Disposition or one that
 * does not parse, or a field past the RFC 5322 parser's limits.
 */
int mdn_report_parse(const char *p, size_t len, struct arena *a, struct mdn_report *r);

/* A Disposition value (unfolded) into r's three disposition members.
 * 0, or -1 when it does not parse. */
int mdn_disposition_parse(struct str v, struct mdn_report *r);

/*
 * Appends r's fields to out, CRLF after each: Reporting-UA, MDN-Gateway,
 * Original-Recipient, Final-Recipient, Original-Message-ID, Disposition,
 * Error, then the extension fields; absent ones are left out. Control
 * octets in values become spaces, values are folded before white space
 * past 78 columns and cut (longer than MDN_VALUE_MAX, or than a line of
 * 998 octets could hold with the field's name), and an extension field whose name is not a valid field name
 * (mdn_field_name_ok) or names a known field is left out. 0, or -1 when
 * out is full.
 */
int mdn_report_write(const struct mdn_report *r, struct buf *out);

/* 1 when s is a field name an extension field may have: 1..76 octets of
 * 33..126 but ':', and not one of the fields above. */
int mdn_field_name_ok(struct str s);

#endif
