/*
 * log.h — structured logging.
 *
 * Every record is one line of key=value pairs: time, level, module, the
 * session id when there is one, then the caller's pairs. The caller writes
 * its pairs printf-style ("event=connect ip=%s"); a value with spaces or
 * quotes must be written with log_q() or the %s of a quoted string. With
 * TERN_LOG_FORMAT=json the same pairs are re-encoded as one JSON object per
 * line. Each record is emitted with one write(2) so threads never interleave;
 * a loop thread defers its info and debug records to the end of the loop
 * iteration and writes them together (log_defer_*, whole lines, at most
 * PIPE_BUF bytes per write so a pipe keeps them whole too).
 *
 * Secrets never go to the log: callers log user names, never passwords or
 * AUTH payloads.
 */
#ifndef TERN_CORE_LOG_H
#define TERN_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Called once at start-up; json selects JSON lines. fd is usually 2. */
void log_init(int fd, enum log_level min, int json);
/* Parses "debug|info|warn|error"; -1 on anything else. */
int log_level_parse(const char *s, enum log_level *lvl_r);

/* session may be NULL. fmt is key=value pairs separated by single spaces. */
void log_msg(enum log_level lvl, const char *module, const char *session, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_debug(mod, sid, ...) log_msg(LOG_DEBUG, mod, sid, __VA_ARGS__)
#define log_info(mod, sid, ...) log_msg(LOG_INFO, mod, sid, __VA_ARGS__)
#define log_warn(mod, sid, ...) log_msg(LOG_WARN, mod, sid, __VA_ARGS__)
#define log_error(mod, sid, ...) log_msg(LOG_ERROR, mod, sid, __VA_ARGS__)

/*
 * Deferred output, for the calling thread only (loop_run uses it): after
 * log_defer_start() its info and debug records collect in a per-thread
 * buffer that log_defer_flush() writes; a warning or an error flushes the
 * buffer and is written at once, so order is kept and a fatal error is
 * never held back. log_defer_stop() flushes and ends deferral. What a crash
 * cuts short is at most the current iteration's info records.
 */
void log_defer_start(void);
void log_defer_flush(void);
void log_defer_stop(void);

/*
 * The last LOG_RING_SIZE records emitted (level at or above the minimum)
 * are also kept in memory for the admin API. log_ring_walk calls cb for
 * each, oldest first, under a lock: cb must not log. text is the session
 * and the caller's pairs (at most LOG_RING_TEXT-1 bytes), valid during cb;
 * seq numbers the records from 1 in the order they were logged.
 */
#define LOG_RING_SIZE 1000
#define LOG_RING_TEXT 512
typedef void log_ring_cb(void *arg, uint64_t seq, double time, enum log_level lvl,
			 const char *module, const char *text);
void log_ring_walk(log_ring_cb *cb, void *arg);
/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level lvl);

/*
 * Quotes s for a key=value record: returns s itself when it has no space,
 * quote, backslash, '=' or control byte, else a "..."-quoted copy in out
 * (control bytes as \xHH), truncated to outsz. Returns out or s.
 */
const char *log_q(const char *s, char *out, size_t outsz);
/*
 * Always quotes (even a plain value; NULL as ""): for values chosen by a
 * peer, such as user names, so a log filter can rely on the quotes.
 */
const char *log_quoted(const char *s, char *out, size_t outsz);
/* Same as log_q for a slice that need not be NUL-terminated. */
const char *log_qn(const char *s, size_t n, char *out, size_t outsz);

/*
 * The debug record of a command line a session did not know:
 * "event=unknown_command verb=..." with the first 32 octets of its verb,
 * quoted as log_qn does. When withheld (the two lines after an AUTH,
 * which may be AUTH LOGIN's user name and password sent without waiting
 * for the server's prompt) only the line's length is logged, never text.
 */
void log_unknown_command(const char *module, const char *session, const char *verb,
			 size_t verb_len, size_t line_len, int withheld);

#endif
