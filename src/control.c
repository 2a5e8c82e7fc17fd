/* control: the control socket server (see control.h). One request per connection. Every
 * connection is non-blocking, bounded (PROTO_MAX_REQUEST in, the reply out) and has a
 * deadline, so no client can stall, crash or slow the supervisor. A connection's memory is
 * released after the current batch of events (loop_defer_free), because a callback may close
 * a connection that still has an event pending in the same batch. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alert.h"
#include "client.h"
#include "control.h"
#include "deps.h"
#include "fdbudget.h"
#include "handover.h"
#include "health.h"
#include "log.h"
#include "notify.h"
#include "preflight.h"
#include "logcap.h"
#include "proto.h"
#include "reload.h"
#include "spawn.h"
#include "supervisor.h"
#include "util/fd.h"
#include "util/str.h"
#include "websock.h"

#define NS_PER_SEC 1000000000ULL

struct target {
    char *name;          /* display name; looked up again each time (reload may remove it) */
    long long order;     /* start and stop go level by level (proc_conf_order), as
                          * supervisorctl's do */
    bool issued;         /* the request was applied to it (its level came) */
    bool done;
    bool was_running;    /* start: it was already RUNNING when asked */
};

struct conn {
    struct control *ctl;
    struct watcher w;
    int fd;
    uid_t uid;
    struct proto_splitter in;
    struct proto_buf out;
    struct timer timer;
    bool got_request;
    bool final_queued;   /* the reply is complete: close once it is written */
    bool read_closed;    /* the peer shut down its sending side */
    bool closed;
    /* A start/stop/restart that waits for its processes. */
    enum proto_verb verb;
    uint64_t req_ns;
    struct target *targets;
    size_t ntargets;
    bool any_failed;
    bool issuing;        /* requests are being applied: states are not final yet */
    /* logs -f: the followed file, where we are in it, and inotify on its directory. */
    int follow_fd;
    off_t follow_pos;
    char *follow_path;
    int ino_fd;
    struct watcher ino_w;
    struct str partial;  /* an unterminated last line, held until its newline */
    bool web;            /* came in on the web socket: it is tend-web */
    bool door;           /* tend-web's httpfd channel: HTTP clients' sockets go out on it */
    struct conn *prev, *next;
};

struct control {
    struct supervisor *sup;
    int fd;
    struct watcher w;
    struct timer retry_timer;  /* re-enables accept after EMFILE */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    bool has_gid;
    gid_t gid;                 /* members may connect too */
    bool has_owner;
    uid_t owner_uid;           /* socket_owner= may connect too */
    struct conn *conns;
    size_t nconns;
    size_t usage_next;         /* where the next status of all reads usage from */
    bool keep_socket;          /* leaving for an upgrade: the socket file stays */
    int web_fd;                /* the abstract socket for tend-web; -1 if none */
    struct watcher web_w;
    struct conn *http_door;    /* tend-web's httpfd connection; NULL: HTTP is not served */
};

static void conn_close(struct conn *k);
static void check_waiter(struct conn *k);
static void on_listen(struct watcher *w, uint32_t events);

/* ---- output ---- */

static void conn_events(struct conn *k)
{
    uint32_t ev = 0;

    /* After a half-close, EPOLLRDHUP would be reported forever: stop asking for it. */
    if (!k->read_closed)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (k->out.len > 0)
        ev |= EPOLLOUT;
    /* Fails only on a closed fd, which conn_close handles; nothing to do otherwise. */
    (void)loop_mod(&k->ctl->sup->loop, &k->w, ev);
}

static void conn_flush(struct conn *k)
{
    while (k->out.len > 0) {
        ssize_t n = send(k->fd, k->out.data, k->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                /* The peer reads slowly: wait for room, but not forever. */
                (void)loop_timer_arm(&k->ctl->sup->loop, &k->timer,
                                     timer_now_ns() + CONTROL_WRITE_TIMEOUT_S * NS_PER_SEC);
                conn_events(k);
                return;
            }
            conn_close(k); /* EPIPE, ECONNRESET: the client is gone */
            return;
        }
        proto_buf_consume(&k->out, (size_t)n);
    }
    if (k->final_queued) {
        conn_close(k);
        return;
    }
    conn_events(k);
}

static void reply_err(struct conn *k, enum proto_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_err(struct conn *k, enum proto_err code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    proto_buf_append_err(&k->out, code, text);
    k->final_queued = true;
    conn_flush(k);
}

static void reply_ok(struct conn *k)
{
    proto_buf_append_ok(&k->out);
    k->final_queued = true;
    conn_flush(k);
}

/* ---- connections ---- */

static void conn_free(void *ptr)
{
    struct conn *k = ptr;

    free(k->follow_path);
    str_free(&k->partial);
    proto_splitter_free(&k->in);
    proto_buf_free(&k->out);
    for (size_t i = 0; i < k->ntargets; i++)
        free(k->targets[i].name);
    free(k->targets);
    free(k);
}

static void conn_close(struct conn *k)
{
    struct control *c = k->ctl;

    if (k->closed)
        return;
    k->closed = true;
    if (c->http_door == k)
        c->http_door = NULL;
    loop_del(&c->sup->loop, &k->w);
    loop_timer_cancel(&c->sup->loop, &k->timer);
    loop_del(&c->sup->loop, &k->ino_w);
    fd_close_quiet(k->ino_fd);
    fd_close_quiet(k->follow_fd);
    k->ino_fd = k->follow_fd = -1;
    fd_close_quiet(k->fd);
    k->fd = -1;
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->nconns--;
    loop_defer_free(&c->sup->loop, conn_free, k);
}

static void on_conn_timer(struct timer *t, void *ctx)
{
    struct conn *k = ctx;

    (void)t;
    if (!k->got_request) {
        log_msg(LOG_LVL_WARN, "control: client uid %u sent no request within %ds; closed",
                (unsigned)k->uid, CONTROL_REQUEST_TIMEOUT_S);
        /* A best-effort error line; the socket is non-blocking, so this cannot hang. */
        proto_buf_append_err(&k->out, PROTO_ERR_SYNTAX, "no request received in time");
        (void)send(k->fd, k->out.data, k->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
        log_msg(LOG_LVL_WARN, "control: client uid %u does not read its reply; closed",
                (unsigned)k->uid);
    }
    conn_close(k);
}

/* ---- process selection ---- */

static bool is_group(struct supervisor *sup, const char *name)
{
    for (size_t i = 0; i < sup->nsvcs; i++) {
        if (strcmp(sup->svcs[i]->p.conf->group, name) == 0)
            return true;
    }
    return false;
}

/* The closest existing name, for "did you mean". */
static const char *nearest_name(struct supervisor *sup, const char *name)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;

    for (size_t i = 0; i < sup->nsvcs; i++) {
        size_t d = str_levenshtein(name, sup->svcs[i]->display);
        size_t d2 = str_levenshtein(name, sup->svcs[i]->p.conf->name);
        if (d2 < d)
            d = d2;
        if (d < best_d) {
            best_d = d;
            best = sup->svcs[i]->display;
        }
    }
    return best_d <= 3 || (best != NULL && best_d <= strlen(name) / 2) ? best : NULL;
}

/* Resolves NAME, GROUP:*, GROUP and all into services (appended to *out, no duplicates).
 * Returns 0, or -1 after replying no-such-process. */
static int select_services(struct conn *k, char **names, size_t nnames, struct service ***out,
                           size_t *nout)
{
    struct supervisor *sup = k->ctl->sup;
    struct service **sel = xcalloc(sup->nsvcs + 1, sizeof(*sel));
    size_t n = 0;

    for (size_t i = 0; i < nnames; i++) {
        const char *name = names[i];
        size_t len = strlen(name);
        /* GROUP:* and supervisorctl's GROUP: both name a whole group. */
        size_t suffix = len > 2 && strcmp(name + len - 2, ":*") == 0 ? 2
                        : len > 1 && name[len - 1] == ':'            ? 1
                                                                     : 0;
        bool whole_group = suffix > 0;
        char group[512];
        snprintf(group, sizeof(group), "%.*s", (int)(len - suffix), name);
        bool matched = false;
        for (size_t j = 0; j < sup->nsvcs; j++) {
            struct service *svc = sup->svcs[j];
            bool hit = strcmp(name, "all") == 0 ||
                       ((whole_group || !sup_find(sup, name)) &&
                        strcmp(svc->p.conf->group, group) == 0 &&
                        (whole_group || is_group(sup, name))) ||
                       (!whole_group && svc == sup_find(sup, name));
            if (!hit)
                continue;
            matched = true;
            bool dup = false;
            for (size_t m = 0; m < n && !dup; m++)
                dup = sel[m] == svc;
            if (!dup)
                sel[n++] = svc;
        }
        if (!matched && strcmp(name, "all") != 0) {
            const char *near = nearest_name(sup, name);
            free(sel);
            if (near != NULL)
                reply_err(k, PROTO_ERR_NO_SUCH_PROCESS, "no such process '%s'; did you mean '%s'?",
                          name, near);
            else
                reply_err(k, PROTO_ERR_NO_SUCH_PROCESS, "no such process '%s'", name);
            return -1;
        }
    }
    *out = sel;
    *nout = n;
    return 0;
}

/* ---- verbs ---- */

/* tend's own pids, named on every line (the same for the whole reply). */
struct status_ids {
    pid_t supervisor, keeper;
};

static void append_status(struct conn *k, struct service *svc, uint64_t now,
                          const struct status_ids *ids, bool detail)
{
    char exitbuf[64] = "";
    const struct proc *p = &svc->p;
    struct proto_proc r = {
        .name = svc->display,
        .group = p->conf->group,
        .state = proc_state_name(p->state),
        .pid = p->pid,
        .restarts = p->restarts,
        .reason = proc_reason(p),
        .health = svc->health ? health_state(svc->health) : "",
        .dropped_bytes = logcap_dropped(svc->logcap),
        .written_bytes = logcap_written(svc->logcap),
        .supervisor_pid = ids->supervisor,
        .keeper_pid = ids->keeper,
    };

    char waitbuf[200];
    /* What its start waits for: what it depends on, or (spawned and refused) a resource. */
    r.waiting = deps_waiting(svc, waitbuf, sizeof(waitbuf));
    if (r.waiting[0] == '\0' && p->shortage_err != 0)
        r.waiting = proc_shortage_name(p->shortage_err);
    r.status = notify_status(svc->notify);
    if (p->pid > 0 && now > p->start_ns)
        r.uptime_s = (now - p->start_ns) / NS_PER_SEC;
    if (p->pid > 0) {
        /* The monotonic start, seen on the wall clock of now. */
        time_t wall = time(NULL);
        r.started_s = (unsigned long long)wall > r.uptime_s
                          ? (unsigned long long)wall - r.uptime_s : 0;
    }
    if (p->last_status != -1)
        proc_describe_status(p->last_status, exitbuf, sizeof(exitbuf));
    if (p->last_status != -1 && p->last_oom) {
        size_t n = strlen(exitbuf);
        snprintf(exitbuf + n, sizeof(exitbuf) - n, ", out of memory");
    }
    r.exit = exitbuf;
    struct cgroup_usage u = {-1, -1, -1};
    if (p->pid > 0)
        cgroup_svc_usage_last(svc->cg, &u); /* as do_status read it: nothing is polled */
    r.has_memory = u.memory_bytes >= 0;
    r.has_cpu = u.cpu_usec >= 0;
    r.has_tasks = u.tasks >= 0;
    r.memory_bytes = r.has_memory ? (unsigned long long)u.memory_bytes : 0;
    r.cpu_usec = r.has_cpu ? (unsigned long long)u.cpu_usec : 0;
    r.tasks = r.has_tasks ? (unsigned long long)u.tasks : 0;
    if (detail) {
        /* supervisord's getProcessInfo and getAllConfigInfo: start and stop of the last run
         * on the wall clock (from the monotonic record), start-up settings, log files. */
        time_t wall = time(NULL);
        r.has_detail = true;
        if (p->start_ns != 0 && now >= p->start_ns) {
            unsigned long long ago = (now - p->start_ns) / NS_PER_SEC;
            r.laststart_s = (unsigned long long)wall > ago ? (unsigned long long)wall - ago : 0;
            if (p->pid == 0 && r.laststart_s > 0)
                r.laststop_s = r.laststart_s + p->last_run_ns / NS_PER_SEC;
        }
        r.autostart = p->conf->autostart;
        r.priority = p->conf->priority;
        r.group_priority = p->conf->group_priority;
        r.stdout_log = logcap_path(svc->logcap, LOGCAP_STDOUT);
        r.stderr_log = logcap_path(svc->logcap, LOGCAP_STDERR);
    }
    proto_buf_append_proc(&k->out, &r);
}

/* A status reads each program's usage from its cgroup: three file reads or so a program,
 * 75 ms for 1,000 on a hybrid host, and up to ten times as long each just after a mass
 * restart. So that no status waits for seconds of it, a status reads for at most
 * STATUS_READ_NS, from where the last status of every program stopped (each program in
 * turn, however rarely they come), and answers at once: a program it did not read shows its
 * last reading (none yet for a new instance: -), which the next status renews. During a
 * mass restart (spawns or exits waiting for their slices) it reads for STATUS_BUSY_NS: each
 * restarted instance has no reading yet, and the loop has spawns to get on with. */
#define STATUS_READ_NS 100000000ULL /* 100 ms: 1,000 programs' worth on a quiet host */
#define STATUS_BUSY_NS 2000000ULL   /* 2 ms: as a slice of spawns (launch.c) */

/* Spawns or exits wait for their slices: thousands of programs are restarting. */
static bool mass_restart(const struct supervisor *sup)
{
    return sup->spawnq.len > LAUNCH_SOON_MAX || sup->reap_wake.set;
}

/* How long a status may read usage; the tests set it with TEND_TEST_STATUS_READ_NS (0:
 * one program a status), as no test machine has programs enough to exceed it. */
static uint64_t status_read_ns(bool busy)
{
    static uint64_t test_ns = UINT64_MAX;
    static bool read;

    if (!read) {
        const char *v = getenv("TEND_TEST_STATUS_READ_NS");
        if (v != NULL)
            test_ns = strtoull(v, NULL, 10);
        read = true;
    }
    if (test_ns != UINT64_MAX)
        return test_ns;
    return busy ? STATUS_BUSY_NS : STATUS_READ_NS;
}

/* Reads the stale usage of the programs in sel, from sel[first] on round to sel[first - 1],
 * at least one and for at most budget_ns. Returns how many were read; *next is where the
 * next status starts, or n when none was left unread. */
static size_t read_usage(struct service **sel, size_t n, size_t first, uint64_t budget_ns,
                         size_t *next)
{
    uint64_t now = timer_now_ns(), end = now + budget_ns;
    size_t nread = 0;

    *next = n;
    for (size_t k = 0; k < n; k++) {
        size_t i = (first + k) % n;
        struct service *svc = sel[i];
        if (svc->p.pid <= 0 || !cgroup_svc_usage_stale(svc->cg, now))
            continue;
        if (nread > 0 && (now = timer_now_ns()) >= end) {
            *next = i;
            break;
        }
        cgroup_svc_usage_read(svc->cg);
        nread++;
    }
    return nread;
}

/* The services the request names, or all. Returns -1 after an error reply. */
static int status_targets(struct conn *k, struct proto_request *req, struct service ***sel,
                          size_t *n)
{
    struct supervisor *sup = k->ctl->sup;

    if (req->nnames > 0)
        return select_services(k, req->names, req->nnames, sel, n);
    *sel = xcalloc(sup->nsvcs + 1, sizeof(**sel));
    memcpy(*sel, sup->svcs, sup->nsvcs * sizeof(**sel));
    *n = sup->nsvcs;
    return 0;
}

static void do_status(struct conn *k, struct proto_request *req)
{
    struct control *c = k->ctl;
    struct supervisor *sup = c->sup;
    struct service **sel;
    size_t n, next;

    if (status_targets(k, req, &sel, &n) == -1)
        return;
    /* Of all programs, each in turn; of the ones named, from the first. */
    bool all = req->nnames == 0, busy = mass_restart(sup);
    size_t first = all && n > 0 ? c->usage_next % n : 0;
    size_t nread = read_usage(sel, n, first, status_read_ns(busy), &next);
    if (all)
        c->usage_next = next < n ? next : 0;
    if (next < n)
        log_msg(LOG_LVL_DEBUG, "control: status of %zu processes%s: usage of %zu read, the "
                "last reading shown for the rest", n, busy ? " during a mass restart" : "",
                nread);
    uint64_t now = timer_now_ns();
    const struct status_ids ids = {getpid(), handover_keeper_pid(sup->handover)};
    for (size_t i = 0; i < n; i++)
        append_status(k, sel[i], now, &ids, req->detail);
    free(sel);
    if (handover_keeper_lost(sup->handover))
        proto_buf_append_msg(&k->out, "warning: the keeper is gone: a death of this "
                             "supervisor would now lose the programs (restart tend)");
    reply_ok(k);
}

/* Applies the request to the next priority level of targets not yet issued (to every one
 * with all), in order. A target whose process is gone (a reload removed it) is issued all
 * the same: check_waiter reports it. */
static void issue_level(struct conn *k, bool all)
{
    struct supervisor *sup = k->ctl->sup;
    size_t first = 0;

    while (first < k->ntargets && k->targets[first].issued)
        first++;
    if (first == k->ntargets)
        return;
    long long level = k->targets[first].order;
    /* Applying one request changes states and calls check_waiter through the listener;
     * the others are not applied yet, so judging now would be wrong. */
    k->issuing = true;
    for (size_t i = first; i < k->ntargets; i++) {
        struct target *t = &k->targets[i];
        if (t->issued || (!all && t->order != level && k->verb != PROTO_VERB_RESTART))
            continue;
        t->issued = true;
        struct service *svc = sup_find(sup, t->name);
        if (svc == NULL)
            continue;
        switch (k->verb) {
        case PROTO_VERB_START: sup_start(svc); break;
        case PROTO_VERB_STOP: sup_stop(svc); break;
        default: sup_restart(svc); break;
        }
    }
    k->issuing = false;
}

static void do_change(struct conn *k, struct proto_request *req)
{
    struct supervisor *sup = k->ctl->sup;
    struct service **sel;
    size_t n;

    if (sup->shutting_down && req->verb != PROTO_VERB_STOP) {
        reply_err(k, PROTO_ERR_BUSY, "tend is shutting down");
        return;
    }
    if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
        return;
    k->verb = req->verb;
    k->req_ns = timer_now_ns();
    k->targets = xcalloc(n + 1, sizeof(*k->targets));
    k->ntargets = n;
    /* sel is in ascending priority (the table's order); stop goes the other way, like
     * supervisorctl's stop all and tend's own shutdown. */
    for (size_t i = 0; i < n; i++) {
        struct service *svc = sel[req->verb == PROTO_VERB_STOP ? n - 1 - i : i];
        k->targets[i].name = xstrdup(svc->display);
        k->targets[i].order = proc_conf_order(svc->p.conf);
        k->targets[i].was_running = svc->p.state == PROC_RUNNING;
    }
    free(sel);
    if (req->no_wait) {
        /* Nothing waits for a level to finish: every request goes out now, in order. */
        issue_level(k, true);
        for (size_t i = 0; i < k->ntargets; i++)
            proto_buf_append_msgf(&k->out, "%s: %s requested", k->targets[i].name,
                                  proto_verb_name(req->verb));
        reply_ok(k);
        return;
    }
    issue_level(k, false);
    check_waiter(k);
}

static void do_signal(struct conn *k, struct proto_request *req)
{
    struct service **sel;
    size_t n;
    bool failed = false;

    if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
        return;
    for (size_t i = 0; i < n; i++) {
        if (sup_signal(sel[i], req->signo) == -1) {
            failed = true;
            proto_buf_append_msgf(&k->out, "%s: cannot signal: %s", sel[i]->display,
                                  errno == ESRCH ? "not running" : strerror(errno));
        } else {
            proto_buf_append_msgf(&k->out, "%s: sent SIG%s to pid %d", sel[i]->display,
                                  sig_name(req->signo) ?: "?", (int)sel[i]->p.pid);
        }
    }
    free(sel);
    if (failed)
        reply_err(k, PROTO_ERR_FAILED, "some processes could not be signalled");
    else
        reply_ok(k);
}

static void reload_line(const char *line, void *ctx)
{
    struct conn *k = ctx;

    proto_buf_append_msg(&k->out, line);
}

/* `tend upgrade`: the answer goes out first, then the supervisor hands everything to the
 * keeper and exits; the keeper re-executes both from the binary installed now. The listening
 * socket stays open meanwhile, so the client's next request waits for the new supervisor. */
static void do_upgrade(struct conn *k)
{
    struct supervisor *sup = k->ctl->sup;

    if (handover_keeper_pid(sup->handover) == 0) {
        reply_err(k, PROTO_ERR_FAILED, "no keeper: this supervisor cannot be replaced in place "
                  "(restart tend to get its keeper back)");
        return;
    }
    if (sup->shutting_down) {
        reply_err(k, PROTO_ERR_FAILED, "tend is shutting down");
        return;
    }
    log_msg(LOG_LVL_INFO, "control: upgrade requested by uid %u", (unsigned)k->uid);
    proto_buf_append_msg(&k->out, "upgrading: the keeper re-executes tend");
    reply_ok(k);
    if (sup_upgrade(sup) == -1)
        log_msg(LOG_LVL_ERROR, "upgrade: %s; going on as before", strerror(errno));
}

/* supervisorctl reread: what a reload would do, by group; nothing changes. */
static void do_reread(struct conn *k)
{
    struct config_diags diags = {0};
    int r = reload_reread(k->ctl->sup, &diags, reload_line, k);

    for (size_t i = 0; i < diags.count; i++) {
        char buf[2048];
        config_diag_format(&diags.items[i], buf, sizeof(buf));
        proto_buf_append_msg(&k->out, buf);
    }
    config_diags_free(&diags);
    if (r == -1)
        reply_err(k, PROTO_ERR_FAILED, "the config has errors");
    else
        reply_ok(k);
}

/* logread [--stderr] OFFSET LENGTH [NAME]: supervisord's readFile on a service's log (NAME)
 * or tend's own (none): a negative OFFSET is that many bytes before the end (LENGTH must
 * then be 0), else LENGTH bytes from OFFSET, 0 meaning to the end; at most
 * PROTO_MAX_LOG_READ bytes. The reply: a msg line with the file's size, then the bytes as
 * data lines of up to 8 KiB each (a NUL byte, which the protocol cannot carry, reads as a
 * space), then ok. No file at all (NONE, syslog) is err failed "no file"; a file not made
 * yet reads as empty. */
static void do_logread(struct conn *k, struct proto_request *req)
{
    const char *path;
    const char *who = "tend";

    if (req->nnames == 0) {
        path = log_file_path();
    } else {
        struct service **sel;
        size_t n;
        if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
            return;
        if (n != 1) {
            free(sel);
            reply_err(k, PROTO_ERR_BAD_ARGUMENT, "logread wants exactly one process");
            return;
        }
        who = sel[0]->display;
        logcap_flush(sel[0]->logcap); /* what the pipe holds belongs in the answer */
        path = logcap_path(sel[0]->logcap, req->use_stderr ? LOGCAP_STDERR : LOGCAP_STDOUT);
        free(sel);
    }
    if (req->offset < 0 && req->length != 0) {
        reply_err(k, PROTO_ERR_BAD_ARGUMENT, "a negative OFFSET reads to the end: LENGTH 0");
        return;
    }
    if (path == NULL) {
        reply_err(k, PROTO_ERR_FAILED, "no file: %s has no log file", who);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd == -1 && errno == ENOENT) {
        /* An AUTO log is made at its first line: none yet reads as empty, as supervisord's
         * file made at start-up does. */
        proto_buf_append_msg(&k->out, "0");
        reply_ok(k);
        return;
    }
    if (fd == -1 || fstat(fd, &st) == -1) {
        reply_err(k, PROTO_ERR_FAILED, "cannot read %s: %s", path, strerror(errno));
        fd_close_quiet(fd);
        return;
    }
    long long size = (long long)st.st_size, from, want;
    if (req->offset < 0) {
        from = size + req->offset > 0 ? size + req->offset : 0;
        want = size - from;
    } else {
        from = req->offset;
        want = req->length > 0 ? req->length : (size > from ? size - from : 0);
    }
    if (want > PROTO_MAX_LOG_READ)
        want = PROTO_MAX_LOG_READ;
    proto_buf_append_msgf(&k->out, "%lld", size);
    char buf[8193];
    while (want > 0) {
        size_t chunk = want > 8192 ? 8192 : (size_t)want;
        ssize_t got = pread(fd, buf, chunk, (off_t)from);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\0')
                buf[i] = ' ';
        }
        buf[got] = '\0';
        proto_buf_append_data(&k->out, buf);
        from += got;
        want -= got;
    }
    fd_close_quiet(fd);
    reply_ok(k);
}

/* clearlog [NAME]: empties a service's capture files, or tend's own log. */
static void do_clearlog(struct conn *k, struct proto_request *req)
{
    if (req->nnames == 0) {
        if (log_clear() == -1)
            reply_err(k, PROTO_ERR_FAILED, "cannot clear tend's log: %s", strerror(errno));
        else
            reply_ok(k);
        return;
    }
    struct service **sel;
    size_t n;
    if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
        return;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        if (logcap_clear(sel[i]->logcap) == -1) {
            proto_buf_append_msgf(&k->out, "%s: cannot clear its log: %s", sel[i]->display,
                                  strerror(errno));
            failed = true;
        } else {
            log_msg(LOG_LVL_INFO, "%s: log cleared (uid %d)", sel[i]->display, (int)k->uid);
        }
    }
    free(sel);
    if (failed)
        reply_err(k, PROTO_ERR_FAILED, "not every log could be cleared");
    else
        reply_ok(k);
}

static void do_reload(struct conn *k)
{
    struct config_diags diags = {0};
    int r = sup_reload(k->ctl->sup, &diags, reload_line, k);

    for (size_t i = 0; i < diags.count; i++) {
        char buf[2048];
        config_diag_format(&diags.items[i], buf, sizeof(buf));
        proto_buf_append_msg(&k->out, buf);
    }
    config_diags_free(&diags);
    if (r == 0 && k->out.len == 0)
        proto_buf_append_msg(&k->out, "no changes");
    if (r == -1)
        reply_err(k, PROTO_ERR_FAILED, "the config has errors; nothing changed");
    else
        reply_ok(k);
}

static void do_pid(struct conn *k, struct proto_request *req)
{
    struct service **sel;
    size_t n;

    if (req->nnames == 0) {
        proto_buf_append_msgf(&k->out, "%d", (int)getpid());
        reply_ok(k);
        return;
    }
    if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
        return;
    for (size_t i = 0; i < n; i++)
        proto_buf_append_msgf(&k->out, "%d", (int)sel[i]->p.pid);
    free(sel);
    reply_ok(k);
}

/* Resident memory from /proc (getrusage only knows the peak); 0 when it cannot be read. */
static unsigned long long self_rss_bytes(void)
{
    unsigned long long pages_total = 0, pages_rss = 0;
    FILE *f = fopen("/proc/self/statm", "re");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%llu %llu", &pages_total, &pages_rss) != 2)
        pages_rss = 0;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return pages_rss * (unsigned long long)(page > 0 ? page : 4096);
}

static void do_info(struct conn *k)
{
    struct supervisor *sup = k->ctl->sup;
    struct rusage ru;
    uint64_t now = timer_now_ns();
    struct proto_info info = {
        .version = TEND_VERSION,
        .pid = getpid(),
        .uptime_s = (now - sup->started_ns) / NS_PER_SEC,
        .reloads = sup->reloads,
        .alert_runs = sup->alerts != NULL ? alerts_sent(sup->alerts) : 0,
        .alert_failures = sup->alerts != NULL ? alerts_failed(sup->alerts) : 0,
        .rss_bytes = self_rss_bytes(),
        .nprocs = sup->nsvcs,
        .keeper_pid = (unsigned long long)handover_keeper_pid(sup->handover),
        .supervisor_restarts = handover_generation(sup->handover) - 1,
    };
    time_t wall = time(NULL);

    info.started_s = (unsigned long long)wall > info.uptime_s
                         ? (unsigned long long)wall - info.uptime_s : 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        info.cpu_us = (unsigned long long)ru.ru_utime.tv_sec * 1000000ULL +
                      (unsigned long long)ru.ru_utime.tv_usec +
                      (unsigned long long)ru.ru_stime.tv_sec * 1000000ULL +
                      (unsigned long long)ru.ru_stime.tv_usec;
    }
    proto_buf_append_info(&k->out, &info);
    reply_ok(k);
}

/* Sends the complete lines of buf[0..len) as data lines; keeps an unterminated tail. */
static void send_lines(struct conn *k, const char *buf, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        str_append_len(&k->partial, buf + start, i - start);
        proto_buf_append_data_len(&k->out, str_cstr(&k->partial), k->partial.len);
        str_clear(&k->partial);
        start = i + 1;
    }
    str_append_len(&k->partial, buf + start, len - start);
    if (k->partial.len > PROTO_MAX_TEXT) {
        /* A line longer than a data line can carry goes out in pieces. */
        proto_buf_append_data_len(&k->out, str_cstr(&k->partial), k->partial.len);
        str_clear(&k->partial);
    }
}

/* Reads the followed file from where we are to its end (bounded per call). */
static void follow_read(struct conn *k)
{
    char buf[65536];

    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t n = pread(k->follow_fd, buf, sizeof(buf), k->follow_pos);
        if (n <= 0)
            break;
        k->follow_pos += n;
        send_lines(k, buf, (size_t)n);
        if (k->out.len > (4u << 20)) {
            /* A client that cannot keep up loses lines, not the supervisor its memory. */
            struct stat st;
            if (fstat(k->follow_fd, &st) == 0 && st.st_size > k->follow_pos) {
                proto_buf_append_msgf(&k->out, "[tend: %lld bytes skipped: reading too slowly]",
                                      (long long)(st.st_size - k->follow_pos));
                k->follow_pos = st.st_size;
            }
            break;
        }
    }
}

/* The followed file's directory changed: read what was appended, and if the path now names
 * another file (rotation), finish the old one and go on with the new one from its start. */
static void on_follow_event(struct watcher *w, uint32_t events)
{
    struct conn *k = w->ctx;
    char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct stat now, cur;

    (void)events;
    while (read(k->ino_fd, evbuf, sizeof(evbuf)) > 0)
        ; /* drained: what changed is learnt from the file itself */
    if (k->follow_fd == -1) {
        /* Waiting for an AUTO log's first line: the file appears now or later. */
        k->follow_fd = open(k->follow_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        k->follow_pos = 0;
    }
    follow_read(k);
    if (stat(k->follow_path, &now) == 0 && fstat(k->follow_fd, &cur) == 0 &&
        (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev || now.st_size < k->follow_pos)) {
        int fd = open(k->follow_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd != -1) {
            follow_read(k); /* the rest of the old file */
            (void)close(k->follow_fd);
            k->follow_fd = fd;
            k->follow_pos = 0;
            follow_read(k);
        }
    }
    conn_flush(k);
}

/* Where the last n lines of fd begin (0 if it has fewer). The byte at size - 1 is left out
 * of the count: a final newline ends the last line, it does not start another. */
static off_t tail_start(int fd, off_t size, long n)
{
    char buf[8192];
    off_t pos = size - 1;
    long found = 0;

    if (n <= 0)
        return size;
    while (pos > 0) {
        size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        if (pread(fd, buf, chunk, pos - (off_t)chunk) != (ssize_t)chunk)
            return 0;
        for (size_t i = chunk; i-- > 0;) {
            if (buf[i] == '\n' && ++found == n)
                return pos - (off_t)chunk + (off_t)i + 1;
        }
        pos -= (off_t)chunk;
    }
    return 0;
}

static void do_logs(struct conn *k, struct proto_request *req)
{
    struct service **sel;
    size_t n;
    struct stat st;

    if (select_services(k, req->names, req->nnames, &sel, &n) == -1)
        return;
    if (n != 1) {
        free(sel);
        reply_err(k, PROTO_ERR_BAD_ARGUMENT, "logs wants exactly one process");
        return;
    }
    struct service *svc = sel[0];
    free(sel);
    int stream = req->use_stderr ? LOGCAP_STDERR : LOGCAP_STDOUT;
    const char *path = logcap_path(svc->logcap, stream);
    if (path == NULL) {
        reply_err(k, PROTO_ERR_FAILED, "%s: %s is not captured to a file (%s)", svc->display,
                  req->use_stderr ? "stderr" : "stdout",
                  req->use_stderr && svc->p.conf->redirect_stderr
                      ? "redirect_stderr: it is in the stdout log"
                      : "NONE, syslog, or not started yet");
        return;
    }
    logcap_flush(svc->logcap); /* what the pipe holds belongs in the answer */
    k->follow_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (k->follow_fd == -1 && errno == ENOENT) {
        /* An AUTO log is created at the first line written: nothing written yet. */
        k->follow_pos = 0;
    } else if (k->follow_fd == -1 || fstat(k->follow_fd, &st) == -1) {
        reply_err(k, PROTO_ERR_FAILED, "%s: cannot read %s: %s", svc->display, path,
                  strerror(errno));
        return;
    } else {
        k->follow_pos = tail_start(k->follow_fd, st.st_size, req->lines >= 0 ? req->lines : 10);
    }
    k->follow_path = xstrdup(path);
    follow_read(k);
    if (!req->follow) {
        if (k->partial.len > 0)
            proto_buf_append_data_len(&k->out, str_cstr(&k->partial), k->partial.len);
        reply_ok(k);
        return;
    }
    /* Follow: inotify on the directory sees appends, renames (rotation) and new files. */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof(dir), "%.*s", slash ? (slash == path ? 1 : (int)(slash - path)) : 1,
             slash ? path : ".");
    k->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (k->ino_fd == -1 ||
        inotify_add_watch(k->ino_fd, dir,
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) == -1 ||
        loop_add(&k->ctl->sup->loop, &k->ino_w, k->ino_fd, EPOLLIN, on_follow_event, k) == -1) {
        reply_err(k, PROTO_ERR_FAILED, "cannot follow %s: %s", path, strerror(errno));
        return;
    }
    conn_flush(k); /* the tail goes out now; the connection stays open */
}

static void handle_request(struct conn *k, const char *line, size_t len)
{
    struct proto_request req;
    char why[512];
    enum proto_err e = proto_parse_request(line, len, &req, why, sizeof(why));

    k->got_request = true;
    loop_timer_cancel(&k->ctl->sup->loop, &k->timer);
    if (e != PROTO_OK) {
        reply_err(k, e, "%s", why);
        proto_request_free(&req);
        return;
    }
    switch (req.verb) {
    case PROTO_VERB_STATUS: do_status(k, &req); break;
    case PROTO_VERB_START:
    case PROTO_VERB_STOP:
    case PROTO_VERB_RESTART: do_change(k, &req); break;
    case PROTO_VERB_SIGNAL: do_signal(k, &req); break;
    case PROTO_VERB_RELOAD: do_reload(k); break;
    case PROTO_VERB_SHUTDOWN:
        /* From tend-web too: supervisorctl's shutdown comes that way, and whoever may
         * stop every program there may as well end the supervisor. */
        log_msg(LOG_LVL_INFO, "control: shutdown requested by %suid %u",
                k->web ? "tend-web, " : "", (unsigned)k->uid);
        proto_buf_append_msg(&k->out, "shutting down");
        reply_ok(k);
        sup_shutdown(k->ctl->sup);
        break;
    case PROTO_VERB_PID: do_pid(k, &req); break;
    case PROTO_VERB_LOGROTATE:
        if (sup_logrotate(k->ctl->sup) == -1)
            reply_err(k, PROTO_ERR_FAILED, "not every log could be rotated: %s (retrying)",
                      strerror(errno));
        else
            reply_ok(k);
        break;
    case PROTO_VERB_LOGS: do_logs(k, &req); break;
    case PROTO_VERB_VERSION:
        proto_buf_append_msgf(&k->out, "%s", TEND_VERSION);
        reply_ok(k);
        break;
    case PROTO_VERB_UPGRADE: do_upgrade(k); break;
    case PROTO_VERB_INFO: do_info(k); break;
    case PROTO_VERB_LOGREAD: do_logread(k, &req); break;
    case PROTO_VERB_CLEARLOG: do_clearlog(k, &req); break;
    case PROTO_VERB_REREAD: do_reread(k); break;
    case PROTO_VERB_HTTPFD:
        if (!k->web) {
            reply_err(k, PROTO_ERR_DENIED, "httpfd is tend-web's");
            break;
        }
        /* No reply: the connection stays open and carries sockets (see hand_off_http). */
        if (k->ctl->http_door != NULL)
            conn_close(k->ctl->http_door); /* a restarted tend-web's new channel wins */
        k->ctl->http_door = k;
        k->door = true;
        log_msg(LOG_LVL_INFO, "control: tend-web serves the HTTP clients of %s (XML-RPC)",
                k->ctl->path);
        break;
    default:
        reply_err(k, PROTO_ERR_UNKNOWN_VERB, "'%s' is not served by this supervisor",
                  proto_verb_name(req.verb) ?: "?");
        break;
    }
    proto_request_free(&req);
}

/* Whether the client on the control socket speaks HTTP (supervisorctl, an XML-RPC tool):
 * its first bytes, peeked, are an HTTP method. A tend request starts "tend/1". */
static bool looks_like_http(const struct conn *k)
{
    static const char *const methods[] = {"GET ", "POST", "HEAD", "PUT ", "OPTI", "DELE"};
    char head[4];
    ssize_t n = recv(k->fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);

    if (n != (ssize_t)sizeof(head))
        return false; /* fewer than 4 bytes so far: never an HTTP request line */
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (memcmp(head, methods[i], sizeof(head)) == 0)
            return true;
    }
    return false;
}

/* supervisord serves XML-RPC on its unix socket, and supervisorctl connects there: such a
 * client, already let in by the peer check, is passed (SCM_RIGHTS) to tend-web, which
 * speaks HTTP; the supervisor parses none of it. Without tend-web's channel, or if the
 * channel is full, the client gets a 503 and the connection closes. */
static void hand_off_http(struct conn *k)
{
    struct control *c = k->ctl;
    char byte = 'h';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

    memset(u.buf, 0, sizeof(u.buf));
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &k->fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(c->http_door->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n == -1 && errno == EINTR);
    if (n != 1) {
        static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\nContent-Type: "
                                   "text/plain\r\nContent-Length: 30\r\n\r\n"
                                   "tend-web cannot take it now.\r\n";
        log_msg(LOG_LVL_WARN, "control: cannot pass an HTTP client to tend-web: %s",
                n == -1 ? strerror(errno) : "short write");
        /* Best effort on a fresh socket whose buffer is empty: it cannot block. */
        (void)send(k->fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    conn_close(k); /* our copy; tend-web holds its own */
}

static void on_conn(struct watcher *w, uint32_t events)
{
    struct conn *k = w->ctx;

    if (events & (EPOLLHUP | EPOLLERR)) {
        conn_close(k); /* the client is gone: nothing can reach it any more */
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP)) && !k->got_request && !k->web &&
        k->ctl->http_door != NULL && proto_splitter_pending(&k->in) == 0 &&
        looks_like_http(k)) {
        hand_off_http(k);
        return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP)) && !k->got_request) {
        ssize_t n = proto_splitter_read(&k->in, k->fd);
        const char *line;
        size_t len;
        int r = proto_splitter_next(&k->in, &line, &len);
        if (r == 1) {
            handle_request(k, line, len);
            return;
        }
        if (r == -1) {
            reply_err(k, PROTO_ERR_TOOLONG, "request longer than %d bytes", PROTO_MAX_REQUEST);
            return;
        }
        if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
            conn_close(k); /* left without a complete request */
            return;
        }
    } else if (events & (EPOLLIN | EPOLLRDHUP)) {
        /* After the request only end of file is expected; extra bytes are ignored. */
        char scratch[512];
        ssize_t n = read(k->fd, scratch, sizeof(scratch));
        if (n == 0 && k->door) {
            conn_close(k); /* tend-web went away: its successor opens a new channel */
            return;
        }
        if (n == 0) {
            k->read_closed = true; /* a half-close: the answer can still be sent */
            conn_events(k);
        } else if (n == -1 && errno != EAGAIN && errno != EINTR) {
            conn_close(k);
            return;
        }
    }
    if (events & EPOLLOUT)
        conn_flush(k);
}

/* Members of the configured group may connect: read the peer's groups from /proc, which
 * cannot block the way a user database lookup can. */
static bool peer_in_group(pid_t pid, gid_t gid)
{
    char path[64], line[4096];
    bool found = false;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        for (char *p = line + 7; *p != '\0' && !found;) {
            char *end;
            unsigned long g = strtoul(p, &end, 10);
            if (end == p)
                break;
            found = (gid_t)g == gid;
            p = end;
        }
    }
    fclose(f);
    return found;
}

/* tend-web is served on its own socket, and only the very process tend started for it: the
 * peer's pid must be the pid of the CONFIG_WEB_NAME service (our unreaped child, so the pid
 * cannot have been reused) and its uid the one it runs as. Anyone else who finds the
 * abstract address gets `err denied`, like on the main socket. */
static bool peer_is_web(struct control *c, const struct ucred *cred)
{
    struct service *svc = sup_find(c->sup, CONFIG_WEB_NAME);

    if (svc == NULL || cred->pid <= 0 || svc->p.pid != cred->pid || svc->run_uid != cred->uid)
        return false;
    /* Taken back from a previous supervisor, it is the keeper's child, not ours: its pid
     * is safe from reuse only while its pidfd says it has not exited. */
    if (svc->pidfd != -1) {
        struct pollfd pfd = {.fd = svc->pidfd, .events = POLLIN};
        if (poll(&pfd, 1, 0) != 0)
            return false; /* exited (its exit is on its way to us), or cannot tell */
    }
    return true;
}

static void accept_one(struct control *c, int fd, bool web)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct conn *k = xcalloc(1, sizeof(*k));

    k->ctl = c;
    k->fd = fd;
    k->follow_fd = -1;
    k->ino_fd = -1;
    k->ino_w.fd = -1;
    str_init(&k->partial);
    proto_splitter_init(&k->in, PROTO_MAX_REQUEST);
    proto_buf_init(&k->out);
    timer_init(&k->timer, on_conn_timer, k);
    k->next = c->conns;
    if (c->conns)
        c->conns->prev = k;
    c->conns = k;
    c->nconns++;
    if (loop_add(&c->sup->loop, &k->w, fd, EPOLLIN | EPOLLRDHUP, on_conn, k) == -1) {
        log_msg(LOG_LVL_WARN, "control: cannot watch a connection: %s", strerror(errno));
        conn_close(k);
        return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
        log_msg(LOG_LVL_WARN, "control: cannot identify a peer: %s", strerror(errno));
        conn_close(k);
        return;
    }
    k->uid = cred.uid;
    k->web = web;
    bool allowed = web ? peer_is_web(c, &cred)
                       : cred.uid == 0 || cred.uid == geteuid() ||
                             (c->has_owner && cred.uid == c->owner_uid) ||
                             (c->has_gid &&
                              (cred.gid == c->gid || peer_in_group(cred.pid, c->gid)));
    if (!allowed) {
        log_msg(LOG_LVL_WARN, "control: refused uid %u (pid %d): not allowed",
                (unsigned)cred.uid, (int)cred.pid);
        reply_err(k, PROTO_ERR_DENIED, "permission denied: uid %u may not control this supervisor",
                  (unsigned)cred.uid);
        return;
    }
    /* The cap follows the descriptor budget: connections never take what programs need. */
    if (c->nconns > fdbudget_conn_cap()) {
        reply_err(k, PROTO_ERR_BUSY, "too many connections (%lu)", fdbudget_conn_cap());
        return;
    }
    (void)loop_timer_arm(&c->sup->loop, &k->timer,
                         timer_now_ns() + CONTROL_REQUEST_TIMEOUT_S * NS_PER_SEC);
}

static void on_retry_accept(struct timer *t, void *ctx)
{
    struct control *c = ctx;

    (void)t;
    (void)loop_mod(&c->sup->loop, &c->w, EPOLLIN); /* the listening fd is valid */
    if (c->web_fd != -1)
        (void)loop_mod(&c->sup->loop, &c->web_w, EPOLLIN);
}

/* The socket tend-web connects to: in the abstract namespace, because tend-web runs as
 * another user who cannot enter the main socket's directory, and has no path to check.
 * With inherited != -1, the one a previous supervisor made (websock_adopt took its name). */
static void open_web_socket(struct control *c, int inherited)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    const char *name = websock_address();
    size_t len = strlen(name);

    if (inherited != -1) {
        c->web_fd = inherited;
        (void)fcntl(c->web_fd, F_SETFD, FD_CLOEXEC); /* valid fd: cannot fail */
        if (fd_set_nonblock(c->web_fd) == 0 &&
            loop_add(&c->sup->loop, &c->web_w, c->web_fd, EPOLLIN, on_listen, c) == 0)
            return;
        log_msg(LOG_LVL_WARN, "control: cannot take over the socket of %s: %s; it cannot "
                "connect", CONFIG_WEB_NAME, strerror(errno));
        c->web_fd = -1; /* the keeper keeps its copy until the state stops naming it */
        return;
    }
    memcpy(addr.sun_path + 1, name + 1, len - 1); /* sun_path[0] = 0: abstract */
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    c->web_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->web_fd == -1 || bind(c->web_fd, (struct sockaddr *)&addr, alen) == -1 ||
        listen(c->web_fd, 128) == -1 ||
        loop_add(&c->sup->loop, &c->web_w, c->web_fd, EPOLLIN, on_listen, c) == -1) {
        log_msg(LOG_LVL_WARN, "control: cannot open the socket of %s: %s; it cannot connect",
                CONFIG_WEB_NAME, strerror(errno));
        fd_close_quiet(c->web_fd);
        c->web_fd = -1;
    }
}

static void on_listen(struct watcher *w, uint32_t events)
{
    struct control *c = w->ctx;
    bool web = w == &c->web_w;

    (void)events;
    for (;;) {
        int fd = accept4(web ? c->web_fd : c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(c, fd, web);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays readable: pause accepting for a second rather
             * than spin on it. */
            log_msg(LOG_LVL_WARN, "control: cannot accept: %s; retrying in 1s", strerror(errno));
            (void)loop_mod(&c->sup->loop, &c->w, 0);
            if (c->web_fd != -1)
                (void)loop_mod(&c->sup->loop, &c->web_w, 0);
            (void)loop_timer_arm(&c->sup->loop, &c->retry_timer, timer_now_ns() + NS_PER_SEC);
        }
        return; /* EAGAIN: all taken */
    }
}

/* ---- waiting for start/stop/restart ---- */

/* The last instance died of a SIGKILL that its stop signal was not: tend had to send it
 * after stopwaitsecs. */
static bool killed_on_stop(const struct proc *p)
{
    return p->last_status >= 0 && WIFSIGNALED(p->last_status) &&
           WTERMSIG(p->last_status) == SIGKILL && p->conf->stopsignal != SIGKILL;
}

static void check_waiter(struct conn *k)
{
    struct supervisor *sup = k->ctl->sup;
    size_t pending = 0;

    if (k->targets == NULL || k->final_queued || k->closed || k->issuing)
        return;
again:
    pending = 0;
    bool unissued = false;
    for (size_t i = 0; i < k->ntargets; i++) {
        struct target *t = &k->targets[i];
        if (t->done)
            continue;
        if (!t->issued) {
            unissued = true;
            continue;
        }
        struct service *svc = sup_find(sup, t->name);
        const char *ok = NULL, *fail = NULL;
        if (svc == NULL) {
            fail = "removed by a reload";
        } else {
            const struct proc *p = &svc->p;
            bool fresh = p->start_ns >= k->req_ns;
            /* FATAL is final even while the child of a failed exec awaits reaping. */
            bool down = p->state == PROC_FATAL ||
                        (p->pid == 0 && (p->state == PROC_STOPPED || p->state == PROC_EXITED));
            /* Held by its dependencies: not down yet, unless what it waits for cannot come. */
            if (down && p->state != PROC_FATAL && deps_held(svc)) {
                char why[200];
                if (!deps_blocked(svc)) {
                    pending++;
                    continue;
                }
                proto_buf_append_msgf(&k->out, "%s: %s", t->name,
                                      deps_waiting(svc, why, sizeof(why)));
            }
            switch (k->verb) {
            case PROTO_VERB_START:
                if (p->state == PROC_RUNNING)
                    ok = t->was_running ? "already running" : "started";
                else if (down)
                    fail = p->state == PROC_FATAL ? "FATAL" : "did not start";
                break;
            case PROTO_VERB_STOP:
                if (down)
                    ok = killed_on_stop(p) ? "stopped (it ignored its stop signal: SIGKILL "
                                             "sent after stopwaitsecs)"
                                           : "stopped";
                break;
            default:
                if (p->state == PROC_RUNNING && fresh)
                    ok = "restarted";
                else if (down && !p->pending_start)
                    fail = p->state == PROC_FATAL ? "FATAL" : "did not start";
                break;
            }
            if (fail != NULL && proc_reason(p)[0] != '\0') {
                proto_buf_append_msgf(&k->out, "%s: %s: %s", t->name, fail, proc_reason(p));
                fail = "";
            }
        }
        if (ok != NULL) {
            proto_buf_append_msgf(&k->out, "%s: %s", t->name, ok);
            t->done = true;
        } else if (fail != NULL) {
            if (*fail != '\0')
                proto_buf_append_msgf(&k->out, "%s: %s", t->name, fail);
            t->done = true;
            k->any_failed = true;
        } else {
            pending++;
        }
    }
    if (pending == 0 && unissued) {
        /* This level is done: the next one now (its states may be final at once). */
        issue_level(k, false);
        goto again;
    }
    if (pending > 0) {
        conn_flush(k); /* progress lines go out as they happen */
        return;
    }
    if (k->any_failed)
        reply_err(k, PROTO_ERR_FAILED, "not every process reached its state");
    else
        reply_ok(k);
}

static void on_state_change(struct service *svc, const struct proc_effects *fx, void *ctx)
{
    struct control *c = ctx;
    struct conn *next;

    (void)svc;
    (void)fx;
    for (struct conn *k = c->conns; k != NULL; k = next) {
        next = k->next; /* check_waiter may close k */
        check_waiter(k);
    }
}

/* ---- the socket ---- */

/* Creates the socket's directory if missing: only its owner may enter it, or, with
 * socket_group, that group may pass through (0710). An existing directory must belong to
 * us or root and must not let others replace entries in it (unless it is sticky, like
 * /tmp): otherwise someone could plant the path we bind or connect to. */
static int make_parent_dir(const struct control *c, const char *path, char *err, size_t len)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return 0;
    err[0] = '\0';
    snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (mkdir(dir, c->has_gid ? 0710 : 0700) == 0) {
        if (c->has_gid && chown(dir, (uid_t)-1, c->gid) == -1) {
            snprintf(err, len, "tend: cannot give %s to group %u: %s", dir, (unsigned)c->gid,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    if (errno != EEXIST) {
        snprintf(err, len, "tend: cannot create the directory of socket %s: %s", path,
                 strerror(errno));
        return -1;
    }
    /* Symlinks on the way (Debian's /var/run -> /run) are judged with their target. */
    if (preflight_socket_dir(dir, err, len) != 0) {
        if (err[0] == '\0')
            snprintf(err, len, "tend: %s vanished while tend was starting", dir);
        return -1;
    }
    return 0;
}

static int bind_socket(int fd, const struct sockaddr_un *addr, int mode)
{
    mode_t old = umask((mode_t)(~mode & 0777));
    int r = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));
    int saved = errno;

    (void)umask(old);
    errno = saved;
    return r;
}

struct control *control_open(struct supervisor *sup, int inherited_fd, int inherited_web_fd,
                             char *err, size_t err_len)
{
    const struct tend_conf *t = &sup->config->tend;
    struct control *c = xcalloc(1, sizeof(*c));
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    char def[sizeof(addr.sun_path)];
    const char *path = t->socket;
    int mode = t->socket_mode > 0 ? t->socket_mode : 0600;

    c->sup = sup;
    c->fd = -1;
    c->web_fd = -1;
    c->web_w.fd = -1;
    timer_init(&c->retry_timer, on_retry_accept, c);
    if (path == NULL && (path = client_default_socket(def, sizeof(def))) == NULL) {
        snprintf(err, err_len, "tend: the default socket path is too long");
        goto fail;
    }
    if (strlen(path) >= sizeof(addr.sun_path)) {
        snprintf(err, err_len, "tend: socket path %s is longer than %zu bytes", path,
                 sizeof(addr.sun_path) - 1);
        goto fail;
    }
    strcpy(addr.sun_path, path);
    strcpy(c->path, path);
    if (t->socket_group != NULL) {
        struct group *g = getgrnam(t->socket_group);
        if (g == NULL) {
            snprintf(err, err_len, "tend: socket_group: unknown group '%s'", t->socket_group);
            goto fail;
        }
        c->has_gid = true;
        c->gid = g->gr_gid;
    }
    if (inherited_fd != -1) {
        /* A previous supervisor's socket, held by the keeper: clients that connected
         * meanwhile wait in its backlog. Path, mode and owner were set when it was made. */
        c->fd = inherited_fd;
        (void)fcntl(c->fd, F_SETFD, FD_CLOEXEC); /* valid fd: cannot fail */
        if (fd_set_nonblock(c->fd) == -1 ||
            loop_add(&sup->loop, &c->w, c->fd, EPOLLIN, on_listen, c) == -1 ||
            sup_listen(sup, on_state_change, c) == -1) {
            snprintf(err, err_len, "tend: cannot take over the control socket %s: %s", path,
                     strerror(errno));
            goto fail;
        }
        if (t->socket_owner != NULL) {
            uid_t uid;
            gid_t gid, *groups = NULL;
            size_t ngroups;
            char msg[256];
            if (spawn_resolve_user(t->socket_owner, &uid, &gid, &groups, &ngroups, msg,
                                   sizeof(msg)) == 0) {
                free(groups);
                c->has_owner = true;
                c->owner_uid = uid;
            }
        }
        log_msg(LOG_LVL_INFO, "control: listening on %s (taken over)", path);
        open_web_socket(c, inherited_web_fd);
        return c;
    }
    if (make_parent_dir(c, path, err, err_len) == -1)
        goto fail;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd == -1) {
        snprintf(err, err_len, "tend: cannot create a socket: %s", strerror(errno));
        goto fail;
    }
    if (bind_socket(c->fd, &addr, mode) == -1) {
        int probe;
        if (errno != EADDRINUSE) {
            snprintf(err, err_len, "tend: cannot bind %s: %s", path, strerror(errno));
            goto fail;
        }
        /* Something is there. Only a socket nobody listens on may be replaced: connect()
         * to a regular file fails with ECONNREFUSED too, so check the type first. */
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            snprintf(err, err_len, "tend: %s exists and is not a socket; not replacing it",
                     path);
            goto fail;
        }
        probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe == -1 || connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0 ||
            errno != ECONNREFUSED) {
            int e = errno;
            fd_close_quiet(probe);
            snprintf(err, err_len, "tend: %s is in use (another tend running?)%s%s", path,
                     e == ECONNREFUSED ? "" : ": ", e == ECONNREFUSED ? "" : strerror(e));
            goto fail;
        }
        fd_close_quiet(probe);
        if (unlink(path) == -1 || bind_socket(c->fd, &addr, mode) == -1) {
            snprintf(err, err_len, "tend: cannot replace stale socket %s: %s", path,
                     strerror(errno));
            goto fail;
        }
        log_msg(LOG_LVL_INFO, "control: replaced a stale socket at %s", path);
    }
    if (t->socket_owner != NULL) {
        uid_t uid;
        gid_t gid, *groups = NULL;
        size_t ngroups;
        char msg[256];
        if (spawn_resolve_user(t->socket_owner, &uid, &gid, &groups, &ngroups, msg,
                               sizeof(msg)) == -1) {
            snprintf(err, err_len, "tend: socket_owner: %s", msg);
            (void)unlink(path);
            goto fail;
        }
        free(groups);
        c->has_owner = true;
        c->owner_uid = uid;
        if (chown(path, uid, strchr(t->socket_owner, ':') ? gid : (gid_t)-1) == -1) {
            snprintf(err, err_len, "tend: cannot chown %s: %s", path, strerror(errno));
            (void)unlink(path);
            goto fail;
        }
    }
    if (listen(c->fd, 128) == -1 ||
        loop_add(&sup->loop, &c->w, c->fd, EPOLLIN, on_listen, c) == -1 ||
        sup_listen(sup, on_state_change, c) == -1) {
        snprintf(err, err_len, "tend: cannot listen on %s: %s", path, strerror(errno));
        (void)unlink(path);
        goto fail;
    }
    log_msg(LOG_LVL_INFO, "control: listening on %s", path);
    /* Opened whether or not [inet_http_server] is set now: a reload may add it. */
    open_web_socket(c, inherited_web_fd);
    return c;
fail:
    fd_close_quiet(c->fd);
    free(c);
    return NULL;
}

int control_web_fd(const struct control *c)
{
    return c->web_fd;
}

void control_close(struct control *c)
{
    if (c == NULL)
        return;
    while (c->conns != NULL)
        conn_close(c->conns);
    loop_del(&c->sup->loop, &c->w);
    if (c->web_fd != -1)
        loop_del(&c->sup->loop, &c->web_w);
    fd_close_quiet(c->web_fd);
    loop_timer_cancel(&c->sup->loop, &c->retry_timer);
    fd_close_quiet(c->fd);
    if (!c->keep_socket)
        (void)unlink(c->path); /* best effort: a leftover socket is detected as stale later */
    free(c);
}

void control_keep_socket(struct control *c)
{
    if (c != NULL)
        c->keep_socket = true;
}

int control_fd(const struct control *c)
{
    return c != NULL ? c->fd : -1;
}

const char *control_path(const struct control *c)
{
    return c->path;
}
