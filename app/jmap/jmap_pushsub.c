/*
 * jmap_pushsub.c — PushSubscription/get and /set (RFC 8620 §7.2): a
 * client (a browser's push service, a mobile app's relay) asks to be
 * told of changes by an HTTPS POST to its URL. The deliveries are
 * app/http/http_pushsub.c's; this file keeps the objects.
 *
 * Storage: one meta entry per subscription, "pushsub/<account>/<id>"
 * (SCHEMA.md), whose value is a small JSON record: d deviceClientId,
 * u url, k/a the client's keys (p256dh, auth; "" when none), c the
 * verification code we send, v 1 once the client echoed it, e expires
 * (seconds since the epoch), w the types (JMAP_TYPE_* mask, or -1 for
 * "types": null: every type, those added later included), y the same
 * mask (every type: those there are now) for an older build to read, and
 * the login that made it: p its app password or token id (0: the
 * account's own password), s its credentials stamp (16 hex digits). A
 * record without w is older (rec_types_legacy). Ids are "P" and 16
 * random hex digits; at most PUSHSUB_MAX per account.
 *
 * A subscription is tied to the credentials that made it (§7.2): /get
 * and /set see only those of the request's own login (same app password,
 * same stamp), and http_pushsub.c destroys one once that stamp changes
 * or the account goes. A record written before the stamp was kept has
 * no "s": no login can see it, and http_pushsub.c destroys it.
 *
 * Rules kept (RFC 8620 §7.2): no accountId, no state; url must be
 * https; url and keys are write-once and never returned (asked for by
 * name: forbidden, §7.2.1); keys must be a P-256 point and a 16-octet
 * auth secret (RFC 8291 §3.2), else invalidProperties; only
 * verificationCode, expires and types may be updated; a verificationCode
 * other than the one sent is invalidProperties; expires (null or a
 * UTCDate, else invalidProperties) is capped at PUSHSUB_TTL_MAX from
 * now (the server's choice, returned in created, and in updated when it
 * is not what the update asked); types is null or a list of the names
 * of a TypeState's keys, another name is invalidProperties, and a list
 * naming every type reads back null (returned in created and updated,
 * as a list read back in another order is).
 */

#include <bearssl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "acme/acme_jws.h"
#include "core/arena.h"
#include "core/base64.h"
#include "jmap/jmap_email.h"
#include "jmap/jmap_private.h"
#include "store/store.h"

#define PUSHSUB_MAX 16
#define PUSHSUB_TTL_MAX (7 * 86400)
#define URL_MAX 1024

void (*jmap_pushsub_changed)(void);
unsigned char jmap_vapid_pub[65];
int jmap_vapid_ready;

struct rec {
	char id[20];
	char device[256], url[URL_MAX + 1], p256dh[128], auth[64], code[40];
	int verified;
	int64_t expires;
	unsigned types;
	uint32_t apppass;
	uint64_t cred; /* 0: none recorded (an older record) */
};

static int str_is(const struct json_value *v, const char *s)
{
	return v && v->type == JSON_STRING && v->len == strlen(s) && !strcmp(v->str, s);
}

/* 1 when m, a member of an update, is id, url, keys or deviceClientId
 * with r's value: RFC 8620 §5.3 has an update that sends an immutable
 * property as it is accepted. */
static int same_as_stored(const struct rec *r, const struct json_value *m)
{
	if (!strcmp(m->key, "id"))
		return str_is(m, r->id);
	if (!strcmp(m->key, "deviceClientId"))
		return str_is(m, r->device);
	if (!strcmp(m->key, "url"))
		return str_is(m, r->url);
	if (!strcmp(m->key, "keys")) {
		if (!r->p256dh[0])
			return m->type == JSON_NULL;
		return m->type == JSON_OBJECT && m->count == 2 &&
		       str_is(json_get(m, "p256dh"), r->p256dh) && str_is(json_get(m, "auth"), r->auth);
	}
	return 0;
}

static void key_name(char *out, size_t n, uint32_t account, const char *id)
{
	snprintf(out, n, "pushsub/%08x/%s", account, id);
}

/* 16 hex digits into a stamp; 0 (no stamp) for anything else. */
static uint64_t stamp_parse(const char *s)
{
	uint64_t v = 0;

	if (strlen(s) != 16)
		return 0;
	for (; *s; s++) {
		int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
		if (d < 0)
			return 0;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

/*
 * The types of a record written before "w" (types null kept as -1): its
 * "y" was the mask of the types there were then, which "types": null
 * wrote as all of them; so a mask of every type of that build means
 * every type now, ShareNotification and later ones included. The builds
 * that wrote "y": 511 (nine types, before ShareNotification) and 1023;
 * before them "t", of the four mail types. (A list naming exactly the
 * nine types, written by the build that had ten and no "w", reads as
 * every type too: told one type more, never one less.)
 */
#define TYPES_ALL_NINE 511u
static unsigned rec_types_legacy(const struct json_value *v)
{
	const struct json_value *f;

	if ((f = json_get(v, "y")) && f->is_int) {
		unsigned y = (unsigned)f->integer & JMAP_TYPES_ALL;
		return y == TYPES_ALL_NINE ? JMAP_TYPES_ALL : y;
	}
	if ((f = json_get(v, "t")) && f->is_int) {
		unsigned t = (unsigned)f->integer & JMAP_TYPES_MAIL;
		return t == JMAP_TYPES_MAIL ? JMAP_TYPES_ALL : t;
	}
	return 0;
}

static int rec_decode(const char *id, const void *val, size_t len, struct rec *r,
		      struct arena *a)
{
	char err[64];
	const struct json_value *v = json_parse(val, len, a, err, sizeof err), *f;

	memset(r, 0, sizeof *r);
	if (!v || v->type != JSON_OBJECT)
		return -1;
	snprintf(r->id, sizeof r->id, "%s", id);
#define S(k, dst)                                                                                 \
	if ((f = json_get(v, k)) && f->type == JSON_STRING)                                       \
		snprintf(dst, sizeof dst, "%s", f->str);
	S("d", r->device);
	S("u", r->url);
	S("k", r->p256dh);
	S("a", r->auth);
	S("c", r->code);
#undef S
	if ((f = json_get(v, "v")) && f->is_int)
		r->verified = f->integer != 0;
	if ((f = json_get(v, "e")) && f->is_int)
		r->expires = f->integer;
	if ((f = json_get(v, "w")) && f->is_int)
		r->types = f->integer < 0 ? JMAP_TYPES_ALL : (unsigned)f->integer & JMAP_TYPES_ALL;
	else
		r->types = rec_types_legacy(v);
	if ((f = json_get(v, "p")) && f->is_int && f->integer >= 0 && f->integer <= UINT32_MAX)
		r->apppass = (uint32_t)f->integer;
	/* A string: JSON numbers past 2^53 do not survive every reader. */
	if ((f = json_get(v, "s")) && f->type == JSON_STRING)
		r->cred = stamp_parse(f->str);
	return 0;
}

static int rec_put(struct store *st, uint32_t account, const struct rec *r)
{
	struct buf b;
	struct jw w;
	char name[64];

	buf_init(&b, 4096);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "d", r->device);
	jw_kstr(&w, "u", r->url);
	jw_kstr(&w, "k", r->p256dh);
	jw_kstr(&w, "a", r->auth);
	jw_kstr(&w, "c", r->code);
	jw_kint(&w, "v", r->verified);
	jw_kint(&w, "e", r->expires);
	jw_kint(&w, "y", r->types);
	jw_kint(&w, "p", r->apppass);
	char stamp[17];
	snprintf(stamp, sizeof stamp, "%016" PRIx64, r->cred);
	jw_kstr(&w, "s", stamp);
	/* The types as asked: -1 keeps meaning every type when types are added. */
	jw_kint(&w, "w", r->types == JMAP_TYPES_ALL ? -1 : (int64_t)r->types);
	jw_obj_end(&w);
	key_name(name, sizeof name, account, r->id);
	int rc = jw_failed(&w) ? STORE_EINVAL : store_meta_put(st, name, buf_data(&b), buf_len(&b), 0);
	buf_free(&b);
	return rc;
}

struct list {
	struct arena *a;
	struct rec *r;
	size_t n;
	char prefix[32];
};

/* 1 when the request's own login made r (RFC 8620 §7.2: a client sees and
 * changes only the subscriptions of its own credentials). */
static int rec_mine(const struct jmap_request *q, const struct rec *r)
{
	return r->cred && r->cred == q->cred && r->apppass == q->apppass;
}

/* The request's own subscription id in l, or NULL. */
static struct rec *rec_find(const struct jmap_request *q, struct list *l, const char *id)
{
	for (size_t i = 0; id && i < l->n; i++)
		if (!strcmp(l->r[i].id, id) && rec_mine(q, &l->r[i]))
			return &l->r[i];
	return NULL;
}

static void list_cb(void *arg, const char *name, const void *val, size_t len)
{
	struct list *l = arg;
	struct rec r;

	if (l->n >= PUSHSUB_MAX * 2 || rec_decode(name + strlen(l->prefix), val, len, &r, l->a) < 0)
		return;
	l->r[l->n++] = r;
}

/* Every subscription of the account into l (from a). */
static int rec_list(struct store *st, uint32_t account, struct list *l, struct arena *a)
{
	l->a = a;
	l->n = 0;
	l->r = arena_alloc(a, PUSHSUB_MAX * 2 * sizeof *l->r);
	snprintf(l->prefix, sizeof l->prefix, "pushsub/%08x/", account);
	return store_meta_list(st, l->prefix, list_cb, l);
}

static int has_str(const struct json_value *arr, const char *s)
{
	for (const struct json_value *e = arr->first; e; e = e->next)
		if (e->type == JSON_STRING && !strcmp(e->str, s))
			return 1;
	return 0;
}

/* JMAP_TYPE_*'s bits in order: the names of a TypeState's keys. */
static const char *const type_names[] = {"Mailbox",	     "Email",	    "Thread",
					 "EmailDelivery",    "Identity",    "EmailSubmission",
					 "SieveScript",	     "VacationResponse", "Quota"};
#define TYPE_NAMES (sizeof type_names / sizeof type_names[0])

/* "types" as /get reads it: null for every type, else the names. */
static void w_types(struct jw *w, unsigned mask)
{
	jw_key(w, "types");
	if (mask == JMAP_TYPES_ALL) {
		jw_null(w);
		return;
	}
	jw_arr_begin(w);
	for (size_t i = 0; i < TYPE_NAMES; i++)
		if (mask & (1u << i))
			jw_str(w, type_names[i]);
	jw_arr_end(w);
}

/* "expires" as a UTCDate, for /get, created and updated. */
static void w_expires(struct jw *w, int64_t expires)
{
	char exp[32];
	time_t t = (time_t)expires;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof exp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	jw_kstr(w, "expires", exp);
}

static void w_rec(struct jw *w, const struct rec *r, const struct json_value *props)
{
	jw_obj_begin(w);
#define WANT(p) (!props || has_str(props, p))
	jw_kstr(w, "id", r->id);
	if (WANT("deviceClientId"))
		jw_kstr(w, "deviceClientId", r->device);
	if (WANT("verificationCode")) {
		jw_key(w, "verificationCode");
		if (r->verified)
			jw_str(w, r->code);
		else
			jw_null(w);
	}
	if (WANT("expires"))
		w_expires(w, r->expires);
	if (WANT("types"))
		w_types(w, r->types);
#undef WANT
	jw_obj_end(w);
}

static int rec_found(void *arg, const char *id)
{
	const struct list *l = arg;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(id, l->r[i].id))
			return 1;
	return 0;
}

void jmap_pushsub_get(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {{"ids", JA_IDREFS, JA_NULLABLE},
					       {"properties", JA_STRINGS, JA_NULLABLE}};
	/* url and keys are write-only (§7.2.1): not known here. */
	static const char *const known[] = {"id", "deviceClientId", "verificationCode", "expires",
					    "types"};
	struct list l;
	struct jmap_get g;

	/* §7.2.1: url and keys asked for explicitly is forbidden (not an
	 * unknown property: they exist, they are private to the device). */
	const struct json_value *pv = c->args ? json_get(c->args, "properties") : NULL;
	for (const struct json_value *e = pv && pv->type == JSON_ARRAY ? pv->first : NULL; e;
	     e = e->next)
		if (e->type == JSON_STRING && (!strcmp(e->str, "url") || !strcmp(e->str, "keys"))) {
			jmap_error(c, "forbidden", "url and keys are never returned");
			return;
		}
	if (jmap_get_begin(c, args, sizeof args / sizeof args[0], known,
			   sizeof known / sizeof known[0], &g) < 0)
		return;
	if (rec_list(c->r->st, c->r->account, &l, c->r->a) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return;
	}
	/* Another login's are left out: their ids are notFound. */
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++)
		if (rec_mine(c->r, &l.r[i]))
			l.r[n++] = l.r[i];
	l.n = n;
	jmap_get_list(c, NULL);
	for (size_t i = 0; i < l.n; i++)
		if (jmap_get_has_id(&g, l.r[i].id))
			w_rec(&c->w, &l.r[i], g.props);
	jmap_get_end(c, &g, rec_found, &l);
}

/* Whether /get reads types (a valid one, absent as null) back as it was
 * sent: a list naming every type reads back null, one out of order or
 * with a name twice in order and once, and created or updated then say
 * so (RFC 8620 §5.3: what the server set otherwise than asked). */
static int types_as_sent(const struct json_value *t, unsigned mask)
{
	if (!t || t->type == JSON_NULL)
		return mask == JMAP_TYPES_ALL;
	if (mask == JMAP_TYPES_ALL)
		return 0;
	const struct json_value *e = t->first;
	for (size_t i = 0; i < TYPE_NAMES; i++)
		if (mask & (1u << i)) {
			if (!e || strcmp(e->str, type_names[i]))
				return 0;
			e = e->next;
		}
	return !e;
}

/* An RFC 3339 UTCDate into seconds; -1 when not one. */
static int64_t utc_date(const char *s)
{
	int64_t t;
	if (jmap_utcdate_parse(s, &t) < 0)
		return -1;
	return t < 0 ? 0 : t; /* before 1970: past all the same */
}

/* expires as given: null (the server chooses) or a UTCDate; 0 when it
 * is neither (invalidProperties). */
static int expires_valid(const struct json_value *v)
{
	return !v || v->type == JSON_NULL || (v->type == JSON_STRING && utc_date(v->str) >= 0);
}

static int64_t expires_of(const struct json_value *v, int64_t now)
{
	int64_t e = v && v->type == JSON_STRING ? utc_date(v->str) : -1;
	if (e < now || e > now + PUSHSUB_TTL_MAX)
		e = now + PUSHSUB_TTL_MAX;
	return e;
}

static void set_error(struct jw *w, const char *key, const char *type, const char *prop,
		      const char *desc)
{
	jmap_w_set_error(w, key, type, desc, prop);
}

/* Whether the client's keys are what Web Push can encrypt to (RFC 8291
 * §3.2): p256dh an uncompressed P-256 point on the curve, auth 16
 * octets, both URL-safe base64. Refused at create, or every push to it
 * would fail later, unseen by the client. */
static int keys_valid(const char *p256dh, const char *auth)
{
	uint8_t pub[80], sec[32], one = 1;
	size_t pl, al;

	if (base64_decode(str_make(p256dh, strlen(p256dh)), BASE64_URL | BASE64_NOPAD, pub,
	                  sizeof pub, &pl) < 0 ||
	    pl != 65 || pub[0] != 4 ||
	    base64_decode(str_make(auth, strlen(auth)), BASE64_URL | BASE64_NOPAD, sec, sizeof sec,
	                  &al) < 0 ||
	    al != 16)
		return 0;
	/* The point times 1: BearSSL refuses a point off the curve. */
	return br_ec_get_default()->mul(pub, 65, &one, 1, BR_EC_secp256r1) == 1;
}

/* One create: 0 with r filled; -1 with every bad property in bad (RFC
 * 8620 §5.3: invalidProperties names them all); -2 when no random id
 * could be made (serverFail). */
static int create_one(const struct json_value *o, struct rec *r, int64_t now,
		      struct jmap_bad *bad)
{
	const struct json_value *d = json_get(o, "deviceClientId"), *u = json_get(o, "url"),
				*k = json_get(o, "keys"), *vc = json_get(o, "verificationCode");
	unsigned char rnd[8];

	memset(r, 0, sizeof *r);
	for (const struct json_value *m = o->first; m; m = m->next)
		if (strcmp(m->key, "deviceClientId") && strcmp(m->key, "url") &&
		    strcmp(m->key, "keys") && strcmp(m->key, "expires") && strcmp(m->key, "types") &&
		    strcmp(m->key, "verificationCode"))
			jmap_bad_member(bad, m->key, strcmp(m->key, "id") ? "not a PushSubscription property"
									 : "set by the server");
	if (!d || d->type != JSON_STRING || !d->len || d->len >= sizeof r->device)
		jmap_bad_add(bad, "deviceClientId", "deviceClientId is a String, required");
	if (!u || u->type != JSON_STRING || u->len > URL_MAX || strncmp(u->str, "https://", 8) ||
	    strpbrk(u->str, " \r\n\t"))
		jmap_bad_add(bad, "url", "url is an https URL, required");
	if (vc && vc->type != JSON_NULL) /* set only by update */
		jmap_bad_add(bad, "verificationCode", "verificationCode is set by an update");
	if (k && k->type != JSON_NULL) {
		const struct json_value *p = json_get(k, "p256dh"), *a = json_get(k, "auth");
		if (k->type != JSON_OBJECT || !p || p->type != JSON_STRING || !a ||
		    a->type != JSON_STRING || p->len >= sizeof r->p256dh || a->len >= sizeof r->auth ||
		    !p->len || !a->len || !keys_valid(p->str, a->str))
			jmap_bad_add(bad, "keys", "keys are a P-256 p256dh and a 16-octet auth");
		else {
			snprintf(r->p256dh, sizeof r->p256dh, "%s", p->str);
			snprintf(r->auth, sizeof r->auth, "%s", a->str);
		}
	}
	long t = jmap_push_type_list(json_get(o, "types"));
	if (t < 0)
		jmap_bad_add(bad, "types", "types is a list of type names or null");
	if (!expires_valid(json_get(o, "expires")))
		jmap_bad_add(bad, "expires", "expires is a UTCDate or null");
	if (bad->n)
		return -1;
	snprintf(r->device, sizeof r->device, "%s", d->str);
	snprintf(r->url, sizeof r->url, "%s", u->str);
	r->types = (unsigned)t;
	r->expires = expires_of(json_get(o, "expires"), now);
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return -2;
	snprintf(r->id, sizeof r->id, "P%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
		 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	if (getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return -2;
	snprintf(r->code, sizeof r->code, "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
		 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	return 0;
}

void jmap_pushsub_set(struct jmap_call *c)
{
	static const struct jmap_arg args[] = {{"create", JA_IDMAP, JA_NULLABLE},
					       {"update", JA_IDREFMAP, JA_NULLABLE},
					       {"destroy", JA_IDREFS, JA_NULLABLE}};
	struct store *st = c->r->st;
	uint32_t acc = c->r->account;
	int64_t now = (int64_t)time(NULL);
	struct list l;
	int changed = 0;
	struct jmap_set set;

	if (jmap_set_begin(c, args, sizeof args / sizeof args[0], &set) < 0)
		return;
	if (rec_list(st, acc, &l, c->r->a) != STORE_OK) {
		jmap_error(c, "serverFail", "the store could not be read");
		return;
	}
	jmap_set_open(&set, 64 * 1024);
	struct jw *ok = set.w, *ew = &set.w[JMAP_SET_NOT_CREATED];
	for (const struct json_value *o = set.create ? set.create->first : NULL; o; o = o->next) {
		struct rec r;
		struct jmap_bad bad = {.a = c->r->a};
		int crc = o->type == JSON_OBJECT ? create_one(o, &r, now, &bad) : -1;
		if (crc == -2) {
			set_error(&ew[0], o->key, "serverFail", NULL, "no random id");
			continue;
		}
		if (crc < 0) {
			if (!bad.n)
				bad.desc = "a PushSubscription is an object";
			jmap_w_set_error_bad(&ew[0], o->key, &bad);
			continue;
		}
		r.apppass = c->r->apppass;
		r.cred = c->r->cred;
		if (l.n >= PUSHSUB_MAX) {
			set_error(&ew[0], o->key, "overQuota", NULL, "too many push subscriptions");
			continue;
		}
		int prc = rec_put(st, acc, &r);
		if (prc != STORE_OK) {
			set_error(&ew[0], o->key, jmap_store_fail_type(prc, 1), NULL,
				  jmap_store_fail_desc(prc));
			continue;
		}
		l.r[l.n++] = r;
		changed = 1;
		jmap_created_put(c->r, o->key, arena_strdup(c->r->a, r.id));
		jw_key(&ok[0], o->key);
		jw_obj_begin(&ok[0]);
		jw_kstr(&ok[0], "id", r.id);
		w_expires(&ok[0], r.expires);
		/* The defaults of what the client left out (RFC 8620 §5.3):
		 * verificationCode is the server's to fill (null until the
		 * client sends the code back), types null: every type; and
		 * types when it reads back otherwise than sent. */
		jw_key(&ok[0], "verificationCode");
		jw_null(&ok[0]);
		const struct json_value *tv = json_get(o, "types");
		if (!tv || !types_as_sent(tv, r.types))
			w_types(&ok[0], r.types);
		jw_obj_end(&ok[0]);
	}
	for (const struct json_value *o = set.update ? set.update->first : NULL; o; o = o->next) {
		const char *id = jmap_id_ref(c->r, o->key);
		struct rec *r = rec_find(c->r, &l, id);
		if (!r) {
			set_error(&ew[1], id ? id : o->key, "notFound", NULL, NULL);
			continue;
		}
		struct rec nr = *r;
		const char *why = "a PatchObject is an object";
		struct jmap_bad bad = {.a = c->r->a};
		/* keys is the one property that is an object (its members'
		 * values do not matter to a path; types is an array). */
		static const char keys[] = "{\"keys\":{\"p256dh\":\"\",\"auth\":\"\"}}";
		char err[64];
		const struct json_value *cur =
		    r->p256dh[0] ? json_parse(keys, sizeof keys - 1, c->r->a, err, sizeof err)
				 : NULL;
		if (o->type != JSON_OBJECT || jmap_patch_check(c->r->a, cur, o, &why) < 0) {
			set_error(&ew[1], id, "invalidPatch", NULL, why);
			continue;
		}
		int chosen = 0; /* expires set otherwise than asked: told back */
		int retyped = 0; /* types read back otherwise than sent: told too */
		/* Every bad property is named (RFC 8620 §5.3). */
		for (const struct json_value *m = o->first; m; m = m->next) {
			if (!strcmp(m->key, "verificationCode")) {
				/* The code proves the client reads its push URL:
				 * compared in constant time, as every secret is. */
				size_t cl = strlen(r->code);
				if (m->type != JSON_STRING || strlen(m->str) != cl ||
				    sodium_memcmp(m->str, r->code, cl) != 0)
					jmap_bad_member(&bad, m->key, "not the code sent");
				else
					nr.verified = 1;
			} else if (!strcmp(m->key, "expires")) {
				if (!expires_valid(m)) {
					jmap_bad_member(&bad, m->key, "expires is a UTCDate or null");
					continue;
				}
				nr.expires = expires_of(m, now);
				chosen = m->type == JSON_NULL || nr.expires != utc_date(m->str);
			} else if (!strcmp(m->key, "types")) {
				long t = jmap_push_type_list(m);
				if (t < 0)
					jmap_bad_member(&bad, m->key,
							"types is a list of type names or null");
				else {
					nr.types = (unsigned)t;
					retyped = !types_as_sent(m, nr.types);
				}
			} else if (!same_as_stored(r, m)) {
				/* url, keys, deviceClientId: immutable */
				jmap_bad_member(&bad, m->key, "this property cannot be changed");
			}
		}
		if (bad.n) {
			jmap_w_set_error_bad(&ew[1], id, &bad);
			continue;
		}
		int prc = rec_put(st, acc, &nr);
		if (prc != STORE_OK) {
			set_error(&ew[1], id, jmap_store_fail_type(prc, 0), NULL,
				  jmap_store_fail_desc(prc));
			continue;
		}
		*r = nr;
		changed = 1;
		jw_key(&ok[1], id);
		if (chosen || retyped) {
			/* RFC 8620 §5.3: updated names what the server changed
			 * beyond the request (§7.2: a shorter expiry; types). */
			jw_obj_begin(&ok[1]);
			if (chosen)
				w_expires(&ok[1], nr.expires);
			if (retyped)
				w_types(&ok[1], nr.types);
			jw_obj_end(&ok[1]);
		} else {
			jw_null(&ok[1]);
		}
	}
	for (const struct json_value *e = set.destroy ? set.destroy->first : NULL; e; e = e->next) {
		char name[64];
		const char *id = jmap_id_ref(c->r, e->str);
		struct rec *r = rec_find(c->r, &l, id);
		if (!r) {
			set_error(&ew[2], id ? id : e->str, "notFound", NULL, NULL);
			continue;
		}
		key_name(name, sizeof name, acc, id);
		if (store_meta_del(st, name) != STORE_OK) {
			set_error(&ew[2], id, "notFound", NULL, NULL);
			continue;
		}
		changed = 1;
		jw_str(&ok[2], id);
	}
	jmap_set_end(c, &set, NULL, NULL);
	if (changed && jmap_pushsub_changed)
		jmap_pushsub_changed();
}

int jmap_pushsub_parse(const char *name, const void *val, size_t len, struct jmap_pushsub *p,
		       struct arena *a)
{
	struct rec r;
	unsigned acc;
	char id[24];

	if (sscanf(name, "pushsub/%8x/%19s", &acc, id) != 2 ||
	    rec_decode(id, val, len, &r, a) < 0)
		return -1;
	memset(p, 0, sizeof *p);
	p->account = acc;
	snprintf(p->id, sizeof p->id, "%s", r.id);
	snprintf(p->url, sizeof p->url, "%s", r.url);
	snprintf(p->p256dh, sizeof p->p256dh, "%s", r.p256dh);
	snprintf(p->auth, sizeof p->auth, "%s", r.auth);
	snprintf(p->code, sizeof p->code, "%s", r.code);
	p->verified = r.verified;
	p->expires = r.expires;
	p->types = r.types;
	p->apppass = r.apppass;
	p->cred = r.cred;
	return 0;
}
