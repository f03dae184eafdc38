/*
 * mime_tree.h — the MIME structure of a message: parts, their offsets and
 * their Content-* fields, plus the ENVELOPE of every message in it.
 *
 * Design: mime_tree_parse() reads a whole message held in memory once, at
 * delivery or APPEND, and produces a flat array of parts in pre-order
 * (a part's children follow it, its first child at index + 1). The tree is
 * then serialized with mime_cache.h and stored next to the message, so
 * IMAP FETCH (ENVELOPE, BODY, BODYSTRUCTURE, BODY[section], BINARY) and
 * JMAP Email/get never parse the message again: they decode the cached
 * tree and cut the message bytes at the offsets it holds.
 *
 * Parts follow Dovecot's model. The root part (index 0) is the message:
 * its header section is the message header, its body the message body.
 * A multipart part has its body parts as children (the preamble, the
 * boundary lines and the epilogue belong to no child). A message/rfc822 or
 * message/global part has exactly one child, the encapsulated message,
 * whose header section starts where the part's body starts. The root and
 * every encapsulated message carry an envelope. A part's Content-* fields
 * come from its own header section.
 *
 * Boundaries (RFC 2046 §5.1.1): a boundary line is a line starting with
 * "--" and the boundary of an enclosing multipart; the line end before it
 * belongs to it, not to the part above. As in Dovecot a line only has to
 * start with "--boundary" (what follows is ignored), every enclosing
 * multipart's boundary is looked for at once, the longest matching one
 * wins, and a boundary of an outer multipart ends inner multiparts that
 * never saw their close delimiter. A multipart without any boundary line
 * has no children. Line ends may be CRLF or bare LF.
 *
 * Limits and degradation: at most MIME_DEPTH_MAX levels and
 * MIME_PARTS_MAX parts. A multipart or message part that cannot be
 * expanded (too deep, no usable boundary parameter, parts exhausted)
 * becomes a text/plain leaf with MIME_PART_TRUNCATED; when the part
 * budget runs out inside a multipart, one last text/plain leaf takes the
 * rest of the message and parsing stops. A message/rfc822 with a
 * transfer encoding other than 7bit/8bit/binary keeps its type but is a
 * leaf (no MIME_PART_MESSAGE). A header field past rfc5322.h's field
 * limit is dropped; a header past its total limit, or a field name past
 * its limit, ends the header there; a malformed line stays in the header
 * (rfc5322.h). A header that runs into a boundary line ends
 * before the line end that precedes the boundary (as in Dovecot).
 * Parameters and addresses are capped per field and per tree (MIME_*_MAX
 * below). MIME_TREE_LIMITED is set whenever something was cut.
 *
 * Caveats: sizes and offsets are of the bytes as stored. IMAP sends
 * messages with CRLF line ends; for a message stored with bare LF the
 * CRLF sizes are size + bare_lf (see struct mime_part). Strings point into
 * the arena given to mime_tree_parse() or into the cached record given to
 * mime_cache_decode(), and static storage for defaults; never into msg.
 */
#ifndef TERN_MIME_TREE_H
#define TERN_MIME_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_field.h"

#define MIME_NONE UINT32_MAX
#define MIME_DEPTH_MAX 50 /* root is depth 0 */
#define MIME_PARTS_MAX 10000
#define MIME_PARAMS_MAX 64    /* per Content-Type / Content-Disposition */
#define MIME_LANGS_MAX 16     /* Content-Language items */
#define MIME_ADDRS_MAX 1000   /* per address list */
#define MIME_BUDGET_MAX 50000 /* parameters + addresses in one tree */

struct mime_addrs {
	struct mime_address *v;
	uint32_t n; /* 0: the envelope member is NIL */
};

/*
 * ENVELOPE members (RFC 9051 §7.5.2), raw: unfolded and trimmed, encoded
 * words left as they are. p == NULL when the field is absent; present but
 * empty is p != NULL, len 0. Address lists hold what the header says
 * (a repeated address field's lists joined, the other members from the
 * first occurrence); the IMAP rule "Sender and Reply-To default to From" is applied when
 * rendering, not here.
 */
struct mime_envelope {
	struct str date, subject, in_reply_to, message_id;
	struct mime_addrs from, sender, reply_to, to, cc, bcc;
};

/* mime_part.flags */
#define MIME_PART_MULTIPART 0x01u /* children are its body parts */
#define MIME_PART_MESSAGE                                                                          \
	0x02u /* message/rfc822 or /global: one child,                                             \
	       * the encapsulated message */
#define MIME_PART_DEFAULT_TYPE                                                                     \
	0x04u                        /* no valid Content-Type: type/subtype                        \
	                              * are the default (text/plain, or                            \
	                              * message/rfc822 in multipart/digest) */
#define MIME_PART_TRUNCATED 0x08u    /* degraded to a text/plain leaf */
#define MIME_PART_NO_SEPARATOR 0x10u /* header not ended by an empty line */
#define MIME_PART_NO_END 0x20u       /* multipart whose close delimiter never came */
#define MIME_PART_FLAGS 0x3Fu        /* all defined bits */

struct mime_part {
	uint32_t parent;    /* index, MIME_NONE for the root */
	uint32_t next;      /* next sibling, MIME_NONE for the last */
	uint32_t nchildren; /* children are index + 1 and its siblings */
	uint16_t depth;     /* root 0; a child is its parent's depth + 1 */
	uint16_t flags;     /* MIME_PART_* */

	/* Offsets into the message: header section [hdr_off, body_off)
	 * (its empty line included), body [body_off, body_end). */
	uint64_t hdr_off, body_off, body_end;
	uint64_t lines;        /* text and message types: LFs in the body (as
	                        * Dovecot counts: the line end before a
	                        * boundary is not the body's); else 0 */
	uint64_t hdr_bare_lf;  /* LFs without CR before them in the header... */
	uint64_t body_bare_lf; /* ...and in the body */

	struct str type, subtype; /* as written (case kept), or the defaults */
	struct mime_param *params;
	uint32_t nparams;
	uint32_t ndisp_params;
	struct str disposition; /* p == NULL when absent or invalid */
	struct mime_param *disp_params;
	struct str id, description, encoding, md5, location; /* raw, unfolded,
	                                                      * p == NULL if absent */
	struct str *languages;
	uint32_t nlanguages;
	struct mime_envelope *env; /* the root and encapsulated messages; else NULL */
};

/* mime_tree.flags */
#define MIME_TREE_LIMITED 0x1u /* some limit cut the structure or a list */
/* The root header has an ENVELOPE field (Date, Subject, From, Sender,
 * Reply-To, To, Cc, Bcc, In-Reply-To, Message-ID) more than once, so the
 * envelope holds IMAP's choice (lists joined, else the first) and a
 * reader that wants another (JMAP: the last) must read the header. */
#define MIME_TREE_REPEATED_ENV 0x2u
/* Set by every parse (so in every record written since): HEADER_UTF8 is
 * meaningful. A record without it predates the scan and says nothing. */
#define MIME_TREE_HDR_SCANNED 0x4u
/* Some part's header (the root's, an attached message's, a body part's
 * MIME header) has a field mime_header_downgrade.h rewrites: a client
 * without UTF-8 (IMAP without UTF8=ACCEPT) gets it downgraded. */
#define MIME_TREE_HDR_UTF8 0x8u
/* Set by every parse since POP3 stopped reading each message at login:
 * NO_FINAL_LF is meaningful. A record without it says nothing. */
#define MIME_TREE_END_SCANNED 0x10u
/* The message's last octet is not an LF (IMAP APPEND takes such a
 * message): a sender that ends every line with CRLF (POP3's RETR) adds
 * one, and counts it in the size it announces. */
#define MIME_TREE_NO_FINAL_LF 0x20u
#define MIME_TREE_FLAGS                                                                            \
	(MIME_TREE_LIMITED | MIME_TREE_REPEATED_ENV | MIME_TREE_HDR_SCANNED | MIME_TREE_HDR_UTF8 | \
	 MIME_TREE_END_SCANNED | MIME_TREE_NO_FINAL_LF)

struct mime_tree {
	struct mime_part *parts; /* parts[0] is the root */
	uint32_t nparts;         /* >= 1 */
	uint32_t flags;
	uint64_t size; /* of the message */
};

/*
 * Parses msg[0..len). Everything is allocated from a; msg is not referred
 * to afterwards. Never fails: malformed input gives a degraded tree (see
 * above). Cost is linear in len.
 */
void mime_tree_parse(const char *msg, size_t len, struct arena *a, struct mime_tree *t);

/*
 * Degrades t to its root only, for a structure too big to keep: the root
 * becomes a text/plain leaf with MIME_PART_TRUNCATED (its envelope and
 * other Content-* fields kept), its lines and bare-LF counts recounted
 * from msg[0..len), the message t was parsed from, and MIME_TREE_LIMITED
 * is set. Address lists of the envelope are cut to addrs_max entries each.
 */
void mime_tree_keep_root(struct mime_tree *t, const char *msg, size_t len, uint32_t addrs_max);

/* What a section names (RFC 9051 §6.4.5). */
enum mime_section {
	MIME_SECTION_WHOLE,  /* BODY[] the message; BODY[1.2] the part's body */
	MIME_SECTION_HEADER, /* BODY[HEADER], BODY[2.HEADER]: a message's header */
	MIME_SECTION_TEXT,   /* BODY[TEXT], BODY[2.TEXT]: a message's body */
	MIME_SECTION_MIME,   /* BODY[1.2.MIME]: the part's own header */
};

#define MIME_SECTION_NOT_FOUND (-1) /* no such part, or MIME without numbers */
#define MIME_SECTION_NOT_MESSAGE                                                                   \
	(-2) /* HEADER/TEXT after numbers naming a part                                            \
	      * that is not message/rfc822 or /global */

/*
 * Finds the part named by the part numbers nums[0..n) (each >= 1; n may
 * be 0 for the message itself): a multipart's numbers select its children,
 * the body of a non-multipart message is its part 1, and a number after a
 * message/rfc822 part goes into the encapsulated message. Returns the
 * index, or MIME_NONE.
 */
uint32_t mime_tree_find(const struct mime_tree *t, const uint32_t *nums, size_t n);

/*
 * Locates section kind of the part nums[0..n) in the message: *off_r and
 * *len_r give the octets (within [0, t->size)), *part_r the part they
 * belong to (the encapsulated message for HEADER/TEXT). Part 1 of a
 * multipart without parts, or of a message part kept as a leaf, is empty
 * (its MIME header too), at the part's body end: BODYSTRUCTURE lists an
 * empty part there. Any of the out
 * pointers may be NULL. Returns 0, MIME_SECTION_NOT_FOUND or
 * MIME_SECTION_NOT_MESSAGE (what to answer then is the IMAP layer's
 * choice; RFC 9051 does not define it).
 */
int mime_tree_section(const struct mime_tree *t, const uint32_t *nums, size_t n,
                      enum mime_section kind, uint32_t *part_r, uint64_t *off_r, uint64_t *len_r);

/*
 * The same with the part numbers as text: "" or "1.2.3" (digits and single
 * dots, no leading zero, each number 1..2^32-1). A spec that is not that
 * syntax is MIME_SECTION_NOT_FOUND.
 */
int mime_tree_section_str(const struct mime_tree *t, struct str spec, enum mime_section kind,
                          uint32_t *part_r, uint64_t *off_r, uint64_t *len_r);

/*
 * Writes the IMAP part number of part i into dst (size dstsz,
 * NUL-terminated): "" for the root, "1.2" for the second child of the
 * first. An encapsulated message that is a multipart has no number of its
 * own and gets its message/rfc822 part's; a non-multipart one is that
 * number + ".1" (so mime_tree_find() of the result gives i back, except
 * for such multiparts). Returns the length, or -1 when it does not fit or
 * i is out of range.
 */
int mime_tree_part_number(const struct mime_tree *t, uint32_t i, char *dst, size_t dstsz);

/* 1 when part p's type/subtype is type/subtype (ASCII case-insensitive;
 * subtype NULL matches any). */
int mime_part_is(const struct mime_part *p, const char *type, const char *subtype);

/*
 * BODY[HEADER.FIELDS (...)] and BODY[HEADER.FIELDS.NOT (...)] of the
 * header section d[0..hlen): the fields whose names are (with not, are
 * not) in names[0..n) (compared in any case), each with its continuation
 * lines, as they appear (a field the section ends without a line end gets
 * CRLF); a .NOT list also keeps broken lines that are no field, as
 * Dovecot does; then the empty line when the section had one (or was
 * empty). The one filter: IMAP FETCH and CATENATE's URLs use it.
 * Malloc'ed, *len_r its length.
 */
char *mime_header_filter(const char *d, uint64_t hlen, const struct str *names, size_t n,
                         int not, uint64_t *len_r);

#endif
