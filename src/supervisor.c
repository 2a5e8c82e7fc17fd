/* supervisor: the service table and the one place where a service's state machine (proc.c)
 * is driven. Every event (an exit from the signalfd, an exec result from launch, a pidfile
 * from adopt, a deadline, a request from control) becomes a proc_event fed to sup_apply, and
 * the effects it returns are carried out here: signals, timers, spawns, listeners.
 *
 * Invariants: a service's p.pid is our unreaped child, a process watched through a pidfd, or
 * 0, so signalling it never reaches a stranger (a child's pid, and the process group it leads,
 * cannot be reused before we reap it); every descriptor is close-on-exec; nothing wakes the
 * loop unless a kernel event or a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adopt.h"
#include "alert.h"
#include "events.h"
#include "fcgi.h"
#include "deps.h"
#include "handover.h"
#include "health.h"
#include "launch.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "readiness.h"
#include "reload.h"
#include "sdnotify.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/killpoint.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL

/* Tend keeps one per program (issue 13: under 1 KiB a program): a field added carelessly, or
 * padding, shows here first. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct service) <= 272, "struct service grew: see supervisor.h");
#endif
#define REAP_SLICE 64           /* exits reaped per turn of the loop at most */
#define REAP_SLICE_NS 2000000ULL /* 2 ms: as launch.c's spawn slices */

static void check_shutdown_progress(struct supervisor *sup);
static void on_timer(struct timer *t, void *ctx);
static void on_health(void *ctx, bool ok, int failures, const char *reason);
static void fire(struct service *svc, enum config_event event, int wait_status);
static void on_tree_gone(void *ctx);

/* ---- the service table ---- */

/* The name is borrowed from the config when the group has the program's name (most do): only
 * "group:name" is a string of its own. Whoever replaces p.conf calls this again. */
void svc_set_display(struct service *svc)
{
    struct proc_conf *c = svc->p.conf;

    if (svc->display_owned)
        free(svc->display);
    svc->display_owned = strcmp(c->group, c->name) != 0;
    svc->display = svc->display_owned ? xasprintf("%s:%s", c->group, c->name) : c->name;
}

struct service *svc_new(struct supervisor *sup, struct proc_conf *conf)
{
    struct service *svc = calloc(1, sizeof(*svc));

    if (svc == NULL)
        return NULL;
    proc_init(&svc->p, conf);
    svc->sup = sup;
    adopt_init(svc);
    timer_init(&svc->timer, on_timer, svc);
    if (proc_conf_health(conf)->kind != HEALTH_NONE)
        svc->health = health_new(&sup->loop, conf, on_health, svc);
    svc_set_logcap(svc, sup->config->tend.childlogdir);
    svc_set_display(svc);
    svc->cg = cgroup_svc_new(sup->cgroups, svc->display, on_tree_gone, svc);
    if (handover_attach(svc) == -1)
        log_msg(LOG_LVL_WARN, "%s: no room in the handover state (%s): a supervisor restart "
                "would lose track of it", svc->display, strerror(errno));
    fcgi_attach(svc);
    return svc;
}

/* Every descriptor and timer a service holds besides its state machine's deadline. */
void svc_release(struct service *svc)
{
    launch_forget(svc);
    adopt_wait_end(svc);
    adopt_pidfd_end(svc);
    loop_timer_cancel(&svc->sup->loop, &svc->timer);
    cgroup_svc_release(svc->cg);
    events_release(svc);
    fcgi_detach(svc);
    notify_free(svc->notify);
    svc->notify = NULL;
    readiness_free(svc);
}

void svc_free(void *ptr)
{
    struct service *svc = ptr;

    proc_conf_free(svc->p.conf);
    proc_release(&svc->p);
    if (svc->next_conf != NULL)
        proc_conf_free(svc->next_conf);
    health_free(svc->health);
    logcap_free(svc->logcap);
    cgroup_svc_free(svc->cg);
    deps_free(svc);
    adopt_free(svc);
    if (svc->display_owned)
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
    handover_forget(svc);
    deps_rebuild(sup); /* no service may point at it any more */
    loop_defer_free(&sup->loop, svc_free, svc);
}

static int svc_cmp(const void *a, const void *b)
{
    const struct service *x = *(struct service *const *)a, *y = *(struct service *const *)b;

    long long ox = proc_conf_order(x->p.conf), oy = proc_conf_order(y->p.conf);
    if (ox != oy)
        return ox < oy ? -1 : 1;
    return strcmp(x->p.conf->name, y->p.conf->name);
}

void sup_sort(struct supervisor *sup)
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
void sup_after_stop(struct service *svc)
{
    struct supervisor *sup = svc->sup;

    if (svc->p.pid != 0 || svc->p.state == PROC_STOPPING || svc->p.state == PROC_STARTING ||
        svc->p.state == PROC_RUNNING || svc->p.state == PROC_BACKOFF ||
        cgroup_svc_busy(svc->cg))
        return; /* on_tree_gone calls again once the last instance's leftovers are gone */
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
        svc_set_logcap(svc, sup->config->tend.childlogdir);
        svc->p.state = PROC_STOPPED;
        handover_save(svc);
        if (svc->p.conf->autostart && !sup->shutting_down) {
            struct proc_event ev = {.kind = EV_START};
            sup_apply(svc, &ev);
        }
    }
}

void sup_apply(struct service *svc, const struct proc_event *ev)
{
    struct supervisor *sup = svc->sup;
    struct proc_effects fx;
    pid_t pid = svc->p.pid;
    struct proc_event exited;

    if (ev->kind == EV_EXITED && cgroup_svc_oom(svc->cg)) {
        exited = *ev;
        exited.oom = true;
        ev = &exited;
    }
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
    if (svc->p.state != PROC_STARTING && adopt_waiting(svc))
        adopt_wait_end(svc);
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
        adopt_pidfd_end(svc);
    notify_after_apply(svc, &fx);
    readiness_after_apply(svc, ev, &fx);
    if (fx.signal != 0) {
        do_signal(svc, fx.signal, fx.signal_group);
        /* A stopped (SIGSTOP) process cannot act on its stop signal until continued. */
        if (fx.signal != SIGKILL && fx.signal != SIGCONT)
            do_signal(svc, SIGCONT, fx.signal_group);
    }
    sync_timer(svc);
    /* The main process is gone: what is left of its tree goes before anything restarts. */
    if (ev->kind == EV_EXITED && pid != 0)
        cgroup_svc_exited(svc->cg, svc->p.conf, sup->shutting_down);
    if (fx.from != fx.to || fx.exited || fx.crash_loop_entered || fx.crash_loop_exited ||
        fx.oom || fx.shortage_entered || fx.shortage_exited) {
        for (size_t i = 0; i < sup->nlisteners; i++)
            sup->listeners[i].fn(svc, &fx, sup->listeners[i].ctx);
    }
    if (fx.spawn) {
        launch_spawn(svc); /* may sup_apply() again for an immediate failure */
        sync_timer(svc);
    }
    if (svc->removing || svc->next_conf != NULL)
        sup_after_stop(svc);
    else
        handover_save(svc);
    deps_after_apply(svc, &fx); /* may start dependents or stop what it needs */
    if (sup->shutting_down)
        check_shutdown_progress(sup);
}

static void on_timer(struct timer *t, void *ctx)
{
    struct service *svc = ctx;
    struct proc_event ev = {.kind = EV_TIMER};

    (void)t;
    sup_apply(svc, &ev);
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

    if (!svc->sup->shutting_down && !svc->removing && !deps_hold_start(svc))
        sup_apply(svc, &ev);
}

void sup_stop(struct service *svc)
{
    struct proc_event ev = {.kind = EV_STOP};

    /* Outside shutdown (which goes by stop_rank), what depends on it stops first. */
    if (!svc->sup->shutting_down && deps_hold_stop(svc))
        return;
    sup_apply(svc, &ev);
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
/* ---- shutdown: stop by descending priority, one level at a time ---- */

static bool svc_busy(const struct service *svc)
{
    return svc->p.pid != 0 || svc->launcher_pid != 0 || cgroup_svc_busy(svc->cg);
}

static void check_shutdown_progress(struct supervisor *sup)
{
    long long level = LLONG_MIN;

    if (sup->loop.stopping)
        return; /* done already (a tree that emptied while an event was being applied) */
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *svc = sup->svcs[i];
        if (svc_busy(svc) && deps_stop_rank(svc) >= sup->shutdown_priority)
            return; /* this level is still stopping */
    }
    for (size_t i = 0; i < sup->nsvcs; i++) {
        const struct service *svc = sup->svcs[i];
        if (svc_busy(svc) && deps_stop_rank(svc) > level)
            level = deps_stop_rank(svc);
    }
    if (level == LLONG_MIN) {
        /* Then whatever is still alive under tend: nothing outlives it unannounced. */
        if (cgroup_sweep(sup->cgroups))
            return;
        /* Reached from each exit's handling and from the reaping pass: say it once. */
        if (!sup->loop.stopping)
            log_msg(LOG_LVL_INFO, "every program is stopped");
        loop_stop(&sup->loop);
        return;
    }
    sup->shutdown_priority = level;
    for (size_t i = sup->nsvcs; i-- > 0;) {
        struct service *svc = sup->svcs[i];
        if (deps_stop_rank(svc) == level && svc_busy(svc) &&
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
    events_stopping(sup->events);
    handover_stopping(sup->handover);
    sdnotify_stopping();
    sup->shutdown_priority = LLONG_MAX;
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
        .reason = proc_reason(p),
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
    if (fx->oom)
        fire(svc, CONFIG_EV_OUT_OF_MEMORY, svc->p.last_status);
    if (fx->crash_loop_entered)
        fire(svc, CONFIG_EV_CRASH_LOOP_ENTERED, svc->p.last_status);
    if (fx->from != fx->to && fx->to != PROC_UNKNOWN && !(fx->exited && fx->to == PROC_EXITED))
        fire(svc, by_state[fx->to], fx->to == PROC_FATAL ? svc->p.last_status : -1);
    if (fx->crash_loop_exited)
        fire(svc, CONFIG_EV_CRASH_LOOP_EXITED, -1);
    if (fx->shortage_entered)
        fire(svc, CONFIG_EV_SHORTAGE_ENTERED, -1);
    if (fx->shortage_exited)
        fire(svc, CONFIG_EV_SHORTAGE_EXITED, -1);
}

/* ---- health checks ---- */

static void on_health(void *ctx, bool ok, int failures, const char *reason)
{
    struct service *svc = ctx;

    readiness_health(svc, ok); /* readiness=healthcheck: the first pass */
    if (ok) {
        if (failures == 0 && svc->p.state == PROC_RUNNING)
            log_msg(LOG_LVL_DEBUG, "%s: health check ok: %s", svc->display, reason);
        return;
    }
    log_msg(LOG_LVL_WARN, "%s: health check failed (%d of %d): %s", svc->display, failures,
            proc_conf_health(svc->p.conf)->retries, reason);
    if (health_should_restart(svc->health) && svc->p.state == PROC_RUNNING) {
        proc_set_reason(&svc->p, "health check failed %d times: %s", failures, reason);
        log_msg(LOG_LVL_WARN, "%s: restarting: %s", svc->display, proc_reason(&svc->p));
        fire(svc, CONFIG_EV_HEALTH_FAILED, -1);
        struct proc_event ev = {.kind = EV_HEALTH_FAILED};
        sup_apply(svc, &ev); /* stops it, then restarts it like a crash (and backs off) */
    }
}

/* Creates or reconfigures the output capture after the service's config changed. A program
 * whose output goes nowhere has none (its stdout and stderr are /dev/null): 0.7 KiB less
 * for each. One that stops capturing keeps its logcap, which then captures nothing. */
void svc_set_logcap(struct service *svc, const char *childlogdir)
{
    if (svc->logcap != NULL)
        logcap_reconfigure(svc->logcap, svc->p.conf, childlogdir);
    else if (logcap_wanted(svc->p.conf))
        svc->logcap = logcap_new(&svc->sup->loop, svc->p.conf, childlogdir);
}

/* Creates, reconfigures or drops the health check after the service's config changed. */
void svc_set_health(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;

    if (proc_conf_health(c)->kind == HEALTH_NONE) {
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

/* ---- process trees ---- */

/* The leftovers of a service's last instance are gone (or the shutdown sweep is over): a
 * start that waited for that goes ahead, and shutdown may progress. */
static void on_tree_gone(void *ctx)
{
    struct service *svc = ctx;
    struct supervisor *sup = svc != NULL ? svc->sup : NULL;

    if (svc != NULL && svc->spawn_deferred) {
        svc->spawn_deferred = false;
        /* startsecs count from the real spawn, not from the wait (launch.c). */
        if (svc->p.state == PROC_STARTING && svc->p.pid == 0)
            launch_spawn(svc);
    }
    if (svc != NULL && (svc->removing || svc->next_conf != NULL))
        sup_after_stop(svc); /* a reload waited for the leftovers too */
    if (sup != NULL && sup->shutting_down)
        check_shutdown_progress(sup);
}

static void on_sweep_done(void *ctx)
{
    check_shutdown_progress(ctx);
}

/* ---- signals and reaping ---- */

void sup_exited(struct supervisor *sup, pid_t pid, int status, bool from_keeper,
                uint64_t when_ns)
{
    struct service *svc = find_by_pid(sup, pid);

    if (from_keeper) {
        /* Only a process the keeper is the parent of, and the instance we know: a record
         * older than the instance is about an earlier process with the same pid. */
        if (svc == NULL || !svc->kept || when_ns < svc->p.start_ns)
            return;
    } else {
        /* Resilience tests: reaped here, so the keeper never hears of it, and not recorded. */
        if (svc != NULL)
            killpoint("TEND_TEST_KILL_IN_REAP", "reaped");
        if (svc == NULL && sup->alerts != NULL && alerts_reaped(sup->alerts, pid, status))
            return;
        if (svc == NULL) {
            for (size_t i = 0; i < sup->nsvcs; i++) {
                if (health_reaped(sup->svcs[i]->health, pid, status))
                    return;
            }
            /* A descendant that double-forked and was reparented to us (subreaper). */
            sup->orphans_reaped++;
            log_msg(LOG_LVL_DEBUG, "reaped orphan pid %d", (int)pid);
            return;
        }
    }
    if (svc->launcher_pid == pid) {
        svc->launcher_pid = 0;
        if (svc->p.pid != pid) {
            handover_save(svc);
            return; /* the daemon it started is adopted: its status is what counts */
        }
        if (svc->p.state == PROC_STARTING && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            /* It forked into the background and exited, as a daemonizing program
             * does. The daemon is found through the pidfile. */
            svc->p.pid = 0;
            if (adopt_waiting(svc))
                adopt_try_pidfile(svc);
            handover_save(svc);
            return;
        }
    }
    if (svc->p.pid == pid) {
        struct proc_event ev = {.kind = EV_EXITED, .status = status};
        if (from_keeper)
            adopt_pidfd_end(svc); /* its exit is known: the pidfd has served */
        svc->kept = false;
        sup_apply(svc, &ev);
    }
    if (svc->p.pid == pid)
        svc->p.pid = 0; /* FATAL after an exec failure: nothing more to do */
}

static void reap_children(struct supervisor *sup)
{
    uint64_t start = timer_now_ns();
    bool more = false;
    int status, n = 0;
    pid_t pid;

    /* One SIGCHLD may stand for many exits, and they keep coming while a mass kill goes on:
     * reap them in slices of at most REAP_SLICE exits or REAP_SLICE_NS, one slice per turn
     * of the loop, so the control socket, timers and spawns are served in between. The
     * reap wake is urgent like the signalfd: the next slice still comes first. Without it
     * (its eventfd could not be made), drain until nothing is left. */
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        sup_exited(sup, pid, status, false, 0);
        if (sup->reap_wake.fd != -1 &&
            (++n >= REAP_SLICE || timer_now_ns() - start >= REAP_SLICE_NS)) {
            more = true;
            break;
        }
    }
    if (pid == -1 && errno != ECHILD && errno != EINTR)
        log_msg(LOG_LVL_WARN, "waitpid: %s", strerror(errno));
    loop_wake_set(&sup->reap_wake, more);
    cgroup_reaped(sup->cgroups); /* without cgroups, how an emptied process group is seen */
    /* A reaped launcher changes no state, yet it may have been the last thing shutdown was
     * waiting for. */
    if (sup->shutting_down)
        check_shutdown_progress(sup);
}

static void on_reap_more(struct watcher *w, uint32_t events)
{
    (void)events;
    reap_children(w->ctx);
}

void sup_resume(struct service *svc)
{
    /* A spawn the previous supervisor had queued but not done yet. (A pidfile program
     * whose launcher exited is STARTING without a pid too, but it waits for its pidfile.) */
    if (svc->resume_spawn) {
        svc->resume_spawn = false;
        launch_spawn(svc);
        return;
    }
    /* A spawn it died in (the child noted its pid, the clone had not returned): the child
     * ran on its memory and could not tell its outcome, so its exec counts as done; a
     * failed exec shows as its exit status 127. The pidfile launcher waits for its pidfile
     * instead. */
    if (svc->p.state == PROC_STARTING && svc->p.pid != 0 && !svc->p.exec_ok &&
        !adopt_pidfile_mode(svc)) {
        struct proc_event ok = {.kind = EV_EXEC_OK};
        sup_apply(svc, &ok);
    }
    sync_timer(svc);
    notify_sync(svc); /* the same socket name again, and the watchdog */
    readiness_resume(svc);
    /* Waiting for its needs is not in the handover state: an autostart program that never
     * ran is asked to start again, which waits again or starts. */
    if (deps_has_needs(svc) && svc->p.state == PROC_STOPPED && svc->p.conf->autostart &&
        svc->p.last_status == -1 && svc->p.pid == 0)
        sup_start(svc);
    if (svc->health != NULL && svc->p.pid != 0 && svc->p.state == PROC_RUNNING)
        health_start(svc->health);
    if (adopt_pidfile_mode(svc) && svc->p.state == PROC_STARTING && !svc->adopted)
        adopt_wait_begin(svc);
}

int sup_upgrade(struct supervisor *sup)
{
    if (sup->shutting_down) {
        errno = EBUSY;
        return -1;
    }
    if (handover_upgrade(sup->handover) == -1)
        return -1;
    log_msg(LOG_LVL_INFO, "upgrade: handing everything to the keeper, which re-executes tend");
    sup->upgrading = true;
    loop_stop(&sup->loop);
    return 0;
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
        case SIGQUIT: /* supervisord's users send it to stop it (the container idiom) */
            log_msg(LOG_LVL_INFO, "received SIG%s", sig_name((int)si.ssi_signo) ?: "?");
            if (!sup->shutting_down)
                events_stop_signal(sup->events, (pid_t)si.ssi_pid);
            sup_shutdown(sup);
            break;
        case SIGHUP:
            reload_from_signal(sup);
            break;
        case SIGUSR2:
            (void)sup_logrotate(sup); /* failures are logged and retried by logcap */
            break;
        case SIGUSR1:
            log_msg(LOG_LVL_INFO, "SIGUSR1: upgrading");
            if (sup_upgrade(sup) == -1)
                log_msg(LOG_LVL_ERROR, "upgrade: %s", strerror(errno));
            break;
        default:
            break;
        }
    }
    if (child)
        reap_children(sup);
}


/* ---- life cycle ---- */

int sup_init(struct supervisor *sup)
{
    sigset_t mask;

    sup->reap_wake.fd = -1;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGQUIT);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
        (sup->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1 ||
        loop_init(&sup->loop) == -1 ||
        loop_add(&sup->loop, &sup->sig_w, sup->sig_fd, EPOLLIN, on_signal, sup) == -1 ||
        loop_set_urgent(&sup->loop, &sup->sig_w) == -1 || launch_init(sup) == -1)
        return -1;
    sup->cgroups = cgroup_tree_open(&sup->loop, sup->config->tend.cgroups, sup->keeper_pid,
                                    sup->restarted, on_sweep_done, sup);
    sup->alerts = alerts_new(&sup->loop);
    /* Alert and health-check commands are whole trees too, each in a cgroup of its own. */
    alerts_use_cgroups(sup->alerts, sup->cgroups);
    health_use_cgroups(sup->cgroups);
    alerts_configure(sup->alerts, sup->config);
    (void)sup_listen(sup, on_alert_event, NULL); /* the first listener: cannot be full */
    sup->events = events_new(sup);
    /* Without it, every exit of a burst is reaped in one turn (reap_children). */
    if (loop_wake_init(&sup->loop, &sup->reap_wake, on_reap_more, sup, true) == -1)
        log_msg(LOG_LVL_WARN, "cannot set up sliced reaping (%s): a burst of exits is "
                "reaped in one go", strerror(errno));
    return 0;
}

int sup_add_services(struct supervisor *sup)
{
    sup->svcs = calloc(sup->config->nprocs + 1, sizeof(*sup->svcs));
    if (sup->svcs == NULL)
        return -1;
    for (size_t i = 0; i < sup->config->nprocs; i++) {
        /* The service takes the config's own copy: one per process, not two. */
        struct proc_conf *c = sup->config->procs[i];
        struct service *svc = svc_new(sup, c);
        if (svc == NULL) {
            errno = ENOMEM;
            return -1;
        }
        sup->config->procs[i] = NULL;
        sup->svcs[sup->nsvcs++] = svc;
    }
    sup_sort(sup);
    deps_rebuild(sup);
    return 0;
}

void sup_destroy(struct supervisor *sup)
{
    alerts_free(sup->alerts);
    sup->alerts = NULL;
    for (size_t i = 0; sup->svcs != NULL && i < sup->nsvcs; i++) {
        if (sup->svcs[i] == NULL)
            continue; /* cannot happen (nsvcs counts filled slots); keeps the analyzer sure */
        svc_release(sup->svcs[i]);
        svc_free(sup->svcs[i]);
    }
    free(sup->svcs);
    sup->svcs = NULL;
    sup->nsvcs = 0;
    events_free(sup->events);
    sup->events = NULL;
    cgroup_tree_close(sup->cgroups);
    sup->cgroups = NULL;
    launch_fini(sup);
    loop_wake_fini(&sup->loop, &sup->reap_wake); /* a no-op if never set up */
    loop_free(&sup->loop);
    fd_close_quiet(sup->sig_fd);
    sup->sig_fd = -1;
    fd_close_quiet(sup->null_fd);
    sup->null_fd = -1;
    config_free(sup->config);
    sup->config = NULL;
    free(sup->config_path);
    sup->config_path = NULL;
}
