/*
 * api_backup.c — GET /api/v1/backups (the schedule, the backup running
 * with its progress, the last backups and failures) and POST
 * /api/v1/backups (start one now), over app/backup/backup_sched.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_meta.h"
#include "backup/backup_mark.h"
#include "backup/backup_sched.h"
#include "core/config.h"
#include "core/log.h"
#include "http/http_internal.h"
#include "store/store.h"

/* The TERN_* variable that fixes the schedule, or NULL. */
static const char *schedule_locked(void)
{
	static const enum admin_setting v[] = {SETTING_BACKUP_DIR, SETTING_BACKUP_TIME, SETTING_BACKUP_KEEP};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (admin_setting_locked(v[i]))
			return admin_setting_var(v[i]);
	return NULL;
}

void api_backups_list(struct http_ctx *x)
{
	struct backup_sched_status *s = malloc(sizeof *s);
	struct jw w;
	char at[16];

	if (s == NULL) {
		http_problem(x, 503, "temporary", NULL, "out of memory");
		return;
	}
	backup_sched_status(s);
	http_json_begin(x, &w, 200);
	jw_obj_begin(&w);
	jw_kbool(&w, "configured", s->configured);
	jw_kbool(&w, "locked", schedule_locked() != NULL);
	jw_kstr(&w, "dir", s->dir);
	snprintf(at, sizeof at, "%02u:%02u", (s->minute / 60) % 24, s->minute % 60);
	jw_kstr(&w, "time", s->configured ? at : "");
	jw_kuint(&w, "keep", s->keep);
	jw_kint(&w, "next", s->next);
	jw_kint(&w, "last_good", s->last_good);
	jw_kuint(&w, "failures", s->failures);
	jw_key(&w, "running");
	if (s->running) {
		jw_obj_begin(&w);
		jw_kint(&w, "since", s->running_since);
		jw_kuint(&w, "done_bytes", s->done_bytes);
		jw_kuint(&w, "total_bytes", s->total_bytes);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "backups");
	jw_arr_begin(&w);
	for (size_t i = 0; i < s->n; i++) {
		const struct backup_sched_entry *e = &s->e[i];
		jw_obj_begin(&w);
		jw_kstr(&w, "name", e->name);
		jw_kint(&w, "started", e->started);
		jw_kuint(&w, "duration_ms", e->duration_ms);
		jw_kuint(&w, "bytes", e->bytes);
		jw_kuint(&w, "emails", e->emails);
		jw_kuint(&w, "reused", e->reused);
		jw_kstr(&w, "result", e->ok ? "ok" : "failed");
		jw_kstr(&w, "error", e->error);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(s);
}

void api_backups_start(struct http_ctx *x)
{
	if (http_body_check(x, NULL, 0) < 0)
		return;
	int rc = backup_sched_request();
	if (rc < 0) {
		http_problem(x, 409, "not_configured", NULL,
			     "scheduled backups are off: set TERN_BACKUP_DIR and restart");
		return;
	}
	if (rc > 0) {
		http_problem(x, 409, "busy", NULL, "a backup is running already");
		return;
	}
	log_info("http", NULL, "event=backup_requested ip=%s", x->ip);
	struct jw w;
	http_json_begin(x, &w, 202);
	jw_obj_begin(&w);
	jw_kbool(&w, "started", 1);
	jw_obj_end(&w);
}

/* 1 when the running schedule writes into dir already (*keep: how many
 * it keeps there), else 0. */
static int dir_is_current(const char *dir, unsigned *keep)
{
	struct backup_sched_status *s = malloc(sizeof *s);
	if (s == NULL)
		return 0;
	backup_sched_status(s);
	int same = s->configured && strcmp(s->dir, dir) == 0;
	*keep = s->keep;
	free(s);
	return same;
}

void api_backups_schedule(struct http_ctx *x)
{
	static const struct json_field f[] = {
		{ "dir", JK_STRING, 1 }, { "time", JK_STRING, 0 }, { "keep", JK_INT, 0 },
		{ "password", JK_STRING, 0 } };
	char err[256], keep_text[16];
	unsigned minute = 3 * 60 + 30, keep = 7;

	if (http_body_check(x, f, 4) < 0)
		return;
	const char *var = schedule_locked();
	if (var) {
		http_problem(x, 409, "locked", NULL, "the schedule is set by %s", var);
		return;
	}
	const char *dir = http_body_str(x, "dir"), *at = http_body_str(x, "time");
	const struct json_value *k = json_get(x->json, "keep");
	if (!config_backup_dir_valid(dir)) {
		http_problem(x, 400, "invalid_field", "dir",
			     "an absolute path such as /backup, or empty for no scheduled backups");
		return;
	}
	/* Its runs would all fail there (backup_mark.h): said now, not
	 * found in a log after a week without backups. */
	if (dir[0] && backup_mark_foreign(dir, http_cfg->data_dir)) {
		http_problem(x, 400, "invalid_field", "dir",
			     "%s holds the backups of another tern server (its " BACKUP_MARK_FILE
			     "): give this one a directory of its own", dir);
		return;
	}
	if (at && at[0] && config_backup_time_parse(at, &minute) < 0) {
		http_problem(x, 400, "invalid_field", "time", "a time of day in UTC as HH:MM, such as 03:30");
		return;
	}
	if (k && (k->integer < 1 || k->integer > CONFIG_BACKUP_KEEP_MAX)) {
		http_problem(x, 400, "invalid_field", "keep", "from 1 to %d backups", CONFIG_BACKUP_KEEP_MAX);
		return;
	}
	if (k)
		keep = (unsigned)k->integer;
	/* A backup holds every account's mail and the sealed secrets, and
	 * the schedule writes one daily into dir from then on, kept across
	 * restarts: a new directory (perhaps one others can read, or a
	 * mount of the thief's) from a session alone (a stolen cookie)
	 * would copy out all mail for as long as nobody looks. It takes the
	 * admin password. So does keeping fewer backups than now (keep
	 * absent is 7): the next run prunes the older ones, which destroys
	 * them as a DELETE would. Keeping the directory and as many or more,
	 * or turning backups off (which removes none), does not. */
	unsigned was_keep = 0;
	int current = dir[0] && dir_is_current(dir, &was_keep);
	if (dir[0] && (!current || keep < was_keep) && http_session_password_check(x, "password") < 0)
		return;
	char at_text[16];
	snprintf(at_text, sizeof at_text, "%02u:%02u", minute / 60, minute % 60);
	snprintf(keep_text, sizeof keep_text, "%u", keep);
	/* Stored first, applied second: a store that cannot take it (a full
	 * disk: 507 as every other storing route) leaves the running
	 * schedule as it was, where applying first left one running that the
	 * next start forgot. A schedule that cannot apply (a backup running)
	 * puts the stored values back. */
	static const enum admin_setting keys[3] = {SETTING_BACKUP_DIR, SETTING_BACKUP_TIME,
						   SETTING_BACKUP_KEEP};
	const char *now[3] = {dir, dir[0] ? at_text : "", dir[0] ? keep_text : ""};
	char was[3][512];
	for (int i = 0; i < 3; i++)
		if (admin_setting_get(http_store, keys[i], was[i], sizeof was[i]) != STORE_OK)
			was[i][0] = 0;
	int rc = STORE_OK;
	for (int i = 0; i < 3 && rc == STORE_OK; i++)
		rc = admin_setting_set(http_store, keys[i], now[i]);
	if (rc == STORE_OK && (rc = backup_sched_configure(dir, minute, keep, err, sizeof err)) != 0)
		http_problem(x, rc > 0 ? 409 : 503, rc > 0 ? "busy" : "temporary", NULL, "%s", err);
	else if (rc != STORE_OK)
		http_store_problem(x, rc, "the schedule could not be stored");
	if (rc != 0) {
		for (int i = 0; i < 3; i++)
			(void)admin_setting_set(http_store, keys[i], was[i]);
		return;
	}
	log_info("http", NULL, "event=backup_schedule_set ip=%s dir=\"%s\" time=%s keep=%u", x->ip, dir,
		 at_text, keep);
	api_backups_list(x);
}
