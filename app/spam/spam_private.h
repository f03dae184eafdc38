/*
 * spam_private.h — what app/spam/'s files share and the unit tests and
 * fuzz targets reach: the HTML reducer, URL extraction, the tokenizer,
 * the classifier's model, the fuzzy hash, confusable folding, and the
 * default weights and thresholds.
 *
 * Caveats: none of this is for other subsystems; they use spam.h.
 */
#ifndef TERN_SPAM_SPAM_PRIVATE_H
#define TERN_SPAM_SPAM_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "mime/mime_html.h"
#include "spam/spam.h"

/* Default thresholds (spam_thresholds_default; app/spam/ACCURACY.md
 * says how chosen). Refusing at SMTP needs more than the two
 * classifiers can say together (SPAM_BAYES_MAX and the byte grams' most,
 * 17.6): a refused message never reaches the user, not even in Junk, so
 * as in Rspamd (its Bayes weighs a third of its reject score) the
 * statistics alone file mail in Junk and a rule, blocklist, reputation
 * or user's lesson must add at least 1.4 points to refuse it. The
 * largest held-out ham score in cross-validation is 15.4; 18 was the
 * threshold before, under the classifiers' most then, 18.4 (ACCURACY.md,
 * session 57). */
#define SPAM_DEFAULT_TAG 5.0
#define SPAM_DEFAULT_REJECT 19.0
#define SPAM_DEFAULT_DISCARD 30.0

/* Little-endian integers in stored records (the model, the phishing list). */
static inline uint32_t spam_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t spam_le64(const unsigned char *p)
{
	return (uint64_t)spam_le32(p) | (uint64_t)spam_le32(p + 4) << 32;
}

static inline void spam_put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
	p[3] = (unsigned char)(v >> 24);
}

static inline void spam_put64(unsigned char *p, uint64_t v)
{
	spam_put32(p, (uint32_t)v);
	spam_put32(p + 4, (uint32_t)(v >> 32));
}

/* The entry of n (each stride octets, a little-endian u64 key first,
 * ascending) whose key is h, read in place; NULL when none. */
static inline const unsigned char *spam_rec_find(const unsigned char *ent, size_t n,
						 size_t stride, uint64_t h)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v = spam_le64(ent + mid * stride);
		if (v == h)
			return ent + mid * stride;
		if (v < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The description of built-in rule name, "" when unknown (never NULL). */
const char *spam_rule_desc(const char *name);

/* ---- HTML reduced to text: mime/mime_html.h ---- */

/* ---- URLs in text (spam_url.c) ---- */

/* Calls fn for each URL found in UTF-8 text in[0..n): http(s)://, www.
 * and bare host names with a known top-level domain followed by '/'.
 * Bounded by n; no allocation. */
void spam_url_scan(const char *in, size_t n, mime_html_url_fn *fn, void *arg);
/*
 * The host of url, lowercased into dst (dstsz octets, NUL-terminated):
 * scheme, userinfo, port and path removed; a trailing dot removed; the
 * host a browser would connect to (WHATWG URL): fullwidth and
 * ideographic full stops, letters and digits folded to ASCII, and an
 * IPv4 address in hex, octal or short form ("0x7f.1", "2130706433")
 * written as a dotted quad. Its %XX escapes are decoded (core/hex.h
 * pct_decode). Returns the length, 0 when there is none, or when the host
 * does not fit in dst whole (dst is then "": a cut host would name
 * another domain).
 */
size_t spam_url_host(struct str url, char *dst, size_t dstsz);
/* spam_url_host, and what follows the authority (path, query, fragment:
 * "/a/b?c#d", possibly empty) in *rest_r, a slice of url. A mailto:,
 * javascript:, tel:, data: or cid: URL has neither. */
size_t spam_url_split(struct str url, char *dst, size_t dstsz, struct str *rest_r);
/* The registrable domain of host (dns/psl.h, private section included:
 * "evil.github.io" is not "github.io"), or host itself when it has none
 * ("localhost", a public suffix, not a name). A slice of host. */
struct str spam_domain_base(struct str host);

/* ---- tokens (spam_token.c) ---- */

#define SPAM_TOKENS_MAX 6000 /* per message */

/* Sorts hashes v[0..n) ascending (buckets by the top bits, radix sort
 * when keys crowd a bucket). */
void spam_sort_hashes(uint64_t *v, size_t n);
/* The shape of a Message-ID (digit and letter runs folded: spam_token.c)
 * into out[0..48), its length returned; a token of the classifier's. */
size_t spam_msgid_shape(struct str id, char *out);
/* spam_tokens, and the fuzzy hash (spam_fuzzy_hash) into *fuzzy_r from
 * the same pass over the words. */
size_t spam_tokens_fuzzy(const struct spam_msg *m, uint64_t *out, size_t max,
                         uint64_t *fuzzy_r);
/* spam_tokens_fuzzy (fuzzy_r may be NULL), and when hdr is not NULL
 * hdr[i] = 1 where out[i] is one of the header's tokens (a field's name
 * or a word of its value), else 0: the classifier takes at most
 * SPAM_HEADER_CLUES of those (spam_model_classify). The hashes are
 * spam_tokens' whatever hdr is. */
size_t spam_tokens_marked(const struct spam_msg *m, uint64_t *out, unsigned char *hdr, size_t max,
                          uint64_t *fuzzy_r);
/* Token hashes of m for the classifier: words of the subject and text,
 * sparse bigrams (skip 0..2 of words in sequence), header and metadata
 * tokens; sorted and unique. Returns the count written to out (<= max). */
size_t spam_tokens(const struct spam_msg *m, uint64_t *out, size_t max);

/* Word tokenizer: calls fn for each word of UTF-8 text (lowercased,
 * 2..40 octets; longer words give a "long word" token). Incremental:
 * state in t, any chunking gives the same words. */
typedef void spam_word_fn(void *arg, const char *w, size_t n);
struct spam_words {
	spam_word_fn *fn;
	void *arg;
	size_t len;
	int skip; /* in a word too long: drop until a separator */
	char w[48];
	unsigned char u[4]; /* a UTF-8 sequence not yet complete */
	unsigned ulen, uneed;
	char cprev[4];  /* a CJK run: its last character, */
	unsigned cplen; /* its octets (0: not in a run), */
	unsigned crun;  /* characters so far in the run, */
	unsigned cleft; /* and the bigrams still allowed (the whole input) */
};
void spam_words_init(struct spam_words *t, spam_word_fn *fn, void *arg);
void spam_words_feed(struct spam_words *t, const char *in, size_t n);
void spam_words_finish(struct spam_words *t);

uint64_t spam_hash(const void *p, size_t n, uint64_t seed);

/* ---- the model (spam_model.c) ---- */

/*
 * A model: how many messages were learned as spam and as ham, and per
 * token (hash) how many of each contained it. Stored as one record: a
 * 16-octet header ("TSM1", nspam, nham, ntok as little-endian u32) then
 * ntok entries of 16 octets (u64 hash, u32 spam, u32 ham, little-endian)
 * sorted by hash, so classifying reads the record in place (binary
 * search, no copy) and learning merges a sorted batch into a new one.
 */
#define SPAM_MODEL_HDR 16
#define SPAM_MODEL_ENT 16

struct spam_model {
	uint32_t nspam, nham;
	uint32_t ntok;
	const unsigned char *ent; /* ntok entries (into a store record or own) */
	unsigned char *own;       /* when owned: free() it (spam_model_free) */
};

/* A change to one token's counts (learning batches). */
struct spam_delta {
	uint64_t h;
	int32_t spam, ham;
};

/* The smallest counts for a model (the two summed) to be used. */
#define SPAM_MODEL_MIN_LEARNED 20

/* Reads a record (NULL/0: an empty model); ent points into rec.
 * Returns 0, or -1 when the record is not a model. */
int spam_model_decode(const void *rec, size_t len, struct spam_model *m);
/* The record of m in out (ceiling permitting): 0 or -1. */
int spam_model_encode(const struct spam_model *m, struct buf *out);
void spam_model_free(struct spam_model *m);

/* Applies deltas d[0..n) (sorted by h, one per hash; use
 * spam_delta_sort) and message counts to m, which becomes owned. Counts
 * stop at 0. Then prunes to at most max tokens, the rarest first. */
void spam_model_apply(struct spam_model *m, const struct spam_delta *d, size_t n,
                      int32_t dspam, int32_t dham, uint32_t max);
/* Sorts d[0..n) by hash and adds up duplicates; returns the new count. */
size_t spam_delta_sort(struct spam_delta *d, size_t n);

/* Counts of token h in m: 1 when found. */
int spam_model_get(const struct spam_model *m, uint64_t h, uint32_t *spam_r, uint32_t *ham_r);

/* What the classifier says of one message (spam_model_classify). */
struct spam_bayes {
	double p;        /* spam probability 0..1; -1: too little learned */
	double evidence; /* ln(1 - H) - ln(1 - S) of the chi-square tails:
	                  * > 0 leans spam, < 0 ham; 0 without clues */
	uint32_t clues;  /* tokens combined (0: none was known enough) */
};

/*
 * Spam probability 0..1 of a message with tokens[0..n) (sorted) under
 * the models m1 and m2 (m2 may be NULL; counts add up), by Robinson's
 * chi-square combining of the SPAM_CLUES tokens furthest from 0.5 (as
 * SpamBayes and SpamAssassin's Bayes). -1 when the models together
 * learned fewer than SPAM_MODEL_MIN_LEARNED spam or ham. hdr (NULL: none
 * is) marks the header's tokens (spam_tokens_marked), of which at most
 * spam_header_clues are among the clues. When b_r is not NULL it gets
 * the probability, the evidence and the clue count.
 */
double spam_model_classify(const struct spam_model *m1, const struct spam_model *m2,
                           const uint64_t *tokens, const unsigned char *hdr, size_t n,
                           struct spam_bayes *b_r);
/* Of the clues spam_model_classify combines, at most this many are the
 * header's (hdr[i] set): the strongest of them, the rest the body's
 * strongest. A variable so cross-validation can try others
 * (scripts/spam-cv.c, CV_HEADER_CLUES); nothing else writes it. */
extern size_t spam_header_clues;

/* Applies a batch of deltas d[0..n) (any order; sorted here) and message
 * counts to account's model in one store write (tern spam train).
 * Returns 0 or a store error. */
int spam_learn_batch(struct store *st, uint32_t account, struct spam_delta *d, size_t n,
                     int32_t dspam, int32_t dham);

/* Adds (sign 1) or removes (-1) m in account's fuzzy memory: 0 or a
 * store error. */
int spam_fuzzy_learn(struct store *st, uint32_t account, const struct spam_msg *m, int sign);

/* The classifier's points for what it said (spam_analyse.c): 0 when
 * there was no model or no clue; else SPAM_BAYES_OFFSET +
 * SPAM_BAYES_SCALE * evidence, within [SPAM_BAYES_MIN, SPAM_BAYES_MAX]. */
#define SPAM_BAYES_OFFSET 5.0
#define SPAM_BAYES_SCALE 0.3
#define SPAM_BAYES_MIN (-5.0)
#define SPAM_BAYES_MAX 12.0
double spam_bayes_points(const struct spam_bayes *b);

/* ---- fuzzy hash (spam_fuzzy.c) ---- */

#define SPAM_FUZZY_NEAR 10     /* differing bits that still match: unrelated
                                * texts differ in 32 +- 4 */
#define SPAM_FUZZY_ENTRIES 4096 /* per account; the oldest go first */
/* A 64-bit SimHash of the message's text shingles; 0 when too little
 * text. The words are the tokenizer's (spam_tokens_fuzzy): one pass over
 * the text gives both. */
uint64_t spam_fuzzy_hash(const struct spam_msg *m);
/* The SimHash's state, fed each word's hash (seed 0) in order. */
struct spam_sim {
	uint64_t lane[8];
	unsigned pending; /* shingles in lane[] */
	uint32_t ones[64];
	uint32_t shingles;
	uint64_t w[3];
	unsigned nw;
	unsigned words;
};
void spam_sim_init(struct spam_sim *s);
void spam_sim_word(struct spam_sim *s, uint64_t word_hash);
uint64_t spam_sim_final(struct spam_sim *s);
/* Bits in which a and b differ. */
int spam_fuzzy_distance(uint64_t a, uint64_t b);

/* ---- confusables (spam_confusable.c) ---- */

/* Writes the skeleton of UTF-8 s to out (UTS #39 for names without
 * case, spam/confusable_table.h): ASCII lowercased, each character
 * decomposed and replaced by the prototype it looks like ("0" -> "o",
 * "1" and "i" -> "l", "m" -> "rn", Cyrillic "а" -> "a", "ӏ" -> "l").
 * Two names with the same skeleton look alike; folding a skeleton again
 * changes nothing. Ill-formed octets are copied. Returns 0, -1 when
 * out's ceiling was reached. */
int spam_skeleton(struct str s, struct buf *out);
/* The script class of code point cp (SPAM_SCRIPT_*), for mixed-script
 * checks of a host label. */
enum spam_script {
	SPAM_SCRIPT_COMMON = 0,
	SPAM_SCRIPT_LATIN,
	SPAM_SCRIPT_GREEK,
	SPAM_SCRIPT_CYRILLIC,
	SPAM_SCRIPT_OTHER,
};
enum spam_script spam_script_of(uint32_t cp);
/* host with its xn-- labels decoded, appended to out as UTF-8: 0 or -1. */
int spam_host_unicode(struct str host, struct buf *out);

/* ---- content rules (spam_rules_*.c) ---- */

/* Our domains, for spoofing and look-alike rules (from the store), and
 * the account of ours whose display name the From field shows (the same
 * person by spam_name_key), NULL when none: spam_analyse_rules reads it
 * only for mail from outside our domains. */
struct spam_ours {
	const char *const *domains;
	size_t n;
	const char *user_named;
};

/* The key two display names share when they name the same person: the
 * words (letters and digits) of the name's skeleton, sorted, one space
 * between, so "Smith, Alice", "alice  smith" and "Аlice Smith" with a
 * Cyrillic А are one key. 0 with the key in out (NUL-ended), -1 when s is
 * no personal name: fewer than two words, only words a role mailbox is
 * named with ("IT Support", "Billing Team"), or longer than the key. */
#define SPAM_NAME_KEY_MAX 256
int spam_name_key(struct str s, char out[SPAM_NAME_KEY_MAX]);
/* 1 with the address of the account of st whose display name is name's
 * person (spam_name_key) in email (STORE_ADDR_MAX + 1 octets), 0 when
 * none is, -1 on a store error. The accounts' keys are kept per process
 * and computed again only when a display name changed (store_names_gen). */
int spam_names_user(struct store *st, struct str name, char *email);

/* SPAM_ATTACH_* of an attachment by its name and type (not the archive
 * contents); 1 when name has an executable's extension. */
uint32_t spam_attach_classify(struct str name, struct str type);
int spam_name_is_exec(struct str name);
/* 1 when the ZIP archive bytes zip[0..n) name an executable (local file
 * headers walked, bounded by n). */
int spam_zip_has_exec(const unsigned char *zip, size_t n);

/* 1 when a header field is one tern adds to what it stores (X-Spam-*, its
 * Authentication-Results and ARC set, its own Received): neither
 * classifier reads them, so a stored copy a user trains reads as the
 * message scored at SMTP time, and no verdict of ours teaches a model.
 * The envelope's Return-Path stays (spam_msg_new_delivered puts it in at
 * SMTP time): without it cross-validation missed more spam at the same
 * ham flagged (ACCURACY.md). */
int spam_field_ours(struct str name, struct str value);

void spam_rules_header(const struct spam_msg *m, const struct spam_ours *ours,
                       struct spam_result *res);
void spam_rules_body(const struct spam_msg *m, struct spam_result *res);
void spam_rules_phish(const struct spam_msg *m, const struct spam_ours *ours,
                      struct spam_result *res);

/* ---- the byte-gram regression (spam_grams.c) ---- */

#define SPAM_GRAM_BITS 20           /* 2^20 weights: 4 MiB */
#define SPAM_GRAM_EPOCHS 5          /* passes over the lessons per fit */
#define SPAM_GRAM_RATE 0.02         /* SGD step */
/* A ham lesson's gradient times this: a class weight that moves the
 * operating point towards ham (ACCURACY.md, session 56: 11 of 87
 * held-out ham fewer at the tag threshold over 24 deals, for 12 of 22,296
 * spam more missed; the bound is the ham). */
#define SPAM_GRAM_HAM_WEIGHT 1.75
#define SPAM_GRAM_FITS 4            /* fits averaged (spam_grams_fit_weights) */
#define SPAM_GRAM_LESSONS_MAX 8192  /* the newest kept (and the record's 16 MiB) */
#define SPAM_GRAM_MIN_LESSONS 20    /* of each class before there are weights */
#define SPAM_GRAM_TRAP_REFIT 60     /* seconds between fits for spam_train_trap */
/* Points: SPAM_GRAM_SCALE x (log odds - SPAM_GRAM_Z_OFFSET), the log
 * odds clipped at +-SPAM_GRAM_Z_MAX (ACCURACY.md has the measurements). */
#define SPAM_GRAM_SCALE 0.7
#define SPAM_GRAM_Z_OFFSET 2.0
#define SPAM_GRAM_Z_MAX 10.0

/* A lesson: a message's distinct grams (ascending once made by
 * spam_gram_lesson_of) and its class. */
struct spam_gram_lesson {
	uint8_t cls; /* 's' or 'h' */
	uint64_t id; /* the hash of the grams: which lesson to forget */
	uint32_t n;
	uint32_t *g;
};

/* The distinct grams of m's first SPAM_GRAM_TEXT octets into out (room
 * for SPAM_GRAM_TEXT), in the order first seen; returns their count. */
size_t spam_grams(const struct spam_msg *m, uint32_t *out);
/* l->g must have room for SPAM_GRAM_TEXT: fills l from m. */
void spam_gram_lesson_of(const struct spam_msg *m, int is_spam, struct spam_gram_lesson *l);
/* Adds (sign > 0) or removes (< 0) lessons in the global record; the
 * weights are not fitted again until spam_grams_refit. 0 or a store error. */
int spam_grams_change(struct store *st, const struct spam_gram_lesson *v, size_t n, int sign);
/* The lessons record old[0..oldlen) (none: NULL, 0) with v[0..n) added
 * (sign > 0) or removed (< 0), the oldest dropped to stay within
 * SPAM_GRAM_LESSONS_MAX and the record ceiling, into out (empty: no
 * lessons). A damaged record keeps the lessons before the damage.
 * 0, or -1 when out is full. */
int spam_grams_lessons_edit(const void *old, size_t oldlen, const struct spam_gram_lesson *v,
                            size_t n, int sign, struct buf *out);
/* The spam and ham lessons a lessons record holds (for checks). */
void spam_grams_lessons_count(const void *rec, size_t len, uint32_t *nspam_r, uint32_t *nham_r);
/* Fits the weights over the stored lessons and stores them (none while
 * either class has fewer than SPAM_GRAM_MIN_LESSONS); the counts of
 * spam and ham lessons into the pointers (may be NULL). 0 or a store error. */
int spam_grams_refit(struct store *st, uint32_t *nspam_r, uint32_t *nham_r);
/* The fit itself, over v[0..n) into w (2^SPAM_GRAM_BITS) and *bias_r. */
void spam_grams_fit_weights(const struct spam_gram_lesson *const *v, size_t n, float *w,
                            double *bias_r);
/* The first of the SPAM_GRAM_FITS fits' seeds (the others follow it by a
 * fixed step). A variable so cross-validation can tell a change from the
 * fit's chance (scripts/spam-cv.c, CV_FIT_SEED); nothing else writes it,
 * so tern's fit stays the same for the same lessons. */
extern uint64_t spam_grams_fit_seed;
/* A ham lesson's gradient is multiplied by this in the fit:
 * SPAM_GRAM_HAM_WEIGHT in tern; only spam-cv moves it (CV_GRAM_HAM_W),
 * to measure class weights. */
extern double spam_grams_ham_weight;
/* The log odds of grams g[0..n) under a weights record: 0, or -1 when
 * rec is not one. */
int spam_grams_score(struct str rec, const uint32_t *g, size_t n, double *z_r);
/* What a weights record holds: the lessons it was fitted on (or
 * counted while too few), and whether it has weights. */
void spam_grams_status(struct str rec, uint32_t *nspam_r, uint32_t *nham_r, int *fitted_r);
/* The points the log odds z give. */
double spam_grams_points(double z);

/* An expiring meta table swept a page at a time (spam_sweep.c). */
struct store;
struct spam_sweeper {
	const char *prefix;  /* "grey/", "sentid/" */
	size_t name_max;     /* names this long or longer are left alone */
	int (*expired)(const void *val, size_t len, int64_t now); /* 1: delete */
	pthread_mutex_t mu;
	char cursor[136];    /* where the last sweep stopped: a meta name, 128 at most */
};
/* Deletes the expired among the next visit records: how many it deleted
 * (0 when another sweep of the table runs). */
size_t spam_sweep(struct store *st, struct spam_sweeper *sw, int64_t now, size_t visit);

#endif
