/* fdring: files held in an io_uring's registered table (see fdring.h).
 *
 * Completions are told apart by their user_data: the kind (a poll of a watched slot, or the
 * one synchronous operation in flight), the slot, its watch generation (a poll cancelled by
 * fdring_unwatch still completes, with -ECANCELED, and must not reach a later watch of the
 * same slot), and this process's epoch (an adopted ring may still hold completions of the
 * supervisor that made it). Completions of polls are collected first and their callbacks
 * run from the loop only, never from inside a synchronous operation (which may itself run
 * inside a callback): a completion reaped there is kept, and a wake brings the loop back for
 * it. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fdring.h"
#include "log.h"
#include "util/fd.h"

#ifndef TEND_NO_IO_URING
#include <liburing.h>

#define RING_SQ 256
#define RING_CQ 4096
#define DISPATCH_MAX 1024          /* callbacks a turn of the loop; then it comes back */
/* Linux 6.8's opcode; Debian 12's headers predate it (a probe tells whether it is there). */
#define OP_FIXED_FD_INSTALL 54

#define KIND_POLL 1ULL
#define KIND_SYNC 2ULL
#define UD(kind, epoch, gen, slot) \
    ((kind) << 60 | (uint64_t)((epoch) & 0xfffffu) << 40 | (uint64_t)((gen) & 0xffu) << 32 | \
     (uint64_t)(uint32_t)(slot))
#define UD_KIND(u) ((u) >> 60)
#define UD_EPOCH(u) ((uint32_t)((u) >> 40) & 0xfffffu)
#define UD_GEN(u) ((uint32_t)((u) >> 32) & 0xffu)
#define UD_SLOT(u) ((uint32_t)(u))

struct slot {
    fdring_fn *fn;        /* NULL: not watched */
    void *ctx;
    uint32_t revents;     /* of the completion waiting in the pending list */
    uint8_t gen;          /* of the current watch */
    bool held;            /* a file is there (ours) */
    bool armed;           /* a poll of the current watch is in the ring */
    bool pending;         /* in the pending list */
};

static struct {
    bool up;
    struct io_uring ring;
    struct loop *loop;
    struct watcher w;
    struct loop_wake wake;
    uint32_t epoch;
    unsigned nslots;
    struct slot *slots;   /* nslots */
    uint32_t *free;       /* free slot numbers, a stack (lowest on top) */
    unsigned nfree;
    uint32_t *pending;    /* slots whose callback is due */
    unsigned npending;
    unsigned held;
    uint64_t sync_seq;    /* the synchronous operation's number */
    bool sync_done;
    int sync_res;
    bool dispatching;
    bool adopting;        /* adopted, and fdring_settle not called yet */
} R = {.w = {.fd = -1}, .wake = {.fd = -1}};

static int probed = -1;

bool fdring_available(void)
{
    if (probed == -1) {
        struct io_uring_probe *p = io_uring_get_probe();
        probed = p != NULL && io_uring_opcode_supported(p, OP_FIXED_FD_INSTALL) &&
                 io_uring_opcode_supported(p, IORING_OP_POLL_ADD) &&
                 io_uring_opcode_supported(p, IORING_OP_POLL_REMOVE);
        io_uring_free_probe(p); /* accepts NULL */
    }
    return probed == 1;
}

/* ---- completions ---- */

static void reap(void);

/* One completion. */
static void complete(uint64_t ud, int res)
{
    uint32_t n = UD_SLOT(ud);

    if (UD_EPOCH(ud) != R.epoch)
        return; /* the previous supervisor's */
    if (UD_KIND(ud) == KIND_SYNC) {
        if ((ud & 0xffffffffffULL) == (R.sync_seq & 0xffffffffffULL)) {
            R.sync_done = true;
            R.sync_res = res;
        }
        return;
    }
    if (UD_KIND(ud) != KIND_POLL || n >= R.nslots)
        return;
    struct slot *s = &R.slots[n];
    if (s->fn == NULL || UD_GEN(ud) != s->gen || !s->armed)
        return; /* cancelled, or a watch that ended */
    s->armed = false;
    if (res < 0) {
        /* A poll that failed (not cancelled: that is a past watch) is armed again by the
         * dispatch; report it as an error so the owner reads and finds out. */
        res = POLLERR;
    }
    s->revents = (uint32_t)res;
    if (!s->pending) {
        s->pending = true;
        R.pending[R.npending++] = n;
    }
}

static void reap(void)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;

    io_uring_for_each_cqe(&R.ring, head, cqe) {
        complete(cqe->user_data, cqe->res);
        seen++;
    }
    io_uring_cq_advance(&R.ring, seen);
}

static void arm(uint32_t n)
{
    struct slot *s = &R.slots[n];
    struct io_uring_sqe *sqe = io_uring_get_sqe(&R.ring);

    if (sqe == NULL) {
        /* The queue is full of arms: send them, then there is room. */
        (void)io_uring_submit(&R.ring);
        sqe = io_uring_get_sqe(&R.ring);
    }
    if (sqe == NULL) {
        /* Cannot happen after a submit; run the callback again later rather than lose it. */
        s->revents = POLLIN;
        if (!s->pending) {
            s->pending = true;
            R.pending[R.npending++] = n;
        }
        loop_wake_set(&R.wake, true);
        return;
    }
    io_uring_prep_poll_add(sqe, (int)n, POLLIN);
    sqe->flags |= IOSQE_FIXED_FILE;
    io_uring_sqe_set_data64(sqe, UD(KIND_POLL, R.epoch, s->gen, n));
    s->armed = true;
}

/* Runs the due callbacks (at most DISPATCH_MAX), then arms every watch that needs it. */
static void dispatch(void)
{
    unsigned done = 0;

    if (R.dispatching)
        return;
    R.dispatching = true;
    reap();
    while (R.npending > 0 && done < DISPATCH_MAX) {
        uint32_t n = R.pending[--R.npending];
        struct slot *s = &R.slots[n];
        s->pending = false;
        if (s->fn == NULL)
            continue;
        done++;
        s->fn(s->ctx, s->revents);
        if (s->fn != NULL && !s->armed && !s->pending)
            arm(n);
        if (R.npending == 0)
            reap(); /* what the callbacks' own operations brought in */
    }
    R.dispatching = false;
    loop_wake_set(&R.wake, R.npending > 0);
    if (io_uring_submit(&R.ring) < 0)
        log_msg(LOG_LVL_WARN, "fdring: cannot submit polls: %s", strerror(errno));
}

/* The ring's descriptor (completions came) and the wake (completions kept) alike. */
static void on_ready(struct watcher *w, uint32_t events)
{
    (void)w;
    (void)events;
    dispatch();
}

/* Submits the one prepared sqe (user_data set by the caller from R.sync_seq) and waits for
 * its completion, keeping any poll completions that come with it. Its result. */
static int sync_run(void)
{
    int rc = io_uring_submit(&R.ring);

    if (rc < 0)
        return rc;
    while (!R.sync_done) {
        struct io_uring_cqe *cqe;
        reap();
        if (R.sync_done)
            break;
        rc = io_uring_wait_cqe(&R.ring, &cqe);
        if (rc < 0 && rc != -EINTR)
            return rc;
    }
    if (R.npending > 0 && !R.dispatching)
        loop_wake_set(&R.wake, true);
    return R.sync_res;
}

static struct io_uring_sqe *sync_sqe(void)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&R.ring);

    if (sqe == NULL) {
        (void)io_uring_submit(&R.ring);
        sqe = io_uring_get_sqe(&R.ring);
    }
    if (sqe != NULL) {
        R.sync_seq++;
        R.sync_done = false;
        io_uring_sqe_set_data64(sqe, UD(KIND_SYNC, R.epoch, R.sync_seq >> 32, R.sync_seq));
    }
    return sqe;
}

/* ---- set-up ---- */

static void free_slots(void)
{
    free(R.slots);
    free(R.free);
    free(R.pending);
    R.slots = NULL;
    R.free = R.pending = NULL;
    R.nslots = R.nfree = R.npending = R.held = 0;
}

static int alloc_slots(unsigned slots)
{
    R.slots = calloc(slots, sizeof(*R.slots));
    R.free = malloc(slots * sizeof(*R.free));
    R.pending = malloc(slots * sizeof(*R.pending));
    if (R.slots == NULL || R.free == NULL || R.pending == NULL) {
        free_slots();
        errno = ENOMEM;
        return -1;
    }
    R.nslots = slots;
    R.nfree = slots;
    for (unsigned i = 0; i < slots; i++)
        R.free[i] = slots - 1 - i; /* 0 on top */
    return 0;
}

static void params(struct io_uring_params *p)
{
    memset(p, 0, sizeof(*p));
    p->flags = IORING_SETUP_CQSIZE;
    p->cq_entries = RING_CQ;
}

/* The loop's side: the ring's descriptor, and the wake for completions kept. */
static int attach_loop(struct loop *loop)
{
    R.loop = loop;
    R.epoch = (uint32_t)getpid() & 0xfffffu;
    if (loop_add(loop, &R.w, R.ring.ring_fd, EPOLLIN, on_ready, NULL) == -1)
        return -1;
    if (loop_wake_init(loop, &R.wake, on_ready, NULL, false) == -1) {
        loop_del(loop, &R.w);
        return -1;
    }
    return 0;
}

int fdring_open(struct loop *loop, unsigned slots)
{
    struct io_uring_params p;
    struct rlimit rl;
    int rc;

    if (R.up)
        return 0;
    if (!fdring_available()) {
        errno = ENOSYS;
        return -1;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        slots > rl.rlim_cur)
        slots = (unsigned)rl.rlim_cur;
    if (slots == 0) {
        errno = EINVAL;
        return -1;
    }
    params(&p);
    rc = io_uring_queue_init_params(RING_SQ, &R.ring, &p);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    rc = io_uring_register_files_sparse(&R.ring, slots);
    if (rc < 0 || alloc_slots(slots) == -1 || attach_loop(loop) == -1) {
        int err = rc < 0 ? -rc : errno;
        io_uring_queue_exit(&R.ring);
        free_slots();
        errno = err;
        return -1;
    }
    R.up = true;
    return 0;
}

int fdring_adopt(struct loop *loop, int fd, unsigned slots)
{
    struct io_uring_params p;
    struct io_uring probe_ring;
    int rc;

    if (R.up || slots == 0 || !fdring_available()) {
        errno = R.up ? EBUSY : slots == 0 ? EINVAL : ENOSYS;
        return -1;
    }
    /* The kernel lays a ring out by its sizes and flags alone: a ring made the same way
     * tells where the adopted one's queues are in its mapping. */
    params(&p);
    rc = io_uring_queue_init_params(RING_SQ, &probe_ring, &p);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    io_uring_queue_exit(&probe_ring);
    rc = io_uring_queue_mmap(fd, &p, &R.ring);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    /* Submissions go on from where the last supervisor's stopped. */
    R.ring.sq.sqe_head = R.ring.sq.sqe_tail = io_uring_smp_load_acquire(R.ring.sq.ktail);
    if (alloc_slots(slots) == -1 || attach_loop(loop) == -1) {
        int err = errno;
        /* The mapping goes, the descriptor stays the caller's. */
        R.ring.ring_fd = -1;
        io_uring_queue_exit(&R.ring);
        free_slots(); /* accepts what alloc_slots did not allocate */
        errno = err;
        return -1;
    }
    R.nfree = 0; /* none until fdring_settle: the restore claims its slots first */
    R.up = true;
    R.adopting = true;
    /* The previous supervisor's completions are not ours (their epoch differs). */
    reap();
    return 0;
}

int fdring_claim(int slot)
{
    if (!R.up || !R.adopting || slot < 0 || (unsigned)slot >= R.nslots ||
        R.slots[slot].held) {
        errno = EINVAL;
        return -1;
    }
    R.slots[slot].held = true;
    R.held++;
    return 0;
}

int fdring_settle(void)
{
    int *fds, rc;

    if (!R.up || !R.adopting)
        return 0;
    R.adopting = false;
    fds = malloc(R.nslots * sizeof(*fds));
    if (fds == NULL) {
        errno = ENOMEM;
        return -1;
    }
    R.nfree = 0;
    for (unsigned i = R.nslots; i-- > 0;) {
        /* IORING_REGISTER_FILES_SKIP (-2) leaves a claimed slot's file as it is. */
        fds[i] = R.slots[i].held ? -2 : -1;
        if (!R.slots[i].held)
            R.free[R.nfree++] = i;
    }
    rc = io_uring_register_files_update(&R.ring, 0, fds, R.nslots);
    free(fds);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int fdring_ring_fd(void)
{
    return R.up ? R.ring.ring_fd : -1;
}

unsigned fdring_slots(void)
{
    return R.up ? R.nslots : 0;
}

unsigned fdring_held(void)
{
    return R.held;
}

static int set_file(unsigned n, int fd)
{
    int rc = io_uring_register_files_update(&R.ring, n, &fd, 1);

    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}

int fdring_hold(int fd)
{
    if (!R.up) {
        errno = ENODEV;
        return -1;
    }
    if (R.nfree == 0) {
        errno = ENOSPC;
        return -1;
    }
    uint32_t n = R.free[R.nfree - 1];
    if (set_file(n, fd) == -1)
        return -1;
    R.nfree--;
    R.slots[n].held = true;
    R.held++;
    (void)close(fd); /* the ring has its own reference: nothing is lost with ours */
    return (int)n;
}

static bool valid(int slot)
{
    return R.up && slot >= 0 && (unsigned)slot < R.nslots && R.slots[slot].held;
}

int fdring_fd(int slot)
{
    struct io_uring_sqe *sqe;

    if (!valid(slot)) {
        errno = EBADF;
        return -1;
    }
    sqe = sync_sqe();
    if (sqe == NULL) {
        errno = EBUSY;
        return -1;
    }
    /* IORING_OP_FIXED_FD_INSTALL: every other field zero; install flags 0 mean O_CLOEXEC. */
    sqe->opcode = OP_FIXED_FD_INSTALL;
    sqe->fd = slot;
    sqe->flags |= IOSQE_FIXED_FILE;
    int rc = sync_run();
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return rc;
}

int fdring_watch(int slot, fdring_fn *fn, void *ctx)
{
    struct slot *s;

    if (!valid(slot)) {
        errno = EBADF;
        return -1;
    }
    s = &R.slots[slot];
    if (s->fn != NULL) {
        s->fn = fn;
        s->ctx = ctx;
        return 0;
    }
    s->fn = fn;
    s->ctx = ctx;
    s->gen++;
    arm((uint32_t)slot);
    if (!R.dispatching && io_uring_submit(&R.ring) < 0) {
        int err = errno;
        s->fn = NULL;
        s->armed = false;
        errno = err;
        return -1;
    }
    return 0;
}

bool fdring_watched(int slot)
{
    return valid(slot) && R.slots[slot].fn != NULL;
}

void fdring_unwatch(int slot)
{
    struct slot *s;

    if (!valid(slot) || R.slots[slot].fn == NULL)
        return;
    s = &R.slots[slot];
    s->fn = NULL;
    s->ctx = NULL;
    if (s->armed) {
        /* The poll holds a reference to the file: it must go before the file can. Its
         * completion (-ECANCELED) is then ignored by its generation. */
        struct io_uring_sqe *sqe = sync_sqe();
        if (sqe != NULL) {
            io_uring_prep_poll_remove(sqe, UD(KIND_POLL, R.epoch, s->gen, slot));
            int rc = sync_run();
            if (rc < 0 && rc != -ENOENT && rc != -EALREADY)
                log_msg(LOG_LVL_WARN, "fdring: cannot cancel the poll of slot %d: %s", slot,
                        strerror(-rc));
        }
        s->armed = false;
    }
    s->gen++;
}

void fdring_drop(int slot)
{
    if (!valid(slot))
        return;
    fdring_unwatch(slot);
    if (set_file((unsigned)slot, -1) == -1)
        log_msg(LOG_LVL_WARN, "fdring: cannot close slot %d: %s", slot, strerror(errno));
    R.slots[slot].held = false; /* a pending entry stays: dispatch skips it (no callback) */
    R.held--;
    R.free[R.nfree++] = (uint32_t)slot;
}

void fdring_close(void)
{
    if (!R.up)
        return;
    loop_wake_fini(R.loop, &R.wake);
    loop_del(R.loop, &R.w);
    io_uring_queue_exit(&R.ring);
    free_slots();
    R.up = false;
    R.adopting = false;
}

#else /* TEND_NO_IO_URING: a build without liburing (the static one) holds nothing past the
       * limit; fdbudget then counts every pipe as a descriptor, as without io_uring. */

bool fdring_available(void)
{
    return false;
}

int fdring_open(struct loop *loop, unsigned slots)
{
    (void)loop;
    (void)slots;
    errno = ENOSYS;
    return -1;
}

int fdring_adopt(struct loop *loop, int fd, unsigned slots)
{
    (void)loop;
    (void)fd;
    (void)slots;
    errno = ENOSYS;
    return -1;
}

int fdring_claim(int slot)
{
    (void)slot;
    errno = EINVAL;
    return -1;
}

int fdring_settle(void)
{
    return 0;
}

int fdring_ring_fd(void)
{
    return -1;
}

unsigned fdring_slots(void)
{
    return 0;
}

unsigned fdring_held(void)
{
    return 0;
}

int fdring_hold(int fd)
{
    (void)fd;
    errno = ENODEV;
    return -1;
}

int fdring_fd(int slot)
{
    (void)slot;
    errno = EBADF;
    return -1;
}

int fdring_watch(int slot, fdring_fn *fn, void *ctx)
{
    (void)slot;
    (void)fn;
    (void)ctx;
    errno = EBADF;
    return -1;
}

void fdring_unwatch(int slot)
{
    (void)slot;
}

bool fdring_watched(int slot)
{
    (void)slot;
    return false;
}

void fdring_drop(int slot)
{
    (void)slot;
}

void fdring_close(void)
{
}

#endif
