/*
 * loop.c — epoll event loop with a timer heap and cross-thread posts.
 *
 * fd registrations live in a table indexed by fd. epoll's user data carries
 * the fd and a generation number, so an event that was already fetched for
 * an fd that a callback then closed (and the kernel reused) is recognised as
 * stale and dropped.
 *
 * Before sleeping, a busy loop polls for a moment (idle_spin.h): on a
 * virtual machine a sleep and the wake-up after it cost more than a short
 * poll when the next event is that close.
 */
#include "loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "idle_spin.h"
#include "log.h"
#include "xalloc.h"

struct fd_slot {
	loop_fd_cb *cb;
	void *arg;
	uint32_t gen;
	unsigned char used;
};

struct timer {
	uint64_t when;
	uint64_t id;
	loop_timer_cb *cb;
	void *arg;
};

struct post {
	loop_post_cb *cb;
	void *arg;
	struct post *next;
};

struct loop {
	int epfd;
	int wakefd;
	struct fd_slot *fds;
	size_t nfds;
	uint32_t gen;

	struct timer *heap;
	size_t nheap, capheap;
	uint64_t next_timer_id;

	pthread_mutex_t post_lock;
	struct post *posts, **posts_tail;
	int stopping;
	/* fds registered, written on the loop's thread only; and fds other
	 * threads are handing to it (loop_fd_count). Read from any thread. */
	_Atomic unsigned nused, incoming;
};

/* Events fetched by one epoll_wait() call. */
#define LOOP_EVENTS_MAX 128

static _Thread_local uint64_t cached_now;

static uint64_t clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t clock_ms(void)
{
	return clock_us() / 1000u;
}

uint64_t loop_now_ms(void)
{
	return cached_now ? cached_now : clock_ms();
}

int64_t time_wall(void)
{
	return (int64_t)time(NULL);
}

struct loop *loop_new(void)
{
	struct loop *l = xcalloc(1, sizeof(*l));

	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		fatal("epoll_create1: %s", strerror(errno));
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0)
		fatal("eventfd: %s", strerror(errno));
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
		fatal("epoll_ctl wakefd: %s", strerror(errno));
	pthread_mutex_init(&l->post_lock, NULL);
	l->posts_tail = &l->posts;
	return l;
}

void loop_free(struct loop **lp)
{
	struct loop *l = *lp;
	if (!l)
		return;
	close(l->epfd);
	close(l->wakefd);
	for (struct post *p = l->posts, *n; p; p = n) {
		n = p->next;
		free(p);
	}
	pthread_mutex_destroy(&l->post_lock);
	free(l->fds);
	free(l->heap);
	free(l);
	*lp = NULL;
}

/*
 * EPOLLRDHUP only with READ: a peer's FIN stays reported (level-triggered)
 * until the fd is read to its end, so an fd whose owner stopped reading (a
 * session waiting for its job, a full input buffer) woke the loop without
 * end once the peer half-closed. EPOLLIN reports that FIN as well when the
 * owner reads again.
 */
static uint32_t to_epoll(unsigned events)
{
	uint32_t e = 0;
	if (events & LOOP_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & LOOP_WRITE)
		e |= EPOLLOUT;
	if (events & LOOP_EXCLUSIVE)
		e = (e & ~(uint32_t)EPOLLRDHUP) | EPOLLEXCLUSIVE;
	return e;
}

int loop_add_fd(struct loop *l, int fd, unsigned events, loop_fd_cb *cb, void *arg)
{
	if (fd < 0)
		return -1;
	if ((size_t)fd >= l->nfds) {
		size_t n = l->nfds ? l->nfds : 64;
		while (n <= (size_t)fd)
			n *= 2;
		l->fds = xrealloc(l->fds, n * sizeof(*l->fds));
		memset(l->fds + l->nfds, 0, (n - l->nfds) * sizeof(*l->fds));
		l->nfds = n;
	}
	struct fd_slot *s = &l->fds[fd];
	s->cb = cb;
	s->arg = arg;
	s->gen = ++l->gen;
	s->used = 1;
	struct epoll_event ev = { .events = to_epoll(events),
				  .data.u64 = ((uint64_t)s->gen << 32) | (uint32_t)fd };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		s->used = 0;
		return -1;
	}
	atomic_fetch_add_explicit(&l->nused, 1, memory_order_relaxed);
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, unsigned events)
{
	if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
		return -1;
	struct epoll_event ev = { .events = to_epoll(events),
				  .data.u64 = ((uint64_t)l->fds[fd].gen << 32) | (uint32_t)fd };
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del_fd(struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd].used)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->fds[fd].used = 0;
	l->fds[fd].gen = 0;
	atomic_fetch_sub_explicit(&l->nused, 1, memory_order_relaxed);
}

void loop_close_fd(struct loop *l, int fd)
{
	if (fd < 0)
		return;
	if ((size_t)fd < l->nfds && l->fds[fd].used) {
		/* Events for fd still in this epoll_wait batch are dropped by
		 * the generation check in loop_run(). */
		l->fds[fd].used = 0;
		l->fds[fd].gen = 0;
		atomic_fetch_sub_explicit(&l->nused, 1, memory_order_relaxed);
	}
	close(fd);
}

unsigned loop_fd_count(struct loop *l)
{
	return atomic_load_explicit(&l->nused, memory_order_relaxed) +
	       atomic_load_explicit(&l->incoming, memory_order_relaxed);
}

void loop_fd_incoming(struct loop *l, int delta)
{
	atomic_fetch_add_explicit(&l->incoming, (unsigned)delta, memory_order_relaxed);
}

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct timer t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
}

static int heap_less(const struct timer *a, const struct timer *b)
{
	return a->when < b->when || (a->when == b->when && a->id < b->id);
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&l->heap[i], &l->heap[p]))
			break;
		heap_swap(l, i, p);
		i = p;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < l->nheap && heap_less(&l->heap[c], &l->heap[m]))
			m = c;
		if (c + 1 < l->nheap && heap_less(&l->heap[c + 1], &l->heap[m]))
			m = c + 1;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

static void heap_remove_at(struct loop *l, size_t i)
{
	l->nheap--;
	if (i == l->nheap)
		return;
	l->heap[i] = l->heap[l->nheap];
	heap_down(l, i);
	heap_up(l, i);
}

uint64_t loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb *cb, void *arg)
{
	if (l->nheap == l->capheap) {
		l->capheap = l->capheap ? l->capheap * 2 : 64;
		l->heap = xrealloc(l->heap, l->capheap * sizeof(*l->heap));
	}
	struct timer *t = &l->heap[l->nheap];
	t->when = loop_now_ms() + ms;
	t->id = ++l->next_timer_id;
	t->cb = cb;
	t->arg = arg;
	l->nheap++;
	heap_up(l, l->nheap - 1);
	return l->next_timer_id;
}

void loop_timer_del(struct loop *l, uint64_t id)
{
	/* Linear scan: timers per loop are few (one or two per session) and
	 * cancellation is rare compared with the cost of an index. */
	if (!id)
		return;
	for (size_t i = 0; i < l->nheap; i++) {
		if (l->heap[i].id == id) {
			heap_remove_at(l, i);
			return;
		}
	}
}

void loop_post(struct loop *l, loop_post_cb *cb, void *arg)
{
	struct post *p = xmalloc(sizeof(*p));
	uint64_t one = 1;

	p->cb = cb;
	p->arg = arg;
	p->next = NULL;
	pthread_mutex_lock(&l->post_lock);
	int was_empty = l->posts == NULL;
	*l->posts_tail = p;
	l->posts_tail = &p->next;
	pthread_mutex_unlock(&l->post_lock);
	/* Only the first post of a batch wakes the loop: it takes the whole
	 * list at once, so a writer finishing many deliveries for one loop
	 * costs one eventfd write, not one per delivery. */
	if (was_empty) {
		ssize_t w = write(l->wakefd, &one, sizeof(one));
		(void)w; /* EAGAIN: the counter is already non-zero, awake anyway */
	}
}

void loop_stop(struct loop *l)
{
	uint64_t one = 1;
	__atomic_store_n(&l->stopping, 1, __ATOMIC_SEQ_CST);
	ssize_t w = write(l->wakefd, &one, sizeof(one));
	(void)w;
}

static void run_posts(struct loop *l)
{
	uint64_t v;
	ssize_t r = read(l->wakefd, &v, sizeof(v));
	(void)r;
	pthread_mutex_lock(&l->post_lock);
	struct post *p = l->posts;
	l->posts = NULL;
	l->posts_tail = &l->posts;
	pthread_mutex_unlock(&l->post_lock);
	while (p) {
		struct post *n = p->next;
		p->cb(p->arg);
		free(p);
		p = n;
	}
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[0].when <= cached_now) {
		struct timer t = l->heap[0];
		heap_remove_at(l, 0);
		t.cb(l, t.arg);
	}
}

/*
 * Polls the epoll set without sleeping for up to window_us, yielding the
 * CPU between tries so that a runnable thread on it goes first. Returns
 * what the last epoll_wait() did: events, 0 (the window ran out) or -1.
 */
static int poll_briefly(struct loop *l, struct epoll_event *evs, int max, uint32_t window_us)
{
	uint64_t until = clock_us() + window_us;

	for (;;) {
		int n = epoll_wait(l->epfd, evs, max, 0);
		if (n != 0 || clock_us() >= until)
			return n;
		sched_yield();
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_EVENTS_MAX];
	struct idle_spin spin;

	idle_spin_init(&spin, idle_spin_window_for(sysconf(_SC_NPROCESSORS_ONLN)));

	/* This thread's info records go out once per iteration, not one
	 * write each: an SMTP delivery logs three. */
	log_defer_start();
	while (!__atomic_load_n(&l->stopping, __ATOMIC_SEQ_CST)) {
		int timeout = -1;
		log_defer_flush(); /* before sleeping */
		mem_release_if_due(); /* a big message ended: its memory goes back */
		if (mem_reserve_drawn()) /* not inside a connection callback */
			log_error("core", NULL, "event=memory_reserve_drawn_outside_session");
		mem_reserve_refill();
		cached_now = clock_ms();
		if (l->nheap) {
			uint64_t when = l->heap[0].when;
			timeout = when <= cached_now ? 0 : (int)(when - cached_now > 60000 ? 60000 : when - cached_now);
		}
		cached_now = 0; /* not cached while sleeping */
		int n = 0;
		uint64_t woke_us = 0; /* when the sleep below ended, if it ran */
		if (timeout != 0 && idle_spin_armed(&spin)) {
			n = poll_briefly(l, evs, LOOP_EVENTS_MAX, spin.window_us);
			idle_spin_polled(&spin, n > 0);
		}
		if (n == 0) {
			uint64_t slept_from = clock_us();
			n = epoll_wait(l->epfd, evs, LOOP_EVENTS_MAX, timeout);
			woke_us = clock_us();
			idle_spin_slept(&spin, woke_us - slept_from, n > 0);
		}
		cached_now = (woke_us ? woke_us : clock_us()) / 1000u;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			uint64_t u = evs[i].data.u64;
			if (u == UINT64_MAX) {
				run_posts(l);
				continue;
			}
			int fd = (int)(uint32_t)u;
			uint32_t gen = (uint32_t)(u >> 32);
			if ((size_t)fd >= l->nfds || !l->fds[fd].used || l->fds[fd].gen != gen)
				continue; /* deleted by an earlier callback in this batch */
			unsigned e = 0;
			if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				e |= LOOP_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				e |= LOOP_WRITE;
			if (evs[i].events & (EPOLLHUP | EPOLLERR))
				e |= LOOP_HUP;
			l->fds[fd].cb(l, fd, e, l->fds[fd].arg);
		}
		run_timers(l);
	}
	log_defer_stop();
	cached_now = 0;
	return 0;
}
