/*
 * admin_jobs.c — child-process jobs for the web admin (admin_jobs.h).
 */
#include "admin/admin_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

#define LINE_MAX_ 4096

struct slot {
	struct admin_job j;
	pid_t pid;
	int out_fd, err_fd;
	int used;
	uint64_t seq; /* order of starting: the newest has the highest */
	char remove[512]; /* a file the job owns, removed when it ends ("": none) */
};

static struct {
	pthread_mutex_t mu;
	struct slot s[ADMIN_JOBS_KEPT];
	unsigned next_id;
	uint64_t seq;
} J = {.mu = PTHREAD_MUTEX_INITIALIZER, .next_id = 1};

/* Reads a number after "\"key\":" in a JSON progress line. */
static double field(const char *line, const char *key)
{
	char pat[48];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : 0;
}

/* One line the child wrote (from stderr when err). */
static void take_line(struct slot *sl, char *line, int err)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0)
		return;
	pthread_mutex_lock(&J.mu);
	if (err && strncmp(line, "{\"op\":", 6) == 0) {
		sl->j.done = (uint64_t)field(line, "done");
		sl->j.total = (uint64_t)field(line, "total");
		sl->j.bytes = (uint64_t)field(line, "bytes");
		sl->j.total_bytes = (uint64_t)field(line, "total_bytes");
		sl->j.rate = field(line, "rate_bytes_per_s");
		sl->j.left_s = field(line, "left_s");
	} else if (err) {
		/* The command names itself; the web admin does not need that. */
		const char *text = strncmp(line, "tern: ", 6) == 0 ? line + 6 : line;
		snprintf(sl->j.error, sizeof sl->j.error, "%s", text);
	} else {
		/* Keep the last lines that fit: the counts come last. */
		size_t have = strlen(sl->j.result);
		if (have + n + 2 > sizeof sl->j.result)
			sl->j.result[0] = '\0', have = 0;
		snprintf(sl->j.result + have, sizeof sl->j.result - have, "%s%s", have ? "\n" : "", line);
	}
	pthread_mutex_unlock(&J.mu);
}

static void *reader(void *arg)
{
	struct slot *sl = arg;
	char buf[2][LINE_MAX_];
	size_t have[2] = {0, 0};
	struct pollfd p[2] = {{sl->out_fd, POLLIN, 0}, {sl->err_fd, POLLIN, 0}};
	int open_fds = 2;

	while (open_fds) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int k = 0; k < 2; k++) {
			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(p[k].fd, buf[k] + have[k], sizeof buf[k] - 1 - have[k]);
			if (r <= 0) {
				close(p[k].fd);
				p[k].fd = -1;
				open_fds--;
				if (have[k]) {
					buf[k][have[k]] = '\0';
					take_line(sl, buf[k], k == 1);
				}
				continue;
			}
			have[k] += (size_t)r;
			char *nl;
			while ((nl = memchr(buf[k], '\n', have[k])) != NULL) {
				size_t len = (size_t)(nl - buf[k]) + 1;
				char line[LINE_MAX_];
				memcpy(line, buf[k], len);
				line[len] = '\0';
				memmove(buf[k], buf[k] + len, have[k] - len);
				have[k] -= len;
				take_line(sl, line, k == 1);
			}
			if (have[k] == sizeof buf[k] - 1) { /* a line too long: taken in pieces */
				buf[k][have[k]] = '\0';
				take_line(sl, buf[k], k == 1);
				have[k] = 0;
			}
		}
	}
	int status = 0;
	while (waitpid(sl->pid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&J.mu);
	sl->j.ended = (int64_t)time(NULL);
	sl->j.state = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? JOB_DONE : JOB_FAILED;
	if (sl->j.state == JOB_FAILED && !sl->j.error[0])
		snprintf(sl->j.error, sizeof sl->j.error, "the command ended with status %d",
		         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	sl->pid = 0;
	struct admin_job copy = sl->j;
	char gone[sizeof sl->remove];
	snprintf(gone, sizeof gone, "%s", sl->remove);
	sl->remove[0] = '\0';
	pthread_mutex_unlock(&J.mu);
	if (gone[0] && unlink(gone) != 0 && errno != ENOENT)
		log_warn("admin", NULL, "event=job_file_not_removed id=%u error=\"%s\"", copy.id,
		         strerror(errno));
	log_info("admin", NULL, "event=job_end id=%u kind=%s account=%s result=%s", copy.id, copy.kind,
	         copy.account, copy.state == JOB_DONE ? "ok" : "failed");
	return NULL;
}

/* A slot for a new job: a free one, else the oldest finished one. The
 * caller checked that fewer than ADMIN_JOBS_RUNNING run. Under J.mu. */
static struct slot *take_slot(void)
{
	struct slot *best = NULL;
	for (size_t i = 0; i < ADMIN_JOBS_KEPT; i++) {
		struct slot *s = &J.s[i];
		if (!s->used)
			return s;
		if (s->j.state != JOB_RUNNING && (!best || s->seq < best->seq))
			best = s;
	}
	return best;
}

static int count_running(void)
{
	int n = 0;
	for (size_t i = 0; i < ADMIN_JOBS_KEPT; i++)
		n += J.s[i].used && J.s[i].j.state == JOB_RUNNING;
	return n;
}

/*
 * Runs `tern ARGV...` as job `kind` for email, shown with source; input
 * (a password, or NULL) goes to its stdin; remove (or NULL) is a file the
 * job owns from here on, removed when it ends, or at once if it cannot
 * start.
 */
static int spawn_job(const char *kind, char *const argv[], const char *email, const char *source,
                     const char *input, const char *remove, unsigned *id_r, char *err,
                     size_t errsz)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	pthread_mutex_lock(&J.mu);
	if (count_running() >= ADMIN_JOBS_RUNNING) {
		pthread_mutex_unlock(&J.mu);
		snprintf(err, errsz, "%d jobs are running already", ADMIN_JOBS_RUNNING);
		return -1;
	}
	struct slot *sl = take_slot();
	if (!sl) {
		pthread_mutex_unlock(&J.mu);
		snprintf(err, errsz, "no room for another job");
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC)) {
		snprintf(err, errsz, "cannot make pipes: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	/* The server's threads block the signals its signalfd takes; the
	 * child must get SIGTERM (admin_jobs_stop) and SIGPIPE as usual. */
	posix_spawnattr_t sa;
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&sa);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dfl);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int rc = posix_spawn(&pid, "/proc/self/exe", &fa, &sa, argv, environ);
	posix_spawnattr_destroy(&sa);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		snprintf(err, errsz, "cannot start tern %s: %s", kind, strerror(rc));
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(er[1]);
	/* The password and its newline, then end of input. A pipe holds far
	 * more than a password, so this never waits. */
	if (input) {
		size_t pl = strlen(input);
		if (write(in[1], input, pl) != (ssize_t)pl || write(in[1], "\n", 1) != 1)
			log_warn("admin", NULL, "event=job_input_write_failed");
	}
	close(in[1]);

	memset(sl, 0, sizeof *sl);
	sl->used = 1;
	sl->seq = ++J.seq;
	sl->pid = pid;
	sl->out_fd = out[0];
	sl->err_fd = er[0];
	sl->j.id = J.next_id++;
	snprintf(sl->j.kind, sizeof sl->j.kind, "%s", kind);
	snprintf(sl->j.account, sizeof sl->j.account, "%s", email);
	snprintf(sl->j.source, sizeof sl->j.source, "%s", source);
	snprintf(sl->remove, sizeof sl->remove, "%s", remove ? remove : "");
	sl->j.state = JOB_RUNNING;
	sl->j.started = (int64_t)time(NULL);
	*id_r = sl->j.id;
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 64 * 1024);
	rc = pthread_create(&t, &at, reader, sl);
	pthread_attr_destroy(&at);
	if (rc != 0) {
		/* Without a reader the child would block on a full pipe: stop it. */
		kill(pid, SIGTERM);
		close(out[0]);
		close(er[0]);
		waitpid(pid, NULL, 0);
		sl->used = 0;
		pthread_mutex_unlock(&J.mu);
		if (remove)
			unlink(remove);
		snprintf(err, errsz, "cannot start a thread for the job");
		return -1;
	}
	pthread_mutex_unlock(&J.mu);
	log_info("admin", NULL, "event=job_start id=%u kind=%s account=%s", *id_r, kind, email);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	pthread_mutex_unlock(&J.mu);
	if (remove)
		unlink(remove);
	return -1;
}

int admin_jobs_migrate(const char *email, const char *url, const char *password, int sieve,
                       unsigned *id_r, char *err, size_t errsz)
{
	/* --new-uids: the panel has no way to ask, and a folder the account
	 * holds mail in already (its INBOX, once the MX points here) is
	 * copied with new UIDs, as before UIDs were kept, rather than left
	 * out; empty ones keep the source's UIDs either way. */
	char *argv[] = {"tern", "migrate", (char *)email, "--from", (char *)url, "--new-uids",
	                sieve ? "--sieve" : NULL, NULL};
	return spawn_job("migrate", argv, email, url, password, NULL, id_r, err, errsz);
}

int admin_jobs_import(const char *email, const char *path, const char *mailbox, const char *name,
                      unsigned *id_r, char *err, size_t errsz)
{
	char *argv[] = {"tern", "import", (char *)email, (char *)path, mailbox ? "--mailbox" : NULL,
	                (char *)mailbox, NULL};
	return spawn_job("import", argv, email, name, NULL, path, id_r, err, errsz);
}

int admin_jobs_get(unsigned id, struct admin_job *out)
{
	int rc = -1;
	pthread_mutex_lock(&J.mu);
	for (size_t i = 0; i < ADMIN_JOBS_KEPT; i++)
		if (J.s[i].used && J.s[i].j.id == id) {
			*out = J.s[i].j;
			rc = 0;
		}
	pthread_mutex_unlock(&J.mu);
	return rc;
}

size_t admin_jobs_list(struct admin_job *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&J.mu);
	for (size_t i = 0; i < ADMIN_JOBS_KEPT; i++)
		if (J.s[i].used && n < max)
			out[n++] = J.s[i].j;
	pthread_mutex_unlock(&J.mu);
	/* Newest first: ids grow. */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && out[k].id > out[k - 1].id; k--) {
			struct admin_job t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	return n;
}

void admin_jobs_stop(void)
{
	pthread_mutex_lock(&J.mu);
	for (size_t i = 0; i < ADMIN_JOBS_KEPT; i++)
		if (J.s[i].used && J.s[i].pid > 0)
			kill(J.s[i].pid, SIGTERM);
	pthread_mutex_unlock(&J.mu);
	for (int tries = 0; tries < 50; tries++) {
		pthread_mutex_lock(&J.mu);
		int n = count_running();
		pthread_mutex_unlock(&J.mu);
		if (n == 0)
			return;
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}
