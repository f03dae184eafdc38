/*
 * smtp_parse.h — pure parsers for inbound SMTP command lines.
 *
 * Design: the session keeps its input in a buffer and asks smtp_line_find()
 * where the next command line ends; it then hands that line (without CRLF)
 * to smtp_cmd_parse(), which fills a struct smtp_cmd with the verb and its
 * verb-specific fields. Every field is a slice into the line: nothing is
 * allocated and nothing is copied, so the result lives exactly as long as
 * the line's bytes. The session picks its reply from the return code (each
 * code below names the reply it is meant for) and may quote cmd->err, a
 * short static text, in it.
 *
 * Grammar: RFC 5321 §4.1 with RFC 6531 (SMTPUTF8: UTF-8 in local parts,
 * quoted strings and U-label domains, validated as well-formed UTF-8) and
 * the parameters of RFC 1870 (SIZE), 6152 (BODY), 3030 (BINARYMIME), 3461
 * (DSN: RET, ENVID, NOTIFY, ORCPT), 4954 (AUTH=), 2852 (BY) and 4865
 * (HOLDFOR, HOLDUNTIL).
 *
 * Leniency, on purpose and like Postfix: verbs are case-insensitive; runs of
 * spaces or tabs separate words; trailing white space is ignored; a space
 * after "FROM:" / "TO:" is accepted; any non-empty HELO/EHLO argument is
 * accepted (cmd->helo_invalid says when it is not a domain) unless it is a
 * malformed address literal (SMTP_PARSE_SYNTAX). Strict, on purpose: a path must be in angle brackets; local
 * parts follow the dot-string / quoted-string grammar ("a..b" is refused);
 * domain labels are LDH without leading or trailing hyphen, or U-labels.
 *
 * Caveats: U-labels are only checked to be well-formed UTF-8 without ASCII
 * other than letters, digits and hyphen — no IDNA2008 tables, no case
 * folding. General address literals ("[tag:...]") are refused. Parameters
 * the server does not know are errors (SMTP_PARSE_UNKNOWN_PARAM); whether a
 * known one is allowed (e.g. SMTPUTF8 without the extension announced, or
 * a non-ASCII address without SMTPUTF8) is the session's policy, helped by
 * the flags recorded here.
 */
#ifndef TERN_SMTP_SMTP_PARSE_H
#define TERN_SMTP_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core/str.h"

/* RFC 5321 §4.5.3.1 limits, in octets. */
#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256 /* whole path including "<" and ">" */
/* Room for any address smtp_path_address() can produce, with its NUL. */
#define SMTP_ADDRESS_BUF (SMTP_LOCAL_PART_MAX + 1 + SMTP_DOMAIN_MAX + 1)
#define SMTP_ENVID_MAX 100 /* RFC 3461 §4.4, counted after xtext decoding */
#define SMTP_ORCPT_MAX 500 /* RFC 3461 §4.2, "addr-type;xtext" as sent */

/*
 * Line finding results. Every code also reports through *consumed_r how
 * many octets to drop to resynchronize; see smtp_line_find().
 */
enum smtp_line_result {
	SMTP_LINE_FOUND = 1,
	SMTP_LINE_MORE = 0,
	SMTP_LINE_TOO_LONG = -1, /* no CRLF within max octets: 500 5.5.2 */
	SMTP_LINE_BARE_LF = -2,  /* line ended by LF without CR */
	SMTP_LINE_BARE_CR = -3,  /* a CR not followed by LF inside the line */
	SMTP_LINE_NUL = -4,      /* a NUL octet inside the line */
};

/*
 * Finds the next line in p[0..len). A line ends at the first LF; it is well
 * formed when that LF is preceded by CR, no other CR occurs in it and it
 * holds no NUL. max is the longest line accepted, not counting the CRLF
 * (RFC 5321 says 510 for commands; servers with extensions use more). At
 * most max+2 octets of p are examined, whatever len is.
 *
 * Returns:
 *   SMTP_LINE_FOUND     *linelen_r = length without CRLF, *consumed_r =
 *                       linelen + 2.
 *   SMTP_LINE_MORE      no LF yet and fewer than max+2 octets: call again
 *                       with more bytes (the same ones first). *linelen_r
 *                       and *consumed_r are 0.
 *   SMTP_LINE_BARE_LF, SMTP_LINE_BARE_CR, SMTP_LINE_NUL
 *                       the line is malformed; *consumed_r covers it through
 *                       its LF (so the session is in sync after dropping
 *                       it) and *linelen_r is its length without the line
 *                       end (without the LF, or the CRLF when the line ends
 *                       in CRLF), should a lenient session want to use it.
 *                       When a line has several defects the first in this
 *                       order is reported: BARE_LF, BARE_CR, NUL.
 *   SMTP_LINE_TOO_LONG  the line is longer than max. *consumed_r is the
 *                       octets examined (never including an LF) and
 *                       *linelen_r is 0; the rest of the line is still to
 *                       come, so the caller always goes on with
 *                       smtp_line_discard() until it returns 1.
 */
int smtp_line_find(const char *p, size_t len, size_t max, size_t *linelen_r, size_t *consumed_r);

/*
 * Discards input up to and including the next LF. Returns 1 when the LF
 * was found (*consumed_r counts through it: the caller is in sync again),
 * or 0 when p had none (*consumed_r == len: keep discarding).
 */
int smtp_line_discard(const char *p, size_t len, size_t *consumed_r);

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_BURL, /* RFC 4468, submission only */
};

/*
 * smtp_cmd_parse() results. The comment gives the reply each is meant for;
 * cmd->err holds a short static reason and cmd->bad the offending part.
 */
enum smtp_parse_result {
	SMTP_PARSE_OK = 0,
	SMTP_PARSE_SYNTAX = -1,        /* 501 5.5.4 (missing/extra argument, no "FROM:") */
	SMTP_PARSE_BAD_PATH = -2,      /* 501 5.1.7 for MAIL, 501 5.1.3 for RCPT */
	SMTP_PARSE_UNKNOWN_PARAM = -3, /* 555 5.5.4 parameter not recognized */
	SMTP_PARSE_BAD_PARAM = -4,     /* 501 5.5.4 malformed or repeated parameter value */
};

/* A reverse-path or forward-path. All slices point into the command line. */
struct smtp_path {
	struct str raw;              /* between "<" and ">", source route included */
	struct str local;            /* local part as written (a quoted one keeps its quotes) */
	struct str domain;           /* domain or "[literal]"; empty for <> and <postmaster> */
	unsigned is_null : 1;        /* "<>" (MAIL only) */
	unsigned is_postmaster : 1;  /* "<postmaster>" without domain (RCPT only) */
	unsigned quoted : 1;         /* local part is a quoted-string */
	unsigned domain_literal : 1; /* domain is "[...]" */
	unsigned had_route : 1;      /* a source route "@a,@b:" was given and dropped */
	unsigned utf8 : 1;           /* non-ASCII anywhere: needs SMTPUTF8 */
};

enum smtp_body {
	SMTP_BODY_NONE = 0, /* no BODY= parameter */
	SMTP_BODY_7BIT,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= bits; NEVER is exclusive with the others. */
#define SMTP_NOTIFY_NEVER 0x1u
#define SMTP_NOTIFY_SUCCESS 0x2u
#define SMTP_NOTIFY_FAILURE 0x4u
#define SMTP_NOTIFY_DELAY 0x8u

/* Bits of smtp_params.seen: which parameters were given. */
#define SMTP_PARAM_SIZE 0x01u
#define SMTP_PARAM_BODY 0x02u
#define SMTP_PARAM_SMTPUTF8 0x04u
#define SMTP_PARAM_RET 0x08u
#define SMTP_PARAM_ENVID 0x10u
#define SMTP_PARAM_AUTH 0x20u
#define SMTP_PARAM_NOTIFY 0x40u
#define SMTP_PARAM_ORCPT 0x80u
#define SMTP_PARAM_REQUIRETLS 0x100u
#define SMTP_PARAM_BY 0x200u /* Deliver By, RFC 2852 */
#define SMTP_PARAM_HOLDFOR 0x400u   /* Future Release, RFC 4865 */
#define SMTP_PARAM_HOLDUNTIL 0x800u /* Future Release, RFC 4865 */
#define SMTP_PARAM_MTPRIORITY 0x1000u /* Message Transfer Priority, RFC 6710 */

/* ESMTP parameters of MAIL (SIZE..AUTH) and RCPT (NOTIFY, ORCPT). */
struct smtp_params {
	unsigned seen;
	uint64_t size;
	enum smtp_body body;
	enum smtp_ret ret;
	struct str envid;      /* xtext as sent; smtp_xtext_decode() for the value */
	struct str auth;       /* xtext as sent, or "<>" */
	unsigned notify;       /* SMTP_NOTIFY_* */
	struct str orcpt_type; /* e.g. "rfc822" */
	struct str orcpt_addr; /* xtext as sent (UTF-8 may be in it: orcpt_utf8) */
	/* The ORCPT value holds UTF-8: RFC 6533 §3's utf-8-addr-unitext of
	 * an "utf-8" type, allowed only under SMTPUTF8 (RFC 6531 §3.3
	 * extends esmtp-value so): the session checks that. */
	int orcpt_utf8;
	/* BY=<by-time>;<by-mode>[T] (RFC 2852 §4): seconds (may be 0 or
	 * negative: the server checks what the mode allows), 'R' or 'N'
	 * (upper case whatever was sent), trace. */
	int64_t by_time;
	char by_mode;
	unsigned by_trace : 1;
	/* HOLDFOR=<seconds> (1*9DIGIT) or HOLDUNTIL=<RFC 3339 date-time>
	 * (RFC 4865 §3): at most one of the two; hold_until in seconds since
	 * the epoch (may be past: the session decides). */
	uint32_t hold_for;
	int64_t hold_until;
	/* MT-PRIORITY=[+/-]DIGIT (RFC 6710 §3, §6): -9..9, higher first.
	 * Whether it is honoured is the session's call (trust, §5). */
	int mt_priority;
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct str verb_str; /* the verb as sent */
	struct str arg;      /* everything after the verb, trimmed; may be empty */

	/* HELO / EHLO: the argument (all of arg) and whether it is a valid
	 * domain or address literal. */
	struct str helo;
	unsigned helo_invalid : 1;

	/* MAIL / RCPT */
	struct smtp_path path;
	struct smtp_params params;

	/* BDAT; BURL's url and LAST. bdat_sized: the chunk size was read,
	 * even when the rest of the line is bad, so its octets can be
	 * skipped. */
	uint64_t bdat_size;
	unsigned bdat_last : 1;
	unsigned bdat_sized : 1;
	struct str burl_url;

	/* AUTH: mechanism (upper- or lower-case as sent) and optional initial
	 * response ("=" stands for an empty one, RFC 4954; not decoded). */
	struct str auth_mech;
	struct str auth_initial;

	/* On error: a static reason ("bad UTF-8 in address") and the part of
	 * the line that caused it. Untouched on success. */
	const char *err;
	struct str bad;
};

/*
 * Parses one command line (without its CRLF; it may hold any bytes, though
 * smtp_line_find() never hands over CR, LF or NUL). Fills *cmd, which is
 * zeroed first; all slices point into line.
 *
 * An unknown verb is not an error: it returns SMTP_PARSE_OK with
 * cmd->verb == SMTP_VERB_UNKNOWN (500 5.5.2), as does an empty line.
 * VRFY, EXPN, HELO, EHLO, MAIL, RCPT, BDAT and AUTH need an argument;
 * DATA, RSET, QUIT and STARTTLS take none; NOOP and HELP take anything.
 *
 * Returns SMTP_PARSE_OK or one of the negative smtp_parse_result codes.
 */
int smtp_cmd_parse(struct str line, struct smtp_cmd *cmd);

/*
 * Checks that s is a domain per RFC 5321 (dot-separated labels of letters,
 * digits and inner hyphens, each 1..63 octets) or RFC 6531 U-labels, no
 * longer than SMTP_DOMAIN_MAX. Sets *utf8_r (may be NULL) when a label is
 * non-ASCII. Returns 1 valid, 0 not.
 */
int smtp_domain_valid(struct str s, int *utf8_r);

/*
 * The other spelling of an internationalised domain (RFC 5890 §2.3.2.1:
 * an A-label and its U-label are one label): with a non-ASCII label, all
 * of them as A-labels ("bücher.test" -> "xn--bcher-kva.test"); else, with
 * an "xn--" label, those decoded to UTF-8. Written NUL-terminated into
 * dst; returns its length, 0 when d has no other spelling, a label does
 * not convert, or it does not fit in dstsz or SMTP_DOMAIN_MAX. d is taken
 * as smtp_domain_valid() passed it, ASCII lowercased.
 */
size_t smtp_domain_other_form(struct str d, char *dst, size_t dstsz);

/*
 * Checks an address literal with its brackets: "[1.2.3.4]" or
 * "[IPv6:...]" (the tag case-insensitively). Returns 1 valid, 0 not.
 */
int smtp_addr_literal_valid(struct str s);

/*
 * Checks s is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). Returns 1 valid, 0 not.
 */
int smtp_utf8_valid(struct str s);

/*
 * Writes the address of path as the store keys it: local part as sent,
 * except that a quoted one that can be written as a dot-string is
 * ("bob" becomes bob, "b\ob" too; "john doe" keeps its quotes), "@",
 * domain lowercased (ASCII only), NUL-terminated into dst. A null path
 * gives "" and <postmaster> gives "postmaster". Returns the length written
 * (without NUL), or -1 when dstsz is too small (dst is then "" if dstsz >
 * 0). SMTP_ADDRESS_BUF always suffices for a path smtp_cmd_parse() accepted.
 */
int smtp_path_address(const struct smtp_path *path, char *dst, size_t dstsz);

/*
 * The address a bare mailbox addr (a Sieve redirect's, no angle brackets)
 * stands for, as smtp_path_address() writes a RCPT TO path's: RCPT's own
 * parser reads it, so "bob"@d is bob@d and "john doe"@d keeps its quotes,
 * the form the store keys and the queue's RCPT TO carries. Returns the
 * length, or -1 when addr is no Mailbox RCPT TO would take (a source
 * route, parameters, a line end) or dst (SMTP_ADDRESS_BUF) is too small.
 */
int smtp_mailbox_address(struct str addr, char *dst, size_t dstsz);

/*
 * Decodes RFC 3461 xtext ("+XX" hex escapes; lower-case hex accepted) into
 * dst, NUL-terminated. Returns the decoded length, or -1 when s is not
 * valid xtext or does not fit.
 */
int smtp_xtext_decode(struct str s, char *dst, size_t dstsz);
/*
 * MT-PRIORITY's value (RFC 6710 §6): priority-value = [ "+" / "-" ]
 * DIGIT. 0 with -9..9 in *priority_r; -1 for anything else ("10",
 * "--1", "+", ""), *priority_r untouched. MAIL's parser and JMAP's
 * EmailSubmission envelope both take it here.
 */
int smtp_mt_priority_parse(struct str v, int *priority_r);

/*
 * The ORCPT value addr of type as the queue keeps it, in dst: an xtext
 * decoded; for the "utf-8" type (RFC 6533 §3), whose \x{HEX} escapes
 * are kept, the UTF-8 characters of the utf-8-addr-unitext form become
 * escapes too (its ASCII utf-8-addr-xtext form), so the notice and the
 * next hop get an ASCII value whether or not they take SMTPUTF8.
 * Returns the length, or -1 when it does not fit.
 */
int smtp_orcpt_decode(struct str type, struct str addr, char *dst, size_t dstsz);

#endif
