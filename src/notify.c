/* notify: per-service sd_notify sockets (see notify.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "adopt.h"
#include "handover.h"
#include "ident.h"
#include "log.h"
#include "notify.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
/* Datagrams read per wake-up: a flood cannot hold the loop; the rest wakes it again. */
#define NOTIFY_BATCH 64
#define STR_(x) #x
#define STR(x) STR_(x)

struct notify {
    struct service *svc;
    int fd;
    struct watcher w;
    char env[sizeof("NOTIFY_SOCKET=@") + sizeof(((struct sockaddr_un *)0)->sun_path)];
    char wd_env[48];             /* "WATCHDOG_USEC=N", "" without a watchdog */
    struct timer watchdog;
    uint64_t watchdog_ns;        /* 0: none */
    uint64_t window_ns;          /* the start of the current rate window (one second) */
    unsigned in_window;
    unsigned long dropped;       /* datagrams refused, for the log */
    char status[256];
};

bool notify_wanted(const struct service *svc)
{
    return svc->p.conf->readiness == READY_NOTIFY || proc_conf_ready(svc->p.conf)->watchdogsecs > 0;
}

const char *notify_status(const struct notify *n)
{
    return n != NULL ? n->status : "";
}

size_t notify_env(const struct notify *n, char **out)
{
    size_t k = 0;

    if (n == NULL)
        return 0;
    out[k++] = (char *)n->env;
    if (n->wd_env[0] != '\0')
        out[k++] = (char *)n->wd_env;
    return k;
}

static void refuse(struct notify *n, const char *why, pid_t pid)
{
    n->dropped++;
    /* Said at most once per rate window: a flood must not flood tend's log too. */
    if (n->in_window <= NOTIFY_RATE + 1)
        log_msg(LOG_LVL_WARN, "%s: notify datagram%s%d ignored: %s", n->svc->display,
                pid > 0 ? " from pid " : "", pid > 0 ? (int)pid : 0, why);
}

/* The sender is the service's main process, or in its tree and no other service's. */
static bool sender_belongs(const struct service *svc, pid_t pid)
{
    const struct supervisor *sup = svc->sup;

    if (pid <= 0 || svc->p.pid <= 0)
        return false;
    if (pid == svc->p.pid)
        return true;
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (sup->svcs[i] != svc && (sup->svcs[i]->p.pid == pid ||
                                    sup->svcs[i]->launcher_pid == pid))
            return false;
    }
    return cgroup_svc_owns(svc->cg, pid, svc->p.pid);
}

static void arm_watchdog(struct notify *n)
{
    if (n->watchdog_ns == 0)
        return;
    if (loop_timer_arm(&n->svc->sup->loop, &n->watchdog, timer_now_ns() + n->watchdog_ns) == -1)
        log_msg(LOG_LVL_ERROR, "%s: cannot arm the watchdog: %s", n->svc->display,
                strerror(errno));
}

static void watchdog_fired(struct notify *n, const char *why)
{
    struct service *svc = n->svc;
    struct proc_event ev = {.kind = EV_HEALTH_FAILED};

    if (svc->p.state != PROC_RUNNING)
        return;
    proc_set_reason(&svc->p, "watchdog: %s", why);
    log_msg(LOG_LVL_WARN, "%s: restarting: %s", svc->display, proc_reason(&svc->p));
    sup_apply(svc, &ev); /* stops it, then restarts it like a crash (and backs off) */
}

static void on_watchdog(struct timer *t, void *ctx)
{
    struct notify *n = ctx;
    char why[96];

    (void)t;
    snprintf(why, sizeof(why), "no WATCHDOG=1 for %.1fs", (double)n->watchdog_ns / 1e9);
    watchdog_fired(n, why);
}

/* MAINPID=: like a pidfile, the pid must name a live process of the service's tree, no
 * other service's, and not older than the instance. Then it is the process tend watches. */
static void take_mainpid(struct notify *n, const char *value, pid_t sender)
{
    struct service *svc = n->svc;
    struct ident id;
    char state;
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v <= 0 || v > INT_MAX) {
        refuse(n, "MAINPID= is not a pid", sender);
        return;
    }
    pid_t pid = (pid_t)v;
    if (pid == svc->p.pid)
        return;
    if (ident_read(pid, &id, &state) == -1 || state == 'Z' || state == 'X') {
        refuse(n, "MAINPID= names a process that is not running", sender);
        return;
    }
    if (!sender_belongs(svc, pid)) {
        refuse(n, "MAINPID= names a process outside the program's tree", sender);
        return;
    }
    log_msg(LOG_LVL_INFO, "%s: main pid is now %d (MAINPID= from pid %d)", svc->display,
            (int)pid, (int)sender);
    /* The former main process (our child) becomes the launcher: its exit is no longer the
     * program's; the new one is watched through a pidfd, as an adopted daemon is. */
    if (svc->launcher_pid == 0)
        svc->launcher_pid = svc->p.pid;
    svc->p.pid = pid;
    if (adopt_pidfd_open(svc, pid, id.start_ticks, true) == -1)
        log_msg(LOG_LVL_WARN, "%s: cannot watch pid %d: %s", svc->display, (int)pid,
                strerror(errno));
    svc->adopted = true;
    handover_save(svc);
}

/* Why a datagram is not the protocol's text (NULL when it is): no NUL or control byte
 * (but newline and tab), and every non-empty line KEY=VALUE. */
static const char *malformed(const char *buf, size_t len)
{
    size_t line_start = 0;
    bool eq = false;

    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)buf[i] : '\n';
        if (c == '\0' || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            return "control bytes in it";
        if (c == '=' && !eq) {
            if (i == line_start)
                return "a line is not KEY=VALUE";
            eq = true;
        }
        if (c == '\n') {
            if (i > line_start && !eq)
                return "a line is not KEY=VALUE";
            line_start = i + 1;
            eq = false;
        }
    }
    return NULL;
}

/* One datagram, already checked whole (malformed, sender) before any of it is acted on. */
static void handle(struct notify *n, char *buf, size_t len, pid_t pid)
{
    struct service *svc = n->svc;
    bool ready = false, ping = false, trigger = false, status_set = false;
    const char *status = NULL, *mainpid = NULL, *extend = NULL, *wd_usec = NULL;

    buf[len] = '\0';
    for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (*line == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue; /* cannot happen: malformed() saw every line has one */
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "READY") == 0)
            ready = strcmp(v, "1") == 0;
        else if (strcmp(line, "STATUS") == 0)
            status = v, status_set = true;
        else if (strcmp(line, "MAINPID") == 0)
            mainpid = v;
        else if (strcmp(line, "EXTEND_TIMEOUT_USEC") == 0)
            extend = v;
        else if (strcmp(line, "WATCHDOG") == 0)
            ping = strcmp(v, "1") == 0, trigger = strcmp(v, "trigger") == 0;
        else if (strcmp(line, "WATCHDOG_USEC") == 0)
            wd_usec = v;
        else if (strcmp(line, "RELOADING") == 0 && strcmp(v, "1") == 0)
            log_msg(LOG_LVL_INFO, "%s: reloading (RELOADING=1)", svc->display);
        else if (strcmp(line, "STOPPING") == 0 && strcmp(v, "1") == 0)
            log_msg(LOG_LVL_INFO, "%s: stopping by itself (STOPPING=1)", svc->display);
        /* Other keys (ERRNO=, BUSERROR=, FDSTORE=, ...) mean nothing here: ignored, as the
         * protocol asks of a manager that does not know them. */
    }
    if (status_set)
        snprintf(n->status, sizeof(n->status), "%s", status);
    if (mainpid != NULL)
        take_mainpid(n, mainpid, pid);
    if (wd_usec != NULL) {
        char *end;
        unsigned long long us;
        errno = 0;
        us = strtoull(wd_usec, &end, 10);
        if (errno == 0 && end != wd_usec && *end == '\0' && us > 0 &&
            us < UINT64_MAX / 1000) {
            n->watchdog_ns = us * 1000;
            ping = true;
        }
    }
    if (extend != NULL) {
        char *end;
        unsigned long long us;
        errno = 0;
        us = strtoull(extend, &end, 10);
        if (errno == 0 && end != extend && *end == '\0' && us < UINT64_MAX / 1000) {
            struct proc_event ev = {.kind = EV_EXTEND_TIMEOUT, .extend_ns = us * 1000};
            sup_apply(svc, &ev);
        }
    }
    if (ping && svc->p.state == PROC_RUNNING)
        arm_watchdog(n);
    if (ready) {
        struct proc_event ev = {.kind = EV_READY};
        sup_apply(svc, &ev);
    }
    if (trigger)
        watchdog_fired(n, "WATCHDOG=trigger");
}

static void on_datagram(struct watcher *w, uint32_t events)
{
    struct notify *n = w->ctx;
    char buf[NOTIFY_MAX_BYTES + 1];
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    } ctl;

    (void)events;
    for (int k = 0; k < NOTIFY_BATCH && n->fd != -1; k++) {
        struct iovec iov = {.iov_base = buf, .iov_len = NOTIFY_MAX_BYTES};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.space,
                             .msg_controllen = sizeof(ctl.space)};
        ssize_t got = recvmsg(n->fd, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
        struct ucred cred = {0};
        bool have_cred = false;
        if (got == -1) {
            if (errno != EAGAIN && errno != EINTR)
                log_msg(LOG_LVL_WARN, "%s: notify socket: %s", n->svc->display,
                        strerror(errno));
            return;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
                memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                have_cred = true;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                /* Nobody asked for descriptors: close them unread. */
                size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < nfd; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                    fd_close_quiet(fd);
                }
            }
        }
        uint64_t now = timer_now_ns();
        if (now - n->window_ns >= NS_PER_SEC) {
            n->window_ns = now;
            n->in_window = 0;
        }
        n->in_window++;
        if (n->in_window > NOTIFY_RATE) {
            refuse(n, "more than " STR(NOTIFY_RATE) " datagrams a second", cred.pid);
            continue;
        }
        /* The text first: it costs no look at /proc, and a garbage datagram is refused
         * for what it is even when its sender is gone already. */
        if ((size_t)got > NOTIFY_MAX_BYTES || (msg.msg_flags & MSG_TRUNC)) {
            refuse(n, "larger than " STR(NOTIFY_MAX_BYTES) " bytes", cred.pid);
            continue;
        }
        const char *bad = malformed(buf, (size_t)got);
        if (bad != NULL) {
            refuse(n, bad, cred.pid);
            continue;
        }
        /* A sender that exited before we read is refused too: its identity cannot be
         * checked any more (send from a process that outlives the datagram). */
        if (!have_cred || !sender_belongs(n->svc, cred.pid)) {
            refuse(n, "the sender is not a process of this program", cred.pid);
            continue;
        }
        handle(n, buf, (size_t)got, cred.pid);
    }
}

static void notify_close(struct notify *n)
{
    if (n->fd != -1) {
        loop_del(&n->svc->sup->loop, &n->w);
        fd_close_quiet(n->fd);
        n->fd = -1;
    }
    loop_timer_cancel(&n->svc->sup->loop, &n->watchdog);
}

void notify_free(struct notify *n)
{
    if (n == NULL)
        return;
    notify_close(n);
    free(n);
}

static struct notify *notify_open(struct service *svc)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    pid_t keeper = handover_keeper_pid(svc->sup->handover);
    const char *name = svc->p.conf->name;
    int len, one = 1;

    n->svc = svc;
    n->w.fd = -1;
    timer_init(&n->watchdog, on_watchdog, n);
    /* Abstract: sun_path[0] is NUL and the name is the len bytes after it. A long process
     * name is replaced by its hash: the name only has to be unique and stable. */
    if (strlen(name) <= 64) {
        len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "tend/notify/%d/%s",
                       (int)(keeper > 0 ? keeper : getpid()), name);
    } else {
        uint64_t h = 1469598103934665603ULL;
        for (const char *c = name; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "tend/notify/%d/#%016" PRIx64,
                       (int)(keeper > 0 ? keeper : getpid()), h);
    }
    snprintf(n->env, sizeof(n->env), "NOTIFY_SOCKET=@%s", a.sun_path + 1);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd == -1 ||
        setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) == -1 ||
        bind(n->fd, (struct sockaddr *)&a,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len)) == -1 ||
        loop_add(&svc->sup->loop, &n->w, n->fd, EPOLLIN, on_datagram, n) == -1) {
        log_msg(LOG_LVL_ERROR, "%s: cannot open its notify socket @%s: %s", svc->display,
                a.sun_path + 1, strerror(errno));
        fd_close_quiet(n->fd);
        free(n);
        return NULL;
    }
    return n;
}

void notify_sync(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;

    if (!notify_wanted(svc)) {
        notify_free(svc->notify);
        svc->notify = NULL;
        return;
    }
    if (svc->notify == NULL)
        svc->notify = notify_open(svc);
    if (svc->notify == NULL)
        return;
    struct notify *n = svc->notify;
    if (proc_conf_ready(c)->watchdogsecs > 0)
        snprintf(n->wd_env, sizeof(n->wd_env), "WATCHDOG_USEC=%llu",
                 (unsigned long long)proc_conf_ready(c)->watchdogsecs * 1000000ULL);
    else
        n->wd_env[0] = '\0';
    if (svc->p.state == PROC_RUNNING && !timer_armed(&n->watchdog)) {
        n->watchdog_ns = (uint64_t)proc_conf_ready(c)->watchdogsecs * NS_PER_SEC;
        arm_watchdog(n);
    }
}

void notify_after_apply(struct service *svc, const struct proc_effects *fx)
{
    struct notify *n = svc->notify;

    if (n == NULL || fx->from == fx->to)
        return;
    if (fx->to == PROC_RUNNING) {
        n->watchdog_ns = (uint64_t)proc_conf_ready(svc->p.conf)->watchdogsecs * NS_PER_SEC;
        arm_watchdog(n);
    } else {
        loop_timer_cancel(&svc->sup->loop, &n->watchdog);
    }
    if (fx->to == PROC_STARTING || fx->to == PROC_STOPPED || fx->to == PROC_EXITED ||
        fx->to == PROC_FATAL || fx->to == PROC_BACKOFF)
        n->status[0] = '\0';
}
