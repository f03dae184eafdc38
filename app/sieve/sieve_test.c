/*
 * sieve_test.c — Sieve tests: each gathers the values it examines
 * (header values, addresses, body texts, dates...) and matches them
 * against its keys with the node's comparator and match type. The
 * captures of the test that succeeded become the match variables.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/version.h"
#include "core/xalloc.h"
#include "mime/mime_date.h"
#include "mime/mime_decode.h"
#include "mime/mime_field.h"
#include "sieve/sieve_mailto.h"
#include "sieve/sieve_run.h"

struct vals {
	struct str *v;
	struct str *f; /* when set: v's values folded (i;ascii-casemap), p NULL where not */
	uint32_t n, cap;
};

static void vals_add(struct run *r, struct vals *vs, struct str s)
{
	if (vs->n >= vs->cap) {
		uint32_t nc = vs->cap ? vs->cap * 2 : 16;
		struct str *nv = arena_alloc(r->a, nc * sizeof(*nv));
		if (vs->n)
			memcpy(nv, vs->v, vs->n * sizeof(*nv));
		vs->v = nv;
		vs->cap = nc;
	}
	vs->v[vs->n++] = s;
}

/* body sets no match variables and leaves the earlier ones (as Pigeonhole,
 * whose suite checks it: a body's text is no value to copy pieces of). */
static int want_caps(struct run *r, const struct sv_node *n)
{
	return (n->match == M_MATCHES || n->match == M_REGEX) && n->id != T_BODY &&
	       (r->frame->script->exts >> EXT_VARIABLES & 1) && r->capbuf;
}

static int match_vals(struct run *r, const struct sv_node *n, const struct vals *vs,
                      const struct sv_arg *keys)
{
	struct sv_matcher m;

	if (n->match == M_COUNT) {
		char num[24];
		snprintf(num, sizeof(num), "%u", vs->n);
		for (uint32_t k = 0; k < keys->n; k++)
			if (sv_rel_holds(n->rel, sv_cmp_order(n->cmp, str_c(num), arg_str(r, keys, k))))
				return 1;
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.match = n->match;
	m.cmp = n->cmp;
	m.rel = n->rel;
	m.steps = &r->steps;
	m.want_caps = want_caps(r, n);
	m.capbuf = r->mcapbuf;
	/* :contains under i;ascii-casemap is i;octet's substring search on
	 * folded text: each value is folded once per test (a body part's
	 * once per run, test_body), not once per key and octet. The folded
	 * copies are on the heap until the test ends, not in the run's
	 * arena: a test inside foreverypart runs once a part (10000 of
	 * them), and seven 60000-octet keys made 800 MiB of copies over
	 * 2000 parts, in 4000 steps. */
	const struct str *v = vs->v;
	struct str *f = NULL;
	char *fv = NULL, *fk = NULL;
	size_t fkcap = 0;
	int ret = 0;
	if (n->match == M_CONTAINS && n->cmp == CMP_CASEMAP && vs->n) {
		size_t total = 1;
		for (uint32_t i = 0; i < vs->n; i++)
			if (!(vs->f && vs->f[i].p))
				total += vs->v[i].len + 1;
		f = xmalloc(vs->n * sizeof(*f));
		char *p = fv = xmalloc(total);
		for (uint32_t i = 0; i < vs->n; i++) {
			if (vs->f && vs->f[i].p) {
				f[i] = vs->f[i];
				continue;
			}
			sv_fold_into(p, vs->v[i]);
			f[i] = str_make(p, vs->v[i].len);
			p += vs->v[i].len + 1;
		}
		v = f;
		m.cmp = CMP_OCTET;
	}
	for (uint32_t k = 0; k < keys->n && !ret; k++) {
		struct str key = arg_str(r, keys, k);
		if (m.cmp != n->cmp) {
			if (key.len + 1 > fkcap) {
				free(fk);
				fkcap = key.len + 1;
				fk = xmalloc(fkcap);
			}
			sv_fold_into(fk, key);
			key = str_make(fk, key.len);
		}
		m.re = keys->v[k].re;
		for (uint32_t i = 0; i < vs->n && !ret; i++) {
			char why[SIEVE_ERROR_MAX];
			int rc = sv_match_one(&m, v[i], key, why);
			if (rc < 0) {
				run_fail(r, n, "%s", why);
				ret = -1;
			} else if (rc == 1) {
				if (m.want_caps) {
					r->ncaps = m.ncaps;
					for (int c = 0; c < m.ncaps; c++) {
						char *dst = r->capbuf + (size_t)c * SIEVE_VAR_VALUE_MAX;
						memcpy(dst, m.caps[c].p, m.caps[c].len);
						r->caps[c] = str_make(dst, m.caps[c].len);
					}
				}
				ret = 1;
			}
		}
	}
	free(fk);
	free(fv);
	free(f);
	return ret;
}

/* Header fields of fields[0..nf) named by the list, honouring :index/:last. */
static void fields_named(struct run *r, const struct sv_node *n, const struct sv_arg *names,
                         const struct hfield *hf, uint32_t nf,
                         void (*each)(struct run *, struct str, struct vals *, int),
                         struct vals *vs, int extra)
{
	const struct sv_arg *ix = node_tag(n, G_INDEX);
	int last = node_tag(n, G_LAST) != NULL;

	for (uint32_t k = 0; k < names->n; k++) {
		struct str name = arg_str(r, names, k);
		uint32_t count = 0, want = 0, seen = 0;
		/* a variable naming a field without addresses: nothing to read
		 * (a constant one does not compile) */
		if (n->id == T_ADDRESS && !sv_address_header(name))
			continue;
		if (ix) {
			for (uint32_t i = 0; i < nf; i++)
				count += !hf[i].deleted && str_eq_ci(hf[i].name, name);
			if (ix->num > count)
				continue;
			want = last ? count - (uint32_t)ix->num + 1 : (uint32_t)ix->num;
		}
		for (uint32_t i = 0; i < nf; i++) {
			if (hf[i].deleted || !str_eq_ci(hf[i].name, name))
				continue;
			seen++;
			if (ix && seen != want)
				continue;
			r->cur_field = hf[i].name;
			each(r, hf[i].value, vs, extra);
		}
	}
}

/* The parts a test looks at: the message's header without :mime; with
 * it the current part (RFC 5703 §4.1), and with :anychild every part
 * inside it too. Calls fn for each part's fields. */
static void for_test_parts(struct run *r, const struct sv_node *n,
                           void (*fn)(struct run *, const struct sv_node *, const struct hfield *,
                                      uint32_t, void *),
                           void *ctx)
{
	struct hfield *hf;
	uint32_t nf, cur = node_tag(n, G_MIME) ? r->part : 0;

	nf = msg_part_fields(r, cur, &hf);
	fn(r, n, hf, nf, ctx);
	if (!node_tag(n, G_ANYCHILD))
		return;
	msg_tree(r);
	for (uint32_t i = cur + 1; i < r->tree.nparts && !r->failed &&
	                           r->tree.parts[i].depth > r->tree.parts[cur].depth; i++) {
		nf = msg_part_fields(r, i, &hf);
		fn(r, n, hf, nf, ctx);
	}
}

struct fields_ctx {
	const struct sv_arg *names;
	void (*each)(struct run *, struct str, struct vals *, int);
	struct vals *vs;
	int extra;
};

static void fields_of_part(struct run *r, const struct sv_node *n, const struct hfield *hf,
                           uint32_t nf, void *ctx)
{
	struct fields_ctx *c = ctx;
	fields_named(r, n, c->names, hf, nf, c->each, c->vs, c->extra);
}

static void header_fields(struct run *r, const struct sv_node *n, const struct sv_arg *names,
                          void (*each)(struct run *, struct str, struct vals *, int),
                          struct vals *vs, int extra)
{
	struct fields_ctx c = { names, each, vs, extra };
	for_test_parts(r, n, fields_of_part, &c);
}

static void each_value(struct run *r, struct str raw, struct vals *vs, int decode)
{
	vals_add(r, vs, msg_field_value(r, raw, decode));
}

/* header :mime with :type, :subtype, :contenttype or :param (RFC 5703
 * §4.1.1): a Content-Type field read as "type/subtype; params", a
 * Content-Disposition as "type; params". As Pigeonhole: each field gives
 * one value, or with :param each parameter of it named (in the field's
 * order); the empty string for what it has not (no parameter of those
 * names, a Content-Type that is no type/subtype, any other field), so a
 * field is never missing from `:count` and `:matches "*"` holds for it.
 * The node is found through the run's current test. */
static void each_mime_value(struct run *r, struct str raw, struct vals *vs, int unused)
{
	const struct sv_node *n = r->cur_test;
	const struct sv_arg *pa = node_tag(n, G_PARAM);
	struct str v = msg_field_value(r, raw, 0), val = STR_LIT(""), sub = STR_LIT("");
	struct mime_param *params = NULL;
	uint32_t np = 0;
	int has_slash = memchr(v.p, '/', v.len) != NULL;
	int ct = str_eq_ci(r->cur_field, STR_LIT("Content-Type"));

	(void)unused;
	if ((ct && has_slash) || str_eq_ci(r->cur_field, STR_LIT("Content-Disposition"))) {
		if (mime_field_params(r->a, v, &val, has_slash ? &sub : NULL, &params, &np, 64) < 0) {
			val = sub = STR_LIT("");
			params = NULL;
			np = 0;
		}
		if (!has_slash)
			sub = STR_LIT("");
	}
	if (node_tag(n, G_TYPE)) {
		vals_add(r, vs, val);
	} else if (node_tag(n, G_SUBTYPE)) {
		vals_add(r, vs, sub);
	} else if (node_tag(n, G_CONTENTTYPE)) {
		vals_add(r, vs, sub.len ? str_c(arena_printf(r->a, "%.*s/%.*s", (int)val.len, val.p,
		                                              (int)sub.len, sub.p)) : val);
	} else {
		/* The field's parameters named, in the field's order. */
		uint32_t found = 0;
		for (uint32_t i = 0; i < np; i++)
			for (uint32_t k = 0; k < pa->n; k++)
				if (str_eq_ci(params[i].name, arg_str(r, pa, k))) {
					vals_add(r, vs, params[i].value);
					found++;
					break;
				}
		if (!found)
			vals_add(r, vs, STR_LIT(""));
	}
}

struct exists_ctx {
	struct str name;
	int found;
};

static void exists_in_part(struct run *r, const struct sv_node *n, const struct hfield *hf,
                           uint32_t nf, void *ctx)
{
	struct exists_ctx *c = ctx;
	(void)r;
	(void)n;
	for (uint32_t i = 0; i < nf && !c->found; i++)
		c->found = !hf[i].deleted && str_eq_ci(hf[i].name, c->name);
}

static struct str unquote_local(struct run *r, struct str s)
{
	if (s.len >= 2 && s.p[0] == '"' && s.p[s.len - 1] == '"') {
		char *o = arena_alloc(r->a, s.len);
		size_t n = 0;
		for (size_t i = 1; i + 1 < s.len; i++) {
			if (s.p[i] == '\\' && i + 2 < s.len)
				i++;
			o[n++] = s.p[i];
		}
		return str_make(o, n);
	}
	return s;
}

/* The address part of local@domain; p == NULL when it has none (:detail
 * without a separator). */
static struct str addr_part(struct run *r, int part, struct str local, struct str domain)
{
	ptrdiff_t plus;
	switch (part) {
	case AP_LOCALPART:
		return local;
	case AP_DOMAIN:
		return domain.p ? domain : STR_LIT("");
	case AP_USER:
		plus = str_chr(local, '+');
		return plus < 0 ? local : str_make(local.p, (size_t)plus);
	case AP_DETAIL:
		plus = str_chr(local, '+');
		return plus < 0 ? STR_NULL : str_make(local.p + plus + 1, local.len - (size_t)plus - 1);
	default:
		if (!domain.p || !domain.len)
			return local;
		return str_c(arena_printf(r->a, "%.*s@%.*s", (int)local.len, local.p, (int)domain.len,
		                          domain.p));
	}
}

static void each_address(struct run *r, struct str raw, struct vals *vs, int addrpart)
{
	struct mime_address *list;
	uint32_t n;
	struct str v = msg_field_value(r, raw, 0);
	/* A field present but empty ("Resent-To:") is one empty address to
	 * :all, as it would be for the envelope's null path (Pigeonhole's
	 * suite tests ':all :is "resent-to" ""'). */
	if (!str_trim(v).len) {
		if (addrpart == AP_ALL)
			vals_add(r, vs, STR_LIT(""));
		return;
	}
	mime_field_addresses(r->a, v, &list, &n, 1000);
	for (uint32_t k = 0; k < n; k++) {
		if (!list[k].host.p || !list[k].mailbox.p)
			continue;
		struct str dom = str_eq(list[k].host, STR_LIT("MISSING_DOMAIN")) ? STR_NULL : list[k].host;
		/* "@example.org" has no local part: not valid, so neither its
		 * domain nor a local part matches (§2.7.4), and :all sees it as
		 * written, not the parser's MISSING_MAILBOX placeholder. */
		if (str_eq(list[k].mailbox, STR_LIT("MISSING_MAILBOX"))) {
			if (addrpart == AP_ALL && dom.p)
				vals_add(r, vs, str_c(arena_printf(r->a, "@%.*s", (int)dom.len, dom.p)));
			continue;
		}
		struct str loc = unquote_local(r, list[k].mailbox);
		/* An address without a domain ("<>", "root") is not valid in a
		 * header: no local part or domain of it matches (§2.7.4), and
		 * "<>" is no address at all (only the envelope's null path
		 * compares as "", §5.4). */
		if (!dom.p || !dom.len) {
			if (addrpart != AP_ALL || !loc.len)
				continue;
		}
		struct str part = addr_part(r, addrpart, loc, dom);
		/* "stephan@": :all gives it as written, its "@" included (as
		 * Pigeonhole does; tern gave "stephan", another address) */
		const char *at = (!dom.p || !dom.len) && part.len < v.len ? memmem(v.p, v.len, part.p, part.len) : NULL;
		if (at && at + part.len < v.p + v.len && at[part.len] == '@')
			part = str_make(at, part.len + 1);
		if (part.p)
			vals_add(r, vs, part);
	}
}

/* ---- the envelope's addresses as SMTP paths (RFC 5321 §4.1.2) ---- */

struct path_cur {
	const char *p, *e;
	char *o; /* where the normalized local part or domain goes */
	size_t n;
};

static void path_ws(struct path_cur *c)
{
	while (c->p < c->e && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static int path_atext(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* A domain (labels of letters, digits and "-" joined by ".", white space
 * around them skipped, as Pigeonhole reads it) or an address literal,
 * appended to c->o. 0, or -1 when there is none or a label is empty. */
static int path_domain(struct path_cur *c)
{
	path_ws(c);
	if (c->p < c->e && *c->p == '[') {
		const char *end = memchr(c->p, ']', (size_t)(c->e - c->p));
		if (!end)
			return -1;
		memcpy(c->o + c->n, c->p, (size_t)(end + 1 - c->p));
		c->n += (size_t)(end + 1 - c->p);
		c->p = end + 1;
		return 0;
	}
	for (;;) {
		size_t start = c->n;
		while (c->p < c->e && (path_atext((unsigned char)*c->p) && *c->p != '@'))
			c->o[c->n++] = *c->p++;
		if (c->n == start)
			return -1;
		path_ws(c);
		if (c->p >= c->e || *c->p != '.')
			return 0;
		c->o[c->n++] = *c->p++;
		path_ws(c);
	}
}

/*
 * Reads addr as an SMTP path: white space around it, optional angle
 * brackets, a source route "@a,@b:" (dropped), then local-part ["@"
 * domain]; a quoted local part is unquoted. 1 with *local_r and *domain_r
 * (p NULL without a domain) and *quoted_r (the local part was a
 * quoted string), 0 for the null path, -1 when addr is not a path.
 */
static int env_path(struct run *r, struct str addr, struct str *local_r, struct str *domain_r,
                    int *quoted_r)
{
	struct path_cur c = { addr.p, addr.p + addr.len, arena_alloc(r->a, 2 * addr.len + 2), 0 };
	int angle;
	size_t local_end;

	path_ws(&c);
	if ((angle = c.p < c.e && *c.p == '<'))
		c.p++;
	path_ws(&c);
	if (c.p == c.e || (angle && *c.p == '>')) {
		c.p += c.p < c.e;
		path_ws(&c);
		return c.p == c.e && (angle || !addr.len || !str_trim(addr).len) ? 0 : -1;
	}
	if (*c.p == '@') { /* a source route, dropped */
		for (;;) {
			c.p++;
			size_t mark = c.n;
			if (path_domain(&c) < 0)
				return -1;
			c.n = mark;
			path_ws(&c);
			if (c.p < c.e && *c.p == ',') {
				c.p++;
				path_ws(&c);
				if (c.p >= c.e || *c.p != '@')
					return -1;
				continue;
			}
			if (c.p >= c.e || *c.p != ':')
				return -1;
			c.p++;
			path_ws(&c);
			break;
		}
	}
	*quoted_r = c.p < c.e && *c.p == '"';
	if (*quoted_r) {
		for (c.p++; c.p < c.e && *c.p != '"'; c.p++) {
			if (*c.p == '\\' && c.p + 1 < c.e)
				c.p++;
			c.o[c.n++] = *c.p;
		}
		if (c.p >= c.e)
			return -1;
		c.p++;
	} else {
		while (c.p < c.e && (path_atext((unsigned char)*c.p) || *c.p == '.'))
			c.o[c.n++] = *c.p++;
	}
	local_end = c.n;
	if (!local_end)
		return -1;
	path_ws(&c);
	*domain_r = STR_NULL;
	if (c.p < c.e && *c.p == '@') {
		c.p++;
		if (path_domain(&c) < 0)
			return -1;
		*domain_r = str_make(c.o + local_end, c.n - local_end);
		path_ws(&c);
	}
	if (angle) {
		if (c.p >= c.e || *c.p != '>')
			return -1;
		c.p++;
		path_ws(&c);
	}
	if (c.p != c.e)
		return -1;
	*local_r = str_make(c.o, local_end);
	return 1;
}

/*
 * A part of an envelope address, read as an SMTP path. The null reverse
 * path is "" to every part (RFC 5228 §5.4), a null forward path nothing;
 * one that is not a path is matched by :all as written and by no other
 * part (§2.7.4).
 */
/* A quoted local part as an address writes it: still quoted when it is
 * no Dot-string (RFC 5321 §4.1.2), so :all gives an address
 * ("\"S[r]us\"@b", not S[r]us@b), bare when it is one ("\"ab\"@b" is
 * ab@b: §4.1.2 SHOULD NOT quote what needs none). As Pigeonhole's
 * execute/address-normalize.svtest. */
static struct str local_written(struct run *r, struct str local)
{
	int dot_string = local.len && local.p[0] != '.' && local.p[local.len - 1] != '.';
	for (size_t i = 0; i < local.len && dot_string; i++) {
		unsigned char c = (unsigned char)local.p[i];
		dot_string = c == '.' ? local.p[i + 1] != '.' : path_atext(c);
	}
	if (dot_string)
		return local;
	char *o = arena_alloc(r->a, 2 * local.len + 2);
	size_t n = 0;
	o[n++] = '"';
	for (size_t i = 0; i < local.len; i++) {
		if (local.p[i] == '"' || local.p[i] == '\\')
			o[n++] = '\\';
		o[n++] = local.p[i];
	}
	o[n++] = '"';
	return str_make(o, n);
}

static struct str env_part(struct run *r, int part, struct str addr, int reverse)
{
	struct str local, domain;
	int quoted = 0;
	int rc = env_path(r, addr, &local, &domain, &quoted);
	if (rc == 0)
		return reverse && (part == AP_ALL || part == AP_LOCALPART || part == AP_USER ||
		                   part == AP_DOMAIN) ? STR_LIT("") : STR_NULL;
	if (rc < 0)
		return part == AP_ALL ? addr : STR_NULL;
	if (part == AP_ALL && quoted)
		local = local_written(r, local);
	return addr_part(r, part, local, domain);
}

/*
 * envelope-dsn (RFC 6009 §3): "notify" gives each NOTIFY keyword, "orcpt"
 * the ORCPT address (rfc822 type only; address parts apply), "ret" and
 * "envid" their values; an absent parameter gives nothing.
 */
static void envelope_dsn(struct run *r, const struct sv_node *t, struct str part, struct vals *vs)
{
	const struct sieve_env *e = r->env;
	if (str_eq_ci(part, STR_LIT("notify"))) {
		struct str n = e->dsn_notify;
		for (size_t i = 0; i < n.len;) {
			size_t j = i;
			while (j < n.len && n.p[j] != ',')
				j++;
			if (j > i)
				vals_add(r, vs, str_make(n.p + i, j - i));
			i = j + 1;
		}
	} else if (str_eq_ci(part, STR_LIT("orcpt"))) {
		ptrdiff_t semi = str_chr(e->dsn_orcpt, ';');
		if (semi > 0 && str_eq_ci(str_make(e->dsn_orcpt.p, (size_t)semi), STR_LIT("rfc822"))) {
			struct str v = env_part(r, t->addrpart,
			                        str_trim(str_make(e->dsn_orcpt.p + semi + 1,
			                                          e->dsn_orcpt.len - (size_t)semi - 1)), 0);
			if (v.p)
				vals_add(r, vs, v);
		}
	} else if (str_eq_ci(part, STR_LIT("ret")) && e->dsn_ret.len) {
		vals_add(r, vs, e->dsn_ret);
	} else if (str_eq_ci(part, STR_LIT("envid")) && e->dsn_envid.len) {
		vals_add(r, vs, e->dsn_envid);
	}
}

/*
 * envelope-deliverby (RFC 6009 §4), when MAIL carried BY=: "bytimeabsolute"
 * the deadline (RFC 3339, UTC), "bytimerelative" the seconds left (may be
 * negative), "bymode" "return" or "notify", "bytrace" "on" or "off".
 */
static void envelope_by(struct run *r, struct str part, struct vals *vs)
{
	const struct sieve_env *e = r->env;
	if (!e->by)
		return;
	if (str_eq_ci(part, STR_LIT("bytimeabsolute"))) {
		char *w = arena_alloc(r->a, MIME_RFC3339_MAX);
		mime_rfc3339_format(e->by_deadline, w);
		vals_add(r, vs, str_c(w));
	} else if (str_eq_ci(part, STR_LIT("bytimerelative"))) {
		vals_add(r, vs, str_c(arena_printf(r->a, "%lld", (long long)(e->by_deadline - e->now))));
	} else if (str_eq_ci(part, STR_LIT("bymode"))) {
		vals_add(r, vs, e->by_return ? STR_LIT("return") : STR_LIT("notify"));
	} else if (str_eq_ci(part, STR_LIT("bytrace"))) {
		vals_add(r, vs, e->by_trace ? STR_LIT("on") : STR_LIT("off"));
	}
}

/* ---- date (RFC 5260) ---- */

static int parse_zone(struct str z, int *minutes_r)
{
	if (z.len != 5 || (z.p[0] != '+' && z.p[0] != '-'))
		return -1;
	for (int i = 1; i < 5; i++)
		if (z.p[i] < '0' || z.p[i] > '9')
			return -1;
	int hh = (z.p[1] - '0') * 10 + (z.p[2] - '0'), mm = (z.p[3] - '0') * 10 + (z.p[4] - '0');
	if (mm > 59)
		return -1;
	*minutes_r = (hh * 60 + mm) * (z.p[0] == '-' ? -1 : 1);
	return 0;
}

static struct str date_part(struct run *r, int64_t t, int zone, struct str part)
{
	static const char *const wd[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const mn[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int64_t lt = t + (int64_t)zone * 60, days = lt >= 0 ? lt / 86400 : (lt - 86399) / 86400;
	int64_t sec = lt - days * 86400, y;
	unsigned m, d, hh = (unsigned)(sec / 3600), mi = (unsigned)(sec / 60 % 60), ss = (unsigned)(sec % 60);
	int az = zone < 0 ? -zone : zone;
	char sign = zone < 0 ? '-' : '+';
	int wday = (int)(((days % 7) + 7) % 7); /* 0 = Thursday */
	char *o;

	mime_civil_from_days(days, &y, &m, &d);
	if (str_eq_ci(part, STR_LIT("year")))
		o = arena_printf(r->a, "%04lld", (long long)y);
	else if (str_eq_ci(part, STR_LIT("month")))
		o = arena_printf(r->a, "%02u", m);
	else if (str_eq_ci(part, STR_LIT("day")))
		o = arena_printf(r->a, "%02u", d);
	else if (str_eq_ci(part, STR_LIT("date")))
		o = arena_printf(r->a, "%04lld-%02u-%02u", (long long)y, m, d);
	else if (str_eq_ci(part, STR_LIT("julian")))
		o = arena_printf(r->a, "%lld", (long long)(days + 40587)); /* MJD of 1970-01-01 */
	else if (str_eq_ci(part, STR_LIT("hour")))
		o = arena_printf(r->a, "%02u", hh);
	else if (str_eq_ci(part, STR_LIT("minute")))
		o = arena_printf(r->a, "%02u", mi);
	else if (str_eq_ci(part, STR_LIT("second")))
		o = arena_printf(r->a, "%02u", ss);
	else if (str_eq_ci(part, STR_LIT("time")))
		o = arena_printf(r->a, "%02u:%02u:%02u", hh, mi, ss);
	else if (str_eq_ci(part, STR_LIT("iso8601")))
		o = arena_printf(r->a, "%04lld-%02u-%02uT%02u:%02u:%02u%c%02d:%02d", (long long)y, m, d, hh,
		                 mi, ss, sign, az / 60, az % 60);
	else if (str_eq_ci(part, STR_LIT("std11")))
		o = arena_printf(r->a, "%s, %u %s %04lld %02u:%02u:%02u %c%02d%02d", wd[wday], d, mn[m - 1],
		                 (long long)y, hh, mi, ss, sign, az / 60, az % 60);
	else if (str_eq_ci(part, STR_LIT("zone")))
		o = arena_printf(r->a, "%c%02d%02d", sign, az / 60, az % 60);
	else if (str_eq_ci(part, STR_LIT("weekday")))
		o = arena_printf(r->a, "%d", (wday + 4) % 7); /* 0 = Sunday */
	else
		return STR_NULL;
	return str_c(o);
}

static int test_date(struct run *r, const struct sv_node *t)
{
	struct vals vs = { 0 };
	const struct sv_arg *za = node_tag(t, G_ZONE);
	int zone = r->env->zone_minutes, is_current = t->id == T_CURRENTDATE;
	struct str part = arg_str(r, &t->pos[is_current ? 0 : 1], 0);
	const struct sv_arg *keys = &t->pos[is_current ? 1 : 2];

	if (za && parse_zone(arg_str(r, za, 0), &zone) < 0)
		return 0; /* RFC 5260 §4.1: an invalid zone never matches */
	if (is_current) {
		struct str v = date_part(r, r->env->now, zone, part);
		if (!v.p)
			return 0;
		vals_add(r, &vs, v);
	} else {
		struct vals hv = { 0 };
		struct sv_arg names = { A_LIST, 1, (struct sv_string *)&t->pos[0].v[0], 0 };
		header_fields(r, t, &names, each_value, &hv, 0);
		for (uint32_t i = 0; i < hv.n; i++) {
			int64_t when;
			/* A Received-style field carries its date after the last ';'. */
			struct str v = hv.v[i];
			ptrdiff_t semi = str_rchr(v, ';');
			if (semi >= 0)
				v = str_trim(str_sub(v, (size_t)semi + 1, v.len));
			int written;
			if (mime_date_parse_zone(v, &when, NULL, &written) < 0)
				continue;
			/* :originalzone: the zone the field was written in, an
			 * obsolete name (EST, GMT, UT) as its offset (RFC 5322 §4.3) */
			int z = node_tag(t, G_ORIGINALZONE) ? written : zone;
			struct str dv = date_part(r, when, z, part);
			if (dv.p)
				vals_add(r, &vs, dv);
		}
	}
	return match_vals(r, t, &vs, keys);
}

/* The prologue (before the first delimiter line) and the epilogue
 * (after the close delimiter's line) of multipart part i, as written;
 * empty where the delimiters are not found. Returns the octets looked
 * at (for the run's budget). */
static uint64_t multipart_outside(struct run *r, uint32_t i, struct str *pro, struct str *epi)
{
	const struct mime_part *p = &r->tree.parts[i];
	const char *msg = r->env->msg;
	struct str b = mime_param_get(p->params, p->nparams, "boundary");
	uint64_t end = p->body_end < r->env->len ? p->body_end : r->env->len;

	*pro = *epi = STR_LIT("");
	if (!b.len || b.len > 70 || p->nchildren == 0)
		return 0;
	char delim[74] = "--";
	memcpy(delim + 2, b.p, b.len);
	size_t dl = b.len + 2;

	/* the first child's header starts after the first delimiter line */
	uint64_t first = r->tree.parts[i + 1].hdr_off, at = p->body_off;
	for (uint64_t k = p->body_off; k + dl <= first; k++)
		if ((k == p->body_off || msg[k - 1] == '\n') && !memcmp(msg + k, delim, dl)) {
			at = k;
			break;
		}
	uint64_t pe = at;
	if (pe > p->body_off && msg[pe - 1] == '\n')
		pe--;
	if (pe > p->body_off && msg[pe - 1] == '\r')
		pe--;
	*pro = str_make(msg + p->body_off, pe - p->body_off);

	/* the close delimiter follows the last child's body */
	uint32_t last = i + 1;
	while (r->tree.parts[last].next != MIME_NONE)
		last = r->tree.parts[last].next;
	uint64_t from = r->tree.parts[last].body_end < end ? r->tree.parts[last].body_end : end;
	uint64_t seen = (first - p->body_off) + (end - from);
	for (uint64_t k = from; k + dl + 2 <= end; k++) {
		if (memcmp(msg + k, delim, dl) || msg[k + dl] != '-' || msg[k + dl + 1] != '-')
			continue;
		k += dl + 2;
		while (k < end && msg[k] != '\n')
			k++;
		if (k < end)
			*epi = str_make(msg + k + 1, end - k - 1);
		break;
	}
	return seen;
}

/* 1 when an empty line ends the message's header: RFC 5173 §5, "If a
 * message consists of a header only, not followed by an empty line, then
 * that set is empty and all "body" tests return false, including those
 * that test for an empty string." */
static int has_body(struct run *r)
{
	const char *m = r->env->msg;
	size_t b = r->tree.parts[0].body_off;
	if (b == 0 || b > r->env->len || m[b - 1] != '\n')
		return 0;
	if (b == 1 || (b == 2 && m[0] == '\r'))
		return 1; /* the message starts with the empty line */
	return m[b - 2] == '\n' || (b >= 3 && m[b - 2] == '\r' && m[b - 3] == '\n');
}

static int test_body(struct run *r, const struct sv_node *t)
{
	struct vals vs = { 0 };
	const struct sv_arg *ct = node_tag(t, G_CONTENT);
	struct str text, *f = NULL;
	int fold = t->match == M_CONTAINS && t->cmp == CMP_CASEMAP;

	msg_tree(r);
	if (!has_body(r))
		return 0;
	if (fold) /* a part gives at most two strings (a prologue and an epilogue) */
		f = arena_zalloc(r->a, 2 * r->tree.nparts * sizeof(*f));
	if (node_tag(t, G_RAW)) {
		const struct mime_part *root = &r->tree.parts[0];
		uint64_t off = root->body_off, end = root->body_end;
		if (end - off > SIEVE_BODY_BYTES_MAX)
			end = off + SIEVE_BODY_BYTES_MAX;
		if (run_spend(r, (end - off) / 64 + 1) < 0)
			return -1;
		vals_add(r, &vs, str_make(r->env->msg + off, end - off));
		return match_vals(r, t, &vs, &t->pos[0]);
	}
	for (uint32_t i = 0; i < r->tree.nparts; i++) {
		const struct mime_part *p = &r->tree.parts[i];
		int want = 0;
		/* RFC 2045 §6.4: a part whose transfer encoding is unknown "must
		 * be treated as if it has a Content-Type of
		 * application/octet-stream" (its text was searched as text) */
		int opaque = p->encoding.p && mime_cte_parse(p->encoding) == MIME_CTE_UNKNOWN;
		struct str type = opaque ? STR_LIT("application") : p->type;
		struct str subtype = opaque ? STR_LIT("octet-stream") : p->subtype;
		if (!ct) {
			/* XHTML is HTML to a reader: its text is searched too
			 * (§5.3's best effort, as Pigeonhole) */
			want = !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) && !opaque &&
			       (mime_part_is(p, "text", NULL) ||
			        mime_part_is(p, "application", "xhtml+xml"));
		} else {
			for (uint32_t k = 0; k < ct->n && !want; k++) {
				struct str c = arg_str(r, ct, k);
				ptrdiff_t sl = str_chr(c, '/');
				if (c.len == 0)
					want = 1;
				else if (sl < 0)
					want = str_eq_ci(type, c);
				else
					want = str_eq_ci(type, str_make(c.p, (size_t)sl)) &&
					       str_eq_ci(subtype, str_sub(c, (size_t)sl + 1, c.len));
			}
		}
		if (!want)
			continue;
		/* RFC 5173 §5.2: a matching multipart is searched in its
		 * prologue and epilogue, a matching message/rfc822 in the
		 * nested message's header; what they hold is searched only
		 * where its own type matches. */
		if (p->flags & MIME_PART_MULTIPART) {
			struct str pro, epi;
			if (run_spend(r, multipart_outside(r, i, &pro, &epi) / 64 + 1) < 0)
				return -1;
			vals_add(r, &vs, pro);
			vals_add(r, &vs, epi);
			continue;
		}
		if (p->flags & MIME_PART_MESSAGE) {
			if (p->nchildren == 1) {
				const struct mime_part *m = &r->tree.parts[i + 1];
				const char *h = r->env->msg + m->hdr_off;
				size_t n = m->body_off - m->hdr_off;
				/* the header is its fields: the empty line after them
				 * separates it from the body (RFC 5322 §2.1) */
				if (n >= 3 && h[n - 1] == '\n' && h[n - 2] == '\r' && h[n - 3] == '\n')
					n -= 2;
				else if (n >= 2 && h[n - 1] == '\n' && h[n - 2] == '\n')
					n--;
				vals_add(r, &vs, str_make(h, n));
			}
			continue;
		}
		/* RFC 5173 §5.3: :text (the default) is "best effort at
		 * extracting UTF-8 encoded text": an HTML part's markup is no
		 * text (Pigeonhole reduces it alike); :content gives the part
		 * as it is */
		int (*get)(struct run *, uint32_t, int, struct str *) = ct ? msg_part_text : msg_part_plain;
		if (get(r, i, 0, &text) < 0)
			return -1;
		vals_add(r, &vs, text);
		if (fold) {
			if (get(r, i, 1, &text) < 0)
				return -1;
			f[vs.n - 1] = text;
		}
	}
	vs.f = f;
	return match_vals(r, t, &vs, &t->pos[0]);
}

static int test_hasflag(struct run *r, const struct sv_node *t)
{
	struct vals vs = { 0 };
	const struct sv_arg *keys = &t->pos[t->npos - 1];
	struct str all;
	struct buf tmp;

	buf_init(&tmp, SIEVE_VAR_VALUE_MAX * 4);
	if (t->npos == 2) {
		for (uint32_t i = 0; i < t->pos[0].n; i++) {
			struct buf *b = vars_find(r, arg_str(r, &t->pos[0], i), 0);
			if (b)
				flags_add(&tmp, buf_str(b));
		}
	} else {
		flags_add(&tmp, buf_str(&r->flags));
	}
	all = str_make(arena_strndup(r->a, buf_data(&tmp), buf_len(&tmp)), buf_len(&tmp));
	buf_free(&tmp);
	for (size_t i = 0; i < all.len;) {
		size_t j = i;
		while (j < all.len && all.p[j] != ' ')
			j++;
		if (j > i)
			vals_add(r, &vs, str_make(all.p + i, j - i));
		i = j + 1;
	}
	/* Keys are flag lists too (RFC 5232 §5). */
	if (t->match != M_COUNT) {
		struct vals ks = { 0 };
		for (uint32_t k = 0; k < keys->n; k++) {
			struct str kl = arg_str(r, keys, k);
			for (size_t i = 0; i < kl.len;) {
				size_t j = i;
				while (j < kl.len && kl.p[j] != ' ')
					j++;
				if (j > i)
					vals_add(r, &ks, str_make(kl.p + i, j - i));
				i = j + 1;
			}
		}
		struct sv_arg ka = { A_LIST, ks.n, arena_zalloc(r->a, (ks.n + 1) * sizeof(struct sv_string)), 0 };
		for (uint32_t i = 0; i < ks.n; i++)
			ka.v[i].s = ks.v[i];
		return match_vals(r, t, &vs, &ka);
	}
	return match_vals(r, t, &vs, keys);
}

static struct str environment_item(struct run *r, struct str name)
{
	const struct sieve_env *e = r->env;
	if (str_eq_ci(name, STR_LIT("domain")))
		return e->domain;
	if (str_eq_ci(name, STR_LIT("host")))
		return e->host;
	if (str_eq_ci(name, STR_LIT("location")))
		return STR_LIT("MDA");
	if (str_eq_ci(name, STR_LIT("name")))
		return STR_LIT("tern");
	if (str_eq_ci(name, STR_LIT("phase")))
		return STR_LIT("during");
	if (str_eq_ci(name, STR_LIT("remote-host")))
		return e->remote_host;
	if (str_eq_ci(name, STR_LIT("remote-ip")))
		return e->remote_ip;
	/* RFC 5183 §4.1: the interpreter's product version, which is
	 * tern's (what `tern version` prints). */
	if (str_eq_ci(name, STR_LIT("version")))
		return str_c(tern_version);
	return STR_NULL;
}

static int valid_mailto(struct run *r, struct str uri)
{
	struct sieve_mailto m;
	return sieve_mailto_parse(uri, r->a, &m) == 0;
}

static int test_duplicate(struct run *r, const struct sv_node *t)
{
	const struct sv_arg *h = node_tag(t, G_HANDLE), *hd = node_tag(t, G_HEADER),
	                    *u = node_tag(t, G_UNIQUEID), *sec = node_tag(t, G_SECONDS);
	struct str handle = h ? arg_str(r, h, 0) : STR_LIT(""), id = STR_NULL;
	int seen = 0;

	if (u) {
		id = arg_str(r, u, 0);
	} else {
		struct str name = hd ? arg_str(r, hd, 0) : STR_LIT("Message-ID");
		msg_headers(r);
		for (uint32_t i = 0; i < r->nhf && !id.p; i++)
			if (!r->hf[i].deleted && str_eq_ci(r->hf[i].name, name))
				id = msg_header_value(r, i, 0);
		/* RFC 7352 §3.1: no such field, or an empty one, identifies
		 * nothing: not a duplicate, and nothing is recorded (all the
		 * messages without an id would be one another's). */
		if (!id.p || !str_trim(id).len)
			return 0;
	}
	if (r->env->duplicate_seen)
		seen = r->env->duplicate_seen(r->env->ctx, handle, id) == 1;
	/* Recorded when the message is delivered (the executor's job). */
	if (r->res->nactions < r->maxactions) {
		struct sieve_action *a = &r->res->actions[r->res->nactions++];
		memset(a, 0, sizeof(*a));
		a->kind = SIEVE_ACT_DUPLICATE;
		a->handle = str_c(str_dup(r->a, handle));
		a->text = str_c(str_dup(r->a, id));
		a->seconds = sec ? sec->num : 7 * 86400;
		if (a->seconds > SIEVE_DUPLICATE_MAX_SECONDS)
			a->seconds = SIEVE_DUPLICATE_MAX_SECONDS;
		a->last = node_tag(t, G_LAST) != NULL;
		a->index = (uint32_t)seen;
	}
	return seen;
}

static int exists_mailboxes(struct run *r, const struct sv_node *t)
{
	for (uint32_t i = 0; i < t->pos[t->npos - 1].n; i++) {
		struct str v = arg_str(r, &t->pos[t->npos - 1], i);
		int ok = 0;
		/* each look-up is a step, as metadata's */
		if (run_spend(r, 1) < 0)
			return -1;
		if (t->id == T_MAILBOXEXISTS)
			ok = r->env->mailbox_exists ? r->env->mailbox_exists(r->env->ctx, v) == 1 :
			                              str_eq_ci(v, STR_LIT("INBOX"));
		else if (t->id == T_MAILBOXIDEXISTS)
			ok = r->env->mailboxid_exists && r->env->mailboxid_exists(r->env->ctx, v) == 1;
		else
			ok = r->env->specialuse_exists &&
			     r->env->specialuse_exists(r->env->ctx,
			                               t->npos == 2 ? arg_str(r, &t->pos[0], 0) : STR_LIT(""),
			                               v) == 1;
		if (!ok)
			return 0;
	}
	return 1;
}

/*
 * metadata, servermetadata (RFC 5490 §3.2, §4): true when the entry
 * exists and its value matches a key, so false without it whatever the
 * match type (:count "eq" "0" too, as environment without its item, and
 * as Pigeonhole has it), and false for a mailbox that does not exist
 * (Pigeonhole stops the script with an error there); metadataexists,
 * servermetadataexists (§3.3, §4): every entry named is there.
 */
static int test_metadata(struct run *r, const struct sv_node *t)
{
	int server = t->id == T_SERVERMETADATA || t->id == T_SERVERMETADATAEXISTS;
	int exists = t->id == T_METADATAEXISTS || t->id == T_SERVERMETADATAEXISTS;
	struct str mailbox = server ? STR_NULL : arg_str(r, &t->pos[0], 0);
	const struct sv_arg *names = &t->pos[server ? 0 : 1];
	struct vals vs = { 0 };

	for (uint32_t k = 0; k < (exists ? names->n : 1); k++) {
		struct str v, name = arg_str(r, names, k);
		/* each look-up is a step: a list of names inside a loop is
		 * bounded by the run's budget like any other work */
		if (run_spend(r, 1) < 0)
			return -1;
		int rc = r->env->metadata ? r->env->metadata(r->env->ctx, mailbox, name, r->a, &v) : 0;
		if (rc < 0) {
			run_fail(r, t, "metadata entry \"%.*s\" could not be read", (int)name.len,
			         name.p);
			return -1;
		}
		if (rc != 1)
			return 0;
		if (!exists)
			vals_add(r, &vs, v);
	}
	if (exists)
		return 1;
	return match_vals(r, t, &vs, &t->pos[server ? 1 : 2]);
}

static int test_score(struct run *r, const struct sv_node *t)
{
	struct vals vs = { 0 };
	int s = t->id == T_SPAMTEST ? r->env->spam_score : r->env->virus_score;
	char *v;
	if (t->id == T_SPAMTEST && node_tag(t, G_PERCENT))
		v = s ? arena_printf(r->a, "%d", (s - 1) * 100 / 9) : "0";
	else
		v = arena_printf(r->a, "%d", s);
	vals_add(r, &vs, str_c(v));
	struct sv_arg key = t->pos[0];
	key.type = A_LIST;
	return match_vals(r, t, &vs, &key);
}

static int test_node(struct run *r, const struct sv_node *t)
{
	struct vals vs = { 0 };
	int rc;

	if (run_spend(r, 1) < 0)
		return -1;
	switch (t->id) {
	case T_TRUE:
		return 1;
	case T_FALSE:
		return 0;
	case T_NOT:
		rc = test_eval(r, t->tests[0]);
		return rc < 0 ? -1 : !rc;
	case T_ALLOF:
	case T_ANYOF:
		for (uint16_t i = 0; i < t->ntests; i++) {
			rc = test_eval(r, t->tests[i]);
			if (rc < 0)
				return -1;
			if (t->id == T_ALLOF && !rc)
				return 0;
			if (t->id == T_ANYOF && rc)
				return 1;
		}
		return t->id == T_ALLOF;
	case T_SIZE: {
		/* The message as editheader left it (RFC 5293 §2: later tests
		 * see the changed message; Pigeonhole's suite checks size). */
		const struct sv_arg *o = node_tag(t, G_OVER);
		int64_t len = (int64_t)(r->env->head.len + r->env->len) + r->size_delta;
		uint64_t size = len < 0 ? 0 : (uint64_t)len;
		if (o)
			return size > o->num;
		return size < node_tag(t, G_UNDER)->num;
	}
	case T_EXISTS:
		for (uint32_t k = 0; k < t->pos[0].n; k++) {
			struct exists_ctx c = { arg_str(r, &t->pos[0], k), 0 };
			for_test_parts(r, t, exists_in_part, &c);
			if (r->failed)
				return -1;
			if (!c.found)
				return 0;
		}
		return 1;
	case T_HEADER:
		r->cur_test = t;
		if (node_tag(t, G_TYPE) || node_tag(t, G_SUBTYPE) || node_tag(t, G_CONTENTTYPE) ||
		    node_tag(t, G_PARAM))
			header_fields(r, t, &t->pos[0], each_mime_value, &vs, 0);
		else
			header_fields(r, t, &t->pos[0], each_value, &vs, 1);
		if (r->failed)
			return -1;
		return match_vals(r, t, &vs, &t->pos[1]);
	case T_ADDRESS:
		header_fields(r, t, &t->pos[0], each_address, &vs, t->addrpart);
		if (r->failed)
			return -1;
		return match_vals(r, t, &vs, &t->pos[1]);
	case T_ENVELOPE:
		for (uint32_t k = 0; k < t->pos[0].n; k++) {
			struct str part = arg_str(r, &t->pos[0], k), v = STR_NULL;
			if (str_eq_ci(part, STR_LIT("from")))
				v = env_part(r, t->addrpart, r->env->env_from, 1);
			else if (str_eq_ci(part, STR_LIT("to")))
				v = env_part(r, t->addrpart, r->env->env_to, 0);
			else if (str_eq_ci(part, STR_LIT("auth")) && r->env->auth.len)
				v = env_part(r, t->addrpart, r->env->auth, 0);
			else if (str_has_prefix_ci(part, "by") &&
			         (r->frame->script->exts >> EXT_ENVELOPE_DELIVERBY & 1))
				envelope_by(r, part, &vs);
			else if (r->frame->script->exts >> EXT_ENVELOPE_DSN & 1)
				envelope_dsn(r, t, part, &vs);
			if (v.p)
				vals_add(r, &vs, v);
		}
		return match_vals(r, t, &vs, &t->pos[1]);
	case T_STRING:
		for (uint32_t k = 0; k < t->pos[0].n; k++) {
			struct str v = arg_str(r, &t->pos[0], k);
			/* RFC 5229 §5: :count counts non-empty strings. */
			if (t->match != M_COUNT || v.len)
				vals_add(r, &vs, v);
		}
		return match_vals(r, t, &vs, &t->pos[1]);
	case T_BODY:
		return test_body(r, t);
	case T_DATE:
	case T_CURRENTDATE:
		return test_date(r, t);
	case T_HASFLAG:
		return test_hasflag(r, t);
	case T_IHAVE:
		/* The names as written, as the compiler read the block (RFC
		 * 5463: ihave decides how the block is read, so a "${name}"
		 * is no extension's name): a block read leniently never runs. */
		for (uint32_t k = 0; k < t->pos[0].n; k++)
			if (!sv_ihave_grants(t->pos[0].v[k].s))
				return 0;
		return 1;
	case T_ENVIRONMENT: {
		struct str v = environment_item(r, arg_str(r, &t->pos[0], 0));
		if (!v.p)
			return 0;
		vals_add(r, &vs, v);
		return match_vals(r, t, &vs, &t->pos[1]);
	}
	case T_DUPLICATE:
		return test_duplicate(r, t);
	case T_VALID_NOTIFY_METHOD:
		for (uint32_t k = 0; k < t->pos[0].n; k++)
			if (!valid_mailto(r, arg_str(r, &t->pos[0], k)))
				return 0;
		return 1;
	case T_NOTIFY_METHOD_CAPABILITY:
		if (!valid_mailto(r, arg_str(r, &t->pos[0], 0)) ||
		    !str_eq_ci(arg_str(r, &t->pos[1], 0), STR_LIT("online")))
			return 0;
		vals_add(r, &vs, STR_LIT("maybe"));
		return match_vals(r, t, &vs, &t->pos[2]);
	case T_MAILBOXEXISTS:
	case T_MAILBOXIDEXISTS:
	case T_SPECIALUSE_EXISTS:
		return exists_mailboxes(r, t);
	case T_SPAMTEST:
	case T_VIRUSTEST:
		return test_score(r, t);
	case T_METADATA:
	case T_METADATAEXISTS:
	case T_SERVERMETADATA:
	case T_SERVERMETADATAEXISTS:
		return test_metadata(r, t);
	default:
#ifdef SIEVE_TESTSUITE
		if (t->id >= T_HOOK0 && t->id < T_HOOK_END && sv_hook)
			return sv_hook->test(r, t);
#endif
		run_fail(r, t, "test \"%.*s\" is not supported", (int)t->name.len, t->name.p);
		return -1;
	}
}

int test_eval(struct run *r, const struct sv_node *t)
{
	const struct sv_node *outer = r->at;
	r->at = t;
	int rc = test_node(r, t);
	r->at = outer;
	return rc;
}
