/* alert: asynchronous, rate-limited alert commands (see alert.h). Nothing here blocks: the
 * summary goes into a pipe whose buffer holds it whole before the child even runs, and the
 * child is reaped through the supervisor's SIGCHLD handling (alerts_reaped). */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"
#include "spawn.h"
#include "timer.h"
#include "util/env.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
#define ON_EVENT_RATE_COUNT 10
#define ON_EVENT_RATE_SECS 60
#define ON_EVENT_TIMEOUT_S 30

extern char **environ;

/* Rate state of one alert (index, or -1 for on_event) for one program. */
struct window {
    int alert;
    char *program;
    uint64_t start_ns;
    int count;
    unsigned long suppressed;
};

struct running {
    struct alerts *owner;
    pid_t pid;                /* 0 once reaped, while its leftovers are being killed */
    struct cgroup_svc *cg;    /* its process tree, NULL without cgroups */
    struct timer timer;
    char label[160];     /* "alert 'X' (FATAL of web)" for log lines */
    int timeout_s;
    bool killed;
};

struct alerts {
    struct loop *loop;
    struct cgroup_tree *cgroups; /* NULL: commands run outside any cgroup */
    unsigned long runs;          /* commands started, for unique cgroup names */
    const struct config *cfg;
    struct window *windows;
    size_t nwindows;
    struct running *running[ALERT_MAX_RUNNING];
    size_t nrunning;
    char host[256];
    unsigned long sent, suppressed, dropped;
    unsigned long failed; /* commands that exited non-zero, were killed or timed out */
};

struct alerts *alerts_new(struct loop *loop)
{
    struct alerts *a = xcalloc(1, sizeof(*a));

    a->loop = loop;
    if (gethostname(a->host, sizeof(a->host) - 1) == -1)
        strcpy(a->host, "localhost"); /* only a label in the alert's environment */
    return a;
}

void alerts_use_cgroups(struct alerts *a, struct cgroup_tree *t)
{
    a->cgroups = t;
}

/* What a command leaves behind when it ends is killed at once (cgroup_svc_exited). */
static const struct proc_conf leftovers_conf = {.stopsignal = SIGKILL, .stopwaitsecs = 1};

/* Drops a finished command from the table and frees it (its leftovers are gone). */
static void forget(struct running *r)
{
    struct alerts *a = r->owner;

    for (size_t i = 0; i < a->nrunning; i++) {
        if (a->running[i] == r) {
            a->running[i] = a->running[--a->nrunning];
            break;
        }
    }
    cgroup_svc_free(r->cg);
    free(r);
}

/* The leftovers of a reaped command are gone (cgroup.c's on_empty). */
static void on_tree_gone(void *ctx)
{
    struct running *r = ctx;

    /* Freed from the loop, not from inside cgroup.c's callback. */
    r->pid = 0;
    loop_timer_cancel(r->owner->loop, &r->timer);
    (void)loop_timer_arm(r->owner->loop, &r->timer, timer_now_ns());
}

static void free_windows(struct alerts *a)
{
    for (size_t i = 0; i < a->nwindows; i++)
        free(a->windows[i].program);
    free(a->windows);
    a->windows = NULL;
    a->nwindows = 0;
}

void alerts_configure(struct alerts *a, const struct config *cfg)
{
    a->cfg = cfg;
    free_windows(a);
}

static struct window *window_for(struct alerts *a, int alert, const char *program)
{
    for (size_t i = 0; i < a->nwindows; i++) {
        if (a->windows[i].alert == alert && strcmp(a->windows[i].program, program) == 0)
            return &a->windows[i];
    }
    a->windows = xrealloc(a->windows, (a->nwindows + 1) * sizeof(*a->windows));
    struct window *w = &a->windows[a->nwindows++];
    memset(w, 0, sizeof(*w));
    w->alert = alert;
    w->program = xstrdup(program);
    return w;
}

/* Returns true when the alert may go out now; else counts it as suppressed. On true,
 * *suppressed is how many were held back since the last one that went out. */
static bool rate_allows(struct alerts *a, int alert, const char *program, int count,
                        int interval_s, uint64_t now, unsigned long *suppressed)
{
    struct window *w = window_for(a, alert, program);

    if (w->count == 0 || now - w->start_ns >= (uint64_t)interval_s * NS_PER_SEC) {
        w->start_ns = now;
        w->count = 0;
    }
    if (count > 0 && w->count >= count) {
        w->suppressed++;
        a->suppressed++;
        return false;
    }
    w->count++;
    *suppressed = w->suppressed;
    w->suppressed = 0;
    return true;
}

static bool matches(const struct alert_conf *ac, const struct alert_event *e)
{
    if (!(ac->events & CONFIG_EV_MASK(e->event)))
        return false;
    for (size_t i = 0; i < ac->nprograms; i++) {
        const char *pat = ac->programs[i];
        if (fnmatch(pat, e->program, 0) == 0 || fnmatch(pat, e->group, 0) == 0 ||
            fnmatch(pat, e->process, 0) == 0)
            return true;
    }
    return false;
}

static void on_timeout(struct timer *t, void *ctx)
{
    struct running *r = ctx;

    (void)t;
    if (r->pid == 0) {
        forget(r); /* reaped, and its leftovers are gone (on_tree_gone) */
        return;
    }
    log_msg(LOG_LVL_WARN, "%s: still running after %ds; killed", r->label, r->timeout_s);
    /* Without cgroups, what it started outside its process group is found now, while the
     * parent links still lead to it. */
    if (r->owner->cgroups == NULL || !cgroup_tree_active(r->owner->cgroups)) {
        long n = cgroup_kill_descendants(r->pid);
        if (n > 0)
            log_msg(LOG_LVL_INFO, "%s: killed %ld descendant%s", r->label, n, n == 1 ? "" : "s");
    }
    /* The command leads its own process group: kill what it started too. The pid is our
     * unreaped child, so neither it nor its group id can have been reused. */
    if (kill(-r->pid, SIGKILL) == -1 && errno != ESRCH)
        log_msg(LOG_LVL_WARN, "%s: cannot kill: %s", r->label, strerror(errno));
    r->killed = true;
}

static void iso_time(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;

    (void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
    localtime_r(&ts.tv_sec, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static void run_one(struct alerts *a, const char *label_name, const char *command,
                    int timeout_s, const struct alert_event *e, unsigned long suppressed)
{
    char env_store[16][512];
    char *over[16];
    int n = 0;
    char when[64], summary[1024], exit_code[16] = "", sig[32] = "";
    int in[2];
    pid_t pid;
    int report_fd;
    char **envp;
    struct running *r;

    if (a->nrunning == ALERT_MAX_RUNNING) {
        a->dropped++;
        log_msg(LOG_LVL_WARN, "alert '%s' for %s of %s dropped: %d alert commands already running",
                label_name, config_event_name(e->event), e->process, ALERT_MAX_RUNNING);
        return;
    }
    iso_time(when, sizeof(when));
    /* Negative: no exit (-1), or an exit whose status went to another parent. */
    if (e->wait_status >= 0 && WIFEXITED(e->wait_status))
        snprintf(exit_code, sizeof(exit_code), "%d", WEXITSTATUS(e->wait_status));
    if (e->wait_status >= 0 && WIFSIGNALED(e->wait_status))
        snprintf(sig, sizeof(sig), "SIG%s", sig_name(WTERMSIG(e->wait_status)) ?: "?");

#define SETENV(...) snprintf(env_store[n], sizeof(env_store[n]), __VA_ARGS__), \
                    over[n] = env_store[n], n++
    SETENV("TEND_EVENT=%s", config_event_name(e->event));
    SETENV("TEND_PROGRAM=%s", e->program);
    SETENV("TEND_GROUP=%s", e->group);
    SETENV("TEND_PROCESS=%s", e->process);
    SETENV("TEND_PID=%d", (int)e->pid);
    SETENV("TEND_EXIT_STATUS=%s", exit_code);
    SETENV("TEND_SIGNAL=%s", sig);
    SETENV("TEND_RESTARTS=%u", e->restarts);
    SETENV("TEND_UPTIME=%llu", e->uptime_s);
    SETENV("TEND_HOST=%s", a->host);
    SETENV("TEND_TIME=%s", when);
    SETENV("TEND_REASON=%s", e->reason);
    SETENV("TEND_SUPPRESSED=%lu", suppressed);
#undef SETENV
    envp = env_build(environ, over, n);
    if (envp == NULL) {
        log_msg(LOG_LVL_WARN, "alert '%s': out of memory", label_name);
        return;
    }
    struct str line;
    str_init(&line);
    str_appendf(&line, "%s %s: %s %s", when, a->host, e->process, config_event_name(e->event));
    if (exit_code[0] != '\0')
        str_appendf(&line, " exit %s", exit_code);
    if (sig[0] != '\0')
        str_appendf(&line, " %s", sig);
    if (e->reason[0] != '\0')
        str_appendf(&line, ": %s", e->reason);
    if (suppressed > 0)
        str_appendf(&line, " (%lu earlier alerts suppressed by rate=)", suppressed);
    snprintf(summary, sizeof(summary), "%s\n", str_cstr(&line));
    str_free(&line);
    /* The summary fits in the pipe's buffer, so it is written whole before the child runs
     * and this never blocks. */
    if (pipe2(in, O_CLOEXEC) == -1) {
        log_msg(LOG_LVL_WARN, "alert '%s': cannot create a pipe: %s", label_name,
                strerror(errno));
        free(envp);
        return;
    }
    (void)fd_set_nonblock(in[1]);
    (void)fd_write_all(in[1], summary, strlen(summary)); /* the summary is a courtesy */
    (void)close(in[1]);

    /* Its own cgroup: nothing it starts outlives it unseen, setsid or not. The name has a
     * space, which no program's name can have. */
    struct cgroup_svc *cg = NULL;
    struct spawn_cgroup cgs = {-1, -1, {-1, -1}};
    r = xcalloc(1, sizeof(*r));
    if (a->cgroups != NULL) {
        char *cgname = xasprintf("alert %lu %s", ++a->runs, label_name);
        cg = cgroup_cmd_new(a->cgroups, cgname, on_tree_gone, r);
        free(cgname);
        if (cgroup_svc_prepare(cg, &leftovers_conf, &cgs, summary, sizeof(summary)) == -1)
            log_msg(LOG_LVL_WARN, "alert '%s' runs outside a cgroup: %s", label_name, summary);
    }
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    struct spawn_spec spec = {
        .path = "/bin/sh",
        .argv = argv,
        .envp = envp,
        .dir = "/",
        .umask = -1,
        .stdio_fd = {in[0], -1, -1},
        .detach = SPAWN_DETACH_PGRP,
        .cgroup = cgs.procs_fd != -1 ? &cgs : NULL,
    };
    int rc = spawn_start(&spec, &pid, &report_fd);
    int err = errno;
    if (cg != NULL)
        cgroup_svc_spawned(cg, &cgs, rc == 0 ? pid : 0);
    (void)close(in[0]);
    free(envp);
    if (rc == -1) {
        log_msg(LOG_LVL_WARN, "alert '%s': cannot fork: %s (not retried)", label_name,
                strerror(err));
        cgroup_svc_free(cg);
        free(r);
        return;
    }
    /* /bin/sh exists or the failure shows as exit 127 at reaping; no need to wait here. */
    (void)close(report_fd);
    r->owner = a;
    r->pid = pid;
    r->cg = cg;
    r->timeout_s = timeout_s;
    snprintf(r->label, sizeof(r->label), "alert '%s' (%s of %s, pid %d)", label_name,
             config_event_name(e->event), e->process, (int)pid);
    timer_init(&r->timer, on_timeout, r);
    if (timeout_s > 0)
        (void)loop_timer_arm(a->loop, &r->timer, timer_now_ns() + (uint64_t)timeout_s * NS_PER_SEC);
    a->running[a->nrunning++] = r;
    a->sent++;
    log_msg(LOG_LVL_INFO, "%s: started", r->label);
}

void alerts_fire(struct alerts *a, const struct alert_event *e)
{
    uint64_t now = timer_now_ns();
    unsigned long suppressed;

    if (a->cfg != NULL) {
        for (size_t i = 0; i < a->cfg->nalerts; i++) {
            const struct alert_conf *ac = &a->cfg->alerts[i];
            if (!matches(ac, e))
                continue;
            if (!rate_allows(a, (int)i, e->program, ac->rate_count, ac->rate_interval_secs, now,
                             &suppressed))
                continue;
            run_one(a, ac->name, ac->command, ac->timeout_secs, e, suppressed);
        }
    }
    if (e->on_event != NULL && (CONFIG_EV_DEFAULT & CONFIG_EV_MASK(e->event)) &&
        rate_allows(a, -1, e->program, ON_EVENT_RATE_COUNT, ON_EVENT_RATE_SECS, now,
                    &suppressed))
        run_one(a, "on_event", e->on_event, ON_EVENT_TIMEOUT_S, e, suppressed);
}

bool alerts_reaped(struct alerts *a, pid_t pid, int wait_status)
{
    for (size_t i = 0; i < a->nrunning; i++) {
        struct running *r = a->running[i];
        if (r->pid != pid)
            continue;
        loop_timer_cancel(a->loop, &r->timer);
        if (r->killed || !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0)
            a->failed++;
        if (r->killed)
            ; /* already logged by on_timeout */
        else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
            log_msg(LOG_LVL_DEBUG, "%s: done", r->label);
        else if (WIFEXITED(wait_status))
            log_msg(LOG_LVL_WARN, "%s: failed with exit %d (not retried)", r->label,
                    WEXITSTATUS(wait_status));
        else
            log_msg(LOG_LVL_WARN, "%s: killed by signal %d (not retried)", r->label,
                    WTERMSIG(wait_status));
        /* The command is its whole tree: what it left running is killed now. */
        if (r->cg != NULL) {
            cgroup_svc_exited(r->cg, &leftovers_conf, true);
            if (cgroup_svc_busy(r->cg)) {
                /* Kept (and counted against ALERT_MAX_RUNNING) until they are gone:
                 * on_tree_gone, then on_timeout frees it. */
                r->pid = 0;
                return true;
            }
        }
        loop_timer_cancel(a->loop, &r->timer); /* on_tree_gone may have armed it */
        forget(r);
        return true;
    }
    return false;
}

unsigned long alerts_failed(const struct alerts *a)
{
    return a->failed;
}

unsigned long alerts_sent(const struct alerts *a)
{
    return a->sent;
}

unsigned long alerts_suppressed(const struct alerts *a)
{
    return a->suppressed;
}

void alerts_free(struct alerts *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->nrunning; i++) {
        loop_timer_cancel(a->loop, &a->running[i]->timer);
        cgroup_svc_free(a->running[i]->cg);
        free(a->running[i]);
    }
    free_windows(a);
    free(a);
}
