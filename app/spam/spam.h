/*
 * spam.h — the spam and phishing filter's content analysis (issue 34):
 * the message view, the content rules, the statistical classifier with
 * its global and per-user models, the per-user fuzzy memory, and the one
 * score with its verdict.
 *
 * Design. A message is parsed once into a struct spam_msg (spam_msg_new):
 * the MIME tree (mime/), the decoded text of every text part with HTML
 * reduced to text, the text HTML hides, the URLs of text and HTML with
 * their link texts, the attachments, and the header fields the rules
 * read. Everything the view holds is bounded (SPAM_* limits below) and
 * lives in the view's own arena, so one spam_msg_free() releases it.
 *
 * spam_analyse() adds the content rules that fire and the classifier's
 * rule to a struct spam_result; callers that have other signals
 * (connection, DNS blocklists, SPF/DKIM/DMARC, lists, reputation) add
 * theirs with spam_result_add() into the same result, and
 * spam_result_decide() turns the sum into a verdict with the thresholds.
 * A result is data: every rule that fired, its weight and a short
 * description, so X-Spam-Result, `tern spam test` and the web admin show
 * why. Weights are points as SpamAssassin counts them: positive is spam.
 *
 * Learning: spam_train() adds a message to an account's model (account 0
 * is the global model) and, for spam, its fuzzy hash to the account's
 * memory; spam_forget() takes back an earlier spam_train() of the same
 * message (a user moving a message out of Junk calls spam_forget(spam)
 * then spam_train(ham)). Models live in the store and are bounded
 * (SPAM_MODEL_TOKENS_MAX tokens each; the rarest go first). The filter
 * never trains on its own verdicts: only callers decide what to learn.
 *
 * Caveats: spam_analyse() and the training functions read and write the
 * store synchronously (LMDB): call them from the worker pool or the CLI,
 * not from a busy loop. A view never refers to the bytes it was made from
 * after spam_msg_new() returns.
 */
#ifndef TERN_SPAM_SPAM_H
#define TERN_SPAM_SPAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/str.h"
#include "mime/mime_tree.h"

struct store;

/* ---- limits ---- */

#define SPAM_SCAN_MAX (512u * 1024)  /* octets of a message looked at */
#define SPAM_GRAM_TEXT 2000u /* octets of a message's start the byte grams read */
#define SPAM_TEXT_MAX (256u * 1024)  /* decoded text kept, all parts together */
#define SPAM_URLS_MAX 256            /* URLs kept per message */
#define SPAM_ATTACH_MAX 64           /* attachments listed per message */
#define SPAM_RULES_MAX 96            /* rules one result can hold */
#define SPAM_RULE_NAME_MAX 40        /* octets, NUL included */
#define SPAM_RULE_DESC_MAX 96        /* octets, NUL included */
#define SPAM_MODEL_TOKENS_MAX 600000 /* distinct tokens per model */

/* ---- the message view ---- */

/* spam_url.flags */
#define SPAM_URL_HTML 0x01u  /* from an HTML attribute (href, src, action) */
#define SPAM_URL_TEXT 0x02u  /* found in plain text or HTML text */
#define SPAM_URL_IP 0x04u    /* the host is an IP address literal */
#define SPAM_URL_IMAGE 0x08u /* an <img src> */
#define SPAM_URL_IDN 0x10u   /* the host has non-ASCII or xn-- labels */

struct spam_url {
	struct str url;  /* as written (entities decoded), NUL-terminated */
	struct str host; /* lowercase, without port and userinfo; may be empty */
	struct str text; /* an <a>'s visible text (trimmed, capped); else empty */
	uint32_t flags;  /* SPAM_URL_* */
};

struct spam_attach {
	struct str name; /* filename / name parameter, decoded; may be empty */
	struct str type; /* "type/subtype", lowercase */
	uint64_t size;   /* encoded octets of the part's body */
	uint32_t flags;  /* SPAM_ATTACH_*, set when the view is built */
	uint8_t sha256[32]; /* of the decoded content, when SPAM_ATTACH_HASHED */
};

/* spam_attach.flags */
#define SPAM_ATTACH_EXEC 0x01u         /* an executable by name or type */
#define SPAM_ATTACH_MACRO 0x02u        /* an Office type that carries macros */
#define SPAM_ATTACH_DOUBLE_EXT 0x04u   /* "invoice.pdf.exe" */
#define SPAM_ATTACH_ARCHIVE 0x08u      /* a ZIP archive */
#define SPAM_ATTACH_ARCHIVE_EXEC 0x10u /* a ZIP archive naming an executable */
#define SPAM_ATTACH_HASHED 0x20u       /* sha256 is set: the whole part was read */

/* spam_msg.flags */
#define SPAM_MSG_HTML 0x01u      /* has a text/html part */
#define SPAM_MSG_PLAIN 0x02u     /* has a text/plain part */
#define SPAM_MSG_TRUNCATED 0x04u /* bigger than SPAM_SCAN_MAX, or text cut */
#define SPAM_MSG_BAD_CTE 0x08u   /* a transfer encoding had garbage */
#define SPAM_MSG_BAD_UTF8 0x10u  /* text in an unknown charset or not UTF-8 */
#define SPAM_MSG_BAD_CHARSET 0x20u /* a charset mime/ does not know */

struct spam_msg {
	struct arena *arena; /* owns everything below */
	struct mime_tree tree;
	const char *hdr;     /* the message's header section (copy) */
	size_t hdr_len;
	struct str body_head; /* the body's first SPAM_GRAM_TEXT octets, raw */

	/* The header fields the rules read: decoded (RFC 2047) and unfolded
	 * where text; empty when absent (p == NULL). */
	struct str subject;
	struct str from_name, from_addr, from_domain; /* first From address */
	struct str reply_to_addr, reply_to_domain;
	struct str message_id, date;

	struct str text;   /* UTF-8: every text part, HTML reduced to text */
	struct str hidden; /* UTF-8: text HTML hides (display:none, tiny, ...) */
	uint32_t html_len; /* octets of decoded HTML source seen */
	uint32_t nimages;  /* <img> in HTML and image parts */

	struct spam_url *urls;
	uint32_t nurls;
	struct spam_attach *attach;
	uint32_t nattach;
	uint32_t flags; /* SPAM_MSG_* */
	uint64_t size;  /* of the whole message */
};

/*
 * Parses msg[0..len) into a new view, *m_r (never fails: a malformed
 * message gives what could be read; allocation failure aborts). Only
 * the first SPAM_SCAN_MAX octets are looked at. Free with spam_msg_free.
 */
void spam_msg_new(const char *msg, size_t len, struct spam_msg **m_r);
/* spam_msg_new_opts' opts: */
#define SPAM_VIEW_DIGESTS 0x01u /* each attachment read whole gets its SHA-256 (hash lists) */
/* As spam_msg_new (which is opts 0): what only some callers need costs
 * the others nothing. */
void spam_msg_new_opts(const char *msg, size_t len, unsigned opts, struct spam_msg **m_r);
/*
 * As spam_msg_new_opts, for a message still in its SMTP transaction: the view
 * of it as it will be stored, the Return-Path field the delivery puts
 * first (`Return-Path: <return_path>`, smtp_tx.c) before msg. The
 * classifiers learn from stored copies (a user's moves, `tern spam
 * train` of a mail folder), which carry it; scored without it, a message
 * would be read differently from the copy a user then trains.
 */
void spam_msg_new_delivered(const char *return_path, const char *msg, size_t len,
                            unsigned opts, struct spam_msg **m_r);
/* Frees *m and everything in it; sets *m to NULL (NULL is fine). */
void spam_msg_free(struct spam_msg **m);

/* ---- results ---- */

enum spam_verdict {
	SPAM_HAM = 0,  /* below the tag threshold: deliver as usual */
	SPAM_TAG,      /* at or over tag: X-Spam-* fields, to Junk */
	SPAM_REJECT,   /* at or over reject: 550 before the 250 */
	SPAM_DISCARD,  /* at or over discard (when on): accept and drop */
};

struct spam_rule {
	char name[SPAM_RULE_NAME_MAX]; /* e.g. "BAYES_SPAM", "MISSING_DATE" */
	char desc[SPAM_RULE_DESC_MAX]; /* one short line, may be "" */
	double weight;                 /* points; negative leans ham */
};

struct spam_result {
	double score; /* the sum of the rules' weights */
	enum spam_verdict verdict; /* set by spam_result_decide */
	uint32_t nrules;
	uint32_t dropped; /* rules that did not fit (their weight still counts) */
	struct spam_rule rules[SPAM_RULES_MAX];
};

/* Empties res (score 0, no rules, SPAM_HAM). */
void spam_result_init(struct spam_result *res);
/*
 * Adds rule name (copied, cut to SPAM_RULE_NAME_MAX - 1 octets) with
 * weight to res, with the description the built-in rule table has for
 * name ("" when none). The score always includes weight; when the rule
 * list is full the rule is counted in res->dropped. Adding a name that
 * is already there adds another entry. Returns 0, or -1 when dropped.
 */
int spam_result_add(struct spam_result *res, const char *name, double weight);
/* The same with the description given (copied and cut). */
int spam_result_add_desc(struct spam_result *res, const char *name, double weight,
                         const char *desc);
/* 1 when res holds a rule named name. */
int spam_result_has(const struct spam_result *res, const char *name);

struct spam_thresholds {
	double tag;     /* score >= tag: SPAM_TAG */
	double reject;  /* score >= reject and reject_on: SPAM_REJECT */
	double discard; /* score >= discard and discard_on: SPAM_DISCARD */
	int reject_on, discard_on;
};

/* The defaults, chosen by scripts/bench-spam's measurements (README). */
void spam_thresholds_default(struct spam_thresholds *th);
/* Sets res->verdict from res->score and th (NULL: the defaults). */
void spam_result_decide(struct spam_result *res, const struct spam_thresholds *th);
/* "ham", "spam", "reject", "discard". */
const char *spam_verdict_name(enum spam_verdict v);

/* ---- analysis and learning ---- */

/*
 * Adds to res the content rules that fire on m (header, body, phishing,
 * attachments; the domains of st are "ours" for spoofing and look-alike
 * rules), the classifier's rule from the account's model and the global
 * one, and FUZZY_JUNK when m is near one the account trained as spam.
 * st may be NULL (rules only, no models, no domains). account 0: the
 * global model only. Does not call spam_result_decide. Returns 0, or a
 * store error (the rules are in res all the same; the model's rule is
 * missing).
 */
int spam_analyse(struct store *st, uint32_t account, const struct spam_msg *m,
                 struct spam_result *res);

/*
 * spam_analyse in its parts, for a message with several recipients
 * that each have a model of their own: the content rules once
 * (spam_analyse_rules), the classifier's features once
 * (spam_features_new: one tokenization), then spam_classify once per
 * recipient account, each into that recipient's own result.
 */
struct spam_features; /* opaque: the tokens and the fuzzy hash */

/* The content rules of spam_analyse only (st may be NULL: no domains);
 * with subj, also what the hash lists are asked about, with the same
 * domains as ours (spam_hashbl_subjects, spam_dnsbl.h). */
struct spam_hashbl_subjects;
void spam_analyse_rules(struct store *st, const struct spam_msg *m, struct spam_result *res,
                        struct spam_hashbl_subjects *subj);
/* The features of m, the caller's until spam_features_free (m may be
 * freed meanwhile). Never fails (allocation failure aborts). */
struct spam_features *spam_features_new(const struct spam_msg *m);
/* Frees *f; sets it to NULL (NULL is fine). */
void spam_features_free(struct spam_features **f);
/*
 * Adds to res the classifier's rule from account's model and the global
 * one (account 0: the global only) and FUZZY_JUNK when the message is
 * near one the account trained as spam. Returns 0, or a store error (no
 * rule added).
 */
int spam_classify(struct store *st, uint32_t account, const struct spam_features *f,
                  struct spam_result *res);

/*
 * Learns m as spam (is_spam 1) or ham (0) in account's model (0: the
 * global model); spam also enters the account's fuzzy memory. A
 * synchronous store write. Returns 0 or a store error.
 */
int spam_train(struct store *st, uint32_t account, const struct spam_msg *m, int is_spam);
/*
 * spam_train(st, 0, m, 1) for the filter's own lessons (spam traps,
 * strong blocklist hits), which can come often: the byte-gram
 * regression's lesson waits in memory and is stored and fitted with the
 * others at most once every SPAM_GRAM_TRAP_REFIT seconds (a later trap
 * lesson, or any other training of the global model, brings it in).
 * Returns 0 or a store error.
 */
int spam_train_trap(struct store *st, const struct spam_msg *m);
/*
 * Takes back one earlier spam_train(st, account, m, was_spam): counts
 * never go below zero, and a spam's fuzzy entry is removed. Returns 0 or
 * a store error.
 */
int spam_forget(struct store *st, uint32_t account, const struct spam_msg *m, int was_spam);

#endif
