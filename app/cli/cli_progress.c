/*
 * cli_progress.c — progress of a long command (backup, verify, restore,
 * export, import): a bar with counts, bytes, rate and time left on a
 * terminal, one JSON line a second otherwise (for scripts and the web
 * admin). Both on stderr, so stdout keeps the command's result.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *op)
{
	p->op = op;
	p->tty = isatty(2);
	p->start = now_s();
	p->last = p->start; /* the first line after a second: short runs print none */
	p->shown = 0;
}

int cli_progress_step(void *arg, uint64_t done_bytes, uint64_t total_bytes, uint64_t done,
                       uint64_t total)
{
	struct cli_progress *p = arg;
	double t = now_s(), el = t - p->start;
	int last = done == total;

	if (!last && t - p->last < (p->tty ? 0.2 : 1.0))
		return 0;
	if (!p->tty && last && !p->shown && el < 1.0)
		return 0; /* a short run: its result says it all */
	p->last = t;
	p->shown = 1;
	double rate = el > 0 ? (double)done_bytes / el : 0;
	double left = rate > 0 && total_bytes > done_bytes ? (double)(total_bytes - done_bytes) / rate : 0;
	if (p->tty) {
		int width = 30, fill = total_bytes ? (int)((double)done_bytes * width / (double)total_bytes) : width;
		char bar[31];
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		fprintf(stderr, "\r%s [%s] %llu/%llu  %.1f/%.1f MiB  %.1f MiB/s  %.0f s left ", p->op, bar,
		        (unsigned long long)done, (unsigned long long)total, (double)done_bytes / 1048576.0,
		        (double)total_bytes / 1048576.0, rate / 1048576.0, left);
		if (last)
			fputc('\n', stderr);
	} else {
		fprintf(stderr,
		        "{\"op\":\"%s\",\"done\":%llu,\"total\":%llu,\"bytes\":%llu,\"total_bytes\":%llu,"
		        "\"rate_bytes_per_s\":%.0f,\"elapsed_s\":%.1f,\"left_s\":%.0f}\n",
		        p->op, (unsigned long long)done, (unsigned long long)total,
		        (unsigned long long)done_bytes, (unsigned long long)total_bytes, rate, el, left);
	}
	fflush(stderr);
	return 0;
}
