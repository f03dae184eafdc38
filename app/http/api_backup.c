/*
 * api_backup.c — GET /api/v1/backups (the schedule, the backup running
 * with its progress, the last backups and failures) and POST
 * /api/v1/backups (start one now), over app/backup/backup_sched.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "backup/backup_sched.h"
#include "core/log.h"
#include "http/http_internal.h"

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
