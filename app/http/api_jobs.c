/*
 * api_jobs.c — long account operations from the web admin
 * (admin/admin_jobs.h): POST /api/v1/accounts/{email}/migrate starts
 * `tern migrate` for that account in a child process; POST
 * /api/v1/accounts/{email}/import takes an mbox file as its body (streamed
 * to disk, http_upload.h) and starts `tern import` on it; GET
 * /api/v1/jobs and GET /api/v1/jobs/{id} show their live progress and
 * results.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistd.h>

#include "admin/admin_jobs.h"
#include "backup/mailfmt.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/spool.h"
#include "http/http_internal.h"
#include "http/http_upload.h"
#include "http/json.h"
#include "store/store.h"

/* The largest mbox the web admin takes in one upload. It is written to
 * the data directory's disk (twice, briefly: the upload's spool, then
 * the file the import reads), never held in memory. */
#define IMPORT_UPLOAD_MAX ((uint64_t)16 << 30)

static const char *state_name(enum admin_job_state s)
{
	return s == JOB_RUNNING ? "running" : s == JOB_DONE ? "done" : "failed";
}

static void job_json(struct jw *w, const struct admin_job *j)
{
	jw_obj_begin(w);
	jw_kuint(w, "id", j->id);
	jw_kstr(w, "kind", j->kind);
	jw_kstr(w, "account", j->account);
	jw_kstr(w, "source", j->source);
	jw_kstr(w, "state", state_name(j->state));
	jw_kint(w, "started", j->started);
	jw_kint(w, "ended", j->ended);
	jw_kuint(w, "done", j->done);
	jw_kuint(w, "total", j->total);
	jw_kuint(w, "bytes", j->bytes);
	jw_kuint(w, "total_bytes", j->total_bytes);
	jw_kuint(w, "rate_bytes_per_s", (uint64_t)(j->rate > 0 ? j->rate : 0));
	jw_kuint(w, "left_s", (uint64_t)(j->left_s > 0 ? j->left_s : 0));
	jw_kstr(w, "result", j->result);
	jw_kstr(w, "error", j->error);
	jw_obj_end(w);
}

/* imap[s]://USER@HOST[:PORT] with no password in it, printable ASCII. */
static int url_ok(const char *u)
{
	if (strncasecmp(u, "imaps://", 8) != 0 && strncasecmp(u, "imap://", 7) != 0)
		return 0;
	const char *rest = strchr(u, ':') + 3, *at = strrchr(rest, '@');
	if (!at || at == rest || !at[1] || strlen(u) > 400)
		return 0;
	for (const char *p = rest; p < at; p++)
		if (*p == ':')
			return 0; /* user:password@ — the password goes in its own field */
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

void api_account_migrate(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "from", JK_STRING, 1 }, { "password", JK_STRING, 1 }, { "sieve", JK_BOOL, 0 },
		{ "current", JK_STRING, 0 } };
	char err[256];
	uint32_t id;
	unsigned job;
	struct jw w;

	if (http_body_check(x, f, 4) < 0)
		return;
	if (store_account_id(http_store, x->param[0], &id) != STORE_OK) {
		http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
		return;
	}
	const char *from = http_body_str(x, "from"), *pw = http_body_str(x, "password");
	if (!url_ok(from)) {
		http_problem(x, 400, "invalid_field", "from",
			     "the source is imaps://USER@HOST[:PORT] or imap://USER@HOST[:PORT]");
		return;
	}
	if (!pw[0] || strlen(pw) > 500 || strpbrk(pw, "\r\n")) {
		http_problem(x, 400, "invalid_field", "password", "a password of 1..500 characters, one line");
		return;
	}
	const struct json_value *sv = json_get(x->json, "sieve");
	int sieve = sv && sv->type == JSON_BOOL && sv->boolean;
	/* The copied scripts are stored and the source's active one made
	 * active: a server of the caller's choosing hands over a redirect,
	 * which a session stores elsewhere only with the admin password
	 * (api_sieve.c). So does this one, in "current" ("password" is the
	 * source's). */
	if (sieve && http_session_password_check(x, "current") < 0)
		return;
	if (admin_jobs_migrate(x->param[0], from, pw, sieve, &job, err, sizeof err) != 0) {
		http_problem(x, 409, "busy", NULL, "%s", err);
		return;
	}
	log_info("http", NULL, "event=migrate_requested ip=%s job=%u", x->ip, job);
	struct admin_job j;
	http_json_begin(x, &w, 202);
	if (admin_jobs_get(job, &j) == 0)
		job_json(&w, &j);
	else
		jw_null(&w);
}

void api_jobs_list(struct http_ctx *x)
{
	struct admin_job *jobs = calloc(ADMIN_JOBS_KEPT, sizeof *jobs);
	struct jw w;
	if (!jobs) {
		http_problem(x, 503, "temporary", NULL, "out of memory");
		return;
	}
	size_t n = admin_jobs_list(jobs, ADMIN_JOBS_KEPT);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_key(&w, "jobs");
	jw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		job_json(&w, &jobs[i]);
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(jobs);
}

void api_job_get(struct http_ctx *x)
{
	struct admin_job j;
	struct jw w;
	uint64_t id;
	if (http_decimal(x->param[0], 1, 0xffffffffu, &id) < 0 ||
	    admin_jobs_get((unsigned)id, &j) != 0) {
		http_problem(x, 404, "not_found", NULL, "no job %.40s", x->param[0]);
		return;
	}
	http_json_begin(x, &w, 200);
	job_json(&w, &j);
}

/* ---- mbox upload ---- */

struct mbox_upload {
	char account[256];
	char mailbox[256]; /* "" for INBOX */
	char name[128];    /* the file's name, shown as the job's source */
};

/* A name from the client, kept printable and short (it is only shown). */
static void clean_text(char *dst, size_t n, const char *src, const char *dflt)
{
	size_t k = 0;
	for (const char *p = src ? src : ""; *p && k + 1 < n; p++)
		if ((unsigned char)*p >= ' ' && *p != 0x7f && *p != '/' && *p != '\\')
			dst[k++] = *p;
	dst[k] = '\0';
	if (!k)
		snprintf(dst, n, "%s", dflt);
}

static int import_admit(struct http_ctx *x, void *arg, uint64_t *max_r)
{
	(void)x;
	(void)arg;
	*max_r = IMPORT_UPLOAD_MAX;
	return 0;
}

/* Writes all of data to fd: 0, or -1 with errno. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len > ((size_t)1 << 30) ? (size_t)1 << 30 : len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

static void import_done(struct http_ctx *x, void *arg, const char *data, size_t len,
			const uint8_t id[32])
{
	struct mbox_upload *u = arg;
	char path[600], err[256];
	unsigned job;
	struct jw w;
	(void)id;

	/* An mbox starts with a From_ line: anything else would only fail
	 * in the job, after a copy of it. */
	const char *nl = memchr(data, '\n', len);
	size_t first = nl ? (size_t)(nl - data) : len;
	if (first && data[first - 1] == '\r')
		first--;
	if (!mbox_is_from_line(data, first)) {
		http_problem(x, 415, "not_mbox", NULL,
			     "the file is not an mbox (its first line is not a \"From \" line)");
		return;
	}
	int fd = spool_named(path, sizeof path);
	if (fd < 0 || write_all(fd, data, len) < 0) {
		int e = errno;
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		log_error("http", NULL, "event=import_upload_failed ip=%s error=\"%s\"", x->ip,
			  strerror(e));
		if (e == ENOSPC || e == EDQUOT || e == EFBIG)
			http_problem(x, 507, "storage_full", NULL, "no room to keep the upload");
		else
			http_problem(x, 503, "temporary", NULL, "the upload could not be kept");
		return;
	}
	close(fd);
	/* The job owns the file from here on, whether it starts or not. */
	if (admin_jobs_import(u->account, path, u->mailbox[0] ? u->mailbox : NULL, u->name, &job,
			      err, sizeof err) != 0) {
		http_problem(x, 409, "busy", NULL, "%s", err);
		return;
	}
	log_info("http", NULL, "event=import_requested ip=%s job=%u bytes=%zu", x->ip, job, len);
	struct admin_job j;
	http_json_begin(x, &w, 202);
	if (admin_jobs_get(job, &j) == 0)
		job_json(&w, &j);
	else
		jw_null(&w);
}

static const struct http_upload_ops import_ops = {
	.admit = import_admit,
	.done = import_done,
};

/* At the request header (a streamed route): the admin's session was
 * checked by the router; the account and the form are checked here,
 * before a byte of the file is read. */
void api_account_import(struct http_ctx *x)
{
	uint32_t id;

	if (store_account_id(http_store, x->param[0], &id) != STORE_OK) {
		http_problem(x, 404, "not_found", NULL, "no account %.100s", x->param[0]);
		return;
	}
	const char *mb = http_query(x, "mailbox");
	if (mb && (strlen(mb) > 200 || strpbrk(mb, "\r\n*%") || (mb[0] && mb[0] == '/'))) {
		http_problem(x, 400, "invalid_field", "mailbox",
			     "a mailbox name of at most 200 characters, without * %% or line breaks");
		return;
	}
	struct mbox_upload *u = arena_zalloc(x->arena, sizeof *u);
	snprintf(u->account, sizeof u->account, "%s", x->param[0]);
	snprintf(u->mailbox, sizeof u->mailbox, "%s", mb ? mb : "");
	clean_text(u->name, sizeof u->name, http_query(x, "name"), "upload.mbox");
	(void)http_upload_start(x, &import_ops, u);
}
