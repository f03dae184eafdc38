/*
 * spam_names.c — personal names compared as a reader compares them, for
 * the rule that catches mail from outside showing one of our users'
 * display names (SPOOF_OUR_USER, spam_rules_header.c): the "CEO fraud"
 * message, "Alice Smith" <alice.smith.office@freemail.example> to
 * Alice's colleagues, which no domain rule sees.
 *
 * A name is its words, in any order and case, each folded to its UTS #39
 * skeleton (spam_skeleton), since a look-alike letter or a comma changes
 * nothing for the reader. Names made only of the words role mailboxes
 * are named with are no person's and never match: a vendor's "Support
 * Team" is not our "Support Team" impersonated.
 *
 * The accounts' keys are computed once and kept (hashes and ids, sorted:
 * 16 octets an account named), not per message: a skeleton per account
 * per message cost 0.8 us an account, 1.6 ms a message at 2,000. The
 * store's names_gen says when a name changed.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"
#include "spam/spam_private.h"
#include "store/store.h"

#define NAME_WORDS_MAX 16

static const char *const role_words[] = {
    "account", "accounts", "admin", "administrator", "alert", "alerts", "billing", "contact",
    "customer", "desk", "do", "finance", "help", "helpdesk", "hr", "info", "it", "mail",
    "mailer", "marketing", "news", "newsletter", "no", "noreply", "not", "notification",
    "notifications", "office", "payroll", "postmaster", "reply", "sales", "security", "service",
    "services", "support", "system", "team", "the", "webmaster",
};

static int word_char(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static int role_word(const char *w, size_t n)
{
	char low[16];
	if (n >= sizeof low)
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
	low[n] = '\0';
	for (size_t i = 0; i < sizeof role_words / sizeof role_words[0]; i++)
		if (!strcmp(low, role_words[i]))
			return 1;
	return 0;
}

struct word {
	const char *p;
	size_t n;
};

/* The words of s (runs of word_char), at most max; -1 past max. */
static int words_of(struct str s, struct word *w, size_t max, size_t *n_r)
{
	size_t n = 0;
	for (size_t i = 0; i < s.len;) {
		if (!word_char((unsigned char)s.p[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < s.len && word_char((unsigned char)s.p[j]))
			j++;
		if (n == max)
			return -1;
		w[n++] = (struct word){s.p + i, j - i};
		i = j;
	}
	*n_r = n;
	return 0;
}

static int word_cmp(const void *a, const void *b)
{
	const struct word *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
	return c ? c : (x->n > y->n) - (x->n < y->n);
}

int spam_name_key(struct str s, char out[SPAM_NAME_KEY_MAX])
{
	struct word w[NAME_WORDS_MAX];
	size_t n, persons = 0;
	if (s.len == 0 || s.len >= SPAM_NAME_KEY_MAX || words_of(s, w, NAME_WORDS_MAX, &n) != 0 ||
	    n < 2)
		return -1;
	for (size_t i = 0; i < n; i++)
		persons += !role_word(w[i].p, w[i].n);
	if (persons == 0)
		return -1;

	struct buf sk;
	buf_init(&sk, SPAM_NAME_KEY_MAX * 4);
	int rc = -1;
	if (spam_skeleton(s, &sk) == 0 &&
	    words_of(buf_str(&sk), w, NAME_WORDS_MAX, &n) == 0 && n >= 2) {
		qsort(w, n, sizeof w[0], word_cmp);
		size_t off = 0, i;
		for (i = 0; i < n && off + w[i].n + 1 < SPAM_NAME_KEY_MAX; i++) {
			if (i)
				out[off++] = ' ';
			memcpy(out + off, w[i].p, w[i].n);
			off += w[i].n;
		}
		out[off] = '\0';
		rc = i == n ? 0 : -1; /* a skeleton grows: "m" is "rn" */
	}
	buf_free(&sk);
	return rc;
}

/* ---- our accounts' names, kept ---- */

struct named {
	uint64_t key; /* spam_hash of the account's name key */
	uint32_t id;
};

static struct {
	pthread_mutex_t mu;
	int valid;
	uint64_t gen; /* store_names_gen's when built */
	struct named *v;
	size_t n, cap;
} kept = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t key_hash(const char *key)
{
	return spam_hash(key, strlen(key), 0x6e616d6573ull);
}

static void on_account(void *arg, const struct store_account_info *a)
{
	(void)arg;
	char key[SPAM_NAME_KEY_MAX];
	if (!a->display_name[0] || spam_name_key(str_c(a->display_name), key) != 0)
		return;
	if (kept.n == kept.cap) {
		kept.cap = kept.cap ? 2 * kept.cap : 64;
		kept.v = xrealloc(kept.v, kept.cap * sizeof *kept.v);
	}
	kept.v[kept.n++] = (struct named){key_hash(key), a->id};
}

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	return (x->key > y->key) - (x->key < y->key);
}

/* Under kept.mu: the keys of st's accounts as of gen. */
static int rebuild(struct store *st, uint64_t gen)
{
	kept.n = 0;
	kept.valid = 0;
	if (store_account_list(st, on_account, NULL) != STORE_OK)
		return -1;
	if (kept.n)
		qsort(kept.v, kept.n, sizeof *kept.v, named_cmp);
	kept.gen = gen;
	kept.valid = 1;
	return 0;
}

int spam_names_user(struct store *st, struct str name, char *email)
{
	char key[SPAM_NAME_KEY_MAX];
	uint64_t gen;
	if (spam_name_key(name, key) != 0)
		return 0;
	if (store_names_gen(st, &gen) != STORE_OK)
		return -1;
	struct named want = {key_hash(key), 0}, *hit = NULL;
	uint32_t id = 0;
	pthread_mutex_lock(&kept.mu);
	int rc = kept.valid && kept.gen == gen ? 0 : rebuild(st, gen);
	if (rc == 0 && kept.n)
		hit = bsearch(&want, kept.v, kept.n, sizeof *kept.v, named_cmp);
	if (hit)
		id = hit->id;
	pthread_mutex_unlock(&kept.mu);
	if (rc != 0)
		return -1;
	if (!hit)
		return 0;
	/* a deleted account's id finds no address: nobody's name now */
	return store_account_email(st, id, email, STORE_ADDR_MAX + 1) == STORE_OK ? 1 : 0;
}
