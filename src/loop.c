/* loop: epoll + one timerfd for the deadline heap. Nothing wakes when nothing happens: the
 * timerfd is armed only while a timer is, for exactly the earliest deadline. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util/fd.h"

#define LOOP_BATCH 64

static void on_timerfd(struct watcher *w, uint32_t events);

int loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->timer_fd = -1;
    l->urgent_fd = -1;
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epoll_fd == -1)
        return -1;
    l->urgent_fd = epoll_create1(EPOLL_CLOEXEC);
    l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (l->urgent_fd == -1 || l->timer_fd == -1 ||
        loop_add(l, &l->timer_w, l->timer_fd, EPOLLIN, on_timerfd, l) ||
        loop_set_urgent(l, &l->timer_w)) {
        fd_close_quiet(l->timer_fd);
        fd_close_quiet(l->urgent_fd);
        fd_close_quiet(l->epoll_fd);
        return -1;
    }
    return 0;
}

static void run_deferred(struct loop *l)
{
    /* A deferred free may defer another; loop until the list stays empty. */
    while (l->ndeferred > 0) {
        struct loop_deferred d = l->deferred[--l->ndeferred];
        d.fn(d.ptr);
    }
}

void loop_free(struct loop *l)
{
    run_deferred(l);
    free(l->deferred);
    timer_heap_free(&l->timers);
    fd_close_quiet(l->timer_fd);
    fd_close_quiet(l->urgent_fd);
    fd_close_quiet(l->epoll_fd);
    l->timer_fd = l->epoll_fd = l->urgent_fd = -1;
}

int loop_add(struct loop *l, struct watcher *w, int fd, uint32_t events, watcher_fn *fn,
             void *ctx)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    w->fd = fd;
    w->fn = fn;
    w->ctx = ctx;
    w->urgent = false;
    if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == -1) {
        w->fd = -1;
        w->fn = NULL;
        return -1;
    }
    return 0;
}

int loop_mod(struct loop *l, struct watcher *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};

    return epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, w->fd, &ev);
}

int loop_set_urgent(struct loop *l, struct watcher *w)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

    if (epoll_ctl(l->urgent_fd, EPOLL_CTL_ADD, w->fd, &ev) == -1)
        return -1;
    w->urgent = true;
    return 0;
}

void loop_del(struct loop *l, struct watcher *w)
{
    if (w->fd >= 0) {
        /* Fails only if the fd was already closed, which removed it from epoll anyway. */
        (void)epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, w->fd, NULL);
        if (w->urgent)
            (void)epoll_ctl(l->urgent_fd, EPOLL_CTL_DEL, w->fd, NULL);
    }
    w->urgent = false;
    w->fd = -1;
    w->fn = NULL;
}

int loop_wake_init(struct loop *l, struct loop_wake *k, watcher_fn *fn, void *ctx,
                   bool urgent)
{
    k->set = false;
    k->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k->fd == -1)
        return -1;
    if (loop_add(l, &k->w, k->fd, EPOLLIN, fn, ctx) == -1 ||
        (urgent && loop_set_urgent(l, &k->w) == -1)) {
        int err = errno;
        loop_del(l, &k->w);
        fd_close_quiet(k->fd);
        k->fd = -1;
        errno = err;
        return -1;
    }
    return 0;
}

void loop_wake_set(struct loop_wake *k, bool more)
{
    uint64_t v = 1;

    if (k->fd == -1 || more == k->set)
        return;
    /* On a valid eventfd a write fails only at the counter's maximum and a read only when
     * it is 0 (EAGAIN): neither can happen, as k->set tracks the counter. */
    if (more)
        (void)fd_write_all(k->fd, &v, sizeof(v));
    else
        (void)fd_read(k->fd, &v, sizeof(v));
    k->set = more;
}

void loop_wake_fini(struct loop *l, struct loop_wake *k)
{
    if (k->fd == -1 || k->w.fn == NULL)
        return;
    loop_del(l, &k->w);
    fd_close_quiet(k->fd);
    k->fd = -1;
}

void loop_defer_free(struct loop *l, void (*fn)(void *), void *ptr)
{
    if (!l->in_batch) {
        fn(ptr); /* no event can still point at it */
        return;
    }
    if (l->ndeferred == l->cap_deferred) {
        size_t cap = l->cap_deferred ? l->cap_deferred * 2 : 16;
        struct loop_deferred *d = realloc(l->deferred, cap * sizeof(*d));
        if (d == NULL) {
            /* Cannot queue: leak rather than free memory an event may still point at. */
            log_msg(LOG_LVL_ERROR, "out of memory deferring a free; leaking one object");
            return;
        }
        l->deferred = d;
        l->cap_deferred = cap;
    }
    l->deferred[l->ndeferred].fn = fn;
    l->deferred[l->ndeferred].ptr = ptr;
    l->ndeferred++;
}

static void program_timerfd(struct loop *l)
{
    struct timer *t = timer_peek(&l->timers);
    /* 0 means "disarmed" here and to timerfd_settime: a timer due at 0 (as past as any
     * past deadline) is programmed for 1 ns instead, which fires at once. */
    uint64_t want = t == NULL ? 0 : t->deadline_ns > 0 ? t->deadline_ns : 1;
    struct itimerspec its;

    if (want == l->programmed_ns)
        return;
    memset(&its, 0, sizeof(its));
    if (want != 0) {
        /* Absolute time; a deadline already past fires at once (0 would disarm). */
        its.it_value.tv_sec = (time_t)(want / 1000000000ULL);
        its.it_value.tv_nsec = (long)(want % 1000000000ULL);
    }
    if (timerfd_settime(l->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == -1) {
        /* Only EINVAL is possible for valid fds, and our values are valid. */
        log_msg(LOG_LVL_ERROR, "cannot arm the timer: %s", strerror(errno));
        return;
    }
    l->programmed_ns = want;
}

int loop_timer_arm(struct loop *l, struct timer *t, uint64_t deadline_ns)
{
    return timer_arm(&l->timers, t, deadline_ns);
}

void loop_timer_cancel(struct loop *l, struct timer *t)
{
    timer_cancel(&l->timers, t);
}

static void on_timerfd(struct watcher *w, uint32_t events)
{
    struct loop *l = w->ctx;
    uint64_t expirations;
    uint64_t now;
    struct timer *t;

    (void)events;
    /* Drain the expiration count; EAGAIN just means another path already did. */
    (void)fd_read(l->timer_fd, &expirations, sizeof(expirations));
    l->programmed_ns = 0; /* fired: an absolute one-shot timer is now disarmed */
    now = timer_now_ns();
    while ((t = timer_pop_due(&l->timers, now)) != NULL)
        t->fn(t, t->ctx);
}

/* Serves the urgent watchers that are ready now, without waiting. */
static void run_urgent(struct loop *l)
{
    struct epoll_event evs[8];
    int n = epoll_wait(l->urgent_fd, evs, 8, 0);

    for (int i = 0; i < n; i++) {
        struct watcher *w = evs[i].data.ptr;
        if (w->fn != NULL)
            w->fn(w, evs[i].events);
    }
}

int loop_run(struct loop *l)
{
    struct epoll_event evs[LOOP_BATCH];

    while (!l->stopping) {
        program_timerfd(l);
        run_deferred(l);
        int n = epoll_wait(l->epoll_fd, evs, LOOP_BATCH, -1);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        l->wakeups++;
        l->in_batch = true;
        /* Urgent watchers first (a child's exit, a deadline), then the rest; and after each
         * ordinary callback, whatever urgent event arrived meanwhile. */
        for (int i = 0; i < n; i++) {
            struct watcher *w = evs[i].data.ptr;
            if (w->fn != NULL && w->urgent)
                w->fn(w, evs[i].events);
        }
        for (int i = 0; i < n; i++) {
            struct watcher *w = evs[i].data.ptr;
            if (w->fn != NULL && !w->urgent) {
                w->fn(w, evs[i].events);
                run_urgent(l);
            }
        }
        l->in_batch = false;
        run_deferred(l);
    }
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stopping = true;
}
