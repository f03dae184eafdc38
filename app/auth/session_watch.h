/*
 * session_watch.h — ends a logged-in session when its account's
 * credentials change: a new password, the account disabled, or deleted.
 *
 * Design. One mechanism for every protocol (IMAP, POP3, SMTP submission,
 * ManageSieve, JMAP's EventSource and WebSocket connections; a JMAP API
 * request logs in anew each time). A session that logged in joins with
 * the credentials stamp its login read together with the password hash
 * (store_account_login()); each loop thread keeps a list of its joined
 * sessions and, once a second while the list is not empty, reads the
 * stamps of all of them in one read transaction (store_account_creds()).
 * A session whose stamp differs (or whose account is gone) is taken off
 * the list and its revoked() callback ends it. Reading the store rather
 * than listening to the in-process change feed means a change made by
 * `tern account passwd|disable|del` in another process is seen too, and
 * nothing has to remember to notify: the stamp is a digest of the stored
 * hash itself.
 *
 * Caveats. Loop threads only: join, leave and the callbacks run on the
 * session's own loop. A session is ended within about a second of the
 * commit (one timer tick), not at once. A store error skips one tick.
 */
#ifndef TERN_AUTH_SESSION_WATCH_H
#define TERN_AUTH_SESSION_WATCH_H

#include <stdint.h>

struct loop;
struct store;

#define SESSION_WATCH_TICK_MS 1000

/* Embedded in a session; zero-initialised means "not joined". */
struct session_watch {
	struct store *store;
	struct loop *loop;
	uint32_t account, apppass;
	uint64_t cred;
	void (*revoked)(void *arg, int gone); /* gone: the account was deleted */
	void *arg;
	int joined, dead;
	struct session_watch *prev, *next;
};

/*
 * Watches account (logged in with stamp cred, by app password apppass or
 * 0 for its own password: login_result) for the calling loop's thread;
 * revoked(arg, gone) runs on loop once the stamp changes, after w has
 * left the list. w must stay put until it leaves.
 */
void session_watch_join(struct session_watch *w, struct store *st, struct loop *loop,
			uint32_t account, uint32_t apppass, uint64_t cred,
			void (*revoked)(void *arg, int gone), void *arg);
/* Stops watching (no-op when not joined). */
void session_watch_leave(struct session_watch *w);

#endif
