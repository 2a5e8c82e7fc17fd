/* health: one process's health check, as a small state machine driven by the event loop
 * (see health.h for the contract).
 *
 * Invariants: at most one check is in flight; while one is, the deadline timer is armed and
 * the tick timer is not; while waiting for the next check, the tick timer is armed and no fd
 * or child exists (except a killed child not yet reaped, stray_pid). Every fd is
 * close-on-exec and non-blocking, and every fd of a check is closed when it ends, however it
 * ends. The result callback runs last in whatever handler completed the check, after all
 * state is updated, so it may stop, restart, reconfigure or free h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "health.h"
#include "log.h"
#include "spawn.h"
#include "timer.h"
#include "util/env.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
#define RESPONSE_MAX 4096 /* bytes of an HTTP response head we are willing to look at */
#define OUTPUT_LINE_MAX 120 /* characters of an exec check's first output line we keep */
#define REASON_MAX 256

extern char **environ;

/* Where the schedule stands. */
enum health_phase {
    PHASE_OFF,     /* not started, stopped, or nothing to check: no timer, no fd */
    PHASE_WAIT,    /* tick armed for the next check */
    PHASE_CONNECT, /* TCP/HTTP: connect in progress, waiting for writability */
    PHASE_SEND,    /* HTTP: request partly sent, waiting for writability */
    PHASE_RECV,    /* HTTP: waiting for the status line */
    PHASE_EXEC,    /* exec: child running, waiting for health_reaped */
    PHASE_REPORT,  /* exec: reaped; tick armed at once to deliver the verdict from the loop */
};

enum health_verdict {
    VERDICT_UNKNOWN,
    VERDICT_OK,
    VERDICT_FAILING,
};

union sockaddr_any {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

/* Fields are ordered for packing (no padding holes), then by purpose. */
struct health {
    struct loop *loop;
    health_result_fn *cb;
    void *ctx;

    /* What to check: a private copy of the proc_conf fields, so the caller may free its
     * conf at will (a reload does). */
    char *name;
    char *host;
    char *path;
    char **argv;
    char **env;
    char *directory;
    char *request;  /* HTTP: the whole request, built once per configuration */
    size_t request_len;
    char *disabled; /* non-NULL: the target cannot be checked, and why */
    union sockaddr_any addr;
    socklen_t addr_len;
    enum health_kind kind;
    int port;
    int interval_s, timeout_s, retries, grace_s;
    bool ever_ok;   /* a check passed since health_start: "starting" ends */

    /* The schedule. */
    enum health_phase phase;
    uint64_t started_ns;
    uint64_t last_done_ns;
    struct timer tick;     /* next check, or delivery of an exec verdict */
    struct timer deadline; /* timeout of the check in flight */

    /* The TCP/HTTP check in flight. Buffers exist only while a check needs them, so that an
     * idle health check costs a few hundred bytes (1,000 services fit the RSS budget). */
    struct watcher sock_w;
    char *resp; /* RESPONSE_MAX bytes while receiving */
    size_t resp_len;
    size_t sent;
    int sock_fd;

    /* The exec check in flight. */
    int report_fd;
    struct watcher out_w;
    char *out_line; /* OUTPUT_LINE_MAX + 1 bytes while the child runs */
    size_t out_len;
    char *pending_reason; /* PHASE_REPORT: the verdict to deliver */
    int out_fd;
    pid_t child_pid;
    pid_t stray_pid; /* killed by stop/reconfigure, not reaped yet; no verdict expected */
    struct cgroup_svc *cg; /* exec checks' process tree (made at the first exec) */

    /* Verdicts. */
    enum health_verdict verdict;
    char *last_error; /* NULL: none yet */
    int failures;

    bool started;       /* between health_start and health_stop */
    bool checked;       /* a check has completed (or could not run) since health_start */
    bool out_line_done; /* the first line is complete: further output is read and dropped */
    bool killed;        /* the timeout killed the exec child */
    bool pending_ok;
};

/* Where exec checks' cgroups go (health_use_cgroups). */
static struct cgroup_tree *check_cgroups;

/* What a check leaves behind when it ends is killed at once (cgroup_svc_exited). */
static const struct proc_conf leftovers_conf = {.stopsignal = SIGKILL, .stopwaitsecs = 1};

static void on_tick(struct timer *t, void *ctx);
static void on_deadline(struct timer *t, void *ctx);
static void on_sock(struct watcher *w, uint32_t events);
static void on_output(struct watcher *w, uint32_t events);

/* ---- configuration ---- */

/* Numeric IPv4/IPv6 or "localhost", never a lookup. 0, or -1/EINVAL. */
static int resolve(const char *host, int port, union sockaddr_any *addr, socklen_t *len)
{
    memset(addr, 0, sizeof(*addr));
    if (host == NULL || port <= 0 || port > 65535) {
        errno = EINVAL;
        return -1;
    }
    if (str_ieq(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr->in4.sin_addr) == 1) {
        addr->in4.sin_family = AF_INET;
        addr->in4.sin_port = htons((uint16_t)port);
        *len = sizeof(addr->in4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &addr->in6.sin6_addr) == 1) {
        addr->in6.sin6_family = AF_INET6;
        addr->in6.sin6_port = htons((uint16_t)port);
        *len = sizeof(addr->in6);
        return 0;
    }
    errno = EINVAL;
    return -1;
}

int health_validate(const struct proc_conf *conf, char *msg, size_t msg_len)
{
    const struct proc_health *hc = proc_conf_health(conf);
    union sockaddr_any addr;
    socklen_t len;

    if (msg_len > 0)
        msg[0] = '\0';
    switch (hc->kind) {
    case HEALTH_NONE:
        return 0;
    case HEALTH_TCP:
    case HEALTH_HTTP:
        if (resolve(hc->host, hc->port, &addr, &len) == 0)
            return 0;
        snprintf(msg, msg_len,
                 "host '%s' is not a numeric IPv4/IPv6 address or localhost "
                 "(tend does not look names up: a DNS query would stall the supervisor)",
                 hc->host ? hc->host : "");
        return -1;
    case HEALTH_EXEC:
        if (hc->argv != NULL && hc->argv[0] != NULL)
            return 0;
        snprintf(msg, msg_len, "empty command");
        return -1;
    }
    snprintf(msg, msg_len, "unknown kind of check");
    return -1;
}

static bool str_same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* True when conf would check exactly what h checks now. */
static bool same_target(const struct health *h, const struct proc_conf *c)
{
    const struct proc_health *hc = proc_conf_health(c);
    if (h->kind != hc->kind)
        return false;
    switch (h->kind) {
    case HEALTH_NONE:
        return true;
    case HEALTH_TCP:
        return str_same(h->host, hc->host) && h->port == hc->port;
    case HEALTH_HTTP:
        return str_same(h->host, hc->host) && h->port == hc->port && str_same(h->path, hc->path);
    case HEALTH_EXEC:
        return str_vec_equal(h->argv, hc->argv) && str_vec_equal(h->env, c->env) &&
               str_same(h->directory, c->directory);
    }
    return false;
}

/* The request line's target: the configured path with anything that may not appear there
 * (controls, space, non-ASCII) percent-encoded, so that a path can never inject a header. */
static void append_target(struct str *s, const char *path)
{
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f)
            str_appendf(s, "%%%02X", *p);
        else
            str_append_char(s, (char)*p);
    }
}

static char *build_request(const char *host, int port, const char *path)
{
    struct str s = {0};
    bool v6 = strchr(host, ':') != NULL;

    str_append(&s, "GET ");
    append_target(&s, path != NULL && path[0] != '\0' ? path : "/");
    str_appendf(&s, " HTTP/1.1\r\nHost: %s%s%s:%d\r\n", v6 ? "[" : "", host, v6 ? "]" : "",
                port);
    str_append(&s, "User-Agent: tend-healthcheck\r\nConnection: close\r\n\r\n");
    return str_release(&s);
}

static int clamp_min(int v, int min)
{
    return v < min ? min : v;
}

static void set_last_error(struct health *h, const char *reason)
{
    free(h->last_error);
    h->last_error = xstrdup(reason);
}

/* Replaces h's copy of the configuration. The check in flight, if any, is untouched. */
static void configure(struct health *h, const struct proc_conf *c)
{
    const struct proc_health *hc = proc_conf_health(c);
    char why[REASON_MAX];

    free(h->name);
    free(h->host);
    free(h->path);
    free(h->directory);
    free(h->request);
    str_vec_free(h->argv);
    str_vec_free(h->env);
    h->name = xstrdup(c->name != NULL ? c->name : "?");
    h->kind = hc->kind;
    h->host = hc->host != NULL ? xstrdup(hc->host) : NULL;
    h->port = hc->port;
    h->path = hc->path != NULL ? xstrdup(hc->path) : NULL;
    h->argv = str_vec_dup(hc->argv);
    h->env = str_vec_dup(c->env);
    h->directory = c->directory != NULL ? xstrdup(c->directory) : NULL;
    /* The config loader enforces these ranges; the clamps keep a hand-made conf from
     * turning into a busy loop or an instant timeout. */
    h->interval_s = clamp_min(hc->interval, 1);
    h->timeout_s = clamp_min(hc->timeout, 1);
    h->retries = clamp_min(hc->retries, 1);
    h->grace_s = clamp_min(proc_conf_health_grace(c), 0);
    h->request = NULL;
    h->request_len = 0;
    free(h->disabled);
    h->disabled = NULL;
    if (health_validate(c, why, sizeof(why)) == -1) {
        h->disabled = xstrdup(why);
        set_last_error(h, why);
        log_msg(LOG_LVL_WARN, "%s: health check disabled: %s", h->name, why);
    } else if ((h->kind == HEALTH_TCP || h->kind == HEALTH_HTTP) && h->host != NULL) {
        (void)resolve(h->host, h->port, &h->addr, &h->addr_len); /* validated just above */
        if (h->kind == HEALTH_HTTP) {
            h->request = build_request(h->host, h->port, h->path);
            h->request_len = strlen(h->request);
        }
    }
}

static bool can_run(const struct health *h)
{
    return h->kind != HEALTH_NONE && h->disabled == NULL;
}

/* ---- the check in flight ---- */

/* Releases every fd and timer of the check in flight. An exec child is left to the caller
 * (it either has been reaped or must be abandoned). Idempotent. */
static void close_check(struct health *h)
{
    loop_timer_cancel(h->loop, &h->deadline);
    if (h->sock_fd != -1) {
        loop_del(h->loop, &h->sock_w);
        fd_close_quiet(h->sock_fd);
        h->sock_fd = -1;
    }
    free(h->resp);
    h->resp = NULL;
    h->resp_len = 0;
    h->sent = 0;
    if (h->out_fd != -1) {
        loop_del(h->loop, &h->out_w);
        fd_close_quiet(h->out_fd);
        h->out_fd = -1;
    }
    fd_close_quiet(h->report_fd);
    h->report_fd = -1;
    free(h->out_line);
    h->out_line = NULL;
    h->out_len = 0;
    free(h->pending_reason);
    h->pending_reason = NULL;
}

/* SIGKILL to the child's process group, and to the child itself in case it has not made its
 * group yet (it does so first thing after fork; before that it cannot have children). The
 * child is unreaped, so neither number can belong to anyone else. */
static void kill_child(pid_t pid)
{
    if (kill(-pid, SIGKILL) == -1 && errno != ESRCH)
        log_msg(LOG_LVL_WARN, "cannot kill health check group %d: %s", (int)pid, strerror(errno));
    (void)kill(pid, SIGKILL); /* ESRCH: already a zombie or already gone; both fine */
}

/* Gives up on the running exec child: killed now, reaped later through health_reaped with no
 * verdict. Only one abandoned child is remembered; if an earlier one is somehow still
 * unreaped it is forgotten and the supervisor reaps it as an unknown pid (harmless). */
static void abandon_child(struct health *h)
{
    if (h->child_pid <= 0)
        return;
    kill_child(h->child_pid);
    if (h->stray_pid > 0)
        log_msg(LOG_LVL_DEBUG, "%s: forgetting killed health check pid %d", h->name,
                (int)h->stray_pid);
    h->stray_pid = h->child_pid;
    h->child_pid = 0;
}

/* Ends whatever is in flight or scheduled without a verdict. */
static void abort_all(struct health *h)
{
    loop_timer_cancel(h->loop, &h->tick);
    close_check(h);
    abandon_child(h);
    h->phase = PHASE_OFF;
}

/* Arms the tick for the next check: grace after the start for the first, interval after the
 * previous completion for the others. A deadline already past fires at once. */
static void schedule_next(struct health *h)
{
    uint64_t at = h->checked ? h->last_done_ns + (uint64_t)h->interval_s * NS_PER_SEC
                             : h->started_ns + (uint64_t)h->grace_s * NS_PER_SEC;

    h->phase = PHASE_WAIT;
    if (loop_timer_arm(h->loop, &h->tick, at) == -1) {
        /* ENOMEM growing the heap: nothing could retry later either. */
        log_msg(LOG_LVL_ERROR, "%s: cannot schedule the health check: %s; checks stopped",
                h->name, strerror(errno));
        h->phase = PHASE_OFF;
    }
}

/* The check completed: record the verdict, schedule the next, then tell the owner. */
static void finish(struct health *h, bool ok, const char *reason)
{
    char copy[REASON_MAX];

    /* reason may live in h (pending_reason), which close_check frees; and the callback may
     * restart or reconfigure h, which overwrites its buffers. */
    snprintf(copy, sizeof(copy), "%s", reason);
    close_check(h);
    if (ok) {
        h->verdict = VERDICT_OK;
        h->ever_ok = true;
        h->failures = 0;
    } else {
        h->verdict = VERDICT_FAILING;
        if (h->failures < INT_MAX)
            h->failures++;
        set_last_error(h, copy);
    }
    h->checked = true;
    h->last_done_ns = timer_now_ns();
    schedule_next(h);
    if (h->cb != NULL)
        h->cb(h->ctx, ok, h->failures, copy);
    /* h may be stopped, restarted or freed (deferred) by now: touch nothing. */
}

/* tend itself could not run the check (no fds, no memory, no fork). That says nothing about
 * the service, so it is no verdict: a warning, and another try after the interval. */
static void cannot_run(struct health *h, const char *what, int err)
{
    close_check(h);
    abandon_child(h);
    log_msg(LOG_LVL_WARN, "%s: health check not run: cannot %s: %s; retrying in %ds", h->name,
            what, strerror(err), h->interval_s);
    h->checked = true;
    h->last_done_ns = timer_now_ns();
    schedule_next(h);
}

static int arm_deadline(struct health *h)
{
    return loop_timer_arm(h->loop, &h->deadline,
                          timer_now_ns() + (uint64_t)h->timeout_s * NS_PER_SEC);
}

/* ---- TCP and HTTP ---- */

/* A socket call failed with err while trying to `verb` ("connect", "send the request",
 * "read the response"). The common cases get short words; the rest the errno text. */
static void fail_errno(struct health *h, const char *verb, int err)
{
    char reason[REASON_MAX];

    if (err == ECONNREFUSED)
        snprintf(reason, sizeof(reason), "connection refused");
    else if ((err == ECONNRESET || err == EPIPE) && strcmp(verb, "read the response") == 0)
        snprintf(reason, sizeof(reason), "connection reset before a status line");
    else if (err == ECONNRESET || err == EPIPE)
        snprintf(reason, sizeof(reason), "connection reset");
    else
        snprintf(reason, sizeof(reason), "cannot %s: %s", verb, strerror(err));
    finish(h, false, reason);
}

static void start_connect(struct health *h)
{
    h->sock_fd = socket(h->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->sock_fd == -1) {
        cannot_run(h, "create a socket", errno);
        return;
    }
    if (arm_deadline(h) == -1) {
        cannot_run(h, "arm a timer", errno);
        return;
    }
    /* Never retried (on EINTR the connection goes on in the background). Whether it succeeds
     * at once or later, writability tells, and SO_ERROR says how it went. */
    if (connect(h->sock_fd, &h->addr.sa, h->addr_len) == -1 && errno != EINPROGRESS &&
        errno != EINTR) {
        fail_errno(h, "connect", errno);
        return;
    }
    if (loop_add(h->loop, &h->sock_w, h->sock_fd, EPOLLOUT, on_sock, h) == -1) {
        cannot_run(h, "watch a socket", errno);
        return;
    }
    h->phase = PHASE_CONNECT;
}

/* Scans one status line at buf[0..len): "HTTP/" 1*DIGIT ["." 1*DIGIT] SP 3DIGIT (SP / CR /
 * LF). Returns the status (100..599), 0 when more bytes are needed, -1 when it cannot be one.
 * A wrong byte is caught as soon as it arrives, not when the line is complete. */
static int scan_status_line(const char *buf, size_t len)
{
    static const char proto[] = "HTTP/";
    size_t i = 0, digits;
    int status = 0;

    for (; i < sizeof(proto) - 1; i++) {
        if (i >= len)
            return 0;
        if (buf[i] != proto[i])
            return -1;
    }
    for (int part = 0; part < 2; part++) {
        for (digits = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
            if (digits == 3)
                return -1;
        }
        if (i >= len)
            return 0;
        if (digits == 0)
            return -1;
        if (part == 0 && buf[i] == '.')
            i++;
        else
            break;
    }
    if (buf[i] != ' ')
        return -1;
    for (i++, digits = 0; digits < 3; i++, digits++) {
        if (i >= len)
            return 0;
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        status = status * 10 + (buf[i] - '0');
    }
    if (i >= len)
        return 0;
    if (buf[i] != ' ' && buf[i] != '\r' && buf[i] != '\n')
        return -1;
    return status >= 100 && status <= 599 ? status : -1;
}

/* End of a response head (after its empty line) in buf[0..len), or 0 if not there yet. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n')
            return i + 2;
        if (buf[i] == '\n' && buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The final status of the response in buf[0..len), skipping interim 1xx responses (103 Early
 * Hints, a stray 100 Continue). 0: need more bytes; -1: malformed. */
static int scan_response(const char *buf, size_t len)
{
    size_t pos = 0;

    for (;;) {
        int status = scan_status_line(buf + pos, len - pos);
        if (status <= 0 || status >= 200)
            return status;
        size_t end = head_end(buf + pos, len - pos);
        if (end == 0)
            return 0;
        pos += end;
    }
}

static void start_receiving(struct health *h)
{
    if (loop_mod(h->loop, &h->sock_w, EPOLLIN) == -1) {
        cannot_run(h, "watch a socket", errno);
        return;
    }
    h->resp = xmalloc(RESPONSE_MAX);
    h->resp_len = 0;
    h->phase = PHASE_RECV;
}

static void send_request(struct health *h)
{
    while (h->sent < h->request_len) {
        ssize_t n = send(h->sock_fd, h->request + h->sent, h->request_len - h->sent,
                         MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* still watching EPOLLOUT */
        if (n == -1) {
            fail_errno(h, "send the request", errno);
            return;
        }
        h->sent += (size_t)n;
    }
    start_receiving(h);
}

static void receive_status(struct health *h)
{
    char reason[REASON_MAX];

    for (;;) {
        ssize_t n = recv(h->sock_fd, h->resp + h->resp_len, RESPONSE_MAX - h->resp_len, 0);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == -1) {
            fail_errno(h, "read the response", errno);
            return;
        }
        if (n == 0) {
            finish(h, false, "connection closed before a status line");
            return;
        }
        h->resp_len += (size_t)n;
        int status = scan_response(h->resp, h->resp_len);
        if (status == -1 || (status == 0 && h->resp_len == RESPONSE_MAX)) {
            finish(h, false, "malformed response");
            return;
        }
        if (status > 0) {
            snprintf(reason, sizeof(reason), "HTTP %d", status);
            finish(h, status < 400, reason);
            return;
        }
    }
}

static void on_sock(struct watcher *w, uint32_t events)
{
    struct health *h = w->ctx;
    int err = 0;
    socklen_t len = sizeof(err);

    (void)events; /* EPOLLERR/EPOLLHUP show up as the error of the next call */
    switch (h->phase) {
    case PHASE_CONNECT:
        if (getsockopt(h->sock_fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
            err = errno;
        if (err != 0) {
            fail_errno(h, "connect", err);
        } else if (h->kind == HEALTH_TCP) {
            finish(h, true, "connected");
        } else {
            h->phase = PHASE_SEND;
            send_request(h);
        }
        break;
    case PHASE_SEND:
        send_request(h);
        break;
    case PHASE_RECV:
        receive_status(h);
        break;
    case PHASE_OFF:
    case PHASE_WAIT:
    case PHASE_EXEC:
    case PHASE_REPORT:
        break; /* no socket exists in these phases */
    }
}

/* ---- exec ---- */

/* Keeps the first non-blank line of the check's output, without leading blanks, with
 * control characters shown as '?', cut at OUTPUT_LINE_MAX characters. */
static void keep_output(struct health *h, const char *buf, size_t n)
{
    if (h->out_line == NULL)
        return;
    for (size_t i = 0; i < n && !h->out_line_done; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n' || c == '\r')
            h->out_line_done = h->out_len > 0; /* a blank line says nothing: go on */
        else if (h->out_len == 0 && (c == ' ' || c == '\t'))
            continue;
        else if (h->out_len == OUTPUT_LINE_MAX)
            h->out_line_done = true;
        else
            h->out_line[h->out_len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    h->out_line[h->out_len] = '\0';
}

/* Reads what the pipe holds now. At end of file the pipe is closed (every writer is gone). */
static void drain_output(struct health *h)
{
    char buf[512];

    while (h->out_fd != -1) {
        ssize_t n = fd_read(h->out_fd, buf, sizeof(buf));
        if (n > 0) {
            keep_output(h, buf, (size_t)n);
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* End of file, or an error that more reading will not fix. */
        loop_del(h->loop, &h->out_w);
        fd_close_quiet(h->out_fd);
        h->out_fd = -1;
    }
}

static void on_output(struct watcher *w, uint32_t events)
{
    struct health *h = w->ctx;

    (void)events;
    switch (h->phase) {
    case PHASE_EXEC:
        drain_output(h);
        break;
    case PHASE_OFF:
    case PHASE_WAIT:
    case PHASE_CONNECT:
    case PHASE_SEND:
    case PHASE_RECV:
    case PHASE_REPORT:
        break; /* the pipe exists only while the child runs */
    }
}

static void start_exec(struct health *h)
{
    char path[PATH_MAX], reason[REASON_MAX];
    const char *search = NULL;
    char **envp;
    int out[2];
    pid_t pid;
    int report_fd;

    if (cgroup_svc_busy(h->cg)) {
        /* The last check's leftovers are being killed (SIGKILL: a matter of moments). */
        cannot_run(h, "start it while the last one's leftovers are being killed", EBUSY);
        return;
    }
    envp = env_build(environ, h->env, (int)str_vec_len(h->env));
    if (envp == NULL) {
        cannot_run(h, "build the environment", ENOMEM);
        return;
    }
    for (char **e = envp; *e != NULL; e++) {
        if (env_key_matches(*e, "PATH", 4))
            search = *e + 5;
    }
    if (spawn_find_program(h->argv[0], search, path, sizeof(path)) == -1) {
        snprintf(reason, sizeof(reason), "cannot execute %s: %s", h->argv[0], strerror(errno));
        free(envp);
        finish(h, false, reason);
        return;
    }
    /* Only the read end is non-blocking: the check must see an ordinary blocking stdout. */
    if (pipe2(out, O_CLOEXEC) == -1) {
        free(envp);
        cannot_run(h, "create a pipe", errno);
        return;
    }
    if (fd_set_nonblock(out[0]) == -1 || arm_deadline(h) == -1) {
        int err = errno;
        fd_close_quiet(out[0]);
        fd_close_quiet(out[1]);
        free(envp);
        cannot_run(h, "prepare the check", err);
        return;
    }
    /* Its own cgroup: nothing it starts can outlive it unseen, setsid or not. */
    struct spawn_cgroup cgs = {-1, -1, {-1, -1}};
    if (h->cg == NULL && check_cgroups != NULL) {
        /* A space: no program's cgroup can have this name (names have none); the number
         * tells apart programs of the same name in different groups. */
        static unsigned long made;
        char *cgname = xasprintf("health check %lu of %s", ++made, h->name);
        h->cg = cgroup_cmd_new(check_cgroups, cgname, NULL, NULL);
        free(cgname);
    }
    if (h->cg != NULL && cgroup_svc_prepare(h->cg, &leftovers_conf, &cgs, reason,
                                            sizeof(reason)) == -1)
        log_msg(LOG_LVL_WARN, "%s: health check runs outside a cgroup: %s", h->name, reason);
    struct spawn_spec spec = {
        .path = path,
        .argv = h->argv,
        .envp = envp,
        .dir = h->directory,
        .umask = -1,
        .stdio_fd = {-1, out[1], out[1]},
        .detach = SPAWN_DETACH_PGRP,
        .cgroup = cgs.procs_fd != -1 ? &cgs : NULL,
    };
    int rc = spawn_start(&spec, &pid, &report_fd);
    int err = errno;
    if (h->cg != NULL)
        cgroup_svc_spawned(h->cg, &cgs, rc == 0 ? pid : 0);
    free(envp);
    (void)close(out[1]); /* the child has its copy; ours would hide the end of file */
    if (rc == -1) {
        fd_close_quiet(out[0]);
        cannot_run(h, "fork", err);
        return;
    }
    h->child_pid = pid;
    h->report_fd = report_fd;
    h->out_fd = out[0];
    h->out_line = xmalloc(OUTPUT_LINE_MAX + 1);
    h->out_line[0] = '\0';
    h->out_len = 0;
    h->out_line_done = false;
    h->killed = false;
    if (loop_add(h->loop, &h->out_w, h->out_fd, EPOLLIN, on_output, h) == -1) {
        /* The output only decorates the reason: go on without it. Closing the read end
         * makes the child's writes fail with EPIPE (SIGPIPE is default there), which is
         * still a clear failure. Rare enough (ENOMEM) not to deserve more. */
        fd_close_quiet(h->out_fd);
        h->out_fd = -1;
    }
    h->phase = PHASE_EXEC;
}

/* The verdict of an exec check from its wait status and report pipe. */
static bool exec_verdict(struct health *h, int status, char *reason, size_t len)
{
    struct spawn_error e = {STAGE_NONE, 0};
    const char *line = h->out_line != NULL ? h->out_line : "";
    const char *sep = line[0] != '\0' ? ": " : "";

    /* The child is dead, so the report pipe holds its whole story (a record or EOF). */
    if (h->report_fd != -1 && spawn_read_report(h->report_fd, &e) == 1) {
        if (e.stage == STAGE_EXEC)
            snprintf(reason, len, "cannot execute %s: %s", h->argv[0], strerror(e.err));
        else if (e.stage == STAGE_CHDIR)
            snprintf(reason, len, "cannot change directory to %s: %s",
                     h->directory ? h->directory : "?", strerror(e.err));
        else
            snprintf(reason, len, "cannot %s: %s", spawn_stage_name(e.stage), strerror(e.err));
        return false;
    }
    if (h->killed) {
        /* Past its deadline, whatever it exited with on the way (an exit it made before
         * the SIGKILL landed is still late). */
        snprintf(reason, len, "timeout after %ds", h->timeout_s);
        return false;
    }
    if (WIFEXITED(status)) {
        snprintf(reason, len, "exit status %d%s%s", WEXITSTATUS(status),
                 WEXITSTATUS(status) != 0 ? sep : "", WEXITSTATUS(status) != 0 ? line : "");
        return WEXITSTATUS(status) == 0;
    }
    if (WIFSIGNALED(status)) {
        const char *name = sig_name(WTERMSIG(status));
        snprintf(reason, len, "killed by signal %d (%s)%s%s", WTERMSIG(status),
                 name ? name : "?", sep, line);
        return false;
    }
    snprintf(reason, len, "unexpected wait status %#x", (unsigned)status);
    return false;
}

bool health_reaped(struct health *h, pid_t pid, int wait_status)
{
    char reason[REASON_MAX];

    if (h == NULL || pid <= 0)
        return false;
    if (pid == h->stray_pid) {
        h->stray_pid = 0;
        cgroup_svc_exited(h->cg, &leftovers_conf, true); /* what it left behind */
        return true;
    }
    if (pid != h->child_pid)
        return false;
    h->child_pid = 0;
    /* The check is its whole tree: a child it left running (in the background, in a
     * session of its own) is killed now, not left forever. */
    cgroup_svc_exited(h->cg, &leftovers_conf, true);
    switch (h->phase) {
    case PHASE_EXEC:
        drain_output(h); /* what the child wrote before dying is in the pipe now */
        h->pending_ok = exec_verdict(h, wait_status, reason, sizeof(reason));
        close_check(h);
        h->pending_reason = xstrdup(reason);
        /* Deliver from the loop, not from inside the supervisor's reaping loop. */
        h->phase = PHASE_REPORT;
        if (loop_timer_arm(h->loop, &h->tick, timer_now_ns()) == -1)
            finish(h, h->pending_ok, reason); /* ENOMEM: deliver now instead */
        break;
    case PHASE_OFF:
    case PHASE_WAIT:
    case PHASE_CONNECT:
    case PHASE_SEND:
    case PHASE_RECV:
    case PHASE_REPORT:
        break; /* child_pid is set only in PHASE_EXEC: nothing to account */
    }
    return true;
}

/* ---- timers ---- */

static void on_tick(struct timer *t, void *ctx)
{
    struct health *h = ctx;

    (void)t;
    switch (h->phase) {
    case PHASE_WAIT:
        if (h->kind == HEALTH_EXEC)
            start_exec(h);
        else
            start_connect(h);
        break;
    case PHASE_REPORT:
        finish(h, h->pending_ok, h->pending_reason != NULL ? h->pending_reason : "?");
        break;
    case PHASE_OFF:
    case PHASE_CONNECT:
    case PHASE_SEND:
    case PHASE_RECV:
    case PHASE_EXEC:
        break; /* the tick is not armed in these phases */
    }
}

static void on_deadline(struct timer *t, void *ctx)
{
    struct health *h = ctx;
    char reason[REASON_MAX];

    (void)t;
    snprintf(reason, sizeof(reason), "timeout after %ds", h->timeout_s);
    switch (h->phase) {
    case PHASE_CONNECT:
    case PHASE_SEND:
    case PHASE_RECV:
        finish(h, false, reason);
        break;
    case PHASE_EXEC:
        /* Without cgroups, what it started outside its process group is found now, while
         * the parent links still lead to it. */
        if (check_cgroups == NULL || !cgroup_tree_active(check_cgroups)) {
            long n = cgroup_kill_descendants(h->child_pid);
            if (n > 0)
                log_msg(LOG_LVL_INFO, "%s: health check timed out: killed %ld descendant%s",
                        h->name, n, n == 1 ? "" : "s");
        }
        /* The verdict comes when the supervisor reaps it, promptly after a SIGKILL. */
        kill_child(h->child_pid);
        h->killed = true;
        break;
    case PHASE_OFF:
    case PHASE_WAIT:
    case PHASE_REPORT:
        break; /* the deadline is not armed in these phases */
    }
}

/* ---- public ---- */

struct health *health_new(struct loop *loop, const struct proc_conf *conf, health_result_fn *cb,
                          void *ctx)
{
    struct health *h = xcalloc(1, sizeof(*h));

    h->loop = loop;
    h->cb = cb;
    h->ctx = ctx;
    h->sock_fd = h->out_fd = h->report_fd = -1;
    h->sock_w.fd = h->out_w.fd = -1;
    timer_init(&h->tick, on_tick, h);
    timer_init(&h->deadline, on_deadline, h);
    configure(h, conf);
    return h;
}

void health_start(struct health *h)
{
    abort_all(h);
    h->started = true;
    h->checked = false;
    h->started_ns = timer_now_ns();
    h->verdict = VERDICT_UNKNOWN;
    h->ever_ok = false;
    h->failures = 0;
    if (can_run(h))
        schedule_next(h);
}

void health_stop(struct health *h)
{
    abort_all(h);
    h->started = false;
    h->verdict = VERDICT_UNKNOWN;
    h->failures = 0;
}

void health_reconfigure(struct health *h, const struct proc_conf *conf)
{
    bool same = same_target(h, conf);

    if (!same) {
        loop_timer_cancel(h->loop, &h->tick);
        close_check(h);
        abandon_child(h);
        h->phase = PHASE_OFF;
        h->verdict = VERDICT_UNKNOWN;
        h->failures = 0;
    }
    configure(h, conf);
    if (!h->started)
        return;
    if (!same && can_run(h))
        schedule_next(h);
    else if (same && h->phase == PHASE_WAIT)
        schedule_next(h); /* a new interval or grace moves the pending check */
}

pid_t health_child_pid(const struct health *h)
{
    return h->child_pid > 0 ? h->child_pid : h->stray_pid;
}

const char *health_state(const struct health *h)
{
    /* Like a container's start period: until the first pass, during the grace and the
     * failures that do not yet cause a restart, the service is starting, not failing. */
    if (h->started && !h->ever_ok && h->disabled == NULL &&
        (h->verdict == VERDICT_UNKNOWN || h->failures < h->retries))
        return "starting";
    switch (h->verdict) {
    case VERDICT_OK:
        return "ok";
    case VERDICT_FAILING:
        return "failing";
    case VERDICT_UNKNOWN:
        break;
    }
    return "";
}

const char *health_last_error(const struct health *h)
{
    return h->last_error != NULL ? h->last_error : "";
}

int health_failures(const struct health *h)
{
    return h->failures;
}

bool health_should_restart(const struct health *h)
{
    return h->failures >= h->retries;
}

static void release(void *ptr)
{
    struct health *h = ptr;

    cgroup_svc_free(h->cg);
    free(h->name);
    free(h->host);
    free(h->path);
    free(h->directory);
    free(h->request);
    free(h->disabled);
    free(h->last_error);
    str_vec_free(h->argv);
    str_vec_free(h->env);
    free(h);
}

void health_use_cgroups(struct cgroup_tree *t)
{
    check_cgroups = t;
}

void health_free(struct health *h)
{
    if (h == NULL)
        return;
    abort_all(h);
    /* Watchers of h may still have events later in this batch: loop_del made them inert,
     * and the memory they live in must last until the batch ends. */
    loop_defer_free(h->loop, release, h);
}
