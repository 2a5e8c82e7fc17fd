/* launch: starting one instance of a service (see launch.h).
 *
 * The spawn queue: every spawn the state machines ask for (start-up, an exit's restart, a
 * request) is queued here and served in slices of at most SLICE_SPAWNS spawns or SLICE_NS,
 * one slice per turn of the event loop. The queue's eventfd stays readable while anything
 * is queued, so the loop comes back for the next slice at once, after serving whatever else
 * is ready: the control socket, the signalfd, timers. A mass restart can thus never keep
 * tend from answering. A queued service is STARTING with no process and no deadline: its
 * startsecs count from the real spawn. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adopt.h"
#include "handover.h"
#include "cgroup.h"
#include "events.h"
#include "fcgi.h"
#include "ident.h"
#include "launch.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "spawn.h"
#include "supervisor.h"
#include "util/env.h"
#include "util/fd.h"
#include "util/killpoint.h"
#include "util/str.h"

extern char **environ;

#define SLICE_SPAWNS 64
#define SLICE_NS 2000000ULL /* 2 ms: a control request waits at most about this long */

/* The environment of a child: tend's own, then [tend] environment=, then the program's
 * environment=, then supervisord's SUPERVISOR_* variables. Strings live in `arena`. */
static char **child_env(const struct supervisor *sup, const struct proc_conf *c,
                        const struct notify *nt, char *arena, size_t arena_len)
{
    char *over[512];
    int n = 0;
    int w;

    for (char **e = sup->config->tend.env; e != NULL && *e != NULL && n < 500; e++)
        over[n++] = *e;
    for (char **e = c->env; e != NULL && *e != NULL && n < 500; e++)
        over[n++] = *e;
    n += (int)notify_env(nt, over + n); /* NOTIFY_SOCKET, WATCHDOG_USEC: at most 2 */
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

    sup_apply(svc, &ev);
}

/* A failure for want of a resource (proc_err_is_shortage) is fed as EV_SHORTAGE: the
 * service waits for the resource instead of spending startretries. Returns whether it was
 * one. */
static bool shortage(struct service *svc, int err, const char *what)
{
    struct proc_event ev = {.kind = EV_SHORTAGE, .err = err, .what = what};

    if (!proc_err_is_shortage(err))
        return false;
    sup_apply(svc, &ev);
    return true;
}

static void spawn_one(struct service *svc)
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
    int out_fd = -1, err_fd = -1, in_fd = sup->null_fd;
    bool lent = false;
    pid_t pid = 0;

    if (sup->shutting_down) {
        /* An autorestart during shutdown would undo it: the process stays down. */
        svc->p.state = PROC_STOPPED;
        svc->p.deadline_ns = 0;
        log_msg(LOG_LVL_INFO, "%s: not restarted: tend is shutting down", svc->display);
        return;
    }
    if (cgroup_svc_busy(svc->cg)) {
        /* The last instance's leftovers are being stopped (they may hold its port): start
         * once they are gone (supervisor's on_tree_gone). */
        svc->spawn_deferred = true;
        return;
    }
    notify_sync(svc);
    envp = child_env(sup, c, svc->notify, arena, sizeof(arena));
    if (envp == NULL) {
        (void)shortage(svc, ENOMEM, "prepare its environment"); /* always one */
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
    /* An [fcgi-program:x] instance's stdin is its program's listening socket (fcgi.c). */
    if (fcgi_child_fd(svc, &in_fd, what, sizeof(what)) == -1) {
        spawn_refused(svc, what, 0); /* the message names the socket and the errno */
        goto out;
    }
    /* Output goes into logcap's pipes, which outlive this instance. A pipe that cannot be
     * made for want of descriptors or memory makes the start wait (a shortage); for any
     * other reason that stream goes to /dev/null this time (logged by logcap). */
    lent = true;
    if (logcap_child_fds(svc->logcap, &out_fd, &err_fd) == -1) {
        if (shortage(svc, errno, "create its output pipes"))
            goto out; /* it starts when descriptors are back, its output captured */
        log_msg(LOG_LVL_WARN, "%s: output not captured this time: %s", svc->display,
                strerror(errno));
    }

    static const int resources[PROC_RLIM_COUNT] = {
        [PROC_RLIM_NOFILE] = RLIMIT_NOFILE, [PROC_RLIM_CORE] = RLIMIT_CORE,
        [PROC_RLIM_NPROC] = RLIMIT_NPROC,   [PROC_RLIM_AS] = RLIMIT_AS,
        [PROC_RLIM_MEMLOCK] = RLIMIT_MEMLOCK, [PROC_RLIM_STACK] = RLIMIT_STACK,
        [PROC_RLIM_FSIZE] = RLIMIT_FSIZE,   [PROC_RLIM_CPU] = RLIMIT_CPU,
    };
    struct spawn_rlimit rl[PROC_RLIM_COUNT];
    size_t nrl = 0;
    for (int r = 0; r < PROC_RLIM_COUNT; r++) {
        long long lim = proc_conf_rlimit(c, (enum proc_rlimit)r);
        if (lim == PROC_RLIM_UNSET)
            continue;
        rlim_t v = lim == PROC_RLIM_INFINITY ? RLIM_INFINITY : (rlim_t)lim;
        rl[nrl].resource = resources[r];
        rl[nrl].value.rlim_cur = rl[nrl].value.rlim_max = v;
        nrl++;
    }
    struct spawn_cgroup cgs;
    errno = 0; /* a refusal for a reason of its own leaves it 0 */
    if (cgroup_svc_prepare(svc->cg, c, &cgs, what, sizeof(what)) == -1) {
        if (!shortage(svc, errno, "set up its cgroup"))
            spawn_refused(svc, what, 0); /* the message names the limit or the cgroup */
        goto out;
    }
    /* An event listener's stdin and stdout are the protocol's pipes (events.c). */
    if (events_child_fds(svc, &in_fd, &out_fd) == -1)
        log_msg(LOG_LVL_WARN, "%s: no event listener pipes this time: %s", svc->display,
                strerror(errno));
    struct spawn_spec spec = {
        .path = path,
        .argv = c->argv,
        .envp = envp,
        .dir = c->directory,
        .umask = c->umask,
        .stdio_fd = {in_fd, out_fd != -1 ? out_fd : sup->null_fd,
                     err_fd != -1 ? err_fd : sup->null_fd},
        .detach = SPAWN_DETACH_PGRP,
        .nofile = sup->child_nofile,
        .reset = &sup->child_reset,
        .set_ids = c->user != NULL && geteuid() == 0,
        .uid = uid,
        .gid = gid,
        .groups = groups,
        .ngroups = ngroups,
        .cgroup = cgs.procs_fd != -1 ? &cgs : NULL,
        .rlimits = rl,
        .nrlimits = nrl,
    };
    /* The pipes reach the keeper, and the slot says a fork is under way, before it; the
     * child notes its pid there itself, in case we die while it runs on our memory. */
    handover_spawn_begin(svc, spec.note_pid);
    killpoint("TEND_TEST_KILL_IN_SPAWN", "before"); /* resilience tests (util/killpoint.h) */
    struct spawn_error e;
    int spawned = spawn_run(&spec, &pid, &e);
    if (spawned >= 0)
        killpoint("TEND_TEST_KILL_IN_SPAWN", "after");
    events_after_spawn(svc, spawned >= 0);
    cgroup_svc_spawned(svc->cg, &cgs, spawned >= 0 ? pid : 0);
    if (spawned == -1) {
        struct proc_event ev = {.kind = EV_FORK_FAILED, .err = e.err};
        svc->spawning = false;
        /* EAGAIN (a process limit), ENOMEM: wait for the resource, startretries untouched. */
        if (shortage(svc, e.err, "fork"))
            goto out;
        log_msg(LOG_LVL_WARN, "%s: cannot create a process: %s", svc->display,
                strerror(e.err));
        sup_apply(svc, &ev);
        goto out;
    }
    svc->p.pid = pid;
    svc->run_uid = spec.set_ids ? uid : geteuid();
    if (spawned == 0 && adopt_pidfile_mode(svc)) {
        struct ident id;
        /* Our unreaped child: its identity cannot change under us. */
        adopt_state(svc)->launcher_ticks = ident_read(pid, &id, NULL) == 0 ? id.start_ticks
                                                                           : 0;
        svc->launcher_pid = pid;
        svc->adopted = false;
        adopt_wait_begin(svc);
    }
    handover_spawn_end(svc);
    log_msg(LOG_LVL_INFO, "%s: spawned pid %d", svc->display, (int)pid);
    /* The clone returned after the child's exec or its failure: the outcome is known. */
    if (spawned == 1) {
        if (e.stage == STAGE_CHDIR)
            snprintf(what, sizeof(what), "change directory to %s", c->directory);
        else if (e.stage == STAGE_EXEC)
            snprintf(what, sizeof(what), "execute %s", c->argv[0]);
        else
            snprintf(what, sizeof(what), "%s", spawn_stage_name(e.stage));
        /* The child ran short (RLIMIT_NPROC at setuid or execve, memory for the exec). */
        if (shortage(svc, e.err, what))
            goto out;
        struct proc_event ev = {.kind = EV_EXEC_FAILED, .stage = (int)e.stage, .err = e.err,
                                .what = what};
        sup_apply(svc, &ev);
    } else if (!adopt_pidfile_mode(svc)) {
        /* A pidfile program counts as started once its pidfile is adopted. */
        struct proc_event ev = {.kind = EV_EXEC_OK};
        sup_apply(svc, &ev);
    }
out:
    if (lent)
        logcap_after_spawn(svc->logcap); /* the descriptors are logcap's: never closed here */
    free(groups);
    free(envp);
}

/* ---- the spawn queue ---- */

static void dequeue(struct launch_queue *q, struct service *svc)
{
    if (svc->spawn_prev != NULL)
        svc->spawn_prev->spawn_next = svc->spawn_next;
    else
        q->head = svc->spawn_next;
    if (svc->spawn_next != NULL)
        svc->spawn_next->spawn_prev = svc->spawn_prev;
    else
        q->tail = svc->spawn_prev;
    svc->spawn_next = svc->spawn_prev = NULL;
    svc->spawn_queued = false;
    q->len--;
}

/* The service's spawn now: it may have waited (in the queue, or for the last instance's
 * leftovers), so its startsecs start only now. */
static void spawn_queued(struct service *svc)
{
    struct proc *p = &svc->p;

    /* Stopped (or started otherwise) while it waited. A launcher still running is not a
     * reason: after MAINPID= it is the last instance's leftover, stopped meanwhile. */
    if (p->state != PROC_STARTING || p->pid != 0)
        return;
    proc_start_clock(p, timer_now_ns());
    if (p->deadline_ns != 0 && loop_timer_arm(&svc->sup->loop, &svc->timer, p->deadline_ns))
        log_msg(LOG_LVL_ERROR, "%s: cannot arm a timer: %s", svc->display, strerror(errno));
    spawn_one(svc);
}

/* Sets the wake the queue's length calls for (see LAUNCH_SOON_MAX), or neither. */
static void queue_wake(struct launch_queue *q)
{
    bool soon = q->len > 0 && q->len <= LAUNCH_SOON_MAX;

    loop_wake_set(&q->soon, soon); /* a no-op when it could not be set up */
    loop_wake_set(&q->wake, q->len > 0 && (!soon || q->soon.fd == -1));
}

static void on_queue(struct watcher *w, uint32_t events)
{
    struct supervisor *sup = w->ctx;
    struct launch_queue *q = &sup->spawnq;
    uint64_t start = timer_now_ns();

    (void)events;
    for (int n = 0; q->head != NULL && n < SLICE_SPAWNS; n++) {
        struct service *svc = q->head;
        dequeue(q, svc);
        spawn_queued(svc);
        if (timer_now_ns() - start >= SLICE_NS)
            break;
    }
    queue_wake(q); /* the wake for what is left: none once emptied, the loop sleeps */
}

int launch_init(struct supervisor *sup)
{
    struct launch_queue *q = &sup->spawnq;

    q->head = q->tail = NULL;
    q->len = 0;
    if (loop_wake_init(&sup->loop, &q->wake, on_queue, sup, false) == -1)
        return -1;
    /* Without it the queue is served in batch order only: slower, not wrong. */
    if (loop_wake_init(&sup->loop, &q->soon, on_queue, sup, true) == -1)
        log_msg(LOG_LVL_WARN, "spawn queue: no urgent wake: %s", strerror(errno));
    return 0;
}

void launch_fini(struct supervisor *sup)
{
    loop_wake_fini(&sup->loop, &sup->spawnq.wake); /* a no-op if launch_init never ran */
    loop_wake_fini(&sup->loop, &sup->spawnq.soon);
}

void launch_spawn(struct service *svc)
{
    struct supervisor *sup = svc->sup;
    struct launch_queue *q = &sup->spawnq;

    if (q->wake.fd == -1) {
        spawn_queued(svc); /* no queue (the eventfd could not be made): spawn at once */
        return;
    }
    if (svc->spawn_queued)
        return;
    /* No deadline while queued: startsecs must not run out before the spawn. */
    svc->p.deadline_ns = 0;
    loop_timer_cancel(&sup->loop, &svc->timer);
    svc->spawn_queued = true;
    svc->spawn_next = NULL;
    svc->spawn_prev = q->tail;
    if (q->tail != NULL)
        q->tail->spawn_next = svc;
    else
        q->head = svc;
    q->tail = svc;
    q->len++;
    queue_wake(q);
    handover_save(svc); /* a supervisor restarted meanwhile queues it again */
}

void launch_forget(struct service *svc)
{
    if (svc->spawn_queued)
        dequeue(&svc->sup->spawnq, svc);
}
