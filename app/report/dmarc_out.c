/*
 * dmarc_out.c — destinations, XML and message of the reports tern sends
 * (dmarc_out.h).
 */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/dmarc.h"
#include "auth/dmarc_record.h"
#include "core/log.h"
#include "mime/mime_decode.h"
#include "mime/mime_header_text.h"
#include "report/dmarc_out.h"
#include "report/report_queue.h"
#include "report/report_uri.h"

/* ---- destinations ---- */

void dmarc_dest_init(struct dmarc_dest *d, const char *pdomain)
{
	memset(d, 0, sizeof *d);
	snprintf(d->pdomain, sizeof d->pdomain, "%s", pdomain);
	for (char *p = d->pdomain; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

void dmarc_dest_clear(struct dmarc_dest *d)
{
	dmarc_eval_free(&d->org);
}

/* The mailto: destinations of a rua= (or ruf=) list, each once. */
static void take_rua(struct dmarc_dest *d, struct str rua)
{
	size_t i = 0;
	while (i < rua.len && d->ndest < DMARC_DEST_MAX) {
		size_t j = i;
		while (j < rua.len && rua.p[j] != ',')
			j++;
		struct report_uri u;
		if (report_uri_parse(str_make(rua.p + i, j - i), 1, &u) == 0 &&
		    u.kind == REPORT_URI_MAILTO) {
			struct dmarc_dest_addr *x = NULL;
			for (unsigned k = 0; k < d->ndest && !x; k++)
				if (strcmp(d->dest[k].addr, u.addr) == 0)
					x = &d->dest[k];
			if (x) {
				/* written twice: one report, under the larger limit */
				if (x->max_size && (!u.max_size || u.max_size > x->max_size))
					x->max_size = u.max_size;
			} else {
				x = &d->dest[d->ndest++];
				memcpy(x->addr, u.addr, sizeof x->addr);
				x->max_size = u.max_size;
				/* Another domain is outside until the Tree Walk
				 * finds it in the same organization (org_step). */
				x->external = strcmp(strrchr(x->addr, '@') + 1, d->pdomain) != 0;
				x->state = x->external ? 0 : 1;
			}
		}
		i = j + 1;
	}
}

/*
 * RFC 7489 §7.1 step 8 (RFC 9990 §4 step 9): a rua= (ruf=) in the
 * verification record rec of destination k replaces it, so a report
 * receiver can say where on its host the reports go. Only URIs on the
 * same host count (loops and indirect abuse: the verified host cannot
 * send reports on to a third party); with none of those the destination
 * stays as the policy record wrote it. The first replaces dest[k], the
 * others are added while there is room; an address already listed is
 * not listed twice.
 */
static void take_override(struct dmarc_dest *d, unsigned k, const char *rec)
{
	struct dmarc_record r;
	char host[REPORT_URI_ADDR_MAX + 1];
	if (!dmarc_record_parse(rec, strlen(rec), &r))
		return;
	snprintf(host, sizeof host, "%s", strrchr(d->dest[k].addr, '@') + 1);
	struct str list = d->ruf ? r.ruf : r.rua;
	int replaced = 0;
	size_t i = 0;
	while (i < list.len) {
		size_t j = i;
		while (j < list.len && list.p[j] != ',')
			j++;
		struct report_uri u;
		if (report_uri_parse(str_make(list.p + i, j - i), 1, &u) == 0 &&
		    u.kind == REPORT_URI_MAILTO && strcmp(strrchr(u.addr, '@') + 1, host) == 0) {
			struct dmarc_dest_addr *x = NULL;
			for (unsigned m = 0; m < d->ndest && !x; m++)
				if (strcmp(d->dest[m].addr, u.addr) == 0)
					x = &d->dest[m];
			if (!replaced && x != NULL && x != &d->dest[k]) {
				d->dest[k].state = -3; /* listed already: one report */
			} else if (!replaced) {
				x = &d->dest[k];
				memcpy(x->addr, u.addr, sizeof x->addr);
				x->max_size = u.max_size;
			} else if (x == NULL && d->ndest < DMARC_DEST_MAX) {
				x = &d->dest[d->ndest++];
				memcpy(x->addr, u.addr, sizeof x->addr);
				x->max_size = u.max_size;
				x->external = 1;
				x->state = 1; /* verified: the same host's record */
			}
			replaced = 1;
		}
		i = j + 1;
	}
}

/*
 * The Organizational Domains of the policy domain and of each
 * destination's domain, once they are known: a destination in the same
 * organization is inside and needs no verification (RFC 9990 §4; RFC
 * 9989 §4.10.2 decides by the DNS Tree Walk, so a public suffix above
 * the policy domain, co.uk for example.co.uk, is another organization).
 * A walk that failed temporarily makes that destination wait (-2).
 */
static void org_apply(struct dmarc_dest *d)
{
	char porg[DMARC_DOMAIN_MAX], dorg[DMARC_DOMAIN_MAX];
	int prc = dmarc_org_domain(d->org, 0, porg, sizeof porg);
	size_t i = 1;
	for (unsigned k = 0; k < d->ndest; k++) {
		struct dmarc_dest_addr *x = &d->dest[k];
		if (x->state != 0)
			continue;
		int rc = dmarc_org_domain(d->org, i++, dorg, sizeof dorg);
		if (prc == -2 || rc == -2) {
			x->state = -2;
		} else if (prc == 0 && rc == 0 && strcmp(porg, dorg) == 0) {
			x->external = 0;
			x->state = 1;
		}
	}
}

/* The next query of the Organizational Domain walks (1), or 0 when they are done. */
static int org_step(struct dmarc_dest *d, const char **name_r, uint16_t *type_r)
{
	if (d->org_done)
		return 0;
	if (d->org == NULL) {
		const char *names[1 + DMARC_DEST_MAX];
		size_t n = 0;
		names[n++] = d->pdomain;
		for (unsigned k = 0; k < d->ndest; k++)
			if (d->dest[k].state == 0)
				names[n++] = strrchr(d->dest[k].addr, '@') + 1;
		if (n == 1) {
			d->org_done = 1; /* every destination is at the policy domain */
			return 0;
		}
		d->org = dmarc_org_new(names, n);
	}
	if (dmarc_eval_step(d->org, name_r, type_r) == DMARC_STEP_QUERY)
		return 1;
	org_apply(d);
	dmarc_eval_free(&d->org);
	d->org_done = 1;
	return 0;
}

static int dest_step(void *ev, const char **name_r, uint16_t *type_r)
{
	struct dmarc_dest *d = ev;
	if (d->step == 0) {
		snprintf(d->qname, sizeof d->qname, "_dmarc.%s", d->pdomain);
		*name_r = d->qname;
		*type_r = DNS_T_TXT;
		return 1;
	}
	if (d->record_state != 1)
		return 0;
	if (org_step(d, name_r, type_r))
		return 1;
	while ((unsigned)d->step <= d->ndest && d->dest[d->step - 1].state != 0)
		d->step++;
	if ((unsigned)d->step > d->ndest)
		return 0;
	snprintf(d->qname, sizeof d->qname, "%s._report._dmarc.%s", d->pdomain,
	         strrchr(d->dest[d->step - 1].addr, '@') + 1);
	*name_r = d->qname;
	*type_r = DNS_T_TXT;
	return 1;
}

static void dest_answer(void *ev, const struct dns_answer *a)
{
	struct dmarc_dest *d = ev;
	if (d->step == 0) {
		d->step = 1;
		if (a->status == DNS_ANS_TEMP) {
			d->record_state = -2;
			return;
		}
		int count = 0;
		struct dmarc_record r;
		for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
			const char *t = dns_rr_text(a, i);
			if (a->rr[i].type == DNS_T_TXT && dmarc_record_parse(t, strlen(t), &r) &&
			    count++ == 0)
				snprintf(d->record, sizeof d->record, "%s", t);
		}
		d->record_state = count == 1 ? 1 : -1;
		/* RFC 9991: report generators "MUST NOT consider" the ruf=
		 * of a record with psd=y (a Public Suffix Operator's). */
		if (count == 1 && dmarc_record_parse(d->record, strlen(d->record), &r) &&
		    !(d->ruf && r.psd == DMARC_PSD_Y))
			take_rua(d, d->ruf ? r.ruf : r.rua);
		return;
	}
	if (d->org != NULL) {
		dmarc_eval_answer(d->org, a);
		return;
	}
	unsigned k = (unsigned)d->step - 1;
	struct dmarc_dest_addr *x = &d->dest[k];
	x->state = a->status == DNS_ANS_TEMP ? -2 : -1;
	/* RFC 7489 §7.1 steps 5-7 (RFC 9990 §4 steps 6-8): each TXT record
	 * not starting with v=DMARC1 is discarded; one left is enough. An
	 * SPF record or a second copy beside it takes nothing away. */
	const char *over = NULL;
	for (size_t i = 0; a->status == DNS_ANS_OK && i < a->nrr; i++) {
		if (a->rr[i].type != DNS_T_TXT)
			continue;
		const char *t = dns_rr_text(a, i);
		while (*t == ' ')
			t++;
		if (strncasecmp(t, "v=DMARC1", 8) == 0 &&
		    (t[8] == '\0' || t[8] == ';' || t[8] == ' ' || t[8] == '\t')) {
			x->state = 1;
			struct dmarc_record r;
			if (over == NULL && dmarc_record_parse(t, strlen(t), &r) &&
			    (d->ruf ? r.ruf.len : r.rua.len))
				over = t;
		}
	}
	if (over)
		take_override(d, k, over);
	d->step++;
}

const struct dns_drive_ops dmarc_dest_ops = {dest_step, dest_answer};

enum dmarc_dest_status dmarc_dest_status(const struct dmarc_dest *d)
{
	if (d->record_state == -2)
		return DMARC_DEST_TEMP;
	if (d->record_state != 1)
		return DMARC_DEST_NONE;
	int ok = 0, temp = 0;
	for (unsigned i = 0; i < d->ndest; i++) {
		ok |= d->dest[i].state == 1;
		temp |= d->dest[i].state == -2;
	}
	return ok ? DMARC_DEST_OK : temp ? DMARC_DEST_TEMP : DMARC_DEST_NONE;
}

int dmarc_dest_fit(const struct dmarc_dest *d, dmarc_build_fn *build, void *arg, struct buf *msg,
		   char to[DMARC_TO_MAX], const char *rcpt[DMARC_DEST_MAX], size_t *n_r)
{
	/* The size is known once the To field is: written with every
	 * verified address, then again without those whose limit it
	 * passes. The second is no larger, so it fits every limit kept. */
	size_t n = 0, size = 0;
	for (int pass = 0; pass < 2; pass++) {
		size_t tl = 0;
		int dropped = 0;
		to[0] = '\0';
		n = 0;
		for (unsigned i = 0; i < d->ndest; i++) {
			const struct dmarc_dest_addr *a = &d->dest[i];
			if (a->state != 1)
				continue;
			if (pass == 1 && a->max_size && size > a->max_size) {
				char qa[4 * sizeof a->addr + 3];
				log_info("dmarc", NULL,
					 "event=report_too_big domain=%s to=%s size=%zu limit=%llu",
					 d->pdomain, log_quoted(a->addr, qa, sizeof qa), size,
					 (unsigned long long)a->max_size);
				dropped = 1;
				continue;
			}
			tl += (size_t)snprintf(to + tl, DMARC_TO_MAX - tl, "%s%s", tl ? ", " : "",
					       a->addr);
			rcpt[n++] = a->addr;
		}
		if (pass == 1 && !dropped)
			break; /* msg is already written for this To */
		buf_reset(msg);
		if (n == 0)
			break;
		if (build(arg, to, msg) != 0)
			return -1;
		size = buf_len(msg);
	}
	*n_r = n;
	return 0;
}

/* ---- the report ---- */

int dmarc_out_policy(const char *record, struct dmarc_report *r)
{
	struct dmarc_record rec;
	if (!dmarc_record_parse(record, strlen(record), &rec))
		return -1;
	snprintf(r->p, sizeof r->p, "%s", dmarc_policy_name(rec.p));
	/* sp= absent: the subdomains' policy is p= (RFC 9989 §4.7); written
	 * as such, since RFC 7489 Appendix C's schema requires <sp> (and
	 * <fo>), and RFC 9990's allows both. */
	snprintf(r->sp, sizeof r->sp, "%s",
	         dmarc_policy_name(rec.sp == DMARC_POLICY_ABSENT ? rec.p : rec.sp));
	snprintf(r->np, sizeof r->np, "%s",
	         rec.np == DMARC_POLICY_ABSENT ? "" : dmarc_policy_name(rec.np));
	snprintf(r->fo, sizeof r->fo, "%.*s", rec.fo.len ? (int)rec.fo.len : 1,
	         rec.fo.len ? rec.fo.p : "0");
	for (char *c = r->fo; *c; c++)
		if (*c == ' ' || *c == '\t')
			memmove(c, c + 1, strlen(c)), c--;
	r->adkim[0] = rec.adkim;
	r->adkim[1] = '\0';
	r->aspf[0] = rec.aspf;
	r->aspf[1] = '\0';
	snprintf(r->testing, sizeof r->testing, "%s", rec.testing ? "y" : "n");
	return 0;
}

/* <name>text</name> at indent, nothing when text is empty. */
static void el(struct buf *b, int indent, const char *name, const char *text)
{
	if (text == NULL || text[0] == '\0')
		return;
	buf_printf(b, "%*s<%s>", indent, "", name);
	buf_append_xml(b, text);
	buf_printf(b, "</%s>\n", name);
}

/* <name>text</name> at indent, empty too: an element the schema requires. */
static void el_req(struct buf *b, int indent, const char *name, const char *text)
{
	buf_printf(b, "%*s<%s>", indent, "", name);
	buf_append_xml(b, text ? text : "");
	buf_printf(b, "</%s>\n", name);
}

static void auth(struct buf *b, const char *kind, const struct dmarc_report_auth *a)
{
	/* RFC 9990 Appendix A: domain and result are required in both, and
	 * selector in dkim ("Selector is now required"): written even when
	 * the signature had no s= (a permerror) or SPF no domain, or the
	 * whole report fails a reader that validates it. */
	int dkim = strcmp(kind, "dkim") == 0;
	buf_printf(b, "      <%s>\n", kind);
	el_req(b, 8, "domain", a->domain);
	if (dkim)
		el_req(b, 8, "selector", a->selector);
	else if (strcmp(a->scope, "mfrom") == 0)
		/* The schema's only scope: a bounce's check of its HELO name
		 * (recorded "helo") is reported without one, not refused. */
		el(b, 8, "scope", a->scope);
	el_req(b, 8, "result", a->result);
	buf_printf(b, "      </%s>\n", kind);
}

int dmarc_out_xml(const struct dmarc_report *r, struct buf *b)
{
	char n[32];
	buf_append_c(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n"
	                "  <version>1.0</version>\n  <report_metadata>\n");
	el(b, 4, "org_name", r->org_name);
	el(b, 4, "email", r->email);
	el(b, 4, "report_id", r->report_id);
	buf_printf(b, "    <date_range>\n      <begin>%lld</begin>\n      <end>%lld</end>\n"
	              "    </date_range>\n",
	           (long long)r->begin, (long long)r->end);
	el(b, 4, "generator", "tern");
	buf_append_c(b, "  </report_metadata>\n  <policy_published>\n");
	el(b, 4, "domain", r->domain);
	el(b, 4, "p", r->p);
	el(b, 4, "sp", r->sp);
	el(b, 4, "np", r->np);
	el(b, 4, "adkim", r->adkim);
	el(b, 4, "aspf", r->aspf);
	el(b, 4, "discovery_method", "treewalk");
	el(b, 4, "fo", r->fo);
	el(b, 4, "testing", r->testing);
	buf_append_c(b, "  </policy_published>\n");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct dmarc_report_row *w = &r->rows[i];
		snprintf(n, sizeof n, "%u", w->count);
		buf_append_c(b, "  <record>\n    <row>\n");
		el(b, 6, "source_ip", w->source_ip);
		el(b, 6, "count", n);
		buf_append_c(b, "      <policy_evaluated>\n");
		el(b, 8, "disposition", w->disposition);
		el(b, 8, "dkim", w->dkim);
		el(b, 8, "spf", w->spf);
		if (w->reason[0]) {
			buf_append_c(b, "        <reason>\n");
			el(b, 10, "type", w->reason);
			buf_append_c(b, "        </reason>\n");
		}
		buf_append_c(b, "      </policy_evaluated>\n    </row>\n    <identifiers>\n");
		el(b, 6, "envelope_from", w->envelope_from);
		el(b, 6, "header_from", w->header_from);
		buf_append_c(b, "    </identifiers>\n    <auth_results>\n");
		for (unsigned j = 0; j < w->ndkim; j++)
			auth(b, "dkim", &w->dkim_auth[j]);
		for (unsigned j = 0; j < w->nspf; j++)
			auth(b, "spf", &w->spf_auth[j]);
		buf_append_c(b, "    </auth_results>\n  </record>\n");
	}
	return buf_append_c(b, "</feedback>\n");
}

int dmarc_out_message(const struct dmarc_report *r, const char *from, const char *to,
		      const char *hostname, int64_t now, const uint8_t *gz, size_t gzlen,
		      struct buf *out)
{
	char date[64], bnd[40], fname[600], rnd[8], fid[sizeof r->report_id];
	struct tm tm;
	time_t t = (time_t)now;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	randombytes_buf(rnd, sizeof rnd);
	snprintf(bnd, sizeof bnd, "=_tern_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0] & 0xFF,
	         rnd[1] & 0xFF, rnd[2] & 0xFF, rnd[3] & 0xFF, rnd[4] & 0xFF, rnd[5] & 0xFF,
	         rnd[6] & 0xFF, rnd[7] & 0xFF);
	/* §7.2.1.1: the unique-id is letters and digits only. */
	report_file_id(r->report_id, fid, sizeof fid);
	snprintf(fname, sizeof fname, "%s!%s!%lld!%lld!%s.xml.gz", hostname, r->domain,
	         (long long)r->begin, (long long)r->end, fid);

	/* Folded (RFC 5322 §2.1.1, §2.2.3): four addresses of a rua, or a
	 * long domain and submitter, would pass a line's 998 octets. */
	char subject[1200];
	snprintf(subject, sizeof subject, "Report Domain: %s Submitter: %s Report-ID: <%s>", r->domain,
	         hostname, r->report_id);
	buf_printf(out, "From: %s\r\nTo: ", from);
	mime_header_fold(out, str_c(to));
	buf_printf(out, "\r\nDate: %s\r\nSubject: ", date);
	mime_header_fold(out, str_c(subject));
	buf_append_c(out, "\r\n");
	buf_printf(out, "Message-ID: <dmarc.%s.%02x%02x%02x%02x@%s>\r\n", r->report_id,
	           rnd[0] & 0xFF, rnd[1] & 0xFF, rnd[2] & 0xFF, rnd[3] & 0xFF, hostname);
	buf_printf(out, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n",
	           bnd);
	buf_printf(out, "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	                "This is a DMARC aggregate report (RFC 9990) from %s for %s,\r\n"
	                "covering %lld to %lld (seconds since 1970, UTC).\r\n\r\n",
	           bnd, hostname, r->domain, (long long)r->begin, (long long)r->end);
	buf_printf(out, "--%s\r\nContent-Type: application/gzip; name=\"%s\"\r\n"
	                "Content-Transfer-Encoding: base64\r\n"
	                "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
	           bnd, fname, fname);
	(void)mime_base64_lines(out, gz, gzlen); /* full: the closing line fails too */
	return buf_printf(out, "--%s--\r\n", bnd);
}
