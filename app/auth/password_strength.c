/*
 * password_strength.c — the guess estimate. See password_strength.h.
 */
#include "auth/password_strength.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

/* build/gen/words_table.c (scripts/gen-words.c): sorted, NUL-separated. */
extern const size_t pw_words_count;
extern const unsigned char pw_words_class[];
extern const char pw_words[];

/* Words people choose for passwords that a dictionary of English ranks
 * too low, or lacks; ours, most likely first (guesses = position). */
static const char *const common[] = {
	"password", "passw0rd", "qwerty", "letmein", "welcome", "admin", "login", "iloveyou",
	"monkey", "dragon", "master", "secret", "sunshine", "princess", "football", "baseball",
	"shadow", "superman", "batman", "trustno", "hello", "freedom", "whatever", "changeme",
	"default", "root", "user", "guest", "test", "pass", "love", "god", "money", "mail",
	"email", "server", "tern", "summer", "winter", "spring", "autumn", "hunter", "killer",
	"soccer", "hockey", "starwars", "pokemon", "abc", "qazwsx", "asdf", "zxcv", "access",
};

/* Guesses for a dictionary word by its SCOWL size level: the number of
 * words up to and including its level (a coarse rank). */
static const double class_rank[3] = {3800, 10600, 38700};

static const char **index_of; /* the words, sorted, for binary search */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_build(void)
{
	index_of = xmalloc(pw_words_count * sizeof *index_of);
	const char *p = pw_words;
	for (size_t i = 0; i < pw_words_count; i++) {
		index_of[i] = p;
		p += strlen(p) + 1;
	}
}

/* The rank (guesses) of w[0..n) as a word, or 0 when it is none. */
static double word_rank(const char *w, size_t n)
{
	char key[24];
	if (n < 3 || n >= sizeof key)
		return 0;
	memcpy(key, w, n);
	key[n] = '\0';
	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		if (strcmp(common[i], key) == 0)
			return (double)(i + 1);
	if (n < 4)
		return 0;
	size_t lo = 0, hi = pw_words_count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(index_of[mid], key);
		if (c == 0)
			return class_rank[pw_words_class[mid] < 3 ? pw_words_class[mid] : 2];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* The letter a substitution stands for, or 0 (alt: the second reading of
 * '1' and '!', l instead of i). */
static char unleet(char c, int alt)
{
	switch (c) {
	case '4': case '@': return 'a';
	case '3': return 'e';
	case '1': case '!': return alt ? 'l' : 'i';
	case '0': return 'o';
	case '5': case '$': return 's';
	case '7': return 't';
	default: return 0;
	}
}

/* log10 guesses of pw[i..j) as a dictionary word, or -1. */
static double dict_piece(const char *pw, size_t i, size_t j)
{
	char plain[PW_STRENGTH_MAX_LEN], rev[PW_STRENGTH_MAX_LEN];
	size_t n = j - i, upper = 0, leet = 0;
	double best = -1;

	for (int alt = 0; alt < 2; alt++) {
		upper = leet = 0;
		for (size_t k = 0; k < n; k++) {
			char c = pw[i + k], l = unleet(c, alt);
			if (c >= 'A' && c <= 'Z') {
				c = (char)(c + 32);
				upper++;
			} else if (l) {
				c = l;
				leet++;
			}
			plain[k] = c;
			rev[n - 1 - k] = c;
		}
		double r = word_rank(plain, n), f = 1;
		if (r == 0) {
			r = word_rank(rev, n);
			f = 2; /* reversed */
		}
		if (r == 0)
			continue;
		/* Capitals: the first or all cost a little, others more. */
		if (upper == n || (upper == 1 && pw[i] >= 'A' && pw[i] <= 'Z'))
			f *= 2;
		else if (upper)
			f *= (double)(n * upper);
		if (leet)
			f *= 2.0 * (double)leet;
		double g = log10(r * f);
		if (best < 0 || g < best)
			best = g;
	}
	return best;
}

static double class_card(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return 10;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 26;
	if (c >= 0x20 && c < 0x7f)
		return 33;
	return 100;
}

static double sequence_piece(const char *pw, size_t i, size_t j);
static double walk_piece(const char *pw, size_t i, size_t j);

/* log10 guesses of pw[i..j) when it is one unit (up to 8 bytes) repeated
 * 2+ times, or -1: the unit's own cheapest reading, times the count. */
static double repeat_piece(const char *pw, size_t i, size_t j)
{
	size_t n = j - i;
	for (size_t u = 1; u <= 8 && u * 2 <= n; u++) {
		if (n % u)
			continue;
		size_t k = i + u;
		while (k < j && pw[k] == pw[k - u])
			k++;
		if (k != j)
			continue;
		double g = 0, alt[3] = {dict_piece(pw, i, i + u), sequence_piece(pw, i, i + u),
					walk_piece(pw, i, i + u)};
		for (size_t m = 0; m < u; m++)
			g += log10(class_card((unsigned char)pw[i + m]));
		for (int a = 0; a < 3; a++)
			if (alt[a] >= 0 && alt[a] < g)
				g = alt[a];
		return g + log10((double)(n / u));
	}
	return -1;
}

/* log10 guesses of pw[i..j) as a sequence with step +1 or -1 (3+ long), or -1. */
static double sequence_piece(const char *pw, size_t i, size_t j)
{
	size_t n = j - i;
	if (n < 3)
		return -1;
	int d = (unsigned char)pw[i + 1] - (unsigned char)pw[i];
	if (d != 1 && d != -1)
		return -1;
	for (size_t k = i + 2; k < j; k++)
		if ((unsigned char)pw[k] - (unsigned char)pw[k - 1] != d)
			return -1;
	for (size_t k = i; k < j; k++)
		if (class_card((unsigned char)pw[k]) != class_card((unsigned char)pw[i]) ||
		    class_card((unsigned char)pw[k]) > 26)
			return -1;
	char c = pw[i];
	double start = (c == 'a' || c == 'A' || c == '1' || c == '0' || c == 'z' || c == '9') ? 4 : 26;
	return log10(start * (double)n * (d < 0 ? 2 : 1));
}

/* The US keyboard, rows as typed; a key's neighbours are those beside it
 * and the ones touching it in the rows above and below. */
static const char *const rows[4] = {"1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./"};
static const char *const shifted[4] = {"!@#$%^&*()_+", "QWERTYUIOP{}", "ASDFGHJKL:\"", "ZXCVBNM<>?"};

static int key_pos(char c, int *row, int *col)
{
	for (int r = 0; r < 4; r++) {
		const char *p = strchr(rows[r], c), *q = strchr(shifted[r], c);
		if (c && (p || q)) {
			*row = r;
			*col = (int)((p ? p - rows[r] : q - shifted[r]));
			return 0;
		}
	}
	return -1;
}

/* Direction from key a to key b when they touch (rows are offset by half
 * a key: b is below-left or below-right), else -1. */
static int key_step(char a, char b)
{
	int ra, ca, rb, cb;
	if (key_pos(a, &ra, &ca) < 0 || key_pos(b, &rb, &cb) < 0)
		return -1;
	int dr = rb - ra, dc = cb - ca;
	if (dr == 0 && (dc == 1 || dc == -1))
		return dc > 0 ? 0 : 1;
	if (dr == 1 && (dc == 0 || dc == -1))
		return dc == 0 ? 2 : 3;
	if (dr == -1 && (dc == 0 || dc == 1))
		return dc == 0 ? 4 : 5;
	return -1;
}

/* log10 guesses of pw[i..j) as a keyboard walk (3+ keys), or -1. */
static double walk_piece(const char *pw, size_t i, size_t j)
{
	size_t n = j - i, turns = 0;
	if (n < 3)
		return -1;
	int last = -1;
	for (size_t k = i + 1; k < j; k++) {
		int d = key_step(pw[k - 1], pw[k]);
		if (d < 0)
			return -1;
		if (last >= 0 && d != last)
			turns++;
		last = d;
	}
	/* A start among 47 keys, the length, and each turn a choice of ~4. */
	return log10(47.0 * (double)n * 2.0) + (double)turns * log10(4.0);
}

static int digits(const char *p, size_t n, int *v)
{
	*v = 0;
	for (size_t k = 0; k < n; k++) {
		if (p[k] < '0' || p[k] > '9')
			return -1;
		*v = *v * 10 + (p[k] - '0');
	}
	return 0;
}

static int year_ok(int y, size_t len)
{
	return len == 2 || (y >= 1900 && y <= 2049);
}

/* log10 guesses of pw[i..j) as a year (4 digits) or a date of day, month
 * and year in either order (6 or 8 digits), or -1. */
static double date_piece(const char *pw, size_t i, size_t j)
{
	size_t n = j - i;
	int v, a, b, y;
	if (n == 4 && digits(pw + i, 4, &v) == 0 && year_ok(v, 4))
		return log10(150.0);
	if (n != 6 && n != 8)
		return -1;
	size_t yl = n - 4;
	/* DDMMYY(YY), MMDDYY(YY), YY(YY)MMDD */
	for (int form = 0; form < 3; form++) {
		const char *p = pw + i;
		if (form < 2) {
			if (digits(p, 2, &a) || digits(p + 2, 2, &b) || digits(p + 4, yl, &y))
				continue;
		} else if (digits(p, yl, &y) || digits(p + yl, 2, &a) || digits(p + yl + 2, 2, &b)) {
			continue;
		}
		int day = form == 1 ? b : form == 0 ? a : b, mon = form == 1 ? a : form == 0 ? b : a;
		if (day >= 1 && day <= 31 && mon >= 1 && mon <= 12 && year_ok(y, yl))
			return log10(366.0 * (yl == 2 ? 100.0 : 150.0) * 2.0);
	}
	return -1;
}

static const char *const kinds[] = {"", "a common word", "a repeat", "a sequence",
				    "a keyboard pattern", "a date"};

void password_strength(const char *pw, struct pw_strength *r)
{
	size_t n = strnlen(pw, PW_STRENGTH_MAX_LEN + 1), rest = 0;
	double best[PW_STRENGTH_MAX_LEN + 1];
	int kind[PW_STRENGTH_MAX_LEN + 1];
	size_t from[PW_STRENGTH_MAX_LEN + 1];

	pthread_once(&index_once, index_build);
	if (n > PW_STRENGTH_MAX_LEN) {
		/* Past the window every byte counts as a character of its own. */
		rest = strlen(pw) - PW_STRENGTH_MAX_LEN;
		n = PW_STRENGTH_MAX_LEN;
	}
	/* best[k]: the fewest guesses (log10) for the first k bytes. */
	best[0] = 0;
	kind[0] = 0;
	from[0] = 0;
	for (size_t k = 1; k <= n; k++) {
		best[k] = best[k - 1] + log10(class_card((unsigned char)pw[k - 1]));
		kind[k] = 0;
		from[k] = k - 1;
		for (size_t i = k >= 16 ? k - 16 : 0; i + 2 <= k; i++) {
			double g[5] = {dict_piece(pw, i, k), repeat_piece(pw, i, k),
				       sequence_piece(pw, i, k), walk_piece(pw, i, k),
				       date_piece(pw, i, k)};
			for (int t = 0; t < 5; t++)
				if (g[t] >= 0 && best[i] + g[t] < best[k]) {
					best[k] = best[i] + g[t];
					kind[k] = t + 1;
					from[k] = i;
				}
		}
	}
	/* The piece that explains the most characters names the weakness. */
	size_t widest = 0;
	int weak = 0;
	for (size_t k = n; k > 0; k = from[k])
		if (kind[k] && k - from[k] > widest) {
			widest = k - from[k];
			weak = kind[k];
		}
	r->log10_guesses = best[n] + (double)rest;
	double g = r->log10_guesses;
	r->score = g < 3 ? 0 : g < 6 ? 1 : g < 8 ? 2 : g < 10 ? 3 : 4;
	r->weakness = kinds[weak];
}
