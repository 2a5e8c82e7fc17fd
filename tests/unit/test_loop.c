/* Unit tests for the epoll loop, run for real: pipes, the real timerfd and CLOCK_MONOTONIC.
 * Tests wait on the loop itself, never sleep. Every test arms a watchdog (its own timerfd,
 * outside the loop's heap) that stops the loop and records a failure, so a bug turns into a
 * failed check instead of a hang. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../harness.h"
#include "loop.h"
#include "timer.h"

#define MS 1000000ULL
#define WATCHDOG_MS 2000

/* ---- watchdog ---------------------------------------------------------------------------- */

struct watchdog {
    struct watcher w;
    struct loop *l;
    int fd;
    bool fired;
};

static void watchdog_fire(struct watcher *w, uint32_t events)
{
    struct watchdog *wd = w->ctx;

    (void)events;
    wd->fired = true;
    loop_stop(wd->l);
}

static void watchdog_arm(struct watchdog *wd, struct loop *l, unsigned ms)
{
    struct itimerspec its = {
        .it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
    };

    memset(wd, 0, sizeof(*wd));
    wd->l = l;
    wd->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(wd->fd >= 0);
    CHECK_INT(timerfd_settime(wd->fd, 0, &its, NULL), 0);
    CHECK_INT(loop_add(l, &wd->w, wd->fd, EPOLLIN, watchdog_fire, wd), 0);
}

static void watchdog_disarm(struct watchdog *wd)
{
    loop_del(wd->l, &wd->w);
    close(wd->fd);
}

/* ---- pipes --------------------------------------------------------------------------- */

struct pipe_w {
    struct watcher w;
    struct loop *l;
    int rfd, wfd;
    int calls;
    uint32_t events;
    char got;
    bool stop_on_call;
};

static void pipe_open(struct pipe_w *p, struct loop *l)
{
    int fds[2];

    memset(p, 0, sizeof(*p));
    p->l = l;
    CHECK_INT(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    p->rfd = fds[0];
    p->wfd = fds[1];
}

static void pipe_close(struct pipe_w *p)
{
    if (p->rfd >= 0)
        close(p->rfd);
    if (p->wfd >= 0)
        close(p->wfd);
    p->rfd = p->wfd = -1;
}

static void pipe_put(struct pipe_w *p, char c)
{
    CHECK_INT(write(p->wfd, &c, 1), 1);
}

static void on_pipe(struct watcher *w, uint32_t events)
{
    struct pipe_w *p = w->ctx;

    p->calls++;
    p->events = events;
    /* One byte per call; EAGAIN leaves got alone. An if, not a (void) cast: with
     * _FORTIFY_SOURCE (Debian's build flags) read is warn_unused_result. */
    if ((events & EPOLLIN) && read(p->rfd, &p->got, 1) < 1) {
    }
    if (p->stop_on_call)
        loop_stop(p->l);
}

static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* ---- timers ----------------------------------------------------------------------------- */

#define MAX_FIRED 64

struct tctx {
    struct loop *l;
    int fired[MAX_FIRED]; /* ids, in firing order */
    int nfired;
    bool misfired;        /* a timer ran before its deadline, or still armed */
    int stop_after;       /* loop_stop once this many have fired (0: never) */
};

struct ttimer {
    struct timer t;
    struct tctx *ctx;
    int id;
    struct ttimer *victim;   /* cancel this one when firing (NULL: none) */
    struct ttimer *pull_in;  /* re-arm this one to pull_in_ns when firing */
    uint64_t pull_in_ns;
    int repeat;              /* re-arm itself this many more times, repeat_ns apart */
    uint64_t repeat_ns;
};

static void on_ttimer(struct timer *t, void *arg)
{
    struct ttimer *tt = arg;
    struct tctx *c = tt->ctx;
    uint64_t now = timer_now_ns();

    (void)t;
    if (now < tt->t.deadline_ns)
        c->misfired = true;
    if (timer_armed(&tt->t))
        c->misfired = true; /* popped timers are disarmed before their callback runs */
    if (c->nfired < MAX_FIRED)
        c->fired[c->nfired] = tt->id;
    c->nfired++;
    if (tt->victim != NULL)
        loop_timer_cancel(c->l, &tt->victim->t);
    if (tt->pull_in != NULL)
        CHECK_INT(loop_timer_arm(c->l, &tt->pull_in->t, tt->pull_in_ns), 0);
    if (tt->repeat > 0) {
        tt->repeat--;
        CHECK_INT(loop_timer_arm(c->l, &tt->t, now + tt->repeat_ns), 0);
    }
    if (c->stop_after > 0 && c->nfired >= c->stop_after)
        loop_stop(c->l);
}

static void ttimer_init(struct ttimer *tt, struct tctx *c, int id)
{
    memset(tt, 0, sizeof(*tt));
    tt->ctx = c;
    tt->id = id;
    timer_init(&tt->t, on_ttimer, tt);
}

/* ---- tests: watchers ------------------------------------------------------------------- */

TEST(init_and_free)
{
    struct loop l;

    CHECK_INT(loop_init(&l), 0);
    CHECK(l.epoll_fd >= 0);
    CHECK(l.timer_fd >= 0);
    CHECK_INT(l.wakeups, 0);
    CHECK(!l.stopping);
    CHECK((fcntl(l.epoll_fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((fcntl(l.timer_fd, F_GETFD) & FD_CLOEXEC) != 0);
    loop_free(&l);
    CHECK_INT(l.epoll_fd, -1);
    CHECK_INT(l.timer_fd, -1);
}

TEST(no_fd_leak_over_many_loops)
{
    int before = count_open_fds();

    for (int i = 0; i < 200; i++) {
        struct loop l;
        struct timer t;
        CHECK_INT(loop_init(&l), 0);
        timer_init(&t, NULL, NULL);
        CHECK_INT(loop_timer_arm(&l, &t, timer_now_ns() + 1000 * MS), 0);
        loop_free(&l);
        CHECK(!timer_armed(&t)); /* loop_free disarms what is left */
    }
    CHECK_INT(count_open_fds(), before);
}

static void write_byte(struct timer *t, void *arg)
{
    struct pipe_w *p = arg;

    (void)t;
    pipe_put(p, 'x');
}

/* The pipe is written from a timer while the loop runs; its watcher fires then, not before. */
TEST(pipe_watcher_fires_when_written)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;
    struct timer writer;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    p.stop_on_call = true;
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_pipe, &p), 0);
    CHECK_INT(p.w.fd, p.rfd);
    timer_init(&writer, write_byte, &p);
    CHECK_INT(loop_timer_arm(&l, &writer, timer_now_ns() + 5 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 1);
    CHECK(p.events & EPOLLIN);
    CHECK_INT(p.got, 'x');
    CHECK(l.wakeups <= 2); /* the timer, then the pipe (or both at once) */
    loop_del(&l, &p.w);
    CHECK_INT(p.w.fd, -1);
    CHECK(p.w.fn == NULL);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(pipe_hangup_reported)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    p.stop_on_call = true;
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_pipe, &p), 0);
    close(p.wfd);
    p.wfd = -1;
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 1);
    CHECK(p.events & EPOLLHUP);
    loop_del(&l, &p.w);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(add_bad_fd_fails_cleanly)
{
    struct loop l;
    struct watcher w;

    CHECK_INT(loop_init(&l), 0);
    errno = 0;
    CHECK_INT(loop_add(&l, &w, 987654, EPOLLIN, on_pipe, NULL), -1);
    CHECK_INT(errno, EBADF);
    CHECK_INT(w.fd, -1);
    CHECK(w.fn == NULL);
    loop_del(&l, &w); /* harmless on a watcher that never got registered */
    loop_free(&l);
}

/* A watcher deleted outside a callback never fires, even with data waiting. */
TEST(deleted_watcher_never_fires)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;
    struct tctx c = {0};
    struct ttimer stopper;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_pipe, &p), 0);
    pipe_put(&p, 'a');
    loop_del(&l, &p.w);
    c.l = &l;
    c.stop_after = 1;
    ttimer_init(&stopper, &c, 1);
    CHECK_INT(loop_timer_arm(&l, &stopper.t, timer_now_ns() + 10 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 0);
    CHECK_INT(c.nfired, 1);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* The hazard the loop exists to handle. Two pipes are readable before loop_run, so one
 * epoll_wait returns both. Whichever callback runs first deletes the other watcher and
 * defers its free: the other's pending event must be skipped, and the free must wait until
 * the batch is over (ASan would also flag a use after free). */
struct pair {
    struct loop *l;
    struct pair_w *runner; /* the one whose callback ran */
    int calls;
    int frees;
    bool freed_during_batch;
};

struct pair_w {
    struct watcher w;
    struct pair *pair;
    struct pair_w *other;
    int rfd, wfd;
};

static void pair_free(void *ptr)
{
    struct pair_w *pw = ptr;

    pw->pair->frees++;
    close(pw->rfd);
    close(pw->wfd);
    free(pw);
}

static void on_pair(struct watcher *w, uint32_t events)
{
    struct pair_w *pw = w->ctx;
    struct pair *pair = pw->pair;
    char c;

    (void)events;
    pair->calls++;
    pair->runner = pw;
    if (pair->frees != 0)
        pair->freed_during_batch = true;
    if (read(pw->rfd, &c, 1) < 1) {
        /* the byte only wakes the watcher; EAGAIN is fine (warn_unused_result: no cast) */
    }
    if (pw->other != NULL) {
        struct pair_w *victim = pw->other;
        loop_del(pair->l, &victim->w);
        CHECK_INT(victim->w.fd, -1);
        CHECK(victim->w.fn == NULL);
        loop_defer_free(pair->l, pair_free, victim);
        if (pair->frees != 0)
            pair->freed_during_batch = true; /* freed at once although inside a batch */
        pw->other = NULL;
    }
    loop_stop(pair->l);
}

static struct pair_w *pair_new(struct pair *pair)
{
    struct pair_w *pw = calloc(1, sizeof(*pw));
    int fds[2];

    CHECK(pw != NULL);
    CHECK_INT(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    pw->pair = pair;
    pw->rfd = fds[0];
    pw->wfd = fds[1];
    return pw;
}

TEST(del_inside_callback_skips_pending_event_and_defers_free)
{
    /* Both registration orders, several times, so both batch orders are exercised. */
    for (int round = 0; round < 20; round++) {
        struct loop l;
        struct watchdog wd;
        struct pair pair = {0};
        struct pair_w *a, *b;

        CHECK_INT(loop_init(&l), 0);
        watchdog_arm(&wd, &l, WATCHDOG_MS);
        pair.l = &l;
        a = pair_new(&pair);
        b = pair_new(&pair);
        a->other = b;
        b->other = a;
        if (round % 2 == 0) {
            CHECK_INT(loop_add(&l, &a->w, a->rfd, EPOLLIN, on_pair, a), 0);
            CHECK_INT(loop_add(&l, &b->w, b->rfd, EPOLLIN, on_pair, b), 0);
        } else {
            CHECK_INT(loop_add(&l, &b->w, b->rfd, EPOLLIN, on_pair, b), 0);
            CHECK_INT(loop_add(&l, &a->w, a->rfd, EPOLLIN, on_pair, a), 0);
        }
        CHECK_INT(write(a->wfd, "1", 1), 1);
        CHECK_INT(write(b->wfd, "2", 1), 1);
        CHECK_INT(loop_run(&l), 0);
        CHECK(!wd.fired);
        CHECK_INT(l.wakeups, 1);  /* one batch held both events */
        CHECK_INT(pair.calls, 1); /* the deleted watcher's pending event was skipped */
        CHECK(!pair.freed_during_batch);
        CHECK_INT(pair.frees, 1); /* ... and it was freed once the batch was over */
        CHECK(pair.runner == a || pair.runner == b);
        if (pair.runner != NULL) {
            loop_del(&l, &pair.runner->w);
            pair_free(pair.runner);
        }
        watchdog_disarm(&wd);
        loop_free(&l);
    }
}

/* A callback that deletes and defers the free of its own watcher: the common "connection
 * closed" case. The memory must stay valid until the callback has returned. */
static void on_self_free(struct watcher *w, uint32_t events)
{
    struct pair_w *pw = w->ctx;

    (void)events;
    pw->pair->calls++;
    loop_del(pw->pair->l, w);
    loop_defer_free(pw->pair->l, pair_free, pw);
    if (pw->pair->frees != 0)
        pw->pair->freed_during_batch = true;
    w->ctx = pw; /* still valid memory until the batch ends (ASan checks this write) */
    loop_stop(pw->pair->l);
}

TEST(self_delete_inside_callback)
{
    struct loop l;
    struct watchdog wd;
    struct pair pair = {0};
    struct pair_w *pw;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pair.l = &l;
    pw = pair_new(&pair);
    CHECK_INT(loop_add(&l, &pw->w, pw->rfd, EPOLLIN, on_self_free, pw), 0);
    close(pw->wfd); /* readable (EOF) until someone stops watching */
    pw->wfd = -1;
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(pair.calls, 1);
    CHECK(!pair.freed_during_batch);
    CHECK_INT(pair.frees, 1);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* A deferred free that defers another: both run, in the same clean-up pass. */
struct chain {
    struct loop *l;
    int freed;
};

struct chain_node {
    struct chain *chain;
    struct chain_node *next;
};

static void chain_free(void *ptr)
{
    struct chain_node *n = ptr;

    if (n->next != NULL)
        loop_defer_free(n->chain->l, chain_free, n->next);
    n->chain->freed++;
    free(n);
}

static struct chain chain; /* one chain per run of the test below */

static void on_chain_pipe(struct watcher *w, uint32_t events)
{
    struct pipe_w *p = w->ctx;
    struct chain_node *head = NULL;

    (void)events;
    p->calls++;
    for (int i = 0; i < 5; i++) {
        struct chain_node *n = calloc(1, sizeof(*n));
        CHECK(n != NULL);
        n->chain = &chain;
        n->next = head;
        head = n;
    }
    loop_defer_free(p->l, chain_free, head);
    CHECK_INT(chain.freed, 0); /* nothing freed inside the batch */
    loop_del(p->l, w);
    loop_stop(p->l);
}

TEST(deferred_free_may_defer_more)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;

    CHECK_INT(loop_init(&l), 0);
    chain.l = &l;
    chain.freed = 0;
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_chain_pipe, &p), 0);
    pipe_put(&p, 'z');
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 1);
    CHECK_INT(chain.freed, 5); /* the whole chain, before loop_run returned */
    CHECK_INT(l.ndeferred, 0);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

static void count_free(void *ptr)
{
    (*(int *)ptr)++;
}

/* loop.h: "Calls fn(ptr) after the current batch of events (at once if called outside
 * one)." Outside loop_run there is no batch, so the call must happen before it returns. */
TEST(defer_free_outside_a_batch_runs_at_once)
{
    struct loop l;
    int n = 0;

    CHECK_INT(loop_init(&l), 0);
    loop_defer_free(&l, count_free, &n);
    CHECK_INT(n, 1);
    loop_free(&l);
    CHECK_INT(n, 1); /* and exactly once */
}

/* loop_mod changes what a watcher waits for: a pipe's write end registered for nothing
 * stays quiet until a timer switches it to EPOLLOUT. */
static bool mod_done;

static void on_mod_timer(struct timer *t, void *arg)
{
    struct pipe_w *p = arg;

    (void)t;
    mod_done = true;
    CHECK_INT(loop_mod(p->l, &p->w, EPOLLOUT), 0);
}

static void on_writable(struct watcher *w, uint32_t events)
{
    struct pipe_w *p = w->ctx;

    p->calls++;
    p->events = events;
    if (!mod_done)
        p->got = '!'; /* fired before it asked for EPOLLOUT */
    loop_stop(p->l);
}

TEST(loop_mod_changes_interest)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;
    struct timer t;

    mod_done = false;
    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    CHECK_INT(loop_add(&l, &p.w, p.wfd, 0, on_writable, &p), 0);
    timer_init(&t, on_mod_timer, &p);
    CHECK_INT(loop_timer_arm(&l, &t, timer_now_ns() + 10 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 1);
    CHECK(p.events & EPOLLOUT);
    CHECK(p.got != '!');
    loop_del(&l, &p.w);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* ---- tests: timers -------------------------------------------------------------------- */

TEST(timers_fire_in_deadline_order)
{
    enum { N = 8 };
    /* Armed in this scrambled order; timer i is due at base + (i + 1) * 4 ms. */
    static const int arm_order[N] = {5, 2, 7, 0, 3, 6, 1, 4};
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer ts[N], cancelled, moved_earlier, moved_later;
    uint64_t base;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    c.stop_after = N + 2;
    base = timer_now_ns() + 5 * MS;
    for (int k = 0; k < N; k++) {
        int i = arm_order[k];
        ttimer_init(&ts[i], &c, 10 + i);
        CHECK_INT(loop_timer_arm(&l, &ts[i].t, base + (uint64_t)(i + 1) * 4 * MS), 0);
    }
    /* Cancelled before its deadline: never fires. */
    ttimer_init(&cancelled, &c, 99);
    CHECK_INT(loop_timer_arm(&l, &cancelled.t, base + 6 * MS), 0);
    loop_timer_cancel(&l, &cancelled.t);
    /* Re-armed from last to first, and from first to last. */
    ttimer_init(&moved_earlier, &c, 1);
    CHECK_INT(loop_timer_arm(&l, &moved_earlier.t, base + 100 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &moved_earlier.t, base + 1 * MS), 0);
    ttimer_init(&moved_later, &c, 2);
    CHECK_INT(loop_timer_arm(&l, &moved_later.t, base), 0);
    CHECK_INT(loop_timer_arm(&l, &moved_later.t, base + 40 * MS), 0);

    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK(!c.misfired);
    CHECK_INT(c.nfired, N + 2);
    CHECK_INT(c.fired[0], 1);
    for (int i = 0; i < N; i++)
        CHECK_INT(c.fired[1 + i], 10 + i);
    CHECK_INT(c.fired[N + 1], 2);
    CHECK(!timer_armed(&cancelled.t));
    CHECK(l.wakeups <= N + 2); /* at most one wake per deadline, no spinning */
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* Equal deadlines and a deadline already in the past fire on the first wake. */
TEST(past_and_equal_deadlines_fire_at_once)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer ts[4];
    uint64_t now = timer_now_ns();

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    c.stop_after = 4;
    for (int i = 0; i < 4; i++)
        ttimer_init(&ts[i], &c, i);
    CHECK_INT(loop_timer_arm(&l, &ts[0].t, now - 5 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &ts[1].t, 1), 0); /* the first nanosecond after boot */
    CHECK_INT(loop_timer_arm(&l, &ts[2].t, now - 5 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &ts[3].t, now), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(c.nfired, 4);
    CHECK_INT(c.fired[0], 1);
    CHECK_INT(c.fired[3], 3);
    CHECK_INT(l.wakeups, 1);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* A deadline of 0 is as "past" as any other; loop.c says so ("a deadline already past fires
 * at once") but uses 0 as its own "timerfd disarmed" mark, so a timer at 0 must still be
 * programmed, and must not hold back the timers behind it. */
TEST(deadline_zero_fires_at_once)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer zero, later;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, 500);
    c.l = &l;
    c.stop_after = 2;
    ttimer_init(&zero, &c, 0);
    ttimer_init(&later, &c, 1);
    CHECK_INT(loop_timer_arm(&l, &zero.t, 0), 0);
    CHECK_INT(loop_timer_arm(&l, &later.t, timer_now_ns() + 5 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(c.nfired, 2);
    CHECK_INT(c.fired[0], 0);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(timer_cancelled_from_a_callback_never_fires)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer a, b, last;
    uint64_t now = timer_now_ns();

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    c.stop_after = 2;
    ttimer_init(&a, &c, 1);
    ttimer_init(&b, &c, 2);
    ttimer_init(&last, &c, 3);
    a.victim = &b;
    CHECK_INT(loop_timer_arm(&l, &a.t, now + 5 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &b.t, now + 10 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &last.t, now + 25 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(c.nfired, 2);
    CHECK_INT(c.fired[0], 1);
    CHECK_INT(c.fired[1], 3);
    CHECK(!timer_armed(&b.t));
    /* The timerfd was re-programmed past the cancelled deadline: no wake for it. */
    CHECK(l.wakeups <= 2);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(timer_pulled_in_from_a_callback)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer a, far;
    uint64_t start = timer_now_ns();

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    c.stop_after = 2;
    ttimer_init(&a, &c, 1);
    ttimer_init(&far, &c, 2);
    CHECK_INT(loop_timer_arm(&l, &far.t, start + 1500 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &a.t, start + 5 * MS), 0);
    a.pull_in = &far;
    a.pull_in_ns = start + 15 * MS;
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK(!c.misfired);
    CHECK_INT(c.nfired, 2);
    CHECK_INT(c.fired[1], 2);
    CHECK(timer_now_ns() - start < 1000 * MS); /* not at its old deadline */
    CHECK(l.wakeups <= 2);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(timer_rearmed_by_its_own_callback)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer tick;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    c.stop_after = 4;
    ttimer_init(&tick, &c, 7);
    tick.repeat = 10;
    tick.repeat_ns = 5 * MS;
    CHECK_INT(loop_timer_arm(&l, &tick.t, timer_now_ns() + 5 * MS), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK(!c.misfired);
    CHECK_INT(c.nfired, 4);
    CHECK_INT(l.wakeups, 4); /* one wake per tick, none in between */
    CHECK(timer_armed(&tick.t)); /* the fifth tick is pending when the loop stops */
    watchdog_disarm(&wd);
    loop_free(&l);
    CHECK(!timer_armed(&tick.t));
}

/* Nothing wakes when nothing happens: one timer 20 ms ahead, nothing else, and loop_run
 * returns after that one wake (2 at the very most), never before the deadline. */
TEST(one_timer_does_not_spin)
{
    struct loop l;
    struct tctx c = {0};
    struct ttimer t;
    uint64_t deadline;

    CHECK_INT(loop_init(&l), 0);
    c.l = &l;
    c.stop_after = 1;
    ttimer_init(&t, &c, 1);
    deadline = timer_now_ns() + 20 * MS;
    CHECK_INT(loop_timer_arm(&l, &t.t, deadline), 0);
    CHECK_INT(loop_run(&l), 0);
    CHECK_INT(c.nfired, 1);
    CHECK(!c.misfired);
    CHECK(timer_now_ns() >= deadline);
    CHECK(l.wakeups >= 1);
    CHECK(l.wakeups <= 2);
    loop_free(&l);
}

/* A cancelled timer leaves nothing armed: with only it and a pipe written at +15 ms, the
 * loop wakes once, for the pipe. */
TEST(cancelled_timer_does_not_wake)
{
    struct loop l;
    struct watchdog wd;
    struct tctx c = {0};
    struct ttimer t;
    struct pipe_w p;
    struct timer writer;
    uint64_t now = timer_now_ns();

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    c.l = &l;
    ttimer_init(&t, &c, 1);
    pipe_open(&p, &l);
    p.stop_on_call = true;
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_pipe, &p), 0);
    timer_init(&writer, write_byte, &p);
    CHECK_INT(loop_timer_arm(&l, &t.t, now + 3 * MS), 0);
    CHECK_INT(loop_timer_arm(&l, &writer, now + 15 * MS), 0);
    loop_timer_cancel(&l, &t.t);
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(c.nfired, 0);
    CHECK_INT(p.calls, 1);
    CHECK(l.wakeups <= 2); /* the writer's deadline, then the pipe (maybe the same wake) */
    loop_del(&l, &p.w);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

TEST(loop_stop_ends_loop_run)
{
    struct loop l;
    struct watchdog wd;
    struct pipe_w p;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l, WATCHDOG_MS);
    pipe_open(&p, &l);
    p.stop_on_call = true;
    CHECK_INT(loop_add(&l, &p.w, p.rfd, EPOLLIN, on_pipe, &p), 0);
    pipe_put(&p, 'a');
    pipe_put(&p, 'b'); /* still readable after the first call: only loop_stop ends it */
    CHECK_INT(loop_run(&l), 0);
    CHECK(!wd.fired);
    CHECK_INT(p.calls, 1);
    CHECK_INT(l.wakeups, 1);
    CHECK(l.stopping);
    loop_del(&l, &p.w);
    pipe_close(&p);
    watchdog_disarm(&wd);
    loop_free(&l);
}

HARNESS_MAIN()
