/* proc: the process state machine (see proc.h). One switch per event; every state is
 * listed in each, including the ones where the event changes nothing. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "proc.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL

/* One per program: see struct proc. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct proc) <= 80, "struct proc grew: see proc.h");
#endif

/* The reason of a record whose own could not be allocated; never freed, never written. */
static char reason_oom[] = "(out of memory: the reason was lost)";

static const char *const state_names[] = {
    [PROC_STOPPED] = "STOPPED",   [PROC_STARTING] = "STARTING", [PROC_RUNNING] = "RUNNING",
    [PROC_BACKOFF] = "BACKOFF",   [PROC_STOPPING] = "STOPPING", [PROC_EXITED] = "EXITED",
    [PROC_FATAL] = "FATAL",       [PROC_UNKNOWN] = "UNKNOWN",
};

const char *proc_state_name(enum proc_state s)
{
    return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

bool proc_has_process(const struct proc *p)
{
    return p->pid > 0;
}

bool proc_err_is_shortage(int err)
{
    return proc_shortage_resource(err) != NULL;
}

const char *proc_shortage_resource(int err)
{
    switch (err) {
    case EAGAIN: return "a free process slot (a pids cgroup limit or RLIMIT_NPROC)";
    case ENOMEM: return "memory";
    case EMFILE: return "free file descriptors (tend's RLIMIT_NOFILE)";
    case ENFILE: return "free file descriptors (the system's file-max)";
    default: return NULL;
    }
}

const char *proc_shortage_name(int err)
{
    switch (err) {
    case EAGAIN: return "processes";
    case ENOMEM: return "memory";
    case EMFILE: return "nofile";
    case ENFILE: return "file-max";
    default: return NULL;
    }
}

const char *proc_describe_status(int status, char *buf, size_t len)
{
    if (status == PROC_STATUS_UNKNOWN) {
        snprintf(buf, len, "exit status unknown (it never reached tend)");
    } else if (WIFEXITED(status)) {
        snprintf(buf, len, "exit %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        const char *name = sig_name(WTERMSIG(status));
        snprintf(buf, len, "signal %d (SIG%s)%s", WTERMSIG(status), name ? name : "?",
                 WCOREDUMP(status) ? ", core dumped" : "");
    } else {
        snprintf(buf, len, "status 0x%x", (unsigned)status);
    }
    return buf;
}

void proc_init(struct proc *p, struct proc_conf *conf)
{
    memset(p, 0, sizeof(*p));
    p->conf = conf;
    p->state = PROC_STOPPED;
    p->last_status = -1;
}

void proc_release(struct proc *p)
{
    if (p->reason != reason_oom)
        free(p->reason);
    p->reason = NULL;
}

static void clear_reason(struct proc *p)
{
    proc_release(p);
}

void proc_set_reason(struct proc *p, const char *fmt, ...)
{
    char buf[PROC_REASON_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    clear_reason(p);
    if (buf[0] == '\0')
        return;
    /* Out of memory, the reason is lost but not the fact that there is one: FATAL and
     * BACKOFF still say why they are there, in general words. */
    p->reason = strdup(buf);
    if (p->reason == NULL)
        p->reason = reason_oom;
}

const char *proc_reason(const struct proc *p)
{
    return p->reason != NULL ? p->reason : "";
}

static void __attribute__((format(printf, 2, 3))) say(struct proc_effects *fx, const char *fmt,
                                                      ...)
{
    size_t n = strlen(fx->msg);
    va_list ap;

    if (n > 0 && n + 2 < sizeof(fx->msg)) {
        memcpy(fx->msg + n, "; ", 3);
        n += 2;
    }
    va_start(ap, fmt);
    vsnprintf(fx->msg + n, sizeof(fx->msg) - n, fmt, ap);
    va_end(ap);
}

bool proc_waits_ready(const struct proc *p)
{
    return p->conf->readiness != READY_STARTSECS;
}

void proc_start_clock(struct proc *p, uint64_t now)
{
    p->start_ns = now;
    p->start_elapsed = !proc_waits_ready(p) && p->conf->startsecs == 0;
    int wait_s = proc_conf_ready(p->conf)->startwaitsecs;
    if (proc_waits_ready(p))
        p->deadline_ns = now + (uint64_t)(wait_s > 0 ? wait_s : 1) * NS_PER_SEC;
    else
        p->deadline_ns =
            p->conf->startsecs > 0 ? now + (uint64_t)p->conf->startsecs * NS_PER_SEC : 0;
}

static void spawn(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    fx->spawn = true;
    p->state = PROC_STARTING;
    p->exec_ok = false;
    p->ready_seen = false;
    p->pending_start_failed = false;
    proc_start_clock(p, now);
}

static void become_running(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    p->state = PROC_RUNNING;
    p->backoff = 0;
    clear_reason(p);
    /* In a crash loop, staying up long enough is what ends it: wake up then to say so. */
    p->deadline_ns = p->crashes > 0 ? p->start_ns + PROC_CRASH_RUN_S * NS_PER_SEC : 0;
    say(fx, "up for %.1fs", (double)(now - p->start_ns) / 1e9);
}

/* A RUNNING process exited and autorestart wants it back: at once, unless it is crashing
 * over and over, in which case the restart backs off exponentially. */
static void restart_after_exit(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    if (now - p->start_ns < PROC_CRASH_RUN_S * NS_PER_SEC)
        p->crashes++;
    else
        p->crashes = 0;
    p->restarts++;
    if (p->crashes < PROC_CRASH_LOOP_AFTER) {
        say(fx, "restarting (restart #%u)", p->restarts);
        spawn(p, now, fx);
        return;
    }
    if (!p->crash_loop) {
        p->crash_loop = true;
        fx->crash_loop_entered = true;
    }
    int step = p->crashes - PROC_CRASH_LOOP_AFTER;
    uint64_t delay_s = step >= 6 ? PROC_CRASH_BACKOFF_MAX_S : 1ULL << step;
    if (delay_s > PROC_CRASH_BACKOFF_MAX_S)
        delay_s = PROC_CRASH_BACKOFF_MAX_S;
    p->state = PROC_BACKOFF;
    p->deadline_ns = now + delay_s * NS_PER_SEC;
    say(fx, "crash loop (%d short runs in a row): restart #%u in %llus", p->crashes, p->restarts,
        (unsigned long long)delay_s);
}

/* A start attempt failed (died during startsecs, or fork failed): back off or give up. */
static void start_failed(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    p->backoff++;
    if (p->backoff > p->conf->startretries) {
        p->state = PROC_FATAL;
        p->deadline_ns = 0;
        if (proc_waits_ready(p))
            proc_set_reason(p, "not ready within startwaitsecs=%d in %d tries",
                            proc_conf_ready(p->conf)->startwaitsecs, p->backoff);
        else
            proc_set_reason(p, "could not stay up for startsecs=%d in %d tries",
                            p->conf->startsecs, p->backoff);
        say(fx, "giving up: %s", proc_reason(p));
        return;
    }
    /* supervisord's growing delay: 1 s, 2 s, 3 s ... */
    p->state = PROC_BACKOFF;
    p->deadline_ns = now + (uint64_t)p->backoff * NS_PER_SEC;
    say(fx, "retry %d of %d in %ds", p->backoff, p->conf->startretries, p->backoff);
}

/* A spawn got past the step that was short of a resource: the wait is over. */
static void shortage_over(struct proc *p, struct proc_effects *fx)
{
    if (p->shortage_err == 0)
        return;
    p->shortage_err = 0;
    p->shortage_tries = 0;
    fx->shortage_exited = true;
    say(fx, "the resource it waited for is back");
}

static void begin_stop(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    p->state = PROC_STOPPING;
    fx->signal = p->conf->stopsignal;
    fx->signal_group = p->conf->stopasgroup;
    p->deadline_ns = now + (uint64_t)p->conf->stopwaitsecs * NS_PER_SEC;
    say(fx, "stopping with SIG%s%s", sig_name(p->conf->stopsignal) ?: "?",
        p->conf->stopasgroup ? " to its process group" : "");
}

/* A user's start (or restart) forgets past failures: backoff, crash history, reason. */
static void fresh_start(struct proc *p)
{
    p->pending_auto_restart = false;
    p->backoff = 0;
    p->crashes = 0;
    p->crash_loop = false;
    clear_reason(p);
}

static void on_start(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STOPPED:
    case PROC_EXITED:
    case PROC_FATAL:
        fresh_start(p);
        spawn(p, now, fx);
        break;
    case PROC_STOPPING:
        p->pending_start = true;
        break;
    case PROC_STARTING:
    case PROC_RUNNING:
    case PROC_BACKOFF: /* supervisord: ALREADY_STARTED; the retry schedule goes on */
    case PROC_UNKNOWN:
        break; /* already started */
    }
}

static void on_stop(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
        if (p->pid == 0) {
            /* A pidfile program between its launcher's exit and its pidfile: there is
             * nothing to signal. */
            p->state = PROC_STOPPED;
            p->deadline_ns = 0;
            p->pending_start = false;
            break;
        }
        p->pending_start = false;
        begin_stop(p, now, fx);
        break;
    case PROC_RUNNING:
    case PROC_UNKNOWN:
        p->pending_start = false;
        begin_stop(p, now, fx);
        break;
    case PROC_BACKOFF:
        p->state = PROC_STOPPED;
        p->deadline_ns = 0;
        if (p->shortage_err != 0) {
            /* Not waiting any more; a new start tries at once and waits afresh. */
            p->shortage_err = 0;
            p->shortage_tries = 0;
            clear_reason(p);
        }
        break;
    case PROC_STOPPING:
        p->pending_start = false; /* a stop cancels a restart in progress */
        p->pending_auto_restart = false;
        p->pending_start_failed = false; /* ... and a retry after a failed start */
        break;
    case PROC_STOPPED:
    case PROC_EXITED:
    case PROC_FATAL:
        break;
    }
}

static void on_exec_ok(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    p->exec_ok = true;
    if (p->shortage_err != 0) {
        clear_reason(p); /* it said what it waited for */
        shortage_over(p, fx);
    }
    switch (p->state) {
    case PROC_STARTING:
        if (p->start_elapsed)
            become_running(p, now, fx);
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_STOPPING:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

static void on_exec_failed(struct proc *p, const struct proc_event *ev, struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
    case PROC_STOPPING:
        /* Retrying cannot help a missing binary, a bad user or directory: FATAL now, with
         * the reason, instead of a crash loop. */
        shortage_over(p, fx);
        p->state = PROC_FATAL;
        p->deadline_ns = 0;
        p->pending_start = false;
        if (ev->err == 0 && ev->what != NULL) /* the caller's words say it all */
            proc_set_reason(p, "%s", ev->what);
        else
            proc_set_reason(p, "cannot %s: %s", ev->what ? ev->what : "start",
                            strerrordesc_np(ev->err) ?: "unknown error");
        say(fx, "%s", proc_reason(p));
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

static void on_fork_failed(struct proc *p, const struct proc_event *ev, uint64_t now,
                           struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
        p->pid = 0;
        shortage_over(p, fx);
        say(fx, "cannot fork: %s", strerrordesc_np(ev->err) ?: "unknown error");
        start_failed(p, now, fx);
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_STOPPING:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

/* Waits in BACKOFF for the resource, PROC_SHORTAGE_FIRST_MS, doubling, at most
 * PROC_SHORTAGE_MAX_MS; p->backoff (startretries) is not touched. */
static void wait_for_resource(struct proc *p, const struct proc_event *ev, uint64_t now,
                              struct proc_effects *fx)
{
    const char *resource = proc_shortage_resource(ev->err);
    uint64_t delay_ms = PROC_SHORTAGE_MAX_MS;

    if (p->shortage_tries < 16)
        delay_ms = (uint64_t)PROC_SHORTAGE_FIRST_MS << p->shortage_tries;
    if (delay_ms > PROC_SHORTAGE_MAX_MS)
        delay_ms = PROC_SHORTAGE_MAX_MS;
    if (p->shortage_err == 0)
        fx->shortage_entered = true;
    p->shortage_err = ev->err;
    if (p->shortage_tries < 1000000)
        p->shortage_tries++;
    p->state = PROC_BACKOFF;
    p->deadline_ns = now + delay_ms * (NS_PER_SEC / 1000);
    proc_set_reason(p, "waiting for %s: cannot %s: %s", resource ? resource : "a resource",
                    ev->what ? ev->what : "spawn", strerrordesc_np(ev->err) ?: "unknown error");
    say(fx, "%s; try %d, next in %.1fs (startretries not counted)", proc_reason(p),
        p->shortage_tries, (double)delay_ms / 1000.0);
}

static void on_shortage(struct proc *p, const struct proc_event *ev, uint64_t now,
                        struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
        /* A child that reported the failure exits by itself; its exit is accounted for
         * in BACKOFF. A fork that failed left no pid. */
        wait_for_resource(p, ev, now, fx);
        break;
    case PROC_STOPPING:
        /* Stopped (or restarted) while the spawn failed in the child. */
        if (p->pending_start) {
            p->pending_start = false;
            wait_for_resource(p, ev, now, fx);
        } else {
            p->state = PROC_STOPPED;
            p->deadline_ns = 0;
        }
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

static bool exit_expected(const struct proc *p, int status)
{
    return status != PROC_STATUS_UNKNOWN && WIFEXITED(status) &&
           proc_conf_expected(p->conf, WEXITSTATUS(status));
}

static void running_exited(struct proc *p, const struct proc_event *ev, uint64_t now,
                           struct proc_effects *fx, const char *desc, double ran)
{
    bool expected = exit_expected(p, ev->status);
    bool restart = p->conf->autorestart == AUTORESTART_TRUE ||
                   (p->conf->autorestart == AUTORESTART_UNEXPECTED && !expected);

    p->state = PROC_EXITED;
    p->deadline_ns = 0;
    fx->exited = true;
    fx->unexpected_exit = !expected;
    say(fx, "exited: %s after %.3fs (%s)", desc, ran, expected ? "expected" : "unexpected");
    if (restart)
        restart_after_exit(p, now, fx);
}

static void on_exited(struct proc *p, const struct proc_event *ev, uint64_t now,
                      struct proc_effects *fx)
{
    char desc[64];
    double ran = (double)(now - p->start_ns) / 1e9;

    p->last_pid = p->pid;
    p->pid = 0;
    p->last_status = ev->status;
    p->last_oom = ev->oom;
    p->last_run_ns = now - p->start_ns;
    proc_describe_status(ev->status, desc, sizeof(desc));
    if (ev->oom) {
        /* Not an anonymous SIGKILL: say who killed it, in the log, status and alerts. */
        size_t n = strlen(desc);
        snprintf(desc + n, sizeof(desc) - n, ", out of memory");
        fx->oom = true;
    }
    switch (p->state) {
    case PROC_STARTING:
        /* It ran for startsecs, but the deadline event is not processed yet (the timer
         * and SIGCHLD came in one batch): as in supervisord, that is a RUNNING exit. */
        if (p->exec_ok && !proc_waits_ready(p) &&
            now - p->start_ns >= (uint64_t)p->conf->startsecs * NS_PER_SEC) {
            become_running(p, now, fx);
            running_exited(p, ev, now, fx, desc, ran);
            break;
        }
        say(fx, "exited during startsecs: %s after %.3fs", desc, ran);
        start_failed(p, now, fx);
        break;
    case PROC_RUNNING:
        running_exited(p, ev, now, fx, desc, ran);
        break;
    case PROC_STOPPING:
        p->state = PROC_STOPPED;
        p->deadline_ns = 0;
        say(fx, "stopped: %s after %.3fs", desc, ran);
        if (p->pending_start_failed) {
            p->pending_start_failed = false;
            start_failed(p, now, fx);
        } else if (p->pending_auto_restart) {
            p->pending_auto_restart = false;
            p->state = PROC_EXITED;
            restart_after_exit(p, now, fx);
        } else if (p->pending_start) {
            p->pending_start = false;
            fresh_start(p);
            spawn(p, now, fx);
        }
        break;
    case PROC_FATAL:
        /* The exit of a child whose exec failed: already accounted for. */
        break;
    case PROC_STOPPED:
    case PROC_BACKOFF:
    case PROC_EXITED:
    case PROC_UNKNOWN:
        say(fx, "exited: %s", desc);
        break;
    }
}

static void on_timer(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    p->deadline_ns = 0;
    switch (p->state) {
    case PROC_STARTING:
        if (proc_waits_ready(p)) {
            if (p->pid == 0) {
                /* Nothing to stop (a pidfile program that never got adopted). */
                say(fx, "not ready within startwaitsecs=%d",
                    proc_conf_ready(p->conf)->startwaitsecs);
                start_failed(p, now, fx);
                break;
            }
            /* Not ready in time: a failed start, once the instance is gone. */
            say(fx, "not ready within startwaitsecs=%d", proc_conf_ready(p->conf)->startwaitsecs);
            p->pending_start = false;
            p->pending_start_failed = true;
            begin_stop(p, now, fx);
            break;
        }
        p->start_elapsed = true;
        if (p->exec_ok)
            become_running(p, now, fx);
        break;
    case PROC_BACKOFF:
        /* A crash-loop restart was counted when it was scheduled; a retry after a
         * shortage is the same restart, still trying. */
        if (!p->crash_loop && p->shortage_err == 0)
            p->restarts++;
        spawn(p, now, fx);
        break;
    case PROC_RUNNING:
        if (p->crashes > 0) {
            /* Up for PROC_CRASH_RUN_S: whatever made it crash has passed. */
            p->crashes = 0;
            if (p->crash_loop) {
                p->crash_loop = false;
                fx->crash_loop_exited = true;
                say(fx, "up for %ds: crash loop over", PROC_CRASH_RUN_S);
            }
        }
        break;
    case PROC_STOPPING:
        fx->signal = SIGKILL;
        fx->signal_group = p->conf->killasgroup;
        say(fx, "still alive %ds after SIG%s: sending SIGKILL%s", p->conf->stopwaitsecs,
            sig_name(p->conf->stopsignal) ?: "?",
            p->conf->killasgroup ? " to its process group" : "");
        break;
    case PROC_STOPPED:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

static void on_health_failed(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_RUNNING:
        p->pending_auto_restart = true;
        begin_stop(p, now, fx);
        break;
    case PROC_STOPPED:
    case PROC_STARTING:
    case PROC_BACKOFF:
    case PROC_STOPPING:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break; /* not running, or already on its way down */
    }
}

static void on_ready(struct proc *p, uint64_t now, struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
        if (!proc_waits_ready(p) || p->ready_seen)
            break;
        p->ready_seen = true;
        p->start_elapsed = true;
        if (p->exec_ok) {
            say(fx, "ready");
            become_running(p, now, fx);
        }
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_STOPPING:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break; /* ready again (after RELOADING=1), or too late to matter */
    }
}

static void on_extend(struct proc *p, const struct proc_event *ev, uint64_t now,
                      struct proc_effects *fx)
{
    switch (p->state) {
    case PROC_STARTING:
        if (!proc_waits_ready(p))
            break; /* startsecs is a minimum run time, not a timeout */
        /* fall through */
    case PROC_STOPPING:
        if (p->deadline_ns != 0 && now + ev->extend_ns > p->deadline_ns) {
            p->deadline_ns = now + ev->extend_ns;
            say(fx, "%s timeout extended by %.1fs",
                p->state == PROC_STARTING ? "start" : "stop", (double)ev->extend_ns / 1e9);
        }
        break;
    case PROC_STOPPED:
    case PROC_RUNNING:
    case PROC_BACKOFF:
    case PROC_EXITED:
    case PROC_FATAL:
    case PROC_UNKNOWN:
        break;
    }
}

void proc_handle(struct proc *p, const struct proc_event *ev, uint64_t now_ns,
                 struct proc_effects *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->from = p->state;
    switch (ev->kind) {
    case EV_START: on_start(p, now_ns, fx); break;
    case EV_STOP: on_stop(p, now_ns, fx); break;
    case EV_EXEC_OK: on_exec_ok(p, now_ns, fx); break;
    case EV_EXEC_FAILED: on_exec_failed(p, ev, fx); break;
    case EV_FORK_FAILED: on_fork_failed(p, ev, now_ns, fx); break;
    case EV_EXITED: on_exited(p, ev, now_ns, fx); break;
    case EV_TIMER: on_timer(p, now_ns, fx); break;
    case EV_HEALTH_FAILED: on_health_failed(p, now_ns, fx); break;
    case EV_READY: on_ready(p, now_ns, fx); break;
    case EV_EXTEND_TIMEOUT: on_extend(p, ev, now_ns, fx); break;
    case EV_SHORTAGE: on_shortage(p, ev, now_ns, fx); break;
    }
    fx->to = p->state;
}
