/*
 * loop.h — one event loop per thread: epoll, timers, cross-thread posts.
 *
 * A connection lives on exactly one loop; everything about it runs on that
 * loop's thread, so sessions need no locks. Other threads (the store writer)
 * talk to a loop only through loop_post(), which queues a callback and wakes
 * the loop through an eventfd.
 *
 * Timers are one-shot, kept in a binary heap keyed on the monotonic clock in
 * milliseconds. A timer id stays valid until it fires or is cancelled; ids
 * are never reused during a loop's life.
 *
 * Caveats: callbacks must not block. A callback may delete its own fd or
 * timer, or any other, while running.
 */
#ifndef TERN_CORE_LOOP_H
#define TERN_CORE_LOOP_H

#include <stdint.h>

struct loop;

#define LOOP_READ 1u
#define LOOP_WRITE 2u
/* Delivered to the callback together with READ on hang-up or error. */
#define LOOP_HUP 4u
/* loop_add_fd only: wake one of the loops sharing this fd (listening sockets). */
#define LOOP_EXCLUSIVE 8u

typedef void loop_fd_cb(struct loop *loop, int fd, unsigned events, void *arg);
typedef void loop_timer_cb(struct loop *loop, void *arg);
typedef void loop_post_cb(void *arg);

struct loop *loop_new(void);
/* Frees the loop; registered fds are not closed. Sets *l to NULL. */
void loop_free(struct loop **l);

/* Registers fd for events (LOOP_READ|LOOP_WRITE). 0, or -1 with errno. */
int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_cb *cb, void *arg);
/* Changes the interest set of a registered fd. */
int loop_mod_fd(struct loop *l, int fd, unsigned events);
/* Unregisters fd (does not close it). Safe from inside a callback. */
void loop_del_fd(struct loop *l, int fd);
/*
 * Unregisters fd and closes it, without an epoll_ctl call: closing the last
 * descriptor of a socket removes it from the epoll set. Only for fds that
 * were never dup()ed (accepted sockets). Safe from inside a callback.
 */
void loop_close_fd(struct loop *l, int fd);

/*
 * Thread-safe: how many fds the loop has registered, plus those other
 * threads are handing to it (loop_fd_incoming). A rough measure of how
 * busy it is with connections, for spreading new ones (net/listener.c).
 */
unsigned loop_fd_count(struct loop *l);
/* Thread-safe: an fd is on its way to l (+1), or arrived or was dropped (-1). */
void loop_fd_incoming(struct loop *l, int delta);

/* Arms a one-shot timer ms from now. Returns an id > 0. */
uint64_t loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb *cb, void *arg);
/* Cancels a pending timer; id 0 or an expired id is ignored. */
void loop_timer_del(struct loop *l, uint64_t id);

/* Thread-safe: runs cb(arg) on the loop's thread soon. */
void loop_post(struct loop *l, loop_post_cb *cb, void *arg);

/* Runs until loop_stop(). Returns 0. */
int loop_run(struct loop *l);
/* Thread-safe: makes loop_run return after the current iteration. */
void loop_stop(struct loop *l);

/* Monotonic milliseconds, cached per loop iteration when called from one. */
uint64_t loop_now_ms(void);
/* Wall clock seconds since the epoch. */
int64_t time_wall(void);

#endif
