/*
 * imap_resp.h — the few IMAP server responses `tern migrate` reads from
 * another server (RFC 9051 / RFC 3501 syntax): LIST and LSUB, FETCH with
 * UID, FLAGS, INTERNALDATE and BODY[], and EXAMINE's numbered codes. A response is given whole in its wire
 * form: the line, each literal "{N}\r\n" followed by its N octets, and
 * the rest of the line after it (the reader in cmd_migrate.c gathers it,
 * with a cap on every literal before reading it).
 *
 * The parser takes untrusted input: it never reads past len, never sizes
 * anything from a number it read but a literal's length checked against
 * what is there, and returns -1 on anything it does not understand.
 */
#ifndef TERN_BACKUP_IMAP_RESP_H
#define TERN_BACKUP_IMAP_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;

struct imapr_fetch {
	uint32_t seq, uid;         /* uid 0 when not given */
	const char *flags;         /* inside the parentheses, as sent; NULL when not given */
	size_t flags_len;
	time_t internaldate;       /* 0 when not given */
	const char *body;          /* BODY[] / RFC822, pointer into the response */
	size_t body_len;
	int has_body;
};

/*
 * "* N FETCH (...)": 1 and *f filled (pointers into p), 0 for another
 * response, -1 when malformed.
 */
int imapr_fetch(const char *p, size_t len, struct imapr_fetch *f);

/*
 * "* LIST (attrs) delim name", or LSUB's "* LSUB (attrs) delim name" of
 * the same shape: 1 with the attributes (inside the
 * parentheses, as sent) in *attrs, *attrs_len, the delimiter in *delim_r
 * ('\0' for NIL) and the name (as sent on the wire, quotes and escapes
 * undone) appended to name; 0 for another response, -1 when malformed.
 */
int imapr_list(const char *p, size_t len, const char **attrs, size_t *attrs_len, char *delim_r,
               struct buf *name);

/*
 * "* NAMESPACE personal other shared" (RFC 2342): 1 with each class's
 * prefixes and delimiters in *ns (at most IMAPR_NS_MAX a class, the rest
 * ignored; a prefix longer than IMAPR_NS_PREFIX_MAX - 1 is malformed), 0
 * for another response, -1 when malformed.
 */
#define IMAPR_NS_MAX 8
#define IMAPR_NS_PREFIX_MAX 256
enum { IMAPR_NS_PERSONAL, IMAPR_NS_OTHER, IMAPR_NS_SHARED };
struct imapr_ns {
	struct {
		char prefix[IMAPR_NS_PREFIX_MAX];
		char delim; /* '\0' for NIL */
	} v[3][IMAPR_NS_MAX];
	size_t n[3];
};
int imapr_namespace(const char *p, size_t len, struct imapr_ns *ns);

/*
 * One string at p[*off] after any spaces (quoted, literal or NIL: the
 * syntax IMAP and ManageSieve share), its bytes with escapes undone
 * appended to out: 0, 1 for NIL, -1 when malformed; *off moves past it.
 */
int imapr_string(const char *p, size_t len, size_t *off, struct buf *out);

/* An IMAP date-time "dd-Mmm-yyyy hh:mm:ss +zzzz" to UTC seconds: 0 or -1. */
int imapr_date(const char *p, size_t len, time_t *t_r);

/*
 * Whether the response line ends with a literal's length, "{N}" or
 * "{N+}": 1 and *n_r, else 0 (-1 for a length of more than 19 digits).
 */
int imapr_literal_at_end(const char *line, size_t len, uint64_t *n_r);

/*
 * "* OK [CODE n]" (a response code with a number, as SELECT and EXAMINE
 * give UIDVALIDITY and UIDNEXT; code in any case): 1 and *v_r, 0 for
 * another response, -1 when the number is missing or past 32 bits.
 */
int imapr_code_num(const char *p, size_t len, const char *code, uint32_t *v_r);

#endif
