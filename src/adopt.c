/* adopt: programs that daemonize themselves, found through their pidfile (see adopt.h). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adopt.h"
#include "ident.h"
#include "log.h"
#include "pidfile.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
/* A pidfile program's pidfile must be valid within max(startsecs, this) seconds. */
#define PIDFILE_WAIT_MIN_S 5

static void on_pidfile_timeout(struct timer *t, void *ctx);

void adopt_init(struct service *svc)
{
    svc->adopt = NULL;
    svc->pidfd = -1;
    svc->pidfd_w = NULL;
}

struct adoption *adopt_state(struct service *svc)
{
    if (svc->adopt == NULL) {
        svc->adopt = xcalloc(1, sizeof(*svc->adopt));
        timer_init(&svc->adopt->timer, on_pidfile_timeout, svc);
    }
    return svc->adopt;
}

void adopt_launcher_window(struct service *svc, uint64_t lo_ns, uint64_t hi_ns)
{
    struct adoption *a = adopt_state(svc);

    a->lid_lo_ns = lo_ns;
    a->lid_hi_ns = hi_ns;
}

void adopt_free(struct service *svc)
{
    free(svc->adopt);
    svc->adopt = NULL;
}

/* Watches fd (EPOLLIN) for svc in a watcher of its own: few services ever need one, so it is
 * not in struct service. The watcher, or NULL/errno. */
static struct watcher *watch_new(struct service *svc, int fd, watcher_fn *fn)
{
    struct watcher *w = malloc(sizeof(*w));

    if (w == NULL)
        return NULL;
    if (loop_add(&svc->sup->loop, w, fd, EPOLLIN, fn, svc) == -1) {
        int err = errno;
        free(w);
        errno = err;
        return NULL;
    }
    return w;
}

/* Stops a watcher of watch_new (the caller closes its fd) and frees it after the current
 * batch of events, which may still hold one for it. */
static void watch_end(struct service *svc, struct watcher **wp)
{
    if (*wp == NULL)
        return;
    loop_del(&svc->sup->loop, *wp);
    loop_defer_free(&svc->sup->loop, free, *wp);
    *wp = NULL;
}

bool adopt_pidfile_mode(const struct service *svc)
{
    return svc->p.conf->pidfile != NULL;
}

void adopt_wait_end(struct service *svc)
{
    struct adoption *a = svc->adopt;

    if (a == NULL)
        return;
    if (a->ino_w != NULL) {
        int fd = a->ino_w->fd;
        watch_end(svc, &a->ino_w);
        fd_close_quiet(fd);
    }
    loop_timer_cancel(&svc->sup->loop, &a->timer);
}

bool adopt_waiting(const struct service *svc)
{
    const struct adoption *a = svc->adopt;

    return a != NULL && (a->ino_w != NULL || timer_armed(&a->timer));
}

void adopt_pidfd_end(struct service *svc)
{
    watch_end(svc, &svc->pidfd_w);
    fd_close_quiet(svc->pidfd);
    svc->pidfd = -1;
}

/* Whether pid descends from tend: then its exit reaches us through SIGCHLD (we are a
 * subreaper), with its real status. */
static bool is_descendant(pid_t pid)
{
    pid_t self = getpid(), ppid, pgid, sid;

    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        if (ident_parents(pid, &ppid, &pgid, &sid) == -1)
            return false;
        if (ppid == self)
            return true;
        pid = ppid;
    }
    return false;
}

/* The adopted process is not ours: its pidfd became readable, so it has exited. */
static void on_pidfd(struct watcher *w, uint32_t events)
{
    struct service *svc = w->ctx;
    struct proc_event ev = {.kind = EV_EXITED, .status = PROC_STATUS_UNKNOWN};
    int status;

    (void)events;
    /* Reparented to us just before it died (its launcher exited)? Then its real status is
     * ours to collect; otherwise its parent has it. */
    if (waitpid(svc->p.pid, &status, WNOHANG) == svc->p.pid)
        ev.status = status;
    adopt_pidfd_end(svc);
    sup_apply(svc, &ev);
}

int adopt_pidfd_open(struct service *svc, pid_t pid, unsigned long long start_ticks, bool watch)
{
    struct ident again;

    svc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    /* The pidfd pins the process: check once more that it is the one we validated. */
    if (svc->pidfd != -1 &&
        (ident_read(pid, &again, NULL) == -1 || again.start_ticks != start_ticks)) {
        fd_close_quiet(svc->pidfd);
        svc->pidfd = -1;
        errno = ESRCH;
    }
    if (svc->pidfd == -1 || (watch && adopt_pidfd_watch(svc) == -1)) {
        int err = errno;
        adopt_pidfd_end(svc);
        errno = err;
        return -1;
    }
    svc->p.pid = pid;
    return 0;
}

int adopt_pidfd_watch(struct service *svc)
{
    if (svc->pidfd_w == NULL)
        svc->pidfd_w = watch_new(svc, svc->pidfd, on_pidfd);
    return svc->pidfd_w != NULL ? 0 : -1;
}

static void adopt(struct service *svc, pid_t pid, unsigned long long start_ticks)
{
    struct proc_event ok = {.kind = EV_EXEC_OK};
    pid_t ppid = 0, pgid, sid;
    bool descendant = is_descendant(pid);

    /* Only a process whose parent is tend has its exit reach tend; a descendant whose
     * parent is still the launcher (prog & echo $! > pidfile; wait) is reaped by the
     * launcher. Anything but our child is watched, and signalled, through a pidfd. */
    bool child = ident_parents(pid, &ppid, &pgid, &sid) == 0 && ppid == getpid();
    adopt_wait_end(svc);
    svc->p.pid = pid;
    svc->adopted = true;
    if (!child && adopt_pidfd_open(svc, pid, start_ticks, true) == -1) {
        /* ESRCH: it died between the check and now. Either way we cannot watch it. */
        struct proc_event gone = {.kind = EV_EXITED, .status = PROC_STATUS_UNKNOWN};
        log_msg(LOG_LVL_WARN, "%s: cannot watch pid %d: %s", svc->display, (int)pid,
                strerror(errno));
        sup_apply(svc, &gone);
        return;
    }
    log_msg(LOG_LVL_INFO, "%s: adopted pid %d from %s (%s)", svc->display, (int)pid,
            svc->p.conf->pidfile,
            child        ? "a descendant: exit seen through SIGCHLD"
            : descendant ? "a descendant, still its launcher's child: watched through a pidfd"
                         : "not a descendant: watched through a pidfd");
    sup_apply(svc, &ok);
}

/* Whether a user other than root or the program's own can write the pidfile's directory:
 * then anyone of them could plant a pidfile naming any process (systemd refuses the same
 * since CVE-2018-16888). 0 when safe; -1 with the reason in why. */
static int unsafe_directory(const struct service *svc, const char *path, char *why, size_t len)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
             slash ? (slash == path ? "/" : path) : ".");
    if (stat(dir, &st) == -1) {
        snprintf(why, len, "its directory %.100s cannot be checked: %s", dir, strerror(errno));
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != svc->run_uid) {
        snprintf(why, len, "its directory %.100s belongs to uid %u, neither root nor the "
                 "program's user", dir, (unsigned)st.st_uid);
        return -1;
    }
    if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0)) {
        snprintf(why, len, "its directory %.100s is writable by %s", dir,
                 (st.st_mode & S_IWOTH) ? "every user" : "a group other than root's");
        return -1;
    }
    return 0;
}

/* The service other than svc whose process (or launcher) pid is, or NULL. */
static const struct service *owner_of(const struct service *svc, pid_t pid)
{
    const struct supervisor *sup = svc->sup;

    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *o = sup->svcs[i];
        if (o != svc && (o->p.pid == pid || o->launcher_pid == pid))
            return o;
    }
    return NULL;
}

/* How long a launched pidfile program has to write its pidfile. */
static int wait_seconds(const struct proc_conf *c)
{
    return c->startsecs > PIDFILE_WAIT_MIN_S ? c->startsecs : PIDFILE_WAIT_MIN_S;
}

/* Why the last look at a pidfile did not adopt it. Only the timeout reports it, right after
 * a look of its own, so one buffer serves every service (it was 200 bytes in each). */
static char pidfile_problem[200];

/* Reads the pidfile once. A valid one is adopted; otherwise the reason goes into
 * pidfile_problem, for the FATAL message should the wait run out (a stale file may still be
 * replaced in time). */
void adopt_try_pidfile(struct service *svc)
{
    const char *path = svc->p.conf->pidfile;
    struct stat st;
    struct ident id;
    char state, unsafe[180];
    pid_t pid;
    const struct service *other;

    if (unsafe_directory(svc, path, unsafe, sizeof(unsafe)) == -1) {
        snprintf(pidfile_problem, sizeof(pidfile_problem), "pidfile refused: %s",
                 unsafe);
        return;
    }
    if (pidfile_read_stat(path, &pid, &st) == -1) {
        if (errno == ENOENT) {
            snprintf(pidfile_problem, sizeof(pidfile_problem),
                     "pidfile %s did not appear within %ds", path, wait_seconds(svc->p.conf));
            return;
        }
        const char *why = errno == ELOOP   ? "is a symbolic link: refused"
                          : errno == ENODATA ? "is empty"
                          : errno == EINVAL  ? "does not hold a pid"
                                             : strerror(errno);
        snprintf(pidfile_problem, sizeof(pidfile_problem), "pidfile %s %s", path, why);
        return;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != svc->run_uid) {
        snprintf(pidfile_problem, sizeof(pidfile_problem),
                 "pidfile %s is owned by uid %u, neither root nor the program's user: refused",
                 path, (unsigned)st.st_uid);
        return;
    }
    if (ident_read(pid, &id, &state) == -1 || state == 'Z' || state == 'X') {
        snprintf(pidfile_problem, sizeof(pidfile_problem),
                 "pidfile %s names pid %d, which is not running", path, (int)pid);
        return;
    }
    /* The daemon was forked by what we launched, so it cannot be older than the launcher: an
     * older process is a leftover pidfile's pid, reused by a stranger. */
    if (svc->adopt != NULL && id.start_ticks < svc->adopt->launcher_ticks) {
        snprintf(pidfile_problem, sizeof(pidfile_problem),
                 "pidfile %s names pid %d, which started before the program was launched "
                 "(a stale pidfile; the pid belongs to another process)", path, (int)pid);
        return;
    }
    /* A pidfile must not hand us another service's process, nor anything outside what this
     * program started: stopping it would then hit a stranger. */
    if ((other = owner_of(svc, pid)) != NULL) {
        snprintf(pidfile_problem, sizeof(pidfile_problem),
                 "pidfile %s names pid %d, which belongs to %s: refused", path, (int)pid,
                 other->display);
        return;
    }
    if (!cgroup_svc_owns(svc->cg, pid, svc->launcher_pid)) {
        snprintf(pidfile_problem, sizeof(pidfile_problem),
                 "pidfile %s names pid %d, which is not in the program's process tree "
                 "(%s): refused", path, (int)pid,
                 cgroup_tree_active(svc->sup->cgroups) ? "its cgroup"
                                                       : "its launcher's descendants");
        return;
    }
    adopt(svc, pid, id.start_ticks);
}

static void on_pidfile_event(struct watcher *w, uint32_t events)
{
    struct service *svc = w->ctx;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

    (void)events;
    /* Drain; which entry changed matters little: one read of the pidfile decides. */
    while (fd_read(w->fd, buf, sizeof(buf)) > 0)
        ;
    adopt_try_pidfile(svc);
}

static void on_pidfile_timeout(struct timer *t, void *ctx)
{
    struct service *svc = ctx;
    struct proc_event ev = {.kind = EV_EXEC_FAILED, .err = 0, .what = pidfile_problem};

    (void)t;
    adopt_wait_end(svc);
    /* Without inotify (its directory did not exist yet, or no instance was left), this is
     * the one look at the pidfile: take it if it is valid now. */
    adopt_try_pidfile(svc);
    if (svc->adopted)
        return;
    if (svc->launcher_pid != 0) {
        /* The command neither wrote a usable pidfile nor exited: it must not linger. */
        log_msg(LOG_LVL_WARN, "%s: killing launcher pid %d: %s", svc->display,
                (int)svc->launcher_pid, pidfile_problem);
        if (kill(-svc->launcher_pid, SIGKILL) == -1 && errno != ESRCH)
            (void)kill(svc->launcher_pid, SIGKILL); /* its group is gone: the pid alone */
    }
    sup_apply(svc, &ev);
}

/* After launching a pidfile program: watch its pidfile's directory until a valid pidfile
 * names the daemon, for at most max(startsecs, PIDFILE_WAIT_MIN_S) seconds. */
void adopt_wait_begin(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;
    struct adoption *a = adopt_state(svc);
    char dir[PATH_MAX];
    const char *slash = strrchr(c->pidfile, '/');
    int wait_s = wait_seconds(c);

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - c->pidfile) : 1,
             slash ? (slash == c->pidfile ? "/" : c->pidfile) : ".");
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd == -1 || inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) == -1 ||
        (a->ino_w = watch_new(svc, fd, on_pidfile_event)) == NULL) {
        /* Without inotify the deadline still decides; the pidfile is read then. */
        log_msg(LOG_LVL_WARN, "%s: cannot watch %s: %s", svc->display, dir, strerror(errno));
        fd_close_quiet(fd);
    }
    (void)loop_timer_arm(&svc->sup->loop, &a->timer,
                         timer_now_ns() + (uint64_t)wait_s * NS_PER_SEC);
}

