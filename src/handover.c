/* handover: the supervisor's side of the keeper (see handover.h).
 *
 * The state file layout is this version's own (a magic and a version number in the header):
 * a supervisor that finds a layout it does not know refuses to start rather than guess,
 * since a wrong guess would start duplicates of running programs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "adopt.h"
#include "events.h"
#include "fdring.h"
#include "handover.h"
#include "ident.h"
#include "keeper.h"
#include "log.h"
#include "logcap.h"
#include "spawn.h"
#include "supervisor.h"
#include "util/fd.h"

#define STATE_MAGIC 0x3174617473646e74ULL /* "tndstat1" */
#define STATE_VERSION 1
#define FIRST_CAP 64
#define HELLO_TIMEOUT_MS 5000
#define BATCH 128                   /* records per message from the keeper, at most */
#define FILE_DELAY_NS 200000000ULL  /* the state file is rewritten at most this often, */
#define FILE_COST_SHARE 20          /* and 1/20 of the time at most (see file_changed) */
#define FILE_DELAY_MAX_NS 5000000000ULL
#define FILE_LINE_MAX 256
#define NFDS 6                      /* a slot's descriptors: rec.fds, then rec.ev_fds */
#define EV_TAG 0x7f4c5354           /* rec.ev_* are set; its DEL byte is in no reason text */

struct rec {
    uint64_t name_hash;
    uint64_t id_lo_ns, id_hi_ns;    /* CLOCK_BOOTTIME window of pid's start */
    uint64_t lid_lo_ns, lid_hi_ns;  /* ... of launcher_pid's */
    uint64_t start_ns, deadline_ns, last_run_ns; /* CLOCK_MONOTONIC */
    int32_t state, pid, launcher_pid, backoff, crashes, last_status, last_pid;
    uint32_t restarts;
    int32_t fds[4];                 /* stdout read, write; stderr read, write; -1: none */
    uint8_t used, exec_ok, start_elapsed, pending_start, pending_auto_restart, crash_loop,
        adopted, spawning;
    char name[64];                  /* for a person reading a dump; the hash is the key */
    char reason[96];
    /* An event listener's protocol pipes (its stdout's read end, its stdin's write end) and
     * step (events.h), taken from the end of the reason like the shortage below: they count
     * only when ev_tag is EV_TAG, which no older supervisor's text or zeros are. */
    int32_t ev_tag, ev_step, ev_fds[2];
    /* The resource shortage it waits out (proc.h). Taken from the end of what was a 120-byte
     * reason, so the layout and STATE_VERSION stay: an older supervisor left zeros or text
     * there, which never reads as a shortage errno (see restore). */
    int32_t shortage_err, shortage_tries;
};
_Static_assert(sizeof(struct rec) == 304, "struct rec is STATE_VERSION 1's layout");

/* Whether fd came from the keeper: open, and still inheritable (everything the supervisor
 * opens itself is close-on-exec, and what it claims from the keeper is made so). A number a
 * slot names that is not (the keeper let it go, and a supervisor died before it wrote the
 * slot again) is not ours to use or close. */
static bool inherited(int fd)
{
    int fl = fd >= KEEPER_FIRST_FD ? fcntl(fd, F_GETFD) : -1;

    return fl != -1 && (fl & FD_CLOEXEC) == 0;
}

/* All the descriptors a slot names: the capture pipes, then the listener's. A capture pipe
 * held in the ring (its slot where the write end was, logcap_fds) is no descriptor. */
static void rec_fds(const struct rec *r, int fds[NFDS])
{
    bool ev = r->ev_tag == EV_TAG;

    for (int k = 0; k < 4; k++)
        fds[k] = r->fds[k] < -1 ? -1 : r->fds[k];
    fds[4] = ev ? r->ev_fds[0] : -1;
    fds[5] = ev ? r->ev_fds[1] : -1;
}

struct slot {
    uint32_t active;                /* which rec is current; flipped with one store */
    uint32_t pad;
    struct rec rec[2];
};

struct header {
    uint64_t magic;
    uint32_t version;
    uint32_t cap;                   /* slots */
    int32_t control_fd;
    uint32_t generation;
    int32_t config_fd;              /* the config in force (confsnap.h); < 6: none */
    uint32_t pad;
    /* tend-web's listening socket (websock.h); < 6: none. Taken from what was reserved, so
     * the layout and STATE_VERSION stay: an older supervisor left 0 there. */
    int32_t web_fd;
    uint32_t pad2;
    /* LEFT_FOR_UPGRADE: the supervisor that wrote this state left it for `tend upgrade`,
     * so the next one is not a restart after a crash. Taken from what was reserved, like
     * web_fd: an older supervisor leaves 0 and ignores it. */
    uint32_t left_for;
    uint32_t pad3;
    /* The io_uring holding capture pipes past the descriptor limit (fdring.h) and its
     * table's size; < 6: none. Taken from what was reserved, like web_fd. */
    int32_t ring_fd;
    uint32_t ring_slots;
    uint64_t reserved;
};

#define LEFT_FOR_UPGRADE 0x55504752u /* "UPGR" */

/* A program a previous, dead tend left running, from its state file: its start window
 * (version 2), or its start time and command name (version 1, an older tend's). */
struct cold {
    uint64_t name_hash;
    pid_t pid;
    uint64_t lo_ns, hi_ns;          /* CLOCK_BOOTTIME; hi_ns 0: version 1 */
    unsigned long long start_ticks;
    char comm[32];
};

struct handover {
    struct supervisor *sup;
    int keeper_fd;                  /* -1: no keeper (gone, or never) */
    pid_t keeper_pid;
    bool keeper_lost;               /* there was a keeper, and it died */
    struct watcher keeper_w;
    int state_fd;
    struct header *hdr;             /* the mapping: header, then cap slots */
    size_t map_len;
    bool restoring;
    unsigned generation;
    uint32_t *free_slots;           /* a stack of free slot indices */
    size_t nfree;
    /* The state file for a cold start (both keeper and supervisor gone): this boot's id,
     * then every live program's name hash, pid and start window, rewritten atomically. */
    char *file_path;
    char boot_id[40];               /* "-": not known */
    struct timer file_timer;
    uint64_t file_cost_ns;          /* how long its last rewrite took */
    bool file_dirty;
    struct cold *cold;              /* what the file said at start-up, until matched */
    size_t ncold;
    /* Exits the keeper reaped, received at start-up: matched against restored services. */
    struct keeper_msg *exits;
    size_t nexits, cap_exits;
};

static void file_changed(struct handover *h);
static void write_file(struct handover *h);
static bool cold_adopt(struct handover *h, struct service *svc);
static bool cold_same(const struct cold *c, unsigned long long *start_ticks);
static int read_comm(pid_t pid, char *buf, size_t len);

/* SIGTERM (and SIGCONT, should it be stopped) to a process left by a previous tend whose
 * program is no longer in the config, through a pidfd: checked by the caller, and not
 * reused in between since the pidfd pins it... as long as start_ticks still match. */
static void terminate_leftover(pid_t pid, unsigned long long start_ticks, const char *what)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct ident id;

    if (pfd == -1)
        return; /* gone meanwhile: nothing to stop */
    if (ident_read(pid, &id, NULL) == 0 && id.start_ticks == start_ticks) {
        log_msg(LOG_LVL_WARN, "%s: removed from the config while no supervisor ran: sending "
                "SIGTERM to pid %d", what, (int)pid);
        (void)syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0); /* gone: fine */
        (void)syscall(SYS_pidfd_send_signal, pfd, SIGCONT, NULL, 0);
    }
    (void)close(pfd);
}

static uint64_t boot_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_BOOTTIME, &ts); /* cannot fail for this clock */
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t tick_ns(void)
{
    long tck = sysconf(_SC_CLK_TCK);

    return 1000000000ULL / (uint64_t)(tck > 0 ? tck : 100);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct slot *slot_at(const struct handover *h, int i)
{
    return (struct slot *)((char *)h->hdr + sizeof(struct header)) + i;
}

static size_t map_size(uint32_t cap)
{
    return sizeof(struct header) + (size_t)cap * sizeof(struct slot);
}

static void send_op(struct handover *h, uint32_t op, int fd, bool attach)
{
    struct keeper_msg m = {.op = op, .fd = fd};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (h->keeper_fd == -1)
        return;
    if (attach) {
        memset(cbuf, 0, sizeof(cbuf));
        mh.msg_control = cbuf;
        mh.msg_controllen = sizeof(cbuf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    /* Blocking on purpose: a deposit must reach the keeper before the descriptor is used,
     * and the keeper reads its socket at once. A keeper that is gone gives EPIPE. */
    while (sendmsg(h->keeper_fd, &mh, MSG_NOSIGNAL) == -1) {
        if (errno == EINTR)
            continue;
        log_msg(LOG_LVL_WARN, "keeper: cannot send a message: %s", strerror(errno));
        return;
    }
}

static void deposit(struct handover *h, int fd)
{
    if (fd >= KEEPER_FIRST_FD)
        send_op(h, KEEPER_DEPOSIT, fd, true);
}

static void release(struct handover *h, int fd)
{
    if (fd >= KEEPER_FIRST_FD)
        send_op(h, KEEPER_RELEASE, fd, false);
}

void handover_deposit(struct handover *h, int fd)
{
    if (h != NULL && h->keeper_fd != -1)
        deposit(h, fd);
}

void handover_release(struct handover *h, int fd)
{
    if (h != NULL && h->keeper_fd != -1)
        release(h, fd);
}

/* ---- the keeper's messages ---- */

static void keeper_gone(struct handover *h)
{
    struct supervisor *sup = h->sup;

    log_msg(LOG_LVL_ERROR, "keeper pid %d is gone: tend goes on supervising, but a death of "
            "this supervisor would now lose the programs' output and supervision (restart "
            "tend to get the safety net back)", (int)h->keeper_pid);
    loop_del(&sup->loop, &h->keeper_w);
    fd_close_quiet(h->keeper_fd);
    h->keeper_fd = -1;
    h->keeper_pid = 0;
    h->keeper_lost = true;
    /* The programs the keeper was the parent of: their exits now show only through their
     * pidfds, without a status. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *svc = sup->svcs[i];
        if (svc->kept && svc->pidfd != -1)
            adopt_pidfd_watch(svc);
        svc->kept = false;
    }
}

/* Reads what the keeper sent. `until_end`: block until HELLO_END (start-up) or timeout. */
/* What the supervisor's descriptor fd is, for a message: "NAME's stderr pipe" and the like,
 * or "descriptor N". */
static void describe_fd(const struct handover *h, int fd, char *buf, size_t len)
{
    static const char *const what[NFDS] = {
        "stdout pipe", "stdout pipe", "stderr pipe", "stderr pipe",
        "event protocol pipe", "event protocol pipe",
    };

    for (size_t i = 0; h->sup != NULL && i < h->sup->nsvcs; i++) {
        const struct service *svc = h->sup->svcs[i];
        int fds[NFDS];
        logcap_fds(svc->logcap, fds);
        (void)events_handover(svc, &fds[4]);
        for (int k = 0; k < NFDS; k++) {
            if (fds[k] == fd) {
                snprintf(buf, len, "%s's %s", svc->display, what[k]);
                return;
            }
        }
    }
    snprintf(buf, len, "descriptor %d", fd);
}

static int read_keeper(struct handover *h, bool until_end)
{
    struct keeper_msg batch[BATCH];

    for (;;) {
        ssize_t n = recv(h->keeper_fd, batch, sizeof(batch), until_end ? 0 : MSG_DONTWAIT);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            keeper_gone(h);
            return -1;
        }
        for (size_t i = 0; i < (size_t)n / sizeof(batch[0]); i++) {
            const struct keeper_msg *m = &batch[i];
            if (m->op == KEEPER_HELLO_END) {
                if (m->status > 0)
                    log_msg(LOG_LVL_WARN, "keeper: %d exit statuses were lost while no "
                            "supervisor ran (more exits than it keeps)", m->status);
                if (until_end)
                    return 0;
            } else if (m->op == KEEPER_NOT_HELD) {
                char what[320];
                describe_fd(h, m->fd, what, sizeof(what));
                log_msg(LOG_LVL_WARN, "keeper: cannot hold %s: %s (%d such in all since the "
                        "last report); should this supervisor die, it is lost (a pipe: its "
                        "program's output until the program restarts)", what,
                        strerror(m->pid), m->status);
            } else if (m->op == KEEPER_EXITED) {
                if (h->restoring && until_end) {
                    if (h->nexits == h->cap_exits) {
                        size_t cap = h->cap_exits ? h->cap_exits * 2 : 256;
                        struct keeper_msg *p = realloc(h->exits, cap * sizeof(*p));
                        if (p == NULL)
                            continue; /* that exit will show as an unknown status */
                        h->exits = p;
                        h->cap_exits = cap;
                    }
                    h->exits[h->nexits++] = *m;
                } else {
                    sup_exited(h->sup, m->pid, m->status, true, m->when_ns);
                }
            }
        }
    }
}

static void on_keeper(struct watcher *w, uint32_t events)
{
    struct handover *h = w->ctx;

    (void)events;
    (void)read_keeper(h, false);
}

/* ---- the state ---- */

static int grow(struct handover *h, uint32_t cap)
{
    uint32_t old = h->hdr ? h->hdr->cap : 0;
    void *p;

    if (ftruncate(h->state_fd, (off_t)map_size(cap)) == -1)
        return -1;
    if (h->hdr == NULL)
        p = mmap(NULL, map_size(cap), PROT_READ | PROT_WRITE, MAP_SHARED, h->state_fd, 0);
    else
        p = mremap(h->hdr, h->map_len, map_size(cap), MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return -1;
    h->hdr = p;
    h->map_len = map_size(cap);
    uint32_t *fs = realloc(h->free_slots, (h->nfree + (cap - old) + 1) * sizeof(*fs));
    if (fs == NULL)
        return -1;
    h->free_slots = fs;
    /* Highest first on the stack, so slots are handed out from 0 up. */
    for (uint32_t i = cap; i-- > old;)
        h->free_slots[h->nfree++] = i;
    h->hdr->cap = cap;
    return 0;
}

static int map_existing(struct handover *h)
{
    struct header hd;
    off_t size = lseek(h->state_fd, 0, SEEK_END);

    if (size < (off_t)sizeof(hd) || pread(h->state_fd, &hd, sizeof(hd), 0) != sizeof(hd)) {
        errno = EINVAL;
        return -1;
    }
    if (hd.magic != STATE_MAGIC || hd.version != STATE_VERSION ||
        (off_t)map_size(hd.cap) > size) {
        errno = EPROTO;
        return -1;
    }
    h->hdr = mmap(NULL, map_size(hd.cap), PROT_READ | PROT_WRITE, MAP_SHARED, h->state_fd, 0);
    if (h->hdr == MAP_FAILED) {
        h->hdr = NULL;
        return -1;
    }
    h->map_len = map_size(hd.cap);
    return 0;
}

struct handover *handover_open(struct supervisor *sup, int keeper_fd, int state_fd)
{
    struct handover *h = calloc(1, sizeof(*h));
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (h == NULL)
        return NULL;
    h->sup = sup;
    h->keeper_fd = keeper_fd;
    h->keeper_w.fd = -1;
    h->state_fd = state_fd;
    h->generation = 1;
    if (keeper_fd != -1 &&
        getsockopt(keeper_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        h->keeper_pid = cred.pid;
    if (state_fd != -1) {
        /* Inherited without close-on-exec: our children must not get it. */
        (void)fcntl(state_fd, F_SETFD, FD_CLOEXEC); /* valid fd: cannot fail */
        if (map_existing(h) == -1)
            goto fail;
        h->restoring = true;
        uint32_t cap = h->hdr->cap;
        h->free_slots = calloc(cap + 1, sizeof(*h->free_slots));
        if (h->free_slots == NULL)
            goto fail;
        for (uint32_t i = cap; i-- > 0;) {
            struct slot *s = slot_at(h, (int)i);
            if (!s->rec[s->active & 1].used)
                h->free_slots[h->nfree++] = i;
        }
    } else {
        h->state_fd = memfd_create("tend-state", MFD_CLOEXEC);
        if (h->state_fd == -1 || grow(h, FIRST_CAP) == -1)
            goto fail;
        h->hdr->magic = STATE_MAGIC;
        h->hdr->version = STATE_VERSION;
        h->hdr->control_fd = -1;
        h->hdr->config_fd = -1;
        h->hdr->web_fd = -1;
        h->hdr->ring_fd = -1;
        /* Keep the state at a number the keeper accepts (not 0-5). */
        if (h->state_fd < KEEPER_FIRST_FD) {
            int nfd = fcntl(h->state_fd, F_DUPFD_CLOEXEC, KEEPER_FIRST_FD);
            if (nfd == -1)
                goto fail;
            (void)close(h->state_fd); /* the copy at nfd remains */
            h->state_fd = nfd;
        }
        send_op(h, KEEPER_STATE, h->state_fd, true);
    }
    if (keeper_fd != -1 &&
        loop_add(&sup->loop, &h->keeper_w, keeper_fd, EPOLLIN, on_keeper, h) == -1)
        goto fail;
    if (keeper_fd != -1)
        (void)loop_set_urgent(&sup->loop, &h->keeper_w); /* exits, like SIGCHLD */
    return h;
fail: {
    int err = errno;
    handover_close(h);
    errno = err;
    return NULL;
}
}

bool handover_restoring(const struct handover *h)
{
    return h != NULL && h->restoring;
}

int handover_control_fd(const struct handover *h)
{
    return h != NULL && h->restoring ? h->hdr->control_fd : -1;
}

void handover_set_control_fd(struct handover *h, int fd)
{
    if (h == NULL)
        return;
    if (!h->restoring || h->hdr->control_fd != fd)
        deposit(h, fd);
    h->hdr->control_fd = fd;
}

int handover_adopt_ring(struct handover *h, struct loop *loop)
{
    int fd = h != NULL && h->restoring ? h->hdr->ring_fd : -1;

    if (fd < KEEPER_FIRST_FD || !inherited(fd))
        return 0;
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* ours now; children never */
    if (fdring_adopt(loop, fd, h->hdr->ring_slots) == 0)
        return 0;
    /* Its pipes cannot be read: they go (a program writing to one gets EPIPE), and their
     * programs get new ones at their next start. */
    int err = errno;
    log_msg(LOG_LVL_ERROR, "cannot take back the io_uring holding %u capture pipes: %s; they "
            "are closed", h->hdr->ring_slots, strerror(err));
    release(h, fd);
    (void)close(fd);
    h->hdr->ring_fd = -1;
    errno = err;
    return -1;
}

void handover_set_ring(struct handover *h, int fd, unsigned slots)
{
    if (h == NULL || fd < KEEPER_FIRST_FD || fd == h->hdr->ring_fd)
        return;
    /* Not a deposit: the kernel refuses to pass an io_uring in a message. */
    send_op(h, KEEPER_TAKE, fd, false);
    h->hdr->ring_slots = slots;
    h->hdr->ring_fd = fd;
}

void handover_set_web_fd(struct handover *h, int fd)
{
    if (h == NULL)
        return;
    if (fd >= KEEPER_FIRST_FD && (!h->restoring || h->hdr->web_fd != fd))
        deposit(h, fd);
    h->hdr->web_fd = fd >= KEEPER_FIRST_FD ? fd : -1;
}

/* A descriptor the header of the state at state_fd names (web: tend-web's socket, else the
 * config in force), if it is one the keeper can have passed on and it is open; or -1. */
static int peek_fd(int state_fd, bool web)
{
    struct header hdr;

    if (pread(state_fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
        hdr.magic != STATE_MAGIC || hdr.version != STATE_VERSION)
        return -1;
    int fd = web ? hdr.web_fd : hdr.config_fd;
    return fd >= KEEPER_FIRST_FD && fcntl(fd, F_GETFD) != -1 ? fd : -1;
}

int handover_peek_web_fd(int state_fd)
{
    return peek_fd(state_fd, true);
}

int handover_peek_config_fd(int state_fd)
{
    return peek_fd(state_fd, false);
}

int handover_set_config_fd(struct handover *h, int fd)
{
    if (h == NULL) {
        fd_close_quiet(fd);
        return 0;
    }
    if (fd == h->hdr->config_fd) /* taken back from the previous supervisor */
        return fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fd < KEEPER_FIRST_FD) {
        /* At a number the keeper accepts (not 0-5). */
        int nfd = fcntl(fd, F_DUPFD_CLOEXEC, KEEPER_FIRST_FD);
        fd_close_quiet(fd);
        if (nfd == -1)
            return -1;
        fd = nfd;
    }
    deposit(h, fd);
    int old = h->hdr->config_fd;
    h->hdr->config_fd = fd;
    if (old >= KEEPER_FIRST_FD) {
        release(h, old);
        fd_close_quiet(old);
    }
    return 0;
}

void handover_ready(struct handover *h)
{
    if (h != NULL)
        send_op(h, KEEPER_READY, -1, false);
}

void handover_stopping(struct handover *h)
{
    if (h != NULL)
        send_op(h, KEEPER_STOPPING, -1, false);
}

int handover_upgrade(struct handover *h)
{
    if (h == NULL || h->keeper_fd == -1) {
        errno = ENOTCONN;
        return -1;
    }
    send_op(h, KEEPER_UPGRADE, -1, false);
    /* The keeper answers once it stops reaping; the exits it sent before that are applied
     * here, so the state we leave names no process that is already gone. */
    h->restoring = false;
    if (fd_set_blocking(h->keeper_fd) == -1 || read_keeper(h, true) == -1)
        return -1;
    if (h->hdr != NULL)
        h->hdr->left_for = LEFT_FOR_UPGRADE;
    return 0;
}

bool handover_take_upgrade_mark(struct handover *h)
{
    if (h == NULL || h->hdr == NULL)
        return false;
    bool upgrade = h->hdr->left_for == LEFT_FOR_UPGRADE;
    h->hdr->left_for = 0; /* the next supervisor after this one may follow a crash */
    return upgrade;
}

pid_t handover_keeper_pid(const struct handover *h)
{
    return h != NULL ? h->keeper_pid : 0;
}

bool handover_keeper_lost(const struct handover *h)
{
    return h != NULL && h->keeper_lost;
}

unsigned handover_generation(const struct handover *h)
{
    return h != NULL ? h->generation : 1;
}

void handover_set_generation(struct handover *h, unsigned generation)
{
    if (h != NULL) {
        h->generation = generation;
        h->hdr->generation = generation;
    }
}

void handover_close(struct handover *h)
{
    if (h == NULL)
        return;
    loop_del(&h->sup->loop, &h->keeper_w);
    fd_close_quiet(h->keeper_fd);
    if (h->hdr != NULL && h->hdr->config_fd >= KEEPER_FIRST_FD)
        fd_close_quiet(h->hdr->config_fd); /* the keeper keeps its own copy */
    if (h->hdr != NULL)
        (void)munmap(h->hdr, h->map_len); /* nothing to do if it fails: we are leaving */
    fd_close_quiet(h->state_fd);
    if (h->file_path != NULL) {
        if (h->file_dirty)
            write_file(h);
        loop_timer_cancel(&h->sup->loop, &h->file_timer);
    }
    free(h->file_path);
    free(h->cold);
    free(h->free_slots);
    free(h->exits);
    free(h);
}

/* ---- services ---- */

static void fill(struct rec *r, const struct service *svc, const int fds[NFDS], int ev_step)
{
    const struct proc *p = &svc->p;

    memset(r, 0, sizeof(*r));
    r->used = 1;
    r->name_hash = name_hash(p->conf->name);
    snprintf(r->name, sizeof(r->name), "%.63s", p->conf->name);
    r->state = (int32_t)p->state;
    r->pid = p->pid;
    r->id_lo_ns = svc->id_lo_ns;
    r->id_hi_ns = svc->id_hi_ns;
    r->launcher_pid = svc->launcher_pid;
    r->lid_lo_ns = svc->adopt != NULL ? svc->adopt->lid_lo_ns : 0;
    r->lid_hi_ns = svc->adopt != NULL ? svc->adopt->lid_hi_ns : 0;
    r->adopted = svc->adopted;
    r->spawning = svc->spawning ? 1 : svc->spawn_queued ? 2 : 0; /* 2: queued, not begun */
    r->start_ns = p->start_ns;
    r->deadline_ns = p->deadline_ns;
    r->last_run_ns = p->last_run_ns;
    r->backoff = p->backoff;
    r->crashes = p->crashes;
    r->last_status = p->last_status;
    r->last_pid = p->last_pid;
    r->restarts = p->restarts;
    r->exec_ok = p->exec_ok;
    r->start_elapsed = p->start_elapsed;
    r->pending_start = p->pending_start;
    r->pending_auto_restart = p->pending_auto_restart;
    r->crash_loop = p->crash_loop;
    memcpy(r->fds, fds, sizeof(r->fds));
    if (ev_step != EVS_NONE) {
        r->ev_tag = EV_TAG;
        r->ev_step = ev_step;
        r->ev_fds[0] = fds[4];
        r->ev_fds[1] = fds[5];
    }
    snprintf(r->reason, sizeof(r->reason), "%.95s", proc_reason(p));
    r->shortage_err = p->shortage_err;
    r->shortage_tries = p->shortage_tries;
}

static void write_slot(struct handover *h, struct service *svc, const int fds[NFDS],
                       int ev_step)
{
    struct slot *s = slot_at(h, svc->slot);
    uint32_t spare = (s->active & 1) ^ 1;

    fill(&s->rec[spare], svc, fds, ev_step);
    /* The spare copy is complete before it becomes the current one. */
    __atomic_store_n(&s->active, spare, __ATOMIC_RELEASE);
}

/* Empties slot i (the same flip as write_slot, so a kill leaves it whole) and makes it free
 * again. The free stack has room: every slot came from it or was never on it. */
static void clear_slot(struct handover *h, int i)
{
    struct slot *s = slot_at(h, i);
    uint32_t spare = (s->active & 1) ^ 1;

    memset(&s->rec[spare], 0, sizeof(s->rec[spare]));
    __atomic_store_n(&s->active, spare, __ATOMIC_RELEASE);
    h->free_slots[h->nfree++] = (uint32_t)i;
}

static const struct rec *current(const struct handover *h, int i)
{
    const struct slot *s = slot_at(h, i);

    return &s->rec[__atomic_load_n(&s->active, __ATOMIC_ACQUIRE) & 1];
}

static int find_slot(const struct handover *h, const char *name)
{
    uint64_t hash = name_hash(name);

    for (uint32_t i = 0; i < h->hdr->cap; i++) {
        const struct rec *r = current(h, (int)i);
        if (r->used && r->name_hash == hash)
            return (int)i;
    }
    return -1;
}

/* Whether a start time (in clock ticks since boot) is inside [lo - 1 tick, hi]. */
static bool started_within(unsigned long long start_ticks, uint64_t lo, uint64_t hi)
{
    uint64_t t = tick_ns(), start = start_ticks * t;

    return start + t >= lo && start <= hi;
}

/* Whether a live or zombie process pid started inside [lo - 1 tick, hi]: the one we
 * recorded. *ppid gets its parent, *ticks (when not NULL) its start time. */
static bool same_process(pid_t pid, uint64_t lo, uint64_t hi, pid_t *ppid,
                         unsigned long long *ticks)
{
    struct ident id;
    pid_t pgid, sid;

    if (pid <= 0 || ident_read(pid, &id, NULL) == -1 || ident_parents(pid, ppid, &pgid, &sid))
        return false;
    if (ticks != NULL)
        *ticks = id.start_ticks;
    return started_within(id.start_ticks, lo, hi);
}

/* The user a program runs as, as launch.c set it when it spawned: its config's user= (if
 * tend is root), else tend's own. (uid_t)-1, which matches nobody, if user= no longer
 * resolves. */
static uid_t run_uid_of(const struct proc_conf *c)
{
    uid_t uid;
    gid_t gid, *groups = NULL;
    size_t ngroups;
    char msg[160];

    if (c->user == NULL || geteuid() != 0)
        return geteuid();
    if (spawn_resolve_user(c->user, &uid, &gid, &groups, &ngroups, msg, sizeof(msg)) == -1)
        return (uid_t)-1;
    free(groups);
    return uid;
}

/* Takes back a restored service's process: watched through a pidfd, its exit reported by
 * the keeper (its parent now) or, when the keeper is not its parent, seen on the pidfd. */
static void take_back(struct handover *h, struct service *svc, const struct rec *r)
{
    pid_t ppid = 0;
    unsigned long long ticks;

    if (r->pid > 0 && same_process(r->pid, r->id_lo_ns, r->id_hi_ns, &ppid, &ticks)) {
        bool kept = ppid == h->keeper_pid && h->keeper_pid != 0;
        if (adopt_pidfd_open(svc, r->pid, ticks, !kept) == 0) {
            svc->kept = kept;
            log_msg(LOG_LVL_INFO, "%s: pid %d taken back (%s)", svc->display, (int)r->pid,
                    kept ? "the keeper reports its exit" : "watched through a pidfd");
            return;
        }
    }
    if (r->pid > 0) {
        svc->p.pid = r->pid;       /* not to be signalled: sup_exited comes first */
        svc->restored_gone = true; /* its exit comes from the keeper's records, if any */
    }
}

int handover_attach(struct service *svc)
{
    struct handover *h = svc->sup->handover;
    int fds[NFDS] = {-1, -1, -1, -1, -1, -1};

    svc->slot = -1;
    if (h == NULL)
        return 0;
    if (h->restoring) {
        int i = find_slot(h, svc->p.conf->name);
        if (i != -1) {
            const struct rec *r = current(h, i);
            struct proc *p = &svc->p;
            svc->slot = i;
            p->state = (enum proc_state)r->state;
            p->start_ns = r->start_ns;
            p->deadline_ns = r->deadline_ns;
            p->last_run_ns = r->last_run_ns;
            p->backoff = r->backoff;
            p->crashes = r->crashes;
            p->last_status = r->last_status;
            p->last_pid = r->last_pid;
            p->restarts = r->restarts;
            p->exec_ok = r->exec_ok;
            p->start_elapsed = r->start_elapsed;
            /* readiness= other than startsecs: start_elapsed is set by the readiness itself */
            p->ready_seen = r->start_elapsed && proc_waits_ready(p);
            p->pending_start = r->pending_start;
            p->pending_auto_restart = r->pending_auto_restart;
            p->crash_loop = r->crash_loop;
            /* The record keeps the first 95 bytes of the reason; a fresh record holds none,
             * so an empty one leaves it so. */
            if (r->reason[0] != '\0')
                proc_set_reason(p, "%.*s", (int)sizeof(r->reason), r->reason);
            /* Only in the states a wait is in, and only a shortage's errno: bytes an older
             * supervisor wrote there (text or zeros) never pass. */
            if ((p->state == PROC_BACKOFF || p->state == PROC_STARTING) &&
                proc_err_is_shortage(r->shortage_err) && r->shortage_tries > 0) {
                p->shortage_err = r->shortage_err;
                p->shortage_tries = r->shortage_tries;
            }
            svc->adopted = r->adopted;
            svc->run_uid = run_uid_of(svc->p.conf); /* its pidfile and its peer checks */
            svc->id_lo_ns = r->id_lo_ns;
            svc->id_hi_ns = r->id_hi_ns;
            svc->restored = true;
            rec_fds(r, fds);
            for (int k = 0; k < NFDS; k++) {
                if (fds[k] != -1 && !inherited(fds[k]))
                    fds[k] = -1;
                else if (fds[k] != -1)
                    (void)fcntl(fds[k], F_SETFD, FD_CLOEXEC); /* ours now; children never */
            }
            /* Pipes held in the ring, by slot: logcap claims them from the adopted ring. */
            for (int k = 1; k < 4; k += 2) {
                if (r->fds[k] < -1)
                    fds[k] = r->fds[k];
            }
            if (logcap_attach(svc->logcap, fds) == -1)
                log_msg(LOG_LVL_WARN, "%s: cannot take back its capture pipes: %s",
                        svc->display, strerror(errno));
            take_back(h, svc, r);
            char msg[300];
            if (svc->p.pid != 0 && !svc->restored_gone &&
                cgroup_svc_taken_back(svc->cg, svc->p.conf, svc->p.pid, msg, sizeof(msg)) == -1)
                log_msg(LOG_LVL_WARN, "%s: its process tree is not tracked again: %s",
                        svc->display, msg);
            /* An event listener taken back goes on with its protocol where it stood. Its
             * pipes are closed if it is gone, or if that step cannot be known: daemon.c
             * restarts it then. */
            int drop[2] = {-1, -1};
            if ((fds[4] != -1 || fds[5] != -1) &&
                (svc->p.pid == 0 || svc->restored_gone ||
                 events_take_back(svc, &fds[4], r->ev_step) == -1)) {
                drop[0] = fds[4];
                drop[1] = fds[5];
            }
            int ev_step = (int)events_handover(svc, &fds[4]);
            if (r->launcher_pid > 0 && r->launcher_pid == r->pid && svc->p.pid == r->pid) {
                /* pidfile mode before the pidfile: the process is the launcher */
                svc->launcher_pid = r->pid;
                adopt_launcher_window(svc, r->lid_lo_ns, r->lid_hi_ns);
            } else if (r->launcher_pid > 0 && r->launcher_pid != r->pid) {
                pid_t ppid;
                if (same_process(r->launcher_pid, r->lid_lo_ns, r->lid_hi_ns, &ppid, NULL)) {
                    svc->launcher_pid = r->launcher_pid;
                    adopt_launcher_window(svc, r->lid_lo_ns, r->lid_hi_ns);
                    svc->kept = svc->kept || ppid == h->keeper_pid;
                }
            }
            if (r->spawning == 2 && r->pid == 0 && p->state == PROC_STARTING) {
                /* Queued (launch.c), not begun: it takes its turn again. */
                svc->resume_spawn = true;
            } else if (r->spawning == 1 && r->pid == 0) {
                /* No child stored its pid (spawn_spec.note_pid): the fork did not happen.
                 * The spawn is done again, as a retry that is due now. */
                log_msg(LOG_LVL_WARN, "%s: the previous supervisor died while spawning it, "
                        "before the fork: spawning it again", svc->display);
                p->state = PROC_BACKOFF;
                p->deadline_ns = timer_now_ns();
            } else if (r->spawning == 1) {
                log_msg(LOG_LVL_INFO, "%s: the previous supervisor died while spawning pid "
                        "%d: taken over from there", svc->display, (int)r->pid);
            }
            write_slot(h, svc, fds, ev_step);
            /* Let go only once the slot no longer names them. */
            for (int k = 0; k < 2; k++) {
                release(h, drop[k]);
                if (drop[k] != -1)
                    (void)close(drop[k]); /* nothing reads or writes it any more */
            }
            return 0;
        }
    }
    if (h->nfree == 0 && grow(h, h->hdr->cap * 2) == -1)
        return -1;
    svc->slot = (int)h->free_slots[--h->nfree];
    if (h->ncold > 0)
        (void)cold_adopt(h, svc); /* not adopted: it starts like any other */
    write_slot(h, svc, fds, EVS_NONE);
    file_changed(h);
    return 0;
}

void handover_save(struct service *svc)
{
    struct handover *h = svc->sup->handover;
    int fds[NFDS], had[NFDS];

    if (h == NULL || svc->slot < 0)
        return;
    logcap_fds(svc->logcap, fds);
    int ev_step = (int)events_handover(svc, &fds[4]);
    const struct rec *r = current(h, svc->slot);
    rec_fds(r, had);
    /* New pipes go to the keeper before anything can write into them, and before the slot
     * names them; pipes that are gone are released only once it no longer does (a death in
     * between leaves the keeper holding one that nobody claims: the next supervisor
     * releases it). */
    for (int k = 0; k < NFDS; k++) {
        if (fds[k] != had[k] && fds[k] >= 0)
            deposit(h, fds[k]); /* not a ring slot (< -1): the ring is deposited once */
    }
    if (r->pid != svc->p.pid)
        file_changed(h);
    write_slot(h, svc, fds, ev_step);
    for (int k = 0; k < NFDS; k++) {
        if (fds[k] != had[k] && had[k] != -1)
            release(h, had[k]);
    }
}

void handover_spawn_begin(struct service *svc, volatile int32_t *note[2])
{
    struct handover *h = svc->sup->handover;

    svc->spawning = true;
    svc->id_lo_ns = boot_ns();
    svc->id_hi_ns = UINT64_MAX;
    if (adopt_pidfile_mode(svc)) {
        svc->adopted = false; /* what is forked now is the launcher */
        adopt_launcher_window(svc, svc->id_lo_ns, UINT64_MAX);
    }
    handover_save(svc);
    note[0] = note[1] = NULL;
    if (h == NULL || svc->slot < 0)
        return;
    /* The record just made current: nothing else writes this slot until spawn_end. */
    struct slot *s = slot_at(h, svc->slot);
    struct rec *r = &s->rec[__atomic_load_n(&s->active, __ATOMIC_ACQUIRE) & 1];
    note[0] = &r->pid;
    if (adopt_pidfile_mode(svc))
        note[1] = &r->launcher_pid;
}

void handover_spawn_end(struct service *svc)
{
    svc->spawning = false;
    svc->id_hi_ns = boot_ns();
    svc->kept = false;
    if (svc->launcher_pid == svc->p.pid) {
        adopt_launcher_window(svc, svc->id_lo_ns, svc->id_hi_ns);
    }
    handover_save(svc);
}

void handover_forget(struct service *svc)
{
    struct handover *h = svc->sup->handover;

    if (h == NULL || svc->slot < 0)
        return;
    int fds[NFDS];
    rec_fds(current(h, svc->slot), fds);
    clear_slot(h, svc->slot);
    for (int k = 0; k < NFDS; k++)
        release(h, fds[k]);
    svc->slot = -1;
}

static bool fd_claimed(const struct handover *h, int fd)
{
    if (fd == h->state_fd || fd == h->hdr->control_fd || fd == h->keeper_fd ||
        fd == h->hdr->config_fd || fd == h->hdr->web_fd || fd == h->hdr->ring_fd)
        return true;
    for (uint32_t i = 0; i < h->hdr->cap; i++) {
        const struct rec *r = current(h, (int)i);
        int fds[NFDS];
        if (!r->used)
            continue;
        rec_fds(r, fds);
        for (int k = 0; k < NFDS; k++) {
            if (fds[k] == fd)
                return true;
        }
    }
    return false;
}

/* Closes (and releases) every inherited descriptor that no slot claims: what a dead
 * supervisor deposited just before it could record it. */
static void release_strays(struct handover *h)
{
    int fds[1024], n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");

    if (d == NULL)
        return; /* without /proc, strays stay open: a leak, not a fault */
    /* Collected first, closed after: closing while reading the directory would skip. */
    while ((e = readdir(d)) != NULL && n < (int)(sizeof(fds) / sizeof(fds[0]))) {
        int fd = atoi(e->d_name), fl;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < KEEPER_FIRST_FD || fd == dirfd(d))
            continue;
        fl = fcntl(fd, F_GETFD);
        if (fl == -1 || (fl & FD_CLOEXEC) || fd_claimed(h, fd))
            continue; /* ours (close-on-exec), or claimed by a slot */
        fds[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        log_msg(LOG_LVL_DEBUG, "handover: releasing unclaimed descriptor %d", fds[i]);
        release(h, fds[i]);
        (void)close(fds[i]); /* unclaimed: nothing reads it */
    }
}

void handover_restore_done(struct supervisor *sup)
{
    struct handover *h = sup->handover;

    if (h == NULL)
        return;
    /* A cold start: what the dead tend left for programs no longer in the config. */
    for (size_t i = 0; i < h->ncold; i++) {
        unsigned long long ticks;
        char what[64];
        if (h->cold[i].name_hash == 0 || !cold_same(&h->cold[i], &ticks))
            continue;
        char comm[32];
        const char *name = h->cold[i].comm;
        if (name[0] == '\0')
            name = read_comm(h->cold[i].pid, comm, sizeof(comm)) == 0 ? comm : "a process";
        snprintf(what, sizeof(what), "%s (a program of a previous tend)", name);
        terminate_leftover(h->cold[i].pid, ticks, what);
    }
    free(h->cold);
    h->cold = NULL;
    h->ncold = 0;
    if (!h->restoring)
        return;
    /* What the ring holds that no program claimed (a program removed meanwhile, or a pipe
     * made just before the last supervisor died) is closed. */
    if (fdring_settle() == -1)
        log_msg(LOG_LVL_WARN, "cannot close the unclaimed pipes in the io_uring: %s",
                strerror(errno));
    /* The keeper's records of exits that happened while no supervisor ran. */
    if (h->keeper_fd != -1) {
        send_op(h, KEEPER_HELLO, -1, false);
        if (fd_set_blocking(h->keeper_fd) == 0) {
            struct pollfd pfd = {.fd = h->keeper_fd, .events = POLLIN};
            /* Bounded: a keeper that does not answer is treated as gone. */
            if (poll(&pfd, 1, HELLO_TIMEOUT_MS) == 1)
                (void)read_keeper(h, true);
            else
                keeper_gone(h);
        }
        if (h->keeper_fd != -1)
            (void)fd_set_nonblock(h->keeper_fd); /* valid socket: cannot fail */
    }
    h->restoring = false;
    /* Slots of programs that are no longer in the config: their process is stopped. */
    for (uint32_t i = 0; i < h->hdr->cap; i++) {
        const struct rec *r = current(h, (int)i);
        bool claimed = false;
        for (size_t j = 0; j < sup->nsvcs && r->used && !claimed; j++)
            claimed = sup->svcs[j]->slot == (int)i;
        if (!r->used || claimed)
            continue;
        pid_t ppid;
        unsigned long long ticks;
        if (r->pid > 0 && same_process(r->pid, r->id_lo_ns, r->id_hi_ns, &ppid, &ticks))
            terminate_leftover(r->pid, ticks, r->name);
        int fds[NFDS];
        rec_fds(r, fds);
        clear_slot(h, (int)i);
        for (int k = 0; k < NFDS; k++) {
            if (!inherited(fds[k]))
                continue; /* a number the keeper let go already: not ours */
            release(h, fds[k]);
            (void)close(fds[k]); /* nobody captures this program any more */
        }
    }
    release_strays(h);
    /* Services whose process was gone: its status from the keeper, newest first. */
    for (size_t j = 0; j < sup->nsvcs; j++) {
        struct service *svc = sup->svcs[j];
        int status = PROC_STATUS_UNKNOWN;
        /* No record (the ring overflowed, or the supervisor reaped it, then died before it
         * wrote the slot): an unknown status, for this instance. */
        uint64_t when = svc->p.start_ns;
        if (!svc->restored_gone)
            continue;
        for (size_t i = h->nexits; i-- > 0;) {
            if (h->exits[i].pid == svc->p.pid && h->exits[i].when_ns >= svc->p.start_ns) {
                status = h->exits[i].status;
                when = h->exits[i].when_ns;
                break;
            }
        }
        svc->restored_gone = false;
        svc->kept = true; /* the record stands for the keeper's reaping */
        log_msg(LOG_LVL_INFO, "%s: pid %d exited while no supervisor ran", svc->display,
                (int)svc->p.pid);
        sup_exited(sup, svc->p.pid, status, true, when);
    }
    /* A supervisor of an older version kept the capture pipes' write ends, and logcap_attach
     * closed ours: the slot stops naming them and the keeper lets its copies go, so that
     * the pipes see their end when the programs' instances are gone. */
    for (size_t j = 0; j < sup->nsvcs; j++) {
        struct service *svc = sup->svcs[j];
        const struct rec *r = svc->slot >= 0 ? current(h, svc->slot) : NULL;
        if (r != NULL && (r->fds[1] != -1 || r->fds[3] != -1))
            handover_save(svc);
    }
    free(h->exits);
    h->exits = NULL;
    h->nexits = h->cap_exits = 0;
}

/* ---- the state file, for a cold start ---- */

/* A process's command name (/proc/PID/comm), with anything but [A-Za-z0-9._-] as '_' so it
 * is one word in the file. */
static int read_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    n = fd_read(fd, buf, len - 1);
    fd_close_quiet(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    for (char *c = buf; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            *c = '_';
    }
    return buf[0] != '\0' ? 0 : -1;
}

/* The window of svc's process's start (CLOCK_BOOTTIME): the one noted around its spawn, or,
 * for a process tend did not spawn (adopted from a pidfile or MAINPID=, found after a cold
 * start), its start time read from /proc. False when it has none, or is gone. Spawned
 * processes, nearly all, cost no system call: at 10,000 programs, reading /proc for each
 * held the loop for a second and more at every rewrite during a mass restart. */
static bool start_window(const struct service *svc, uint64_t *lo, uint64_t *hi)
{
    struct ident id;

    if (svc->p.pid <= 0)
        return false;
    if (!svc->adopted && !svc->spawning && svc->id_lo_ns != 0 && svc->id_hi_ns != UINT64_MAX) {
        *lo = svc->id_lo_ns;
        *hi = svc->id_hi_ns;
        return true;
    }
    if (ident_read(svc->p.pid, &id, NULL) == -1)
        return false;
    *lo = *hi = id.start_ticks * tick_ns();
    return true;
}

/* This boot's id (the kernel's random boot_id), or "-" when it cannot be read. */
static void read_boot_id(char *buf, size_t len)
{
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd == -1 ? -1 : fd_read(fd, buf, len - 1);

    fd_close_quiet(fd);
    if (n <= 0) {
        snprintf(buf, len, "-");
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, " \t\n")] = '\0';
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
}

static void write_file(struct handover *h)
{
    struct supervisor *sup = h->sup;
    char tmp[PATH_MAX + 8];
    FILE *f;
    int fd;

    h->file_dirty = false;
    snprintf(tmp, sizeof(tmp), "%s.new", h->file_path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
        log_msg(LOG_LVL_WARN, "cannot write the state file %s: %s (a cold start after tend "
                "is killed whole would not find the programs)", tmp, strerror(errno));
        fd_close_quiet(fd);
        return;
    }
    fprintf(f, "tend-state 2 %s\n", h->boot_id);
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *svc = sup->svcs[i];
        uint64_t lo, hi;
        if (!start_window(svc, &lo, &hi))
            continue;
        fprintf(f, "%016llx %d %llu %llu\n", (unsigned long long)name_hash(svc->p.conf->name),
                (int)svc->p.pid, (unsigned long long)lo, (unsigned long long)hi);
    }
    if (fflush(f) != 0 || ferror(f) || fclose(f) != 0 || rename(tmp, h->file_path) == -1) {
        log_msg(LOG_LVL_WARN, "cannot write the state file %s: %s", h->file_path,
                strerror(errno));
        (void)unlink(tmp); /* best effort: a leftover .new is overwritten next time */
    }
}

static void on_file_timer(struct timer *t, void *ctx)
{
    struct handover *h = ctx;
    uint64_t start = timer_now_ns();

    (void)t;
    write_file(h);
    h->file_cost_ns = timer_now_ns() - start;
}

/* A change worth the state file (a process started or ended): rewritten shortly, once for
 * a whole burst of changes. With thousands of programs a rewrite costs tens of
 * milliseconds, more on a host busy with a mass restart: the delay grows with it, so that
 * the file never takes more than 1/FILE_COST_SHARE of the loop (up to FILE_DELAY_MAX_NS
 * out of date then). */
static void file_changed(struct handover *h)
{
    if (h->file_path == NULL || timer_armed(&h->file_timer))
        return;
    h->file_dirty = true;
    uint64_t delay = h->file_cost_ns * FILE_COST_SHARE;
    if (delay < FILE_DELAY_NS)
        delay = FILE_DELAY_NS;
    if (delay > FILE_DELAY_MAX_NS)
        delay = FILE_DELAY_MAX_NS;
    (void)loop_timer_arm(&h->sup->loop, &h->file_timer, timer_now_ns() + delay);
}

void handover_state_file(struct handover *h, const char *socket_path)
{
    char line[FILE_LINE_MAX];
    FILE *f;

    if (h == NULL || socket_path == NULL)
        return;
    h->file_path = malloc(strlen(socket_path) + sizeof(".state"));
    if (h->file_path == NULL)
        return;
    sprintf(h->file_path, "%s.state", socket_path);
    timer_init(&h->file_timer, on_file_timer, h);
    read_boot_id(h->boot_id, sizeof(h->boot_id));
    if (h->restoring)
        return; /* the state itself came from the keeper: the file is not needed */
    /* A cold start: what a previous tend (keeper and supervisor both gone) left running. */
    int fd = open(h->file_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd == -1 || (f = fdopen(fd, "r")) == NULL) {
        fd_close_quiet(fd);
        return;
    }
    /* Version 2 names the boot it was written in: a file from an earlier boot names no
     * process that still runs. Version 1 (an older tend's) names none, and checks each
     * process's command name as well as its start time. */
    char boot[40];
    int version = 0;
    if (fgets(line, sizeof(line), f) != NULL) {
        if (strcmp(line, "tend-state 1\n") == 0)
            version = 1;
        else if (sscanf(line, "tend-state 2 %39s", boot) == 1)
            version = 2;
    }
    if (version == 0) {
        log_msg(LOG_LVL_WARN, "%s: not a state file this tend knows; ignored", h->file_path);
        fclose(f);
        return;
    }
    if (version == 2 && strcmp(boot, h->boot_id) != 0 && strcmp(boot, "-") != 0 &&
        strcmp(h->boot_id, "-") != 0) {
        log_msg(LOG_LVL_INFO, "%s: written before the machine last booted; ignored",
                h->file_path);
        fclose(f);
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        struct cold c = {0};
        unsigned long long hash, lo, hi;
        int pid;
        if (version == 2) {
            if (sscanf(line, "%16llx %d %llu %llu", &hash, &pid, &lo, &hi) != 4 || hi == 0 ||
                lo > hi)
                continue;
            c.lo_ns = lo;
            c.hi_ns = hi;
        } else if (sscanf(line, "%16llx %d %llu %31s", &hash, &pid, &c.start_ticks,
                          c.comm) != 4) {
            continue;
        }
        if (pid <= 1)
            continue;
        c.name_hash = hash;
        c.pid = pid;
        struct cold *p = realloc(h->cold, (h->ncold + 1) * sizeof(*p));
        if (p == NULL)
            break;
        h->cold = p;
        h->cold[h->ncold++] = c;
    }
    fclose(f);
}

/* At attach, after a cold start: a process the dead tend left running for this program is
 * taken over (watched and signalled through a pidfd, its output no longer captured) if it is
 * the same process: alive, and started when the file says. */
/* Whether the entry's process is alive and the same: started inside the recorded window
 * (version 1: at the recorded time, with the recorded command name). */
static bool cold_same(const struct cold *c, unsigned long long *start_ticks)
{
    struct ident id;
    char state, comm[32];

    if (ident_read(c->pid, &id, &state) == -1 || state == 'Z')
        return false;
    if (c->hi_ns != 0 ? !started_within(id.start_ticks, c->lo_ns, c->hi_ns)
                      : id.start_ticks != c->start_ticks ||
                            read_comm(c->pid, comm, sizeof(comm)) == -1 ||
                            strcmp(comm, c->comm) != 0)
        return false;
    *start_ticks = id.start_ticks;
    return true;
}

static bool cold_adopt(struct handover *h, struct service *svc)
{
    uint64_t hash = name_hash(svc->p.conf->name);

    for (size_t i = 0; i < h->ncold; i++) {
        struct cold *c = &h->cold[i];
        unsigned long long ticks;
        if (c->name_hash != hash)
            continue;
        c->name_hash = 0; /* one process per entry */
        if (!cold_same(c, &ticks)) {
            log_msg(LOG_LVL_WARN, "%s: pid %d from the state file is not the process a "
                    "previous tend left (gone, or its pid was reused): not adopted",
                    svc->display, (int)c->pid);
            return false;
        }
        if (adopt_pidfd_open(svc, c->pid, ticks, true) == -1) {
            log_msg(LOG_LVL_WARN, "%s: cannot watch pid %d: %s", svc->display, (int)c->pid,
                    strerror(errno));
            return false;
        }
        svc->p.state = PROC_RUNNING;
        svc->p.exec_ok = svc->p.start_elapsed = true;
        svc->p.start_ns = timer_now_ns();
        svc->restored = true;
        log_msg(LOG_LVL_WARN, "%s: adopted pid %d, left running by a previous tend that was "
                "killed whole; its output is no longer captured (restart it to capture it "
                "again)", svc->display, (int)c->pid);
        return true;
    }
    return false;
}

void handover_remove_state_file(struct handover *h)
{
    if (h == NULL || h->file_path == NULL)
        return;
    (void)unlink(h->file_path); /* best effort: a stale file is checked by identity */
    loop_timer_cancel(&h->sup->loop, &h->file_timer);
    h->file_dirty = false;
    free(h->file_path);
    h->file_path = NULL; /* nothing is written any more */
}
