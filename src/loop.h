/* loop: the one epoll event loop. Watchers are embedded in their owners and epoll's
 * data.ptr points at them. Timers share one timerfd programmed for the earliest deadline of
 * the heap, so the loop sleeps until a kernel event or that deadline and never otherwise.
 *
 * Hazard handled here: a callback may remove (and want to free) another watcher that has an
 * event later in the same epoll batch. loop_del makes the watcher inert at once, and
 * loop_defer_free releases memory only after the batch. */
#ifndef TEND_LOOP_H
#define TEND_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "timer.h"

struct watcher;
typedef void watcher_fn(struct watcher *w, uint32_t events);

/* Embedded in what owns the descriptor, and some of those exist once per program (its
 * cgroup's events, its output streams): fd and urgent share a word, 24 bytes instead of 32. */
struct watcher {
    int fd;           /* -1 when not registered */
    bool urgent;      /* served before, and in between, ordinary events (loop_set_urgent) */
    watcher_fn *fn;   /* NULL once deleted: pending events are then skipped */
    void *ctx;
};

struct loop_deferred {
    void (*fn)(void *);
    void *ptr;
};

struct loop {
    int epoll_fd;
    int urgent_fd;             /* a second epoll holding only the urgent watchers */
    int timer_fd;
    struct watcher timer_w;
    struct timer_heap timers;
    uint64_t programmed_ns;    /* deadline the timerfd is set to; 0 = disarmed */
    bool stopping;
    bool in_batch;             /* dispatching an epoll batch: loop_defer_free must wait */
    struct loop_deferred *deferred;
    size_t ndeferred, cap_deferred;
    uint64_t wakeups;          /* epoll_wait returns, for tests and benchmarks */
};

int loop_init(struct loop *l);
void loop_free(struct loop *l);

/* Registers fd for events (EPOLLIN...) with callback fn. 0 or -1/errno. */
int loop_add(struct loop *l, struct watcher *w, int fd, uint32_t events, watcher_fn *fn,
             void *ctx);
int loop_mod(struct loop *l, struct watcher *w, uint32_t events);
/* Marks a registered watcher urgent: its events (EPOLLIN) are dispatched first in every
 * batch and looked for again after each ordinary callback, so a burst of ordinary work
 * (many clients) cannot delay it by a whole batch. 0 or -1/errno. */
int loop_set_urgent(struct loop *l, struct watcher *w);
/* Unregisters w (the caller still owns and closes the fd). Safe inside a callback. */
void loop_del(struct loop *l, struct watcher *w);
/* Calls fn(ptr) after the current batch of events (at once if called outside one). */
void loop_defer_free(struct loop *l, void (*fn)(void *), void *ptr);

/* Work served in slices, one per turn of the loop (the spawn queue, a burst of exits): an
 * eventfd kept readable while work is left, so the loop comes back for the next slice at
 * once, after serving whatever else is ready. */
struct loop_wake {
    int fd;           /* -1: not set up */
    struct watcher w;
    bool set;         /* the counter is non-zero: fn runs again */
};

/* Sets up k (unset) to call fn when set; urgent as loop_set_urgent. 0 or -1/errno (then
 * k->fd is -1 and the caller does its work in one go). */
int loop_wake_init(struct loop *l, struct loop_wake *k, watcher_fn *fn, void *ctx,
                   bool urgent);
/* Work is left (more) or done (!more). */
void loop_wake_set(struct loop_wake *k, bool more);
/* Tears down a wake set up by loop_wake_init; a no-op on one that was never set up, which
 * needs k->fd and k->w.fn zeroed or -1 from the start. */
void loop_wake_fini(struct loop *l, struct loop_wake *k);

int loop_timer_arm(struct loop *l, struct timer *t, uint64_t deadline_ns);
void loop_timer_cancel(struct loop *l, struct timer *t);

/* Runs until loop_stop. Returns 0, or -1/errno when epoll itself fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
