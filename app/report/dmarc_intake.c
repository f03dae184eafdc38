/*
 * dmarc_intake.c — reports arriving by mail (dmarc_intake.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/worker.h"
#include "core/xalloc.h"
#include "dkim/dkim_verify.h"
#include "mime/mime_decode.h"
#include "mime/mime_tree.h"
#include "report/dmarc_intake.h"
#include "report/dmarc_report.h"
#include "report/tlsrpt_intake.h"
#include "store/store.h"

int dmarc_rua_address(const char *domain, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "postmaster@%s", domain);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

int dmarc_intake_is_rua(struct store *st, const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	char want[300];
	if (at == NULL || dmarc_rua_address(at + 1, want, sizeof want) != 0 ||
	    strcasecmp(want, rcpt) != 0)
		return 0;
	return store_domain_is_local(st, at + 1) == 1;
}

/* A leaf part that may hold a report: not text/plain or text/html (the
 * human summary some reporters add), not a multipart or message. */
static int maybe_report(const struct mime_part *p)
{
	if (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))
		return 0;
	if (mime_part_is(p, "text", "plain") || mime_part_is(p, "text", "html"))
		return 0;
	return 1;
}

/* A TLS-RPT report (RFC 8460) is JSON where DMARC's is XML. */
static int looks_json(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && p[i] == '{';
}

static int one_part(struct store *st, const char *msg, const struct mime_part *p, int64_t now,
		    const char *dkim, int *cut_r, char *err, size_t errsz)
{
	struct str body = str_make(msg + p->body_off, (size_t)(p->body_end - p->body_off));
	struct buf raw;
	uint8_t *xml = NULL;
	size_t xlen;
	struct dmarc_report r;
	int stored = 0;

	/* Attachments are compressed: the encoded part bounds the decoded one. */
	buf_init(&raw, body.len + 16);
	if (mime_decode_all(mime_cte_parse(p->encoding), body, &raw) != 0) {
		snprintf(err, errsz, "attachment does not decode");
		goto out;
	}
	const uint8_t *b = (const uint8_t *)buf_data(&raw);
	if (looks_json(b, buf_len(&raw))) {
		/* application/tlsrpt+json */
		stored = tlsrpt_intake_json(st, (const char *)b, buf_len(&raw), now, dkim, cut_r,
					    err, errsz) == 0;
		goto out;
	}
	if (dmarc_report_pack_of(b, buf_len(&raw)) == DMARC_PACK_UNKNOWN)
		goto out; /* not a report: nothing to say */
	if (dmarc_report_unpack(b, buf_len(&raw), DMARC_REPORT_XML_MAX, &xml, &xlen, err, errsz) != 0)
		goto out;
	if (looks_json(xml, xlen)) {
		/* application/tlsrpt+gzip */
		stored = tlsrpt_intake_json(st, (const char *)xml, xlen, now, dkim, cut_r, err,
					    errsz) == 0;
		goto out;
	}
	if (dmarc_report_parse((const char *)xml, xlen, &r, err, errsz) != 0)
		goto out;
	stored = store_dmarc_report_put(st, &r, now, err, errsz) == STORE_OK;
	*cut_r = stored && (r.flags & DMARC_REPORT_CUT);
	dmarc_report_free(&r);
out:
	free(xml);
	buf_free(&raw);
	return stored;
}

void dmarc_intake_dkim(const struct dkim_sig_result *const *res, size_t n, char *out,
		       size_t outsz)
{
	for (size_t i = 0; i < n; i++)
		if (res[i]->verified && !res[i]->testing && (res[i]->services & DKIM_SVC_TLSRPT)) {
			snprintf(out, outsz, "pass:%s", res[i]->d);
			return;
		}
	snprintf(out, outsz, "%s", n ? "fail" : "none");
}

unsigned dmarc_intake_message(struct store *st, const char *msg, size_t len, int64_t now,
			      const char *dkim, unsigned *cut_r, char *err, size_t errsz)
{
	struct arena *a;
	struct mime_tree t;
	unsigned stored = 0, tried = 0;
	char why[200] = "";

	if (errsz)
		err[0] = '\0';
	if (cut_r)
		*cut_r = 0;
	if (len > DMARC_INTAKE_MAX)
		return 0;
	a = arena_new(16384);
	mime_tree_parse(msg, len, a, &t);
	for (uint32_t i = 0; i < t.nparts && tried < DMARC_INTAKE_PARTS_MAX; i++) {
		if (!maybe_report(&t.parts[i]))
			continue;
		why[0] = '\0';
		int cut = 0;
		if (one_part(st, msg, &t.parts[i], now, dkim ? dkim : "unchecked", &cut, why,
			     sizeof why))
			stored++;
		if (cut && cut_r)
			++*cut_r;
		else if (why[0] && errsz)
			snprintf(err, errsz, "%s", why);
		tried++;
	}
	arena_free(&a);
	return stored;
}

struct intake_job {
	struct worker_job wj;
	struct store *st;
	char *msg;
	size_t len;
	char dkim[TLSRPT_DKIM_MAX];
};

static void intake_run(void *arg)
{
	struct intake_job *j = arg;
	char err[200], cuts[32] = "";
	unsigned cut, n = dmarc_intake_message(j->st, j->msg, j->len, time_wall(), j->dkim, &cut,
						err, sizeof err);
	/* A report kept with a text field cut to its room (DMARC's
	 * org_name, TLS-RPT's organization-name...) says so. */
	if (cut)
		snprintf(cuts, sizeof cuts, " cut=%u", cut);
	/* err may quote what the report's sender wrote: escaped, so a quote
	 * in it cannot end the value early. */
	char qe[4 * sizeof err + 3];
	if (n || err[0])
		log_info("dmarc", NULL, "event=report_intake stored=%u%s%s%s", n, cuts,
		         err[0] ? " error=" : "", err[0] ? log_quoted(err, qe, sizeof qe) : "");
}

static void intake_done(void *arg)
{
	struct intake_job *j = arg;
	free(j->msg);
	free(j);
}

void dmarc_intake_submit(struct store *st, const char *msg, size_t len, const char *dkim)
{
	if (len > DMARC_INTAKE_MAX)
		return;
	struct intake_job *j = xcalloc(1, sizeof *j);
	j->st = st;
	snprintf(j->dkim, sizeof j->dkim, "%s", dkim ? dkim : "unchecked");
	j->msg = xmalloc(len ? len : 1);
	memcpy(j->msg, msg, len);
	j->len = len;
	j->wj = (struct worker_job){.fn = intake_run, .done = intake_done, .arg = j};
	if (!worker_pool_running()) {
		intake_run(j);
		intake_done(j);
		return;
	}
	worker_submit(&j->wj);
}
