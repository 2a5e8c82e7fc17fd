/* supervisor: `tend daemon` and `tend check`. One thread, one epoll loop: SIGCHLD, SIGTERM,
 * SIGINT and SIGHUP arrive through a signalfd, exec results through each child's report pipe,
 * deadlines through the loop's timer heap. Every event is fed to the service's state machine
 * (proc.c) and the effects it returns are carried out here, in one place (apply).
 *
 * Invariants: a service's p.pid is our unreaped child or 0, so signalling it by number is
 * safe (a pid, and the process group it leads, cannot be reused before we reap it); every
 * descriptor is close-on-exec; nothing wakes the loop unless a kernel event or a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert.h"
#include "control.h"
#include "exitcode.h"
#include "health.h"
#include "ident.h"
#include "log.h"
#include "logcap.h"
#include "pidfile.h"
#include "preflight.h"
#include "runtime.h"
#include "spawn.h"
#include "supervisor.h"
#include "util/env.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
/* A pidfile program's pidfile must be valid within max(startsecs, this) seconds. */
#define PIDFILE_WAIT_MIN_S 5

extern char **environ;

static void apply(struct service *svc, const struct proc_event *ev);
static void check_shutdown_progress(struct supervisor *sup);

/* ---- the service table ---- */

static void on_timer(struct timer *t, void *ctx);
static void on_pidfile_timeout(struct timer *t, void *ctx);
static void on_health(void *ctx, bool ok, int failures, const char *reason);
static void svc_set_health(struct service *svc);
static void fire(struct service *svc, enum config_event event, int wait_status);
static void pidfile_wait_end(struct service *svc);
static void pidfile_wait_begin(struct service *svc);
static void pidfd_end(struct service *svc);
static bool pidfile_mode(const struct service *svc);
static void try_pidfile(struct service *svc);

static void svc_set_display(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;

    free(svc->display);
    if (strcmp(c->group, c->name) == 0)
        svc->display = xstrdup(c->name);
    else
        svc->display = xasprintf("%s:%s", c->group, c->name);
}

static struct service *svc_new(struct supervisor *sup, struct proc_conf *conf)
{
    struct service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL)
        return NULL;
    proc_init(&svc->p, conf);
    svc->sup = sup;
    svc->report_fd = -1;
    svc->report_w.fd = -1;
    svc->ino_fd = -1;
    svc->ino_w.fd = -1;
    svc->pidfd = -1;
    svc->pidfd_w.fd = -1;
    timer_init(&svc->timer, on_timer, svc);
    timer_init(&svc->pidfile_timer, on_pidfile_timeout, svc);
    if (conf->healthcheck_kind != HEALTH_NONE)
        svc->health = health_new(&sup->loop, conf, on_health, svc);
    svc->logcap = logcap_new(&sup->loop, conf, sup->config->tend.childlogdir);
    svc_set_display(svc);
    return svc;
}

static void svc_close_report(struct service *svc)
{
    loop_del(&svc->sup->loop, &svc->report_w);
    fd_close_quiet(svc->report_fd);
    svc->report_fd = -1;
}

/* Every descriptor and timer a service holds besides its state machine's deadline. */
static void svc_release(struct service *svc)
{
    svc_close_report(svc);
    pidfile_wait_end(svc);
    pidfd_end(svc);
    loop_timer_cancel(&svc->sup->loop, &svc->timer);
}

static void svc_free(void *ptr)
{
    struct service *svc = ptr;

    proc_conf_free(svc->p.conf);
    if (svc->next_conf != NULL)
        proc_conf_free(svc->next_conf);
    health_free(svc->health);
    logcap_free(svc->logcap);
    free(svc->display);
    free(svc);
}

/* Removes svc from the table and frees it after the current batch of events. */
static void svc_remove(struct supervisor *sup, struct service *svc)
{
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (sup->svcs[i] == svc) {
            memmove(&sup->svcs[i], &sup->svcs[i + 1], (sup->nsvcs - i - 1) * sizeof(svc));
            sup->nsvcs--;
            break;
        }
    }
    svc_release(svc);
    loop_defer_free(&sup->loop, svc_free, svc);
}

static int svc_cmp(const void *a, const void *b)
{
    const struct service *x = *(struct service *const *)a, *y = *(struct service *const *)b;

    if (x->p.conf->priority != y->p.conf->priority)
        return x->p.conf->priority < y->p.conf->priority ? -1 : 1;
    return strcmp(x->p.conf->name, y->p.conf->name);
}

static void sort_services(struct supervisor *sup)
{
    qsort(sup->svcs, sup->nsvcs, sizeof(sup->svcs[0]), svc_cmp);
}

struct service *sup_find(struct supervisor *sup, const char *name)
{
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *svc = sup->svcs[i];
        if (strcmp(svc->p.conf->name, name) == 0 || strcmp(svc->display, name) == 0)
            return svc;
    }
    return NULL;
}

static struct service *find_by_pid(struct supervisor *sup, pid_t pid)
{
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (sup->svcs[i]->p.pid == pid || sup->svcs[i]->launcher_pid == pid)
            return sup->svcs[i];
    }
    return NULL;
}

/* ---- spawning ---- */

/* The environment of a child: tend's own, then [tend] environment=, then the program's
 * environment=, then supervisord's SUPERVISOR_* variables. Strings live in `arena`. */
static char **child_env(const struct supervisor *sup, const struct proc_conf *c, char *arena,
                        size_t arena_len)
{
    char *over[512];
    int n = 0;
    int w;

    for (char **e = sup->config->tend.env; e != NULL && *e != NULL && n < 500; e++)
        over[n++] = *e;
    for (char **e = c->env; e != NULL && *e != NULL && n < 500; e++)
        over[n++] = *e;
    w = snprintf(arena, arena_len, "SUPERVISOR_ENABLED=1%cSUPERVISOR_PROCESS_NAME=%s%c"
                 "SUPERVISOR_GROUP_NAME=%s", 0, c->name, 0, c->group);
    if (w > 0 && (size_t)w < arena_len) {
        over[n++] = arena;
        over[n++] = arena + strlen(arena) + 1;
        over[n] = over[n - 1] + strlen(over[n - 1]) + 1;
        n++;
    }
    return env_build(environ, over, n);
}

/* Feeds a failure that happened in tend before the child could even be forked. */
static void spawn_refused(struct service *svc, const char *what, int err)
{
    struct proc_event ev = {.kind = EV_EXEC_FAILED, .err = err, .what = what};

    apply(svc, &ev);
}

static void on_report(struct watcher *w, uint32_t events);

static void do_spawn(struct service *svc)
{
    struct supervisor *sup = svc->sup;
    const struct proc_conf *c = svc->p.conf;
    char path[PATH_MAX], what[PATH_MAX + 64], arena[1024];
    char **envp = NULL;
    const char *search = NULL;
    gid_t *groups = NULL;
    size_t ngroups = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    int out_fd = -1, err_fd = -1, report_fd;
    bool lent = false;
    pid_t pid;

    if (sup->shutting_down) {
        /* An autorestart during shutdown would undo it: the process stays down. */
        svc->p.state = PROC_STOPPED;
        svc->p.deadline_ns = 0;
        log_msg(LOG_LVL_INFO, "%s: not restarted: tend is shutting down", svc->display);
        return;
    }
    envp = child_env(sup, c, arena, sizeof(arena));
    if (envp == NULL) {
        struct proc_event ev = {.kind = EV_FORK_FAILED, .err = ENOMEM};
        apply(svc, &ev);
        return;
    }
    for (char **e = envp; *e != NULL; e++) {
        if (env_key_matches(*e, "PATH", 4))
            search = *e + 5;
    }
    if (spawn_find_program(c->argv[0], search, path, sizeof(path)) == -1) {
        snprintf(what, sizeof(what), "execute %s", c->argv[0]);
        spawn_refused(svc, what, errno);
        goto out;
    }
    if (c->user != NULL) {
        char msg[256];
        if (spawn_resolve_user(c->user, &uid, &gid, &groups, &ngroups, msg, sizeof(msg))) {
            snprintf(what, sizeof(what), "cannot run as user '%s': %s", c->user, msg);
            spawn_refused(svc, what, 0); /* the message says it all: no errno applies */
            goto out;
        }
        if (geteuid() != 0 && uid != geteuid()) {
            snprintf(what, sizeof(what), "cannot run as user '%s': tend is not root", c->user);
            spawn_refused(svc, what, 0);
            goto out;
        }
    }
    /* Output goes into logcap's pipes, which outlive this instance. A pipe that cannot be
     * made leaves that stream on /dev/null this time (logged by logcap). */
    if (logcap_child_fds(svc->logcap, &out_fd, &err_fd) == -1)
        log_msg(LOG_LVL_WARN, "%s: output not captured this time: %s", svc->display,
                strerror(errno));
    lent = true;

    struct spawn_spec spec = {
        .path = path,
        .argv = c->argv,
        .envp = envp,
        .dir = c->directory,
        .umask = c->umask,
        .stdio_fd = {sup->null_fd, out_fd != -1 ? out_fd : sup->null_fd,
                     err_fd != -1 ? err_fd : sup->null_fd},
        .detach = SPAWN_DETACH_PGRP,
        .nofile = sup->child_nofile,
        .reset = &sup->child_reset,
        .set_ids = c->user != NULL && geteuid() == 0,
        .uid = uid,
        .gid = gid,
        .groups = groups,
        .ngroups = ngroups,
    };
    if (spawn_start(&spec, &pid, &report_fd) == -1) {
        struct proc_event ev = {.kind = EV_FORK_FAILED, .err = errno};
        log_msg(LOG_LVL_WARN, "%s: cannot fork: %s", svc->display, strerror(errno));
        apply(svc, &ev);
        goto out;
    }
    svc->p.pid = pid;
    svc->report_fd = report_fd;
    svc->run_uid = spec.set_ids ? uid : geteuid();
    if (pidfile_mode(svc)) {
        struct ident id;
        /* Our unreaped child: its identity cannot change under us. */
        svc->launcher_ticks = ident_read(pid, &id, NULL) == 0 ? id.start_ticks : 0;
        svc->launcher_pid = pid;
        svc->adopted = false;
        pidfile_wait_begin(svc);
    }
    if (fd_set_nonblock(report_fd) == -1 ||
        loop_add(&sup->loop, &svc->report_w, report_fd, EPOLLIN, on_report, svc) == -1) {
        /* Cannot watch the pipe: learn the outcome now, blocking until the exec. */
        struct spawn_error e;
        int r = spawn_read_report(report_fd, &e);
        svc_close_report(svc);
        struct proc_event ev = {.kind = r == 1 ? EV_EXEC_FAILED : EV_EXEC_OK,
                                .stage = (int)e.stage, .err = e.err,
                                .what = spawn_stage_name(e.stage)};
        log_msg(LOG_LVL_INFO, "%s: spawned pid %d", svc->display, (int)pid);
        apply(svc, &ev);
        goto out;
    }
    log_msg(LOG_LVL_INFO, "%s: spawned pid %d", svc->display, (int)pid);
out:
    if (lent)
        logcap_after_spawn(svc->logcap); /* the descriptors are logcap's: never closed here */
    free(groups);
    free(envp);
}

/* Reads the report pipe: EOF = exec happened, a record = exec failed at a stage. */
static void read_report(struct service *svc)
{
    struct spawn_error e = {STAGE_NONE, 0};
    char what[PATH_MAX + 64];
    int r = spawn_read_report(svc->report_fd, &e);

    if (r == -1 && errno == EAGAIN)
        return;
    svc_close_report(svc);
    if (r == 1) {
        const struct proc_conf *c = svc->p.conf;
        if (e.stage == STAGE_CHDIR)
            snprintf(what, sizeof(what), "change directory to %s", c->directory);
        else if (e.stage == STAGE_EXEC)
            snprintf(what, sizeof(what), "execute %s", c->argv[0]);
        else
            snprintf(what, sizeof(what), "%s", spawn_stage_name(e.stage));
        struct proc_event ev = {.kind = EV_EXEC_FAILED, .stage = (int)e.stage, .err = e.err,
                                .what = what};
        apply(svc, &ev);
    } else if (pidfile_mode(svc) && !svc->adopted) {
        /* The launcher runs; the program counts as started once its pidfile is adopted. */
    } else {
        /* r == 0, or a read error we cannot learn more from: the child did not report a
         * failure, so treat the exec as done; its exit, if any, comes through SIGCHLD. */
        struct proc_event ev = {.kind = EV_EXEC_OK};
        apply(svc, &ev);
    }
}

static void on_report(struct watcher *w, uint32_t events)
{
    (void)events;
    read_report(w->ctx);
}

/* ---- pidfile programs ---- */

static bool pidfile_mode(const struct service *svc)
{
    return svc->p.conf->pidfile != NULL;
}

static void pidfile_wait_end(struct service *svc)
{
    loop_del(&svc->sup->loop, &svc->ino_w);
    fd_close_quiet(svc->ino_fd);
    svc->ino_fd = -1;
    loop_timer_cancel(&svc->sup->loop, &svc->pidfile_timer);
}

static void pidfd_end(struct service *svc)
{
    loop_del(&svc->sup->loop, &svc->pidfd_w);
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
    pidfd_end(svc);
    apply(svc, &ev);
}

static void adopt(struct service *svc, pid_t pid, unsigned long long start_ticks)
{
    struct proc_event ok = {.kind = EV_EXEC_OK};
    pid_t ppid = 0, pgid, sid;
    bool descendant = is_descendant(pid);
    struct ident again;

    /* Only a process whose parent is tend has its exit reach tend; a descendant whose
     * parent is still the launcher (prog & echo $! > pidfile; wait) is reaped by the
     * launcher. Anything but our child is watched, and signalled, through a pidfd. */
    bool child = ident_parents(pid, &ppid, &pgid, &sid) == 0 && ppid == getpid();
    pidfile_wait_end(svc);
    svc->p.pid = pid;
    svc->adopted = true;
    if (!child) {
        svc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        /* The pidfd pins the process: check once more that it is the one we validated. */
        if (svc->pidfd != -1 &&
            (ident_read(pid, &again, NULL) == -1 || again.start_ticks != start_ticks)) {
            fd_close_quiet(svc->pidfd);
            svc->pidfd = -1;
            errno = ESRCH;
        }
        if (svc->pidfd == -1 ||
            loop_add(&svc->sup->loop, &svc->pidfd_w, svc->pidfd, EPOLLIN, on_pidfd, svc) == -1) {
            /* ESRCH: it died between the check and now. Either way we cannot watch it. */
            struct proc_event gone = {.kind = EV_EXITED, .status = PROC_STATUS_UNKNOWN};
            log_msg(LOG_LVL_WARN, "%s: cannot watch pid %d: %s", svc->display, (int)pid,
                    strerror(errno));
            pidfd_end(svc);
            apply(svc, &gone);
            return;
        }
    }
    log_msg(LOG_LVL_INFO, "%s: adopted pid %d from %s (%s)", svc->display, (int)pid,
            svc->p.conf->pidfile,
            child        ? "a descendant: exit seen through SIGCHLD"
            : descendant ? "a descendant, still its launcher's child: watched through a pidfd"
                         : "not a descendant: watched through a pidfd");
    apply(svc, &ok);
}

/* Reads the pidfile once. A valid one is adopted; otherwise the reason is kept for the
 * FATAL message should the wait run out (a stale file may still be replaced in time). */
static void try_pidfile(struct service *svc)
{
    const char *path = svc->p.conf->pidfile;
    struct stat st;
    struct ident id;
    char state;
    pid_t pid;

    if (pidfile_read_stat(path, &pid, &st) == -1) {
        const char *why = errno == ENOENT    ? "did not appear"
                          : errno == ELOOP   ? "is a symbolic link: refused"
                          : errno == ENODATA ? "is empty"
                          : errno == EINVAL  ? "does not hold a pid"
                                             : strerror(errno);
        snprintf(svc->pidfile_problem, sizeof(svc->pidfile_problem), "pidfile %s %s", path, why);
        return;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != svc->run_uid) {
        snprintf(svc->pidfile_problem, sizeof(svc->pidfile_problem),
                 "pidfile %s is owned by uid %d, neither root nor the program's user: refused",
                 path, (int)st.st_uid);
        return;
    }
    if (ident_read(pid, &id, &state) == -1 || state == 'Z' || state == 'X') {
        snprintf(svc->pidfile_problem, sizeof(svc->pidfile_problem),
                 "pidfile %s names pid %d, which is not running", path, (int)pid);
        return;
    }
    /* The daemon was forked by what we launched, so it cannot be older than the launcher: an
     * older process is a leftover pidfile's pid, reused by a stranger. */
    if (id.start_ticks < svc->launcher_ticks) {
        snprintf(svc->pidfile_problem, sizeof(svc->pidfile_problem),
                 "pidfile %s names pid %d, which started before the program was launched "
                 "(a stale pidfile; the pid belongs to another process)", path, (int)pid);
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
    while (fd_read(svc->ino_fd, buf, sizeof(buf)) > 0)
        ;
    try_pidfile(svc);
}

static void on_pidfile_timeout(struct timer *t, void *ctx)
{
    struct service *svc = ctx;
    struct proc_event ev = {.kind = EV_EXEC_FAILED, .err = 0, .what = svc->pidfile_problem};

    (void)t;
    pidfile_wait_end(svc);
    /* Without inotify (its directory did not exist yet, or no instance was left), this is
     * the one look at the pidfile: take it if it is valid now. */
    try_pidfile(svc);
    if (svc->adopted)
        return;
    ev.what = svc->pidfile_problem;
    if (svc->launcher_pid != 0) {
        /* The command neither wrote a usable pidfile nor exited: it must not linger. */
        log_msg(LOG_LVL_WARN, "%s: killing launcher pid %d: %s", svc->display,
                (int)svc->launcher_pid, svc->pidfile_problem);
        if (kill(-svc->launcher_pid, SIGKILL) == -1 && errno != ESRCH)
            (void)kill(svc->launcher_pid, SIGKILL); /* its group is gone: the pid alone */
    }
    apply(svc, &ev);
}

/* After launching a pidfile program: watch its pidfile's directory until a valid pidfile
 * names the daemon, for at most max(startsecs, PIDFILE_WAIT_MIN_S) seconds. */
static void pidfile_wait_begin(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;
    char dir[PATH_MAX];
    const char *slash = strrchr(c->pidfile, '/');
    int wait_s = c->startsecs > PIDFILE_WAIT_MIN_S ? c->startsecs : PIDFILE_WAIT_MIN_S;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - c->pidfile) : 1,
             slash ? (slash == c->pidfile ? "/" : c->pidfile) : ".");
    snprintf(svc->pidfile_problem, sizeof(svc->pidfile_problem),
             "pidfile %s did not appear within %ds", c->pidfile, wait_s);
    svc->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (svc->ino_fd == -1 ||
        inotify_add_watch(svc->ino_fd, dir, IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) == -1 ||
        loop_add(&svc->sup->loop, &svc->ino_w, svc->ino_fd, EPOLLIN, on_pidfile_event, svc)) {
        /* Without inotify the deadline still decides; the pidfile is read then. */
        log_msg(LOG_LVL_WARN, "%s: cannot watch %s: %s", svc->display, dir, strerror(errno));
        loop_del(&svc->sup->loop, &svc->ino_w);
        fd_close_quiet(svc->ino_fd);
        svc->ino_fd = -1;
    }
    (void)loop_timer_arm(&svc->sup->loop, &svc->pidfile_timer,
                         timer_now_ns() + (uint64_t)wait_s * NS_PER_SEC);
}

/* ---- effects ---- */

/* Sends sig to the service's process (or its process group). A process that is not our
 * descendant is only ever signalled through its pidfd. Our own descendants are unreaped
 * until we reap them, so their pid (and a group they lead or belong to) cannot have been
 * reused. */
static int signal_process(struct service *svc, int sig, bool group)
{
    pid_t pid = svc->p.pid, pgid;

    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    if (svc->pidfd != -1)
        return (int)syscall(SYS_pidfd_send_signal, svc->pidfd, sig, NULL, 0);
    if (group) {
        /* Our children lead their group; a daemon adopted from a pidfile usually does not
         * (it forked after setsid), so use the group it is in, never tend's own. */
        pgid = getpgid(pid);
        if (pgid > 0 && pgid != getpgrp())
            return kill(-pgid, sig);
    }
    return kill(pid, sig);
}

static void do_signal(struct service *svc, int sig, bool group)
{
    /* A pidfile program's launcher that is still around after the adoption goes too. It is
     * our unreaped child, so its pid is safe to use. */
    if (svc->launcher_pid > 0 && svc->launcher_pid != svc->p.pid)
        (void)kill(svc->launcher_pid, sig); /* ESRCH only: it is exiting by itself */
    if (signal_process(svc, sig, group) == -1 && errno != ESRCH)
        log_msg(LOG_LVL_WARN, "%s: cannot send signal %d to %s %d: %s", svc->display, sig,
                group ? "the process group of" : "pid", (int)svc->p.pid, strerror(errno));
}

static void sync_timer(struct service *svc)
{
    if (svc->p.deadline_ns == 0) {
        loop_timer_cancel(&svc->sup->loop, &svc->timer);
    } else if (loop_timer_arm(&svc->sup->loop, &svc->timer, svc->p.deadline_ns) == -1) {
        /* Without the timer the process would wait forever; retry very soon instead. */
        log_msg(LOG_LVL_ERROR, "%s: cannot arm a timer: %s", svc->display, strerror(errno));
    }
}

/* A stopped service that a reload removed or changed: drop it or start the new version. */
static void after_stop(struct service *svc)
{
    struct supervisor *sup = svc->sup;

    if (svc->p.pid != 0 || svc->p.state == PROC_STOPPING || svc->p.state == PROC_STARTING ||
        svc->p.state == PROC_RUNNING || svc->p.state == PROC_BACKOFF)
        return;
    if (svc->removing) {
        log_msg(LOG_LVL_INFO, "%s: removed", svc->display);
        svc_remove(sup, svc);
        return;
    }
    if (svc->next_conf != NULL) {
        proc_conf_free(svc->p.conf);
        svc->p.conf = svc->next_conf;
        svc->next_conf = NULL;
        svc_set_display(svc);
        svc_set_health(svc);
        logcap_reconfigure(svc->logcap, svc->p.conf, sup->config->tend.childlogdir);
        svc->p.state = PROC_STOPPED;
        if (svc->p.conf->autostart && !sup->shutting_down) {
            struct proc_event ev = {.kind = EV_START};
            apply(svc, &ev);
        }
    }
}

static void apply(struct service *svc, const struct proc_event *ev)
{
    struct supervisor *sup = svc->sup;
    struct proc_effects fx;
    pid_t pid = svc->p.pid;

    proc_handle(&svc->p, ev, timer_now_ns(), &fx);
    if (fx.msg[0] != '\0' || fx.from != fx.to) {
        char pidbuf[32] = "";
        if (pid > 0)
            snprintf(pidbuf, sizeof(pidbuf), " (pid %d)", (int)pid);
        if (fx.from != fx.to)
            log_msg(fx.to == PROC_FATAL ? LOG_LVL_ERROR : LOG_LVL_INFO, "%s%s: %s -> %s%s%s",
                    svc->display, pidbuf, proc_state_name(fx.from), proc_state_name(fx.to),
                    fx.msg[0] ? ": " : "", fx.msg);
        else
            log_msg(LOG_LVL_INFO, "%s%s: %s", svc->display, pidbuf, fx.msg);
    }
    if (svc->p.state != PROC_STARTING && timer_armed(&svc->pidfile_timer))
        pidfile_wait_end(svc);
    if (svc->health != NULL) {
        /* Checks run while the process runs: from its confirmed exec (or adoption) to the
         * moment it stops or exits. */
        if (svc->p.pid == 0 || fx.exited || svc->p.state == PROC_STOPPING ||
            svc->p.state == PROC_STOPPED || svc->p.state == PROC_EXITED ||
            svc->p.state == PROC_BACKOFF || svc->p.state == PROC_FATAL)
            health_stop(svc->health);
        else if (ev->kind == EV_EXEC_OK)
            health_start(svc->health);
    }
    if (svc->p.pid == 0 && svc->pidfd != -1)
        pidfd_end(svc);
    if (fx.signal != 0) {
        do_signal(svc, fx.signal, fx.signal_group);
        /* A stopped (SIGSTOP) process cannot act on its stop signal until continued. */
        if (fx.signal != SIGKILL && fx.signal != SIGCONT)
            do_signal(svc, SIGCONT, fx.signal_group);
    }
    sync_timer(svc);
    if (fx.from != fx.to || fx.exited || fx.crash_loop_entered || fx.crash_loop_exited) {
        for (size_t i = 0; i < sup->nlisteners; i++)
            sup->listeners[i].fn(svc, &fx, sup->listeners[i].ctx);
    }
    if (fx.spawn) {
        do_spawn(svc); /* may apply() again for an immediate failure */
        sync_timer(svc);
    }
    if (svc->removing || svc->next_conf != NULL)
        after_stop(svc);
    if (sup->shutting_down)
        check_shutdown_progress(sup);
}

static void on_timer(struct timer *t, void *ctx)
{
    struct service *svc = ctx;
    struct proc_event ev = {.kind = EV_TIMER};

    (void)t;
    apply(svc, &ev);
}

/* ---- requests ---- */

int sup_listen(struct supervisor *sup, sup_listener_fn *fn, void *ctx)
{
    if (sup->nlisteners == sizeof(sup->listeners) / sizeof(sup->listeners[0]))
        return -1;
    sup->listeners[sup->nlisteners].fn = fn;
    sup->listeners[sup->nlisteners].ctx = ctx;
    sup->nlisteners++;
    return 0;
}

void sup_start(struct service *svc)
{
    struct proc_event ev = {.kind = EV_START};

    if (!svc->sup->shutting_down && !svc->removing)
        apply(svc, &ev);
}

void sup_stop(struct service *svc)
{
    struct proc_event ev = {.kind = EV_STOP};

    apply(svc, &ev);
}

void sup_restart(struct service *svc)
{
    sup_stop(svc);
    sup_start(svc);
}

int sup_signal(struct service *svc, int sig)
{
    return signal_process(svc, sig, false);
}

static int diag_cmp(const void *a, const void *b)
{
    const struct config_diag *x = a, *y = b;
    int c = strcmp(x->file ? x->file : "", y->file ? y->file : "");

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Checks config has nothing the supervisor itself cannot run (a health check on a host name
 * would need a blocking lookup). Appends errors to diags; returns -1 if there were any. */
static int validate_runnable(const struct config *cfg, struct config_diags *diags)
{
    int rc = 0;

    for (size_t i = 0; i < cfg->nprocs; i++) {
        const struct proc_conf *c = cfg->procs[i];
        char msg[256];
        if (c->healthcheck_kind == HEALTH_NONE || health_validate(c, msg, sizeof(msg)) == 0)
            continue;
        if (diags->count == diags->cap) {
            diags->cap = diags->cap ? diags->cap * 2 : 8;
            diags->items = xrealloc(diags->items, diags->cap * sizeof(*diags->items));
        }
        diags->items[diags->count++] = (struct config_diag){
            .file = xstrdup(c->file),
            .line = c->healthcheck_line > 0 ? c->healthcheck_line : c->line, .is_error = true,
            .msg = xasprintf("[program:%s] healthcheck: %s", c->program, msg)};
        diags->errors++;
        rc = -1;
    }
    /* Keep the config module's order: by file, then line. */
    if (rc == -1)
        qsort(diags->items, diags->count, sizeof(*diags->items), diag_cmp);
    return rc;
}

/* ---- shutdown: stop by descending priority, one level at a time ---- */

static bool svc_busy(const struct service *svc)
{
    return svc->p.pid != 0 || svc->launcher_pid != 0;
}

static void check_shutdown_progress(struct supervisor *sup)
{
    int level = INT_MIN;

    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *svc = sup->svcs[i];
        if (svc_busy(svc) && svc->p.conf->priority >= sup->shutdown_priority)
            return; /* this level is still stopping */
    }
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *svc = sup->svcs[i];
        if (svc_busy(svc) && svc->p.conf->priority > level)
            level = svc->p.conf->priority;
    }
    if (level == INT_MIN) {
        /* Reached from each exit's handling and from the reaping pass: say it once. */
        if (!sup->loop.stopping)
            log_msg(LOG_LVL_INFO, "every program is stopped");
        loop_stop(&sup->loop);
        return;
    }
    sup->shutdown_priority = level;
    for (size_t i = sup->nsvcs; i-- > 0;) {
        struct service *svc = sup->svcs[i];
        if (svc->p.conf->priority == level && svc_busy(svc) &&
            svc->p.state != PROC_STOPPING)
            sup_stop(svc);
    }
}

void sup_shutdown(struct supervisor *sup)
{
    if (sup->shutting_down)
        return;
    log_msg(LOG_LVL_INFO, "shutting down: stopping every program by descending priority");
    sup->shutting_down = true;
    sup->shutdown_priority = INT_MAX;
    /* Nothing in BACKOFF may start again; processes are stopped level by level. */
    for (size_t i = sup->nsvcs; i-- > 0;) {
        struct service *svc = sup->svcs[i];
        if (svc->p.state == PROC_BACKOFF)
            sup_stop(svc);
    }
    check_shutdown_progress(sup);
}

/* ---- log rotation ---- */

int sup_logrotate(struct supervisor *sup)
{
    int rc = 0, saved = 0;

    if (log_reopen() == -1) {
        saved = errno;
        rc = -1;
    }
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (logcap_rotate(sup->svcs[i]->logcap) == -1 && rc == 0) {
            saved = errno;
            rc = -1;
        }
    }
    log_msg(LOG_LVL_INFO, "logs reopened or rotated%s%s", rc ? ": " : "",
            rc ? strerror(saved) : "");
    errno = saved;
    return rc;
}

/* ---- reload ---- */

/* AUTO capture goes to this supervisor's own directory under childlogdir (see
 * logcap_instance_dir). Left as it is when that cannot be computed (no home directory):
 * logcap then says why the AUTO output is not kept. */
static void set_instance_logdir(struct tend_conf *t, const char *config_path)
{
    char *dir = logcap_instance_dir(t->childlogdir, t->identifier, config_path);

    if (dir == NULL)
        return;
    free(t->childlogdir);
    t->childlogdir = dir;
}


static void report_line(void (*report)(const char *, void *), void *ctx, const char *verb,
                        const char *name)
{
    char line[512];

    snprintf(line, sizeof(line), "%s %s", verb, name);
    log_msg(LOG_LVL_INFO, "reload: %s", line);
    if (report != NULL)
        report(line, ctx);
}

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/* The policy keys that differ between a and b (those proc_conf_equal leaves out), as
 * "key, key" into buf; "" when none does. */
static const char *policy_changes(const struct proc_conf *a, const struct proc_conf *b,
                                  char *buf, size_t len)
{
    struct {
        const char *key;
        bool differs;
    } keys[] = {
        {"priority", a->priority != b->priority},
        {"autostart", a->autostart != b->autostart},
        {"startsecs", a->startsecs != b->startsecs},
        {"startretries", a->startretries != b->startretries},
        {"autorestart", a->autorestart != b->autorestart},
        {"exitcodes", memcmp(a->exitcodes, b->exitcodes, sizeof(a->exitcodes)) != 0},
        {"stopsignal", a->stopsignal != b->stopsignal},
        {"stopwaitsecs", a->stopwaitsecs != b->stopwaitsecs},
        {"stopasgroup", a->stopasgroup != b->stopasgroup},
        {"killasgroup", a->killasgroup != b->killasgroup},
        {"healthcheck", str_differs(a->healthcheck, b->healthcheck)},
        {"healthcheck_interval", a->healthcheck_interval != b->healthcheck_interval},
        {"healthcheck_timeout", a->healthcheck_timeout != b->healthcheck_timeout},
        {"healthcheck_retries", a->healthcheck_retries != b->healthcheck_retries},
        {"healthcheck_grace", a->healthcheck_grace != b->healthcheck_grace},
        {"on_event", str_differs(a->on_event, b->on_event)},
    };
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!keys[i].differs)
            continue;
        int w = snprintf(buf + n, len - n, "%s%s", n > 0 ? ", " : "", keys[i].key);
        if (w < 0 || (size_t)w >= len - n)
            break; /* the list is cut: it only informs */
        n += (size_t)w;
    }
    return buf;
}

static bool svc_has_process(const struct service *svc)
{
    return svc->p.pid != 0 || svc->p.state == PROC_BACKOFF;
}

int sup_reload(struct supervisor *sup, struct config_diags *diags,
               void (*report)(const char *line, void *ctx), void *ctx)
{
    struct config *cfg = NULL;
    struct service **added = NULL;
    size_t nadded = 0;

    if (config_load(sup->config_path, &cfg, diags) == -1 ||
        validate_runnable(cfg, diags) == -1) {
        config_free(cfg);
        log_msg(LOG_LVL_ERROR, "reload: %s has errors; nothing changed", sup->config_path);
        for (size_t i = 0; i < diags->count; i++) {
            char buf[1024];
            config_diag_format(&diags->items[i], buf, sizeof(buf));
            log_msg(LOG_LVL_ERROR, "%s", buf);
        }
        return -1;
    }
    set_instance_logdir(&cfg->tend, sup->config_path);
    added = calloc(cfg->nprocs + 1, sizeof(*added));
    if (added == NULL) {
        config_free(cfg);
        errno = ENOMEM;
        return -1;
    }
    /* Removed: in the table but not in the new config. */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct service *svc = sup->svcs[i];
        if (!svc->removing && config_find_proc(cfg, svc->p.conf->name) == NULL) {
            svc->removing = true;
            report_line(report, ctx, "removed", svc->display);
        }
    }
    /* Added and changed. Each new process config is taken over from cfg by a service. */
    for (size_t i = 0; i < cfg->nprocs; i++) {
        struct proc_conf *nc = cfg->procs[i];
        struct service *svc = NULL;
        for (size_t j = 0; j < sup->nsvcs; j++) {
            if (!sup->svcs[j]->removing && strcmp(sup->svcs[j]->p.conf->name, nc->name) == 0)
                svc = sup->svcs[j];
        }
        cfg->procs[i] = NULL;
        if (svc == NULL) {
            struct service *fresh = svc_new(sup, nc);
            if (fresh == NULL) {
                log_msg(LOG_LVL_ERROR, "reload: out of memory adding %s", nc->name);
                proc_conf_free(nc);
                continue;
            }
            added[nadded++] = fresh;
            report_line(report, ctx, "added", fresh->display);
        } else if (proc_conf_equal(svc->p.conf, nc)) {
            /* Only policy changed (or nothing): the process keeps running untouched, and
             * the change is said all the same. */
            char keys[300], what[400];
            if (policy_changes(svc->p.conf, nc, keys, sizeof(keys))[0] != '\0') {
                snprintf(what, sizeof(what), "%s (%s; the process keeps running)",
                         svc->display, keys);
                report_line(report, ctx, "updated", what);
            }
            proc_conf_free(svc->p.conf);
            svc->p.conf = nc;
            svc_set_health(svc);
            logcap_reconfigure(svc->logcap, nc, cfg->tend.childlogdir);
        } else {
            report_line(report, ctx, "changed", svc->display);
            if (svc->next_conf != NULL)
                proc_conf_free(svc->next_conf);
            svc->next_conf = nc;
        }
    }
    /* Grow the table for the new services. */
    if (nadded > 0) {
        struct service **t = realloc(sup->svcs, (sup->nsvcs + nadded) * sizeof(*t));
        if (t == NULL) {
            for (size_t i = 0; i < nadded; i++)
                svc_free(added[i]);
            nadded = 0;
            log_msg(LOG_LVL_ERROR, "reload: out of memory; new programs not added");
        } else {
            sup->svcs = t;
            memcpy(sup->svcs + sup->nsvcs, added, nadded * sizeof(*t));
            sup->nsvcs += nadded;
        }
    }
    config_free(sup->config);
    sup->config = cfg;
    /* svc_new above made the added programs' logcaps under the old [tend] childlogdir. */
    for (size_t i = 0; i < nadded; i++)
        logcap_reconfigure(added[i]->logcap, added[i]->p.conf, cfg->tend.childlogdir);
    sort_services(sup);
    log_msg(LOG_LVL_INFO, "reload: %s applied", sup->config_path);
    if (sup->alerts != NULL) {
        struct alert_event ae = {.event = CONFIG_EV_CONFIG_RELOADED, .program = "tend",
                                 .group = "tend", .process = "tend", .pid = getpid(),
                                 .wait_status = -1, .reason = sup->config_path};
        alerts_configure(sup->alerts, cfg);
        alerts_fire(sup->alerts, &ae);
    }

    /* Act, in priority order: stop the removed and changed, start the added. */
    for (size_t i = sup->nsvcs; i-- > 0;) {
        struct service *svc = sup->svcs[i];
        if (svc->removing || svc->next_conf != NULL) {
            if (svc_has_process(svc))
                sup_stop(svc);
            else
                after_stop(svc);
        }
    }
    for (size_t i = 0; i < nadded; i++) {
        if (added[i]->p.conf->autostart)
            sup_start(added[i]);
    }
    free(added);
    return 0;
}

/* ---- alerts ---- */

static void fire(struct service *svc, enum config_event event, int wait_status)
{
    const struct proc *p = &svc->p;
    uint64_t now = timer_now_ns();
    struct alert_event ae = {
        .event = event,
        .program = p->conf->program,
        .group = p->conf->group,
        .process = svc->display,
        .on_event = p->conf->on_event,
        /* An exit event is about the instance that ended, even if a new one runs already. */
        .pid = wait_status != -1 || p->pid == 0 ? p->last_pid : p->pid,
        .wait_status = wait_status,
        .restarts = p->restarts,
        .uptime_s = wait_status != -1 ? p->last_run_ns / NS_PER_SEC
                    : p->pid && now > p->start_ns ? (now - p->start_ns) / NS_PER_SEC : 0,
        .reason = p->reason,
    };
    alerts_fire(svc->sup->alerts, &ae);
}

/* Turns one state-machine step into the alert events it stands for. */
static void on_alert_event(struct service *svc, const struct proc_effects *fx, void *ctx)
{
    static const enum config_event by_state[] = {
        [PROC_STOPPED] = CONFIG_EV_STOPPED,   [PROC_STARTING] = CONFIG_EV_STARTING,
        [PROC_RUNNING] = CONFIG_EV_RUNNING,   [PROC_BACKOFF] = CONFIG_EV_BACKOFF,
        [PROC_STOPPING] = CONFIG_EV_STOPPING, [PROC_EXITED] = CONFIG_EV_EXITED,
        [PROC_FATAL] = CONFIG_EV_FATAL,
    };

    (void)ctx;
    if (fx->exited) {
        fire(svc, CONFIG_EV_EXITED, svc->p.last_status);
        if (fx->unexpected_exit)
            fire(svc, CONFIG_EV_PROCESS_UNEXPECTED_EXIT, svc->p.last_status);
    }
    if (fx->crash_loop_entered)
        fire(svc, CONFIG_EV_CRASH_LOOP_ENTERED, svc->p.last_status);
    if (fx->from != fx->to && fx->to != PROC_UNKNOWN && !(fx->exited && fx->to == PROC_EXITED))
        fire(svc, by_state[fx->to], fx->to == PROC_FATAL ? svc->p.last_status : -1);
    if (fx->crash_loop_exited)
        fire(svc, CONFIG_EV_CRASH_LOOP_EXITED, -1);
}

/* ---- health checks ---- */

static void on_health(void *ctx, bool ok, int failures, const char *reason)
{
    struct service *svc = ctx;

    if (ok) {
        if (failures == 0 && svc->p.state == PROC_RUNNING)
            log_msg(LOG_LVL_DEBUG, "%s: health check ok: %s", svc->display, reason);
        return;
    }
    log_msg(LOG_LVL_WARN, "%s: health check failed (%d of %d): %s", svc->display, failures,
            svc->p.conf->healthcheck_retries, reason);
    if (health_should_restart(svc->health) && svc->p.state == PROC_RUNNING) {
        snprintf(svc->p.reason, sizeof(svc->p.reason), "health check failed %d times: %s",
                 failures, reason);
        log_msg(LOG_LVL_WARN, "%s: restarting: %s", svc->display, svc->p.reason);
        fire(svc, CONFIG_EV_HEALTH_FAILED, -1);
        struct proc_event ev = {.kind = EV_HEALTH_FAILED};
        apply(svc, &ev); /* stops it, then restarts it like a crash (and backs off) */
    }
}

/* Creates, reconfigures or drops the health check after the service's config changed. */
static void svc_set_health(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;

    if (c->healthcheck_kind == HEALTH_NONE) {
        health_free(svc->health);
        svc->health = NULL;
    } else if (svc->health == NULL) {
        svc->health = health_new(&svc->sup->loop, c, on_health, svc);
        if (svc->p.state == PROC_RUNNING)
            health_start(svc->health);
    } else {
        health_reconfigure(svc->health, c);
    }
}

/* ---- signals and reaping ---- */

static void reap_children(struct supervisor *sup)
{
    int status;
    pid_t pid;

    /* One SIGCHLD may stand for many exits: drain until nothing is left. */
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct service *svc = find_by_pid(sup, pid);
        if (svc == NULL && sup->alerts != NULL && alerts_reaped(sup->alerts, pid, status))
            continue;
        if (svc == NULL) {
            bool mine = false;
            for (size_t i = 0; i < sup->nsvcs && !mine; i++)
                mine = health_reaped(sup->svcs[i]->health, pid, status);
            if (mine)
                continue;
        }
        if (svc == NULL) {
            /* A descendant that double-forked and was reparented to us (subreaper). */
            sup->orphans_reaped++;
            log_msg(LOG_LVL_DEBUG, "reaped orphan pid %d", (int)pid);
            continue;
        }
        /* The child is gone, so its report pipe holds its whole story: read it first so
         * that an exec failure is not mistaken for a quick exit. */
        if (svc->report_fd != -1 && (svc->p.pid == pid || svc->launcher_pid == pid)) {
            (void)fcntl(svc->report_fd, F_SETFL, 0); /* blocking is fine: EOF is there */
            read_report(svc);
        }
        if (svc->launcher_pid == pid) {
            svc->launcher_pid = 0;
            if (svc->p.pid != pid)
                continue; /* the daemon it started is adopted: its status is what counts */
            if (svc->p.state == PROC_STARTING && WIFEXITED(status) &&
                WEXITSTATUS(status) == 0) {
                /* It forked into the background and exited, as a daemonizing program
                 * does. The daemon is found through the pidfile. */
                svc->p.pid = 0;
                if (svc->ino_fd != -1 || timer_armed(&svc->pidfile_timer))
                    try_pidfile(svc);
                continue;
            }
        }
        if (svc->p.pid == pid) {
            struct proc_event ev = {.kind = EV_EXITED, .status = status};
            apply(svc, &ev);
        }
        if (svc->p.pid == pid)
            svc->p.pid = 0; /* FATAL after an exec failure: nothing more to do */
    }
    if (pid == -1 && errno != ECHILD && errno != EINTR)
        log_msg(LOG_LVL_WARN, "waitpid: %s", strerror(errno));
    /* A reaped launcher changes no state, yet it may have been the last thing shutdown was
     * waiting for. */
    if (sup->shutting_down)
        check_shutdown_progress(sup);
}

static void reload_from_signal(struct supervisor *sup)
{
    struct config_diags diags = {0};

    log_msg(LOG_LVL_INFO, "SIGHUP: rereading %s", sup->config_path);
    (void)sup_reload(sup, &diags, NULL, NULL); /* errors are logged; nothing changed */
    config_diags_free(&diags);
}

static void on_signal(struct watcher *w, uint32_t events)
{
    struct supervisor *sup = w->ctx;
    struct signalfd_siginfo si;
    bool child = false;

    (void)events;
    while (fd_read(sup->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            child = true;
            break;
        case SIGTERM:
        case SIGINT:
            log_msg(LOG_LVL_INFO, "received SIG%s", sig_name((int)si.ssi_signo) ?: "?");
            sup_shutdown(sup);
            break;
        case SIGHUP:
            reload_from_signal(sup);
            break;
        case SIGUSR2:
            (void)sup_logrotate(sup); /* failures are logged and retried by logcap */
            break;
        default:
            break;
        }
    }
    if (child)
        reap_children(sup);
}

/* ---- start-up ---- */

static void print_diags(const struct config_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        char buf[1024];
        config_diag_format(&diags->items[i], buf, sizeof(buf));
        fprintf(stderr, "%s\n", buf);
    }
}

/* Loads the config named by -c or found by the default search. Prints every diagnostic.
 * Returns the config or NULL. */
static struct config *load_config(const char *path)
{
    struct config_diags diags = {0};
    struct config *cfg = NULL;

    if (path == NULL) {
        fprintf(stderr, "tend: no config file: none of ./tend.conf, /etc/tend.conf, "
                        "/etc/supervisor/supervisord.conf exists (use -c FILE)\n");
        return NULL;
    }
    (void)config_load(path, &cfg, &diags); /* cfg stays NULL on error */
    /* What start-up would refuse, found before anything is created (and by tend check). */
    if (cfg != NULL && (validate_runnable(cfg, &diags) | preflight_tend(cfg, &diags)) != 0) {
        config_free(cfg);
        cfg = NULL;
    }
    print_diags(&diags);
    config_diags_free(&diags);
    return cfg;
}

/* Options of daemon (-c FILE, -n) and check (-c FILE or a bare FILE, --json). Returns 0, 1
 * after printing the usage (--help), or -1 after naming the argument at fault. */
static const struct option daemon_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"nodaemon", no_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const struct option check_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void supervisor_each_option(const char *cmd, void (*fn)(const char *cmd, int short_name,
                                                        const char *long_name, void *ctx),
                            void *ctx)
{
    const struct option *o = strcmp(cmd, "daemon") == 0 ? daemon_opts : check_opts;

    for (; o->name != NULL; o++)
        fn(cmd, o->val == 'j' ? 0 : o->val, o->name, ctx);
}

static int parse_c_n(int argc, char **argv, const char *cmd, const char **path, bool *fg,
                     bool *json)
{
    const struct option *longopts = fg != NULL ? daemon_opts : check_opts;
    const char *usage = fg ? "tend daemon [-c FILE] [-n]" : "tend check [--json] [-c] [FILE]";
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, fg ? "+c:nh" : "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *path = optarg;
            break;
        case 'n':
            if (fg == NULL)
                goto bad_option; /* --nodaemon given to check */
            *fg = true;
            break;
        case 'j':
            if (json == NULL)
                goto bad_option;
            *json = true;
            break;
        case 'h':
            printf("Usage: %s\n", usage);
            return 1;
        default:
            goto bad_option;
        }
    }
    /* check takes the file as its argument too, as supervisord -c's users expect of a checker. */
    if (fg == NULL && optind == argc - 1 && *path == NULL) {
        *path = argv[optind];
        return 0;
    }
    if (optind == argc)
        return 0;
    /* check's FILE is the first word: the one at fault is the next. */
    int at = fg == NULL && *path == NULL && optind + 1 < argc ? optind + 1 : optind;
    fprintf(stderr, "tend %s: unexpected argument '%s' (usage: %s)\n", cmd, argv[at], usage);
    return -1;
bad_option:
    if (optopt != 0 && strchr("c", optopt) != NULL)
        fprintf(stderr, "tend %s: option '-%c' needs a FILE (usage: %s)\n", cmd, optopt, usage);
    else if (optopt != 0)
        fprintf(stderr, "tend %s: unknown option '-%c' (usage: %s)\n", cmd, optopt, usage);
    else
        fprintf(stderr, "tend %s: unknown option or missing value: '%s' (usage: %s)\n", cmd,
                argv[optind - 1], usage);
    return -1;
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* tend check --json: {"file", "ok", "processes", "diagnostics": [{file, line, severity,
 * message}]} (doc/json.md). */
static int check_json(const char *path)
{
    struct config_diags diags = {0};
    struct config *cfg = NULL;
    int ok = 0;

    if (path == NULL) {
        printf("{\"file\": null, \"ok\": false, \"processes\": 0, \"diagnostics\": "
               "[{\"file\": null, \"line\": 0, \"severity\": \"error\", \"message\": "
               "\"no config file: none of ./tend.conf, /etc/tend.conf, "
               "/etc/supervisor/supervisord.conf exists\"}]}\n");
        return EXIT_FAIL;
    }
    (void)config_load(path, &cfg, &diags); /* cfg stays NULL on error */
    if (cfg != NULL && (validate_runnable(cfg, &diags) | preflight_tend(cfg, &diags)) == 0)
        ok = 1;
    printf("{\"file\": ");
    json_str(stdout, path);
    printf(", \"ok\": %s, \"processes\": %zu, \"diagnostics\": [", ok ? "true" : "false",
           ok ? cfg->nprocs : (size_t)0);
    for (size_t i = 0; i < diags.count; i++) {
        const struct config_diag *d = &diags.items[i];
        printf("%s{\"file\": ", i > 0 ? ", " : "");
        json_str(stdout, d->file != NULL ? d->file : path);
        printf(", \"line\": %d, \"severity\": \"%s\", \"message\": ", d->line,
               d->is_error ? "error" : "warning");
        json_str(stdout, d->msg);
        printf("}");
    }
    printf("]}\n");
    config_diags_free(&diags);
    config_free(cfg);
    return ok ? EXIT_OK : EXIT_FAIL;
}

int check_main(int argc, char **argv)
{
    const char *path = NULL;
    struct config *cfg;
    bool json = false;
    int r = parse_c_n(argc, argv, "check", &path, NULL, &json);

    if (r != 0)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    if (path == NULL)
        path = config_default_path();
    if (json)
        return check_json(path);
    cfg = load_config(path);
    if (cfg == NULL)
        return EXIT_FAIL;
    printf("%s: ok (%zu process%s)\n", path, cfg->nprocs, cfg->nprocs == 1 ? "" : "es");
    config_free(cfg);
    return EXIT_OK;
}

/* tend's own environment: rlimits, umask, directory, user, from [tend]. Before any child. */
static int apply_tend_settings(struct supervisor *sup, const struct tend_conf *t, char *err,
                               size_t errlen)
{
    struct rlimit rl;

    if (t->minfds > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)t->minfds) {
        rl.rlim_cur = (rlim_t)t->minfds;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur; /* raising the hard limit needs root */
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_msg(LOG_LVL_WARN, "cannot raise the descriptor limit to minfds=%d: %s",
                    t->minfds, strerror(errno));
    }
    /* Children get minfds (or what tend inherited, if more); tend itself may need a pipe
     * per spawn in flight and a socket per client, so it takes the hard limit. A soft
     * limit above 1024 is not handed on: programs using select() break past it. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        sup->child_nofile = rl.rlim_cur;
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
                log_msg(LOG_LVL_WARN, "cannot raise tend's descriptor limit to %llu: %s",
                        (unsigned long long)rl.rlim_max, strerror(errno));
        }
    }
    if (t->minprocs > 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)t->minprocs) {
        rl.rlim_cur = (rlim_t)t->minprocs;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NPROC, &rl) == -1)
            log_msg(LOG_LVL_WARN, "cannot raise the process limit to minprocs=%d: %s",
                    t->minprocs, strerror(errno));
    }
    if (t->umask >= 0)
        (void)umask((mode_t)t->umask); /* cannot fail */
    if (t->directory != NULL && chdir(t->directory) == -1) {
        snprintf(err, errlen, "tend: cannot change directory to %s: %s\n", t->directory,
                 strerror(errno));
        return -1;
    }
    if (t->user != NULL) {
        uid_t uid;
        gid_t gid;
        gid_t *groups = NULL;
        size_t ngroups = 0;
        char msg[256];
        if (spawn_resolve_user(t->user, &uid, &gid, &groups, &ngroups, msg, sizeof(msg))) {
            snprintf(err, errlen, "tend: [tend] user=%s: %s\n", t->user, msg);
            return -1;
        }
        if (geteuid() == 0) {
            int rc = setgroups(ngroups, groups) == -1 || setresgid(gid, gid, gid) == -1 ||
                     setresuid(uid, uid, uid) == -1;
            free(groups);
            if (rc) {
                snprintf(err, errlen, "tend: cannot drop privileges to %s: %s\n", t->user,
                         strerror(errno));
                return -1;
            }
        } else {
            free(groups);
            if (uid != geteuid()) {
                snprintf(err, errlen, "tend: [tend] user=%s needs root\n", t->user);
                return -1;
            }
        }
    }
    return 0;
}

static int open_own_log(const struct tend_conf *t, bool foreground, const char *config_path,
                        char *err, size_t errlen)
{
    enum log_level lvl = LOG_LVL_INFO;
    char path[PATH_MAX];
    const char *file = NULL;

    static const enum log_level map[] = {
        [CONFIG_LOG_CRITICAL] = LOG_LVL_ERROR, [CONFIG_LOG_ERROR] = LOG_LVL_ERROR,
        [CONFIG_LOG_WARN] = LOG_LVL_WARN,      [CONFIG_LOG_INFO] = LOG_LVL_INFO,
        [CONFIG_LOG_DEBUG] = LOG_LVL_DEBUG,    [CONFIG_LOG_TRACE] = LOG_LVL_DEBUG,
        [CONFIG_LOG_BLATHER] = LOG_LVL_DEBUG,
    };
    if ((unsigned)t->loglevel < sizeof(map) / sizeof(map[0]))
        lvl = map[t->loglevel];
    log_set_level(lvl);
    switch (t->logfile_kind) {
    case LOG_TARGET_SYSLOG:
        log_use_syslog("tend");
        return 0;
    case LOG_TARGET_NONE:
        if (!foreground)
            file = "/dev/null";
        break;
    case LOG_TARGET_PATH:
        file = t->logfile;
        break;
    case LOG_TARGET_AUTO:
        if (foreground)
            return 0; /* stderr */
        if (geteuid() == 0) {
            file = "/var/log/tend.log";
        } else {
            /* Beside the config file, where its owner can surely write. */
            const char *slash = strrchr(config_path, '/');
            int dlen = slash ? (int)(slash - config_path) : 1;
            snprintf(path, sizeof(path), "%.*s/tend.log", dlen, slash ? config_path : ".");
            file = path;
        }
        break;
    }
    if (file != NULL && log_open_file(file) == -1) {
        snprintf(err, errlen, "tend: cannot open log file %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (file != NULL && strcmp(file, "/dev/null") != 0)
        log_set_rotation(t->logfile_maxbytes, t->logfile_backups);
    return 0;
}

/* Makes *path absolute against the current directory. 0 or -1/errno. */
static int absolutize(char **path)
{
    char cwd[PATH_MAX];

    if (*path == NULL || (*path)[0] == '/')
        return 0;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    char *abs = xasprintf("%s/%s", cwd, *path);
    free(*path);
    *path = abs;
    return 0;
}

static int absolutize_tend_paths(struct tend_conf *t)
{
    if (absolutize(&t->pidfile) == -1 || absolutize(&t->socket) == -1 ||
        absolutize(&t->childlogdir) == -1 || absolutize(&t->directory) == -1)
        return -1;
    return t->logfile_kind == LOG_TARGET_PATH ? absolutize(&t->logfile) : 0;
}

/* The daemon keeps nothing of its caller: stdio onto /dev/null, every other inherited
 * descriptor closed, except the two start-up needs (both close-on-exec). */
static int detach_descriptors(int keep1, int keep2)
{
    int null_fd, dfd;
    DIR *d;
    struct dirent *e;

    d = opendir("/proc/self/fd");
    if (d != NULL) {
        dfd = dirfd(d);
        while ((e = readdir(d)) != NULL) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != dfd &&
                fd != keep1 && fd != keep2)
                (void)close(fd); /* inherited and unwanted: nothing to do if it fails */
        }
        closedir(d);
    }
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd == -1)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (dup2(null_fd, i) == -1) {
            fd_close_quiet(null_fd);
            return -1;
        }
    }
    (void)close(null_fd); /* the three copies remain */
    return 0;
}

static void free_supervisor(struct supervisor *sup)
{
    control_close(sup->control);
    sup->control = NULL;
    alerts_free(sup->alerts);
    sup->alerts = NULL;
    for (size_t i = 0; sup->svcs != NULL && i < sup->nsvcs; i++) {
        if (sup->svcs[i] == NULL)
            continue; /* cannot happen (nsvcs counts filled slots); keeps the analyzer sure */
        svc_release(sup->svcs[i]);
        svc_free(sup->svcs[i]);
    }
    free(sup->svcs);
    loop_free(&sup->loop);
    fd_close_quiet(sup->sig_fd);
    fd_close_quiet(sup->null_fd);
    config_free(sup->config);
    free(sup->config_path);
}

int supervisor_main(int argc, char **argv)
{
    struct supervisor sup = {.sig_fd = -1, .null_fd = -1};
    const char *path = NULL;
    bool foreground = false;
    char err[PATH_MAX + 256] = "";
    int notify_fd = -1, pid_fd = -1;
    char *pidfile_path = NULL;
    bool pid_written = false; /* the pidfile is ours to remove if start-up fails */
    char advert[PATH_MAX] = ""; /* this supervisor's advertisement in the runtime directory */
    sigset_t mask;
    int r = parse_c_n(argc, argv, "daemon", &path, &foreground, NULL);

    if (r != 0)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    if (path == NULL)
        path = config_default_path();
    sup.config = load_config(path);
    if (sup.config == NULL)
        return EXIT_FAIL;
    /* Keep an absolute path: reload must find the file after a chdir. */
    sup.config_path = realpath(path, NULL);
    if (sup.config_path == NULL) {
        fprintf(stderr, "tend: %s: %s\n", path, strerror(errno));
        config_free(sup.config);
        return EXIT_FAIL;
    }
    if (sup.config->tend.nodaemon)
        foreground = true;
    /* tend's own paths are relative to where it was started (as supervisord's are), and the
     * daemon changes directory to / before it uses them. */
    if (absolutize_tend_paths(&sup.config->tend) == -1) {
        fprintf(stderr, "tend: cannot resolve relative paths: %s\n", strerror(errno));
        free_supervisor(&sup);
        return EXIT_FAIL;
    }
    set_instance_logdir(&sup.config->tend, sup.config_path);
    const struct tend_conf *t = &sup.config->tend;
    /* The config may be replaced by a reload: keep what start-up wrote, to remove at exit. */
    pidfile_path = t->pidfile ? xstrdup(t->pidfile) : NULL;

    if (t->pidfile != NULL) {
        pid_t owner;
        if (pidfile_owner(t->pidfile, &owner) == 1) {
            fprintf(stderr, "tend: already running as pid %d (pidfile %s)\n", (int)owner,
                    t->pidfile);
            goto fail_early;
        }
        pid_fd = pidfile_begin(t->pidfile);
        if (pid_fd == -1) {
            fprintf(stderr, "tend: cannot write pidfile %s: %s\n", t->pidfile, strerror(errno));
            goto fail_early;
        }
    }
    if (!foreground) {
        if (spawn_detach_self(&notify_fd) == -1) {
            fprintf(stderr, "tend: cannot fork: %s\n", strerror(errno));
            goto fail_early;
        }
        /* The caller's terminal or pipe must not stay open in the daemon (a `tend daemon |
         * cat` would never end), nor anything else it left us. */
        if (detach_descriptors(notify_fd, pid_fd) == -1) {
            snprintf(err, sizeof(err), "tend: cannot detach from the caller's stdio: %s\n",
                     strerror(errno));
            goto fail;
        }
        if (chdir("/") == -1) {
            /* "/" always exists; a failure here means a broken mount namespace. */
            snprintf(err, sizeof(err), "tend: cannot change directory to /: %s\n",
                     strerror(errno));
            goto fail;
        }
    }
    if (open_own_log(t, foreground, sup.config_path, err, sizeof(err)) == -1 ||
        apply_tend_settings(&sup, t, err, sizeof(err)) == -1)
        goto fail;
    if (pid_fd != -1) {
        r = pidfile_commit(pid_fd, t->pidfile, getpid());
        pid_fd = -1;
        pid_written = r == 0;
        if (r == -1) {
            snprintf(err, sizeof(err), "tend: cannot write pidfile %s: %s\n", t->pidfile,
                     strerror(errno));
            goto fail;
        }
    }

    /* Descendants that double-fork stay ours: their exits are reaped here, never lost. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        log_msg(LOG_LVL_WARN, "cannot become a child subreaper: %s", strerror(errno));
    /* A signal ignored by whoever started us (nohup ignores SIGHUP) would be discarded
     * before it reached the signalfd: the ones we read must be at their default. */
    (void)signal(SIGHUP, SIG_DFL); /* cannot fail for these valid signals */
    (void)signal(SIGINT, SIG_DFL);
    (void)signal(SIGTERM, SIG_DFL);
    (void)signal(SIGCHLD, SIG_DFL);
    (void)signal(SIGUSR2, SIG_DFL);
    /* SIGPIPE: a vanished peer must be an EPIPE, not our death. Children get it back. */
    (void)signal(SIGPIPE, SIG_IGN);
    /* SIGXFSZ: a log file past RLIMIT_FSIZE must be an EFBIG (logcap drops, counts and
     * retries), not our death. Children get it back (child_reset). */
    (void)signal(SIGXFSZ, SIG_IGN);
    /* The dispositions children must have reset: whatever is not default in tend now
     * (SIGPIPE, and anything inherited ignored). Computed once, not per spawn. */
    sigemptyset(&sup.child_reset);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
            sigaddset(&sup.child_reset, sig);
    }
    sup.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (sup.null_fd == -1) {
        snprintf(err, sizeof(err), "tend: cannot open /dev/null: %s\n", strerror(errno));
        goto fail;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
        (sup.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
        loop_init(&sup.loop) == -1 ||
        loop_add(&sup.loop, &sup.sig_w, sup.sig_fd, EPOLLIN, on_signal, &sup) == -1 ||
        loop_set_urgent(&sup.loop, &sup.sig_w) == -1) {
        snprintf(err, sizeof(err), "tend: cannot set up the event loop: %s\n", strerror(errno));
        goto fail;
    }

    sup.alerts = alerts_new(&sup.loop);
    alerts_configure(sup.alerts, sup.config);
    (void)sup_listen(&sup, on_alert_event, NULL); /* the first listener: cannot be full */
    sup.control = control_open(&sup, err, sizeof(err) - 1);
    if (sup.control == NULL) {
        strcat(err, "\n");
        goto fail;
    }
    sup.started_ns = timer_now_ns();
    /* Clients run from any directory find this supervisor through it (tend(1)). */
    if (runtime_advertise(control_path(sup.control), sup.config_path, advert,
                          sizeof(advert)) == -1)
        log_msg(LOG_LVL_WARN, "cannot advertise this supervisor in the runtime directory: %s "
                "(clients find it only through -c or -s)", strerror(errno));

    sup.svcs = calloc(sup.config->nprocs + 1, sizeof(*sup.svcs));
    if (sup.svcs == NULL) {
        snprintf(err, sizeof(err), "tend: out of memory\n");
        goto fail;
    }
    for (size_t i = 0; i < sup.config->nprocs; i++) {
        /* The service takes the config's own copy: one per process, not two. */
        struct proc_conf *c = sup.config->procs[i];
        struct service *svc = svc_new(&sup, c);
        if (svc == NULL) {
            snprintf(err, sizeof(err), "tend: out of memory\n");
            goto fail;
        }
        sup.config->procs[i] = NULL;
        sup.svcs[sup.nsvcs++] = svc;
    }
    sort_services(&sup);
    log_msg(LOG_LVL_INFO, "tend %s started as pid %d with %s (%zu process%s)", TEND_VERSION,
            (int)getpid(), sup.config_path, sup.nsvcs, sup.nsvcs == 1 ? "" : "es");
    /* As supervisord does: the AUTO logs of a previous run go, unless nocleanup=true. */
    if (!t->nocleanup && t->childlogdir != NULL) {
        size_t gone = logcap_clean_auto(t->childlogdir);
        if (gone > 0)
            log_msg(LOG_LVL_INFO, "removed %zu AUTO log file%s of a previous run from %s "
                    "(nocleanup=true keeps them)", gone, gone == 1 ? "" : "s", t->childlogdir);
    }
    if (notify_fd != -1) {
        spawn_detach_ready(notify_fd);
        notify_fd = -1;
    }
    /* Start in ascending priority; each spawn is confirmed asynchronously. */
    for (size_t i = 0; i < sup.nsvcs; i++) {
        if (sup.svcs[i]->p.conf->autostart)
            sup_start(sup.svcs[i]);
    }
    if (loop_run(&sup.loop) == -1) {
        log_msg(LOG_LVL_ERROR, "event loop failed: %s", strerror(errno));
        r = EXIT_FAIL;
    } else {
        r = EXIT_OK;
    }
    if (pidfile_path != NULL)
        (void)unlink(pidfile_path); /* best effort: a stale pidfile is detected by identity */
    free(pidfile_path);
    runtime_withdraw(advert);
    free_supervisor(&sup); /* log capture writes out what is left, and may say so */
    log_msg(LOG_LVL_INFO, "tend exiting");
    log_close();
    return r;

fail:
    log_msg(LOG_LVL_ERROR, "%.*s", (int)strcspn(err, "\n"), err);
    if (notify_fd == -1 && !log_to_stderr())
        fputs(err, stderr);
fail_early:
    /* Clean up first and tell the caller last, so it never sees our leftovers. */
    if (pid_fd != -1)
        pidfile_abort(pid_fd, pidfile_path);
    if (pid_written)
        (void)unlink(pidfile_path); /* best effort: a stale pidfile is detected by identity */
    free(pidfile_path);
    runtime_withdraw(advert);
    free_supervisor(&sup);
    log_close();
    if (notify_fd != -1)
        spawn_detach_fail(notify_fd, err);
    return EXIT_FAIL;
}
