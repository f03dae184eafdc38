/*
 * mime_msgid.c — RFC 5322 §3.6.4 msg-id lists, read strictly (see
 * mime_msgid.h for the grammar and why it is apart from mime_msgids()).
 *
 * Each function walks the value once, left to right, and keeps no state
 * but the position, so any length costs time linear in it and no memory.
 */
#include <string.h>

#include "mime/mime_msgid.h"

/* RFC 5322 §3.2.3 atext, and UTF-8 octets (RFC 6532 §3.2). */
static int atext(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* The end of the dot-atom-text starting at s[i], or i when there is none:
 * atext runs joined by single dots. */
static size_t dot_atom_text_end(const char *s, size_t n, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t k = j;
		while (k < n && atext((unsigned char)s[k]))
			k++;
		if (k == j) /* an empty run: a leading, trailing or double dot */
			return j == i ? i : j - 1;
		j = k;
		if (j + 1 < n && s[j] == '.' && atext((unsigned char)s[j + 1]))
			j++;
		else
			return j;
	}
}

/* The end of the no-fold-literal ("[" *dtext "]") at s[i], or i. */
static size_t literal_end(const char *s, size_t n, size_t i)
{
	if (i >= n || s[i] != '[')
		return i;
	for (size_t j = i + 1; j < n; j++) {
		unsigned char c = (unsigned char)s[j];
		if (c == ']')
			return j + 1;
		if (c <= 0x20 || c == 0x7f || c == '[' || c == '\\')
			return i;
	}
	return i;
}

/* The end of the quoted string at s[i] == '"' (quoted-pairs taken), or i
 * when it is not closed. */
static size_t quoted_end(const char *s, size_t n, size_t i)
{
	for (size_t j = i + 1; j < n; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '"')
			return j + 1;
	}
	return i;
}

/* The end of the comment at s[i] == '(' (nested, quoted-pairs taken), or
 * i when it is not closed. */
static size_t comment_end(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	for (size_t j = i; j < n; j++) {
		if (s[j] == '\\')
			j++;
		else if (s[j] == '(')
			depth++;
		else if (s[j] == ')' && --depth == 0)
			return j + 1;
	}
	return i;
}

/* id-right at s[i..n): its end, or i. */
static size_t id_right_end(const char *s, size_t n, size_t i)
{
	size_t j = literal_end(s, n, i);
	return j > i ? j : dot_atom_text_end(s, n, i);
}

int mime_msgid_valid(struct str id)
{
	size_t at = dot_atom_text_end(id.p, id.len, 0);

	if (at == 0 || at >= id.len || id.p[at] != '@')
		return 0;
	return id_right_end(id.p, id.len, at + 1) == id.len && id.len > at + 1;
}

/* The msg-id at s[i] == '<': its end past '>', or i. id-left may be the
 * obsolete quoted string (RFC 5322 §4.5.4 obs-id-left is a local-part). */
static size_t msgid_end(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;
	size_t left = j < n && s[j] == '"' ? quoted_end(s, n, j) : dot_atom_text_end(s, n, j);

	if (left == j || left >= n || s[left] != '@')
		return i;
	size_t right = id_right_end(s, n, left + 1);
	if (right == left + 1 || right >= n || s[right] != '>')
		return i;
	return right + 1;
}

int mime_msgid_list_next(struct str v, size_t *pos, struct str *id_r)
{
	size_t i = *pos;

	while (i < v.len) {
		unsigned char c = (unsigned char)v.p[i];
		size_t end;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.' || atext(c)) {
			i++; /* folding white space, or a word or dot of a phrase */
			continue;
		}
		if (c == '(')
			end = comment_end(v.p, v.len, i);
		else if (c == '"')
			end = quoted_end(v.p, v.len, i);
		else if (c == '<')
			end = msgid_end(v.p, v.len, i);
		else
			return -1;
		if (end == i)
			return -1;
		if (c == '<') {
			*id_r = str_make(v.p + i + 1, end - i - 2);
			*pos = end;
			return 1;
		}
		i = end;
	}
	*pos = i;
	return 0;
}

int mime_msgid_list_valid(struct str v)
{
	size_t pos = 0, n = 0;
	struct str id;
	int r;

	if (!v.p)
		return 0;
	while ((r = mime_msgid_list_next(v, &pos, &id)) == 1)
		n++;
	return r == 0 && n > 0;
}
