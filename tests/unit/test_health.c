/* Unit tests for health checks, run for real: a real loop, real sockets on 127.0.0.1 served
 * from the test's own loop, real exec'd commands. Children are reaped the way the supervisor
 * does it (a SIGCHLD signalfd draining waitpid(-1) and handing each pid to health_reaped), and
 * the test process is a subreaper so that a killed check's grandchildren come back to it.
 * Nothing sleeps: every test waits on the loop, and a watchdog (a timerfd outside the loop's
 * heap) turns a hang into a failure. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "config.h"
#include "health.h"
#include "loop.h"
#include "timer.h"

#define MS 1000000ULL
#define SEC 1000000000ULL
#define WATCHDOG_MS 8000

/* ---- watchdog -------------------------------------------------------------------------- */

struct watchdog {
    struct watcher w;
    struct loop *l;
    int fd;
    bool fired;
};

static void watchdog_fire(struct watcher *w, uint32_t events)
{
    struct watchdog *wd = w->ctx;

    (void)events;
    wd->fired = true;
    loop_stop(wd->l);
}

static void watchdog_arm(struct watchdog *wd, struct loop *l)
{
    struct itimerspec its = {.it_value = {.tv_sec = WATCHDOG_MS / 1000}};

    memset(wd, 0, sizeof(*wd));
    wd->l = l;
    wd->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(wd->fd >= 0);
    CHECK_INT(timerfd_settime(wd->fd, 0, &its, NULL), 0);
    CHECK_INT(loop_add(l, &wd->w, wd->fd, EPOLLIN, watchdog_fire, wd), 0);
}

static void watchdog_disarm(struct watchdog *wd)
{
    CHECK(!wd->fired);
    loop_del(wd->l, &wd->w);
    close(wd->fd);
}

static void run(struct loop *l)
{
    l->stopping = false;
    CHECK_INT(loop_run(l), 0);
}

/* ---- process-wide set-up and small probes -------------------------------------------- */

static void signals_setup(void)
{
    static bool done;
    sigset_t set;

    if (done)
        return;
    done = true;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    CHECK_INT(sigprocmask(SIG_BLOCK, &set, NULL), 0);
    CHECK_INT(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

static bool has_children(void)
{
    siginfo_t si;

    memset(&si, 0, sizeof(si));
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* ---- reaper: the supervisor's SIGCHLD handling, in miniature ---------------------------- */

struct reaper {
    struct watcher w;
    struct loop *l;
    int fd;
    struct health *h;
    int n;
    pid_t pid[16];
    int status[16];
    bool owned[16];
    bool stop_when_childless;
    int usr1;
    void (*on_usr1)(struct reaper *r);
    void *user;
};

static void reaper_on_signal(struct watcher *w, uint32_t events)
{
    struct reaper *r = w->ctx;
    struct signalfd_siginfo si;
    int status;
    pid_t pid;

    (void)events;
    while (read(r->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            r->usr1++;
            if (r->on_usr1 != NULL)
                r->on_usr1(r);
        }
    }
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        bool owned = r->h != NULL && health_reaped(r->h, pid, status);
        if (r->n < 16) {
            r->pid[r->n] = pid;
            r->status[r->n] = status;
            r->owned[r->n] = owned;
            r->n++;
        }
    }
    if (r->stop_when_childless && !has_children())
        loop_stop(r->l);
}

static void reaper_open(struct reaper *r, struct loop *l)
{
    sigset_t set;

    signals_setup();
    memset(r, 0, sizeof(*r));
    r->l = l;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    r->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(r->fd >= 0);
    CHECK_INT(loop_add(l, &r->w, r->fd, EPOLLIN, reaper_on_signal, r), 0);
}

/* Runs the loop until every child (and grandchild) has been reaped. */
static void reaper_wait_childless(struct reaper *r)
{
    if (!has_children())
        return;
    r->stop_when_childless = true;
    run(r->l);
    r->stop_when_childless = false;
    CHECK(!has_children());
}

static void reaper_close(struct reaper *r)
{
    loop_del(r->l, &r->w);
    close(r->fd);
}

/* ---- server: a tiny TCP/HTTP peer driven by the same loop ------------------------------- */

enum serve_mode {
    SERVE_RESPOND, /* read the request, write `response`, close */
    SERVE_HANG,    /* read the request, never answer */
    SERVE_CLOSE,   /* read the request, close without a word */
};

struct server {
    struct loop *l;
    int lfd, cfd;
    struct watcher lw, cw;
    int port;
    enum serve_mode mode;
    const char *response;
    char req[2048];
    size_t req_len;
    int requests;
    void (*on_request)(struct server *s);
    void (*on_closed)(struct server *s);
    void *user;
};

static void server_drop_conn(struct server *s)
{
    if (s->cfd != -1) {
        loop_del(s->l, &s->cw);
        close(s->cfd);
        s->cfd = -1;
    }
}

static void server_on_conn(struct watcher *w, uint32_t events)
{
    struct server *s = w->ctx;
    char buf[512];
    ssize_t n;

    (void)events;
    while ((n = read(s->cfd, buf, sizeof(buf))) > 0) {
        size_t room = sizeof(s->req) - 1 - s->req_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(s->req + s->req_len, buf, take);
        s->req_len += take;
        s->req[s->req_len] = '\0';
        if (strstr(s->req, "\r\n\r\n") == NULL)
            continue;
        s->requests++;
        if (s->on_request != NULL)
            s->on_request(s);
        if (s->mode == SERVE_RESPOND) {
            CHECK(send(s->cfd, s->response, strlen(s->response), MSG_NOSIGNAL) ==
                  (ssize_t)strlen(s->response));
            server_drop_conn(s);
            return;
        }
        if (s->mode == SERVE_CLOSE) {
            server_drop_conn(s);
            return;
        }
    }
    if (n == 0 || (n == -1 && errno != EAGAIN)) {
        server_drop_conn(s); /* the peer went away */
        if (s->on_closed != NULL)
            s->on_closed(s);
    }
}

static void server_on_accept(struct watcher *w, uint32_t events)
{
    struct server *s = w->ctx;
    int fd;

    (void)events;
    fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return;
    server_drop_conn(s);
    s->cfd = fd;
    s->req_len = 0;
    s->req[0] = '\0';
    CHECK_INT(loop_add(s->l, &s->cw, fd, EPOLLIN, server_on_conn, s), 0);
}

/* A socket bound to a free port of 127.0.0.1; listening when `listening`. A bound socket that
 * does not listen refuses connections while keeping the port ours, so no race with others. */
static int bound_socket(int *port, bool listening)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    CHECK(fd >= 0);
    CHECK_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    if (listening)
        CHECK_INT(listen(fd, 16), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void server_open(struct server *s, struct loop *l, enum serve_mode mode,
                        const char *response)
{
    memset(s, 0, sizeof(*s));
    s->l = l;
    s->cfd = -1;
    s->mode = mode;
    s->response = response;
    s->lfd = bound_socket(&s->port, true);
    CHECK_INT(loop_add(l, &s->lw, s->lfd, EPOLLIN, server_on_accept, s), 0);
}

static void server_close(struct server *s)
{
    server_drop_conn(s);
    loop_del(s->l, &s->lw);
    close(s->lfd);
}

/* ---- results ----------------------------------------------------------------------------- */

struct result {
    struct loop *l;
    struct health *h;
    int calls;
    bool ok;
    int failures;
    char reason[256];
    int seq[8];
    bool restart[8];
    uint64_t at_ns;
    int stop_after;                 /* loop_stop at this many calls (0: the first) */
    void (*hook)(struct result *r); /* called after recording */
    void *user;
};

static void on_result(void *ctx, bool ok, int failures, const char *reason)
{
    struct result *r = ctx;

    if (r->calls < 8) {
        r->seq[r->calls] = ok ? 0 : failures;
        r->restart[r->calls] = health_should_restart(r->h);
    }
    r->calls++;
    r->ok = ok;
    r->failures = failures;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
    r->at_ns = timer_now_ns();
    if (r->hook != NULL)
        r->hook(r);
    if (r->calls >= (r->stop_after > 0 ? r->stop_after : 1))
        loop_stop(r->l);
}

/* The health settings of the confs below: a conf is returned by value, so its side
 * structure lives here, a fresh slot per conf (no test holds more at once). */
static struct proc_health health_slots[16];
static unsigned health_next;

static struct proc_conf base_conf(void)
{
    struct proc_conf c;

    memset(&c, 0, sizeof(c));
    c.name = "web";
    c.health = &health_slots[health_next++ % 16];
    memset(c.health, 0, sizeof(*c.health));
    c.health->interval = 1;
    c.health->timeout = 1;
    c.health->retries = 3;
    c.health->grace = 0;
    return c;
}

static struct proc_conf tcp_conf(const char *host, int port)
{
    struct proc_conf c = base_conf();

    c.health->kind = HEALTH_TCP;
    c.health->host = (char *)host;
    c.health->port = port;
    return c;
}

static struct proc_conf http_conf(int port, const char *path)
{
    struct proc_conf c = base_conf();

    c.health->kind = HEALTH_HTTP;
    c.health->host = "127.0.0.1";
    c.health->port = port;
    c.health->path = (char *)path;
    return c;
}

static struct proc_conf exec_conf(char **argv)
{
    struct proc_conf c = base_conf();

    c.health->kind = HEALTH_EXEC;
    c.health->argv = argv;
    return c;
}

/* One check against conf, with the test's reaper in place; the verdict lands in *res. */
static void one_check(const struct proc_conf *conf, struct result *res)
{
    struct loop l;
    struct watchdog wd;
    struct reaper rp;

    CHECK_INT(loop_init(&l), 0);
    reaper_open(&rp, &l);
    watchdog_arm(&wd, &l);
    memset(res, 0, sizeof(*res));
    res->l = &l;
    res->h = health_new(&l, conf, on_result, res);
    rp.h = res->h;
    health_start(res->h);
    run(&l);
    CHECK_INT(res->calls, 1);
    reaper_wait_childless(&rp);
    CHECK_INT(health_child_pid(res->h), 0);
    health_free(res->h);
    res->h = NULL;
    res->l = NULL; /* the loop lives only here */
    watchdog_disarm(&wd);
    reaper_close(&rp);
    loop_free(&l);
}

/* ---- TCP ----------------------------------------------------------------------------------- */

TEST(tcp_listening_port_is_ok)
{
    int port;
    int lfd = bound_socket(&port, true);
    struct proc_conf c = tcp_conf("127.0.0.1", port);
    struct result r;

    one_check(&c, &r);
    CHECK(r.ok);
    CHECK_INT(r.failures, 0);
    CHECK_STR(r.reason, "connected");
    close(lfd);
}

TEST(tcp_localhost_is_127_0_0_1)
{
    int port;
    int lfd = bound_socket(&port, true);
    struct proc_conf c = tcp_conf("localhost", port);
    struct result r;

    one_check(&c, &r);
    CHECK(r.ok);
    close(lfd);
}

TEST(tcp_ipv6_loopback)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct result r;

    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
        printf("    (no IPv6 loopback here: skipped)\n");
        if (fd != -1)
            close(fd);
        return;
    }
    CHECK_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    CHECK_INT(listen(fd, 4), 0);
    struct proc_conf c = tcp_conf("::1", ntohs(a.sin6_port));
    one_check(&c, &r);
    CHECK(r.ok);
    close(fd);
}

TEST(tcp_closed_port_is_refused)
{
    int port;
    int fd = bound_socket(&port, false);
    struct proc_conf c = tcp_conf("127.0.0.1", port);
    struct result r;

    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_INT(r.failures, 1);
    CHECK_STR(r.reason, "connection refused");
    close(fd);
}

TEST(state_and_last_error_follow_verdicts)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    int port;
    int fd = bound_socket(&port, false);
    struct proc_conf c = tcp_conf("127.0.0.1", port);

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    CHECK_STR(health_state(r.h), "");
    CHECK_STR(health_last_error(r.h), "");
    health_start(r.h);
    CHECK_STR(health_state(r.h), "starting"); /* no verdict yet */
    run(&l);
    /* One failure, fewer than healthcheck_retries, before any pass: still starting. */
    CHECK_STR(health_state(r.h), "starting");
    CHECK_STR(health_last_error(r.h), "connection refused");
    CHECK_INT(health_failures(r.h), 1);
    CHECK(!health_should_restart(r.h));
    health_stop(r.h);
    CHECK_STR(health_state(r.h), "");
    CHECK_INT(health_failures(r.h), 0);
    CHECK_STR(health_last_error(r.h), "connection refused"); /* kept: why it was restarted */
    CHECK_INT((long long)l.timers.len, 0);                   /* nothing scheduled */
    health_free(r.h);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(fd);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

struct http_case {
    const char *response; /* NULL: the server closes without answering */
    bool ok;
    const char *reason;
};

TEST(http_status_decides)
{
    static const struct http_case cases[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, "HTTP 200"},
        {"HTTP/1.0 204 No Content\r\n\r\n", true, "HTTP 204"},
        {"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n", true, "HTTP 302"},
        {"HTTP/1.1 500 Internal Server Error\r\n\r\n", false, "HTTP 500"},
        {"HTTP/1.1 404 Not Found\r\n\r\n", false, "HTTP 404"},
        {"HTTP/1.1 503\r\n\r\n", false, "HTTP 503"},
        {"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", true,
         "HTTP 200"},
        {"hello, this is not HTTP\r\n", false, "malformed response"},
        {"HTTP/1.1 2000 OK\r\n\r\n", false, "malformed response"},
        {"HTTP/1.1 099 Odd\r\n\r\n", false, "malformed response"},
        {"HTTP/1.1 20", false, "connection closed before a status line"},
        {"", false, "connection closed before a status line"},
        {NULL, false, "connection closed before a status line"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct http_case *hc = &cases[i];
        struct loop l;
        struct watchdog wd;
        struct server s;
        struct result r = {0};
        char want[256];

        CHECK_INT(loop_init(&l), 0);
        watchdog_arm(&wd, &l);
        server_open(&s, &l, hc->response ? SERVE_RESPOND : SERVE_CLOSE, hc->response);
        struct proc_conf c = http_conf(s.port, "/health");
        r.l = &l;
        r.h = health_new(&l, &c, on_result, &r);
        health_start(r.h);
        run(&l);
        CHECK_INT(r.calls, 1);
        if (r.ok != hc->ok || strcmp(r.reason, hc->reason) != 0)
            fprintf(stderr, "  case %zu (%s)\n", i, hc->response ? hc->response : "close");
        CHECK_INT(r.ok, hc->ok);
        CHECK_STR(r.reason, hc->reason);
        CHECK_INT(r.failures, hc->ok ? 0 : 1);
        snprintf(want, sizeof(want),
                 "GET /health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: tend-healthcheck\r\n"
                 "Connection: close\r\n\r\n",
                 s.port);
        CHECK_STR(s.req, want);
        health_free(r.h);
        server_close(&s);
        watchdog_disarm(&wd);
        loop_free(&l);
    }
}

TEST(http_path_cannot_inject)
{
    struct loop l;
    struct watchdog wd;
    struct server s;
    struct result r = {0};

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    server_open(&s, &l, SERVE_RESPOND, "HTTP/1.1 200 OK\r\n\r\n");
    struct proc_conf c = http_conf(s.port, "/a b\r\nX: y?q=1");
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    health_start(r.h);
    run(&l);
    CHECK(r.ok);
    static const char want[] = "GET /a%20b%0D%0AX:%20y?q=1 HTTP/1.1\r\nHost: ";
    if (strncmp(s.req, want, sizeof(want) - 1) != 0)
        fprintf(stderr, "  request: %s\n", s.req);
    CHECK(strncmp(s.req, want, sizeof(want) - 1) == 0);
    health_free(r.h);
    server_close(&s);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* Another object's timer in the same loop: a one-shot and a 100 ms ticker. */
struct bystander {
    struct loop *l;
    struct timer once, ticker;
    uint64_t once_due_ns, once_fired_ns;
    uint64_t max_late_ns;
    uint64_t ticker_due_ns;
    int ticks;
};

static void bystander_once(struct timer *t, void *ctx)
{
    struct bystander *b = ctx;

    (void)t;
    b->once_fired_ns = timer_now_ns();
}

static void bystander_tick(struct timer *t, void *ctx)
{
    struct bystander *b = ctx;
    uint64_t now = timer_now_ns();

    (void)t;
    if (now - b->ticker_due_ns > b->max_late_ns)
        b->max_late_ns = now - b->ticker_due_ns;
    b->ticks++;
    b->ticker_due_ns += 100 * MS;
    CHECK_INT(loop_timer_arm(b->l, &b->ticker, b->ticker_due_ns), 0);
}

TEST(http_hang_times_out_without_blocking_the_loop)
{
    struct loop l;
    struct watchdog wd;
    struct server s;
    struct result r = {0};
    struct bystander b = {0};
    uint64_t start;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    server_open(&s, &l, SERVE_HANG, NULL);
    struct proc_conf c = http_conf(s.port, "/");
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    b.l = &l;
    timer_init(&b.once, bystander_once, &b);
    timer_init(&b.ticker, bystander_tick, &b);
    start = timer_now_ns();
    b.once_due_ns = start + 300 * MS;
    b.ticker_due_ns = start + 100 * MS;
    CHECK_INT(loop_timer_arm(&l, &b.once, b.once_due_ns), 0);
    CHECK_INT(loop_timer_arm(&l, &b.ticker, b.ticker_due_ns), 0);
    health_start(r.h);
    run(&l);
    CHECK_INT(r.calls, 1);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "timeout after 1s");
    CHECK_INT(s.requests, 1); /* the request got there: the server just never answered */
    CHECK(r.at_ns - start >= 1 * SEC);
    CHECK(r.at_ns - start < 2500 * MS);
    /* The rest of the loop went on meanwhile. */
    CHECK(b.once_fired_ns >= b.once_due_ns);
    CHECK(b.once_fired_ns - b.once_due_ns < 250 * MS);
    CHECK(b.once_fired_ns < r.at_ns);
    CHECK(b.ticks >= 8);
    CHECK(b.max_late_ns < 250 * MS);
    loop_timer_cancel(&l, &b.once);
    loop_timer_cancel(&l, &b.ticker);
    health_free(r.h);
    server_close(&s);
    watchdog_disarm(&wd);
    loop_free(&l);
}

/* ---- exec ---------------------------------------------------------------------------------- */

TEST(exec_true_is_ok)
{
    static char *argv[] = {"true", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    one_check(&c, &r);
    CHECK(r.ok);
    CHECK_STR(r.reason, "exit status 0");
}

TEST(exec_false_fails_with_its_exit_code)
{
    static char *argv[] = {"false", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_INT(r.failures, 1);
    CHECK_STR(r.reason, "exit status 1");
}

TEST(exec_failure_reason_carries_first_output_line)
{
    static char *argv[] = {"sh", "-c", "printf '\\n  db down\\tnow\\nsecond\\n'; exit 3", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "exit status 3: db down?now");
}

TEST(exec_killed_by_signal)
{
    static char *argv[] = {"sh", "-c", "kill -TERM $$", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "killed by signal 15 (TERM)");
}

TEST(exec_missing_program)
{
    static char *argv[] = {"/nonexistent/check-health", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "cannot execute /nonexistent/check-health: No such file or directory");
}

TEST(exec_bad_directory)
{
    static char *argv[] = {"true", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    c.directory = "/nonexistent/dir";
    one_check(&c, &r);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "cannot change directory to /nonexistent/dir: No such file or directory");
}

TEST(exec_gets_program_environment)
{
    static char *argv[] = {"sh", "-c", "test \"$HEALTH_PROBE\" = yes", NULL};
    static char *env[] = {"HEALTH_PROBE=yes", NULL};
    struct proc_conf c = exec_conf(argv);
    struct result r;

    c.env = env;
    one_check(&c, &r);
    CHECK(r.ok);
}

/* The check's shell starts a grandchild in its group, then signals readiness. */
static char *group_argv[] = {"sh", "-c", "sleep 10 & kill -USR1 $PPID; wait", NULL};

static void check_all_killed(const struct reaper *rp, int want_owned)
{
    int owned = 0;

    CHECK(rp->n >= 2); /* the shell and its sleep */
    for (int i = 0; i < rp->n; i++) {
        CHECK(WIFSIGNALED(rp->status[i]) && WTERMSIG(rp->status[i]) == SIGKILL);
        owned += rp->owned[i];
    }
    CHECK_INT(owned, want_owned);
}

TEST(exec_timeout_kills_the_group)
{
    struct loop l;
    struct watchdog wd;
    struct reaper rp;
    struct result r = {0};
    struct proc_conf c = exec_conf(group_argv);
    uint64_t start;

    CHECK_INT(loop_init(&l), 0);
    reaper_open(&rp, &l);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    rp.h = r.h;
    start = timer_now_ns();
    health_start(r.h);
    run(&l);
    CHECK_INT(r.calls, 1);
    CHECK(!r.ok);
    CHECK_STR(r.reason, "timeout after 1s");
    CHECK(r.at_ns - start >= 1 * SEC);
    CHECK_INT(rp.usr1, 1); /* the grandchild existed before the timeout */
    reaper_wait_childless(&rp);
    check_all_killed(&rp, 1);
    CHECK_INT(health_child_pid(r.h), 0);
    health_free(r.h);
    watchdog_disarm(&wd);
    reaper_close(&rp);
    loop_free(&l);
}

/* ---- schedule ------------------------------------------------------------------------------ */

struct peek {
    struct result *r;
    int calls_at_peek;
    bool peeked;
};

static void peek_fire(struct timer *t, void *ctx)
{
    struct peek *p = ctx;

    (void)t;
    p->calls_at_peek = p->r->calls;
    p->peeked = true;
}

TEST(grace_delays_the_first_check)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    struct peek p = {&r, -1, false};
    struct timer peek_t;
    int port;
    int lfd = bound_socket(&port, true);
    struct proc_conf c = tcp_conf("127.0.0.1", port);
    uint64_t start;

    c.health->grace = 1;
    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    timer_init(&peek_t, peek_fire, &p);
    start = timer_now_ns();
    CHECK_INT(loop_timer_arm(&l, &peek_t, start + 900 * MS), 0);
    health_start(r.h);
    run(&l);
    CHECK(p.peeked);
    CHECK_INT(p.calls_at_peek, 0); /* nothing before the grace ended */
    CHECK_INT(r.calls, 1);
    CHECK(r.ok);
    CHECK(r.at_ns - start >= 1 * SEC);
    health_free(r.h);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(lfd);
}

static void listen_after_third(struct result *r)
{
    int *fd = r->user;

    if (r->calls == 3)
        CHECK_INT(listen(*fd, 16), 0);
}

TEST(consecutive_failures_count_and_reset)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    int port;
    int fd = bound_socket(&port, false);
    struct proc_conf c = tcp_conf("127.0.0.1", port);
    uint64_t start;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.stop_after = 4;
    r.hook = listen_after_third;
    r.user = &fd;
    r.h = health_new(&l, &c, on_result, &r);
    start = timer_now_ns();
    health_start(r.h);
    run(&l);
    CHECK_INT(r.calls, 4);
    CHECK_INT(r.seq[0], 1);
    CHECK_INT(r.seq[1], 2);
    CHECK_INT(r.seq[2], 3);
    CHECK_INT(r.seq[3], 0);
    CHECK(!r.restart[0]);
    CHECK(!r.restart[1]);
    CHECK(r.restart[2]); /* retries=3 reached */
    CHECK(!r.restart[3]);
    CHECK(r.ok);
    CHECK_STR(health_state(r.h), "ok");
    CHECK_INT(health_failures(r.h), 0);
    /* One check at once, then one per interval after the previous completed. */
    CHECK(r.at_ns - start >= 3 * SEC);
    CHECK(r.at_ns - start < 4500 * MS);
    health_free(r.h);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(fd);
}

TEST(start_resets_the_count)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    int port;
    int fd = bound_socket(&port, false);
    struct proc_conf c = tcp_conf("127.0.0.1", port);

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    health_start(r.h);
    run(&l);
    CHECK_INT(r.failures, 1);
    health_start(r.h); /* the process was restarted */
    CHECK_INT(health_failures(r.h), 0);
    CHECK_STR(health_state(r.h), "starting");
    run(&l);
    CHECK_INT(r.calls, 2);
    CHECK_INT(r.failures, 1);
    health_free(r.h);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(fd);
}

/* ---- stop, free, reconfigure ---------------------------------------------------------------- */

struct stop_ctx {
    struct health *h;
    struct loop *l;
    int fds_after_stop;
};

static void stop_on_request(struct server *s)
{
    struct stop_ctx *sc = s->user;

    health_stop(sc->h);
    sc->fds_after_stop = count_fds();
}

static void stop_loop_on_close(struct server *s)
{
    loop_stop(s->l);
}

TEST(stop_during_http_check_closes_its_socket)
{
    struct loop l;
    struct watchdog wd;
    struct server s;
    struct result r = {0};
    struct stop_ctx sc = {0};
    int before;

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    server_open(&s, &l, SERVE_HANG, NULL);
    struct proc_conf c = http_conf(s.port, "/");
    c.health->timeout = 5;
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    sc.h = r.h;
    sc.l = &l;
    s.user = &sc;
    s.on_request = stop_on_request;
    s.on_closed = stop_loop_on_close;
    before = count_fds();
    health_start(r.h);
    run(&l); /* until the server sees the check's connection closed */
    CHECK_INT(s.requests, 1);
    CHECK_INT(sc.fds_after_stop, before + 1); /* only the server's own end remains */
    CHECK_INT(count_fds(), before);
    CHECK_INT(r.calls, 0);
    CHECK_INT((long long)l.timers.len, 0); /* nothing scheduled */
    health_free(r.h);
    server_close(&s);
    watchdog_disarm(&wd);
    loop_free(&l);
}

static void stop_on_usr1(struct reaper *rp)
{
    int *fds = rp->user;

    health_stop(rp->h);
    *fds = count_fds();
}

TEST(stop_during_exec_check_kills_the_group)
{
    struct loop l;
    struct watchdog wd;
    struct reaper rp;
    struct result r = {0};
    struct proc_conf c = exec_conf(group_argv);
    int before, after = -1;

    c.health->timeout = 5;
    CHECK_INT(loop_init(&l), 0);
    reaper_open(&rp, &l);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    rp.h = r.h;
    rp.user = &after;
    rp.on_usr1 = stop_on_usr1;
    before = count_fds();
    health_start(r.h);
    rp.stop_when_childless = true;
    run(&l);
    CHECK_INT(rp.usr1, 1);
    CHECK_INT(after, before);
    CHECK(!has_children());
    check_all_killed(&rp, 1);
    CHECK_INT(health_child_pid(r.h), 0);
    CHECK_INT(r.calls, 0);
    CHECK_STR(health_state(r.h), "");
    CHECK_INT((long long)l.timers.len, 0);
    health_free(r.h);
    watchdog_disarm(&wd);
    reaper_close(&rp);
    loop_free(&l);
}

static void free_in_callback(struct result *r)
{
    health_free(r->h);
    r->h = NULL;
}

TEST(free_inside_the_callback)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    int port;
    int lfd = bound_socket(&port, true);
    struct proc_conf c = tcp_conf("127.0.0.1", port);

    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.hook = free_in_callback;
    r.h = health_new(&l, &c, on_result, &r);
    health_start(r.h);
    run(&l); /* ASan reports any use after free */
    CHECK_INT(r.calls, 1);
    CHECK(r.h == NULL);
    CHECK_INT((long long)l.timers.len, 0);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(lfd);
}

struct reconf_ctx {
    struct proc_conf next;
    bool done;
    char state_after[16];
};

static void reconfigure_after_first(struct result *r)
{
    struct reconf_ctx *rc = r->user;

    if (r->calls == 1) {
        health_reconfigure(r->h, &rc->next);
        snprintf(rc->state_after, sizeof(rc->state_after), "%s", health_state(r->h));
    }
}

TEST(reconfigure_to_a_new_target)
{
    struct loop l;
    struct watchdog wd;
    struct result r = {0};
    struct reconf_ctx rc = {0};
    int dead_port, live_port;
    int dead = bound_socket(&dead_port, false);
    int live = bound_socket(&live_port, true);
    struct proc_conf c = tcp_conf("127.0.0.1", dead_port);

    rc.next = tcp_conf("127.0.0.1", live_port);
    CHECK_INT(loop_init(&l), 0);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.stop_after = 2;
    r.hook = reconfigure_after_first;
    r.user = &rc;
    r.h = health_new(&l, &c, on_result, &r);
    health_start(r.h);
    run(&l);
    CHECK_INT(r.calls, 2);
    CHECK_INT(r.seq[0], 1);
    CHECK_STR(rc.state_after, "starting"); /* a new target starts with no verdict */
    CHECK(r.ok);
    /* Back to nothing to check: the schedule stops. */
    struct proc_conf none = base_conf();
    health_reconfigure(r.h, &none);
    CHECK_STR(health_state(r.h), "");
    CHECK_INT((long long)l.timers.len, 0);
    health_free(r.h);
    watchdog_disarm(&wd);
    loop_free(&l);
    close(dead);
    close(live);
}

static void reconfigure_on_usr1(struct reaper *rp)
{
    struct proc_conf *next = rp->user;

    health_reconfigure(rp->h, next);
}

TEST(reconfigure_during_exec_kills_the_old_check)
{
    static char *true_argv[] = {"true", NULL};
    struct loop l;
    struct watchdog wd;
    struct reaper rp;
    struct result r = {0};
    struct proc_conf c = exec_conf(group_argv);
    struct proc_conf next = exec_conf(true_argv);

    c.health->timeout = 5;
    CHECK_INT(loop_init(&l), 0);
    reaper_open(&rp, &l);
    watchdog_arm(&wd, &l);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    CHECK(!health_reaped(r.h, 1, 0)); /* not ours: untouched */
    rp.h = r.h;
    rp.user = &next;
    rp.on_usr1 = reconfigure_on_usr1;
    health_start(r.h);
    run(&l); /* the new command's verdict; the old one never reports */
    CHECK_INT(rp.usr1, 1);
    CHECK_INT(r.calls, 1);
    CHECK(r.ok);
    CHECK_STR(r.reason, "exit status 0");
    reaper_wait_childless(&rp);
    /* The shell and its sleep were SIGKILLed; `true` exited 0. Two were health's. */
    int killed = 0, owned = 0;
    for (int i = 0; i < rp.n; i++) {
        killed += WIFSIGNALED(rp.status[i]) && WTERMSIG(rp.status[i]) == SIGKILL;
        owned += rp.owned[i];
    }
    CHECK_INT(rp.n, 3);
    CHECK_INT(killed, 2);
    CHECK_INT(owned, 2);
    CHECK_INT(health_child_pid(r.h), 0);
    health_free(r.h);
    watchdog_disarm(&wd);
    reaper_close(&rp);
    loop_free(&l);
}

TEST(names_are_not_looked_up)
{
    struct loop l;
    struct result r = {0};
    char msg[256];
    struct proc_conf c = tcp_conf("db.example", 80);

    CHECK_INT(health_validate(&c, msg, sizeof(msg)), -1);
    CHECK_CONTAINS(msg, "host 'db.example' is not a numeric");
    c.health->host = "127.0.0.1";
    CHECK_INT(health_validate(&c, msg, sizeof(msg)), 0);
    c.health->host = "::1";
    CHECK_INT(health_validate(&c, msg, sizeof(msg)), 0);
    c.health->host = "LocalHost";
    CHECK_INT(health_validate(&c, msg, sizeof(msg)), 0);
    c.health->host = "10.0.0.256";
    CHECK_INT(health_validate(&c, msg, sizeof(msg)), -1);

    /* A health object for such a host stays inert instead of failing a healthy service. */
    c.health->host = "db.example";
    CHECK_INT(loop_init(&l), 0);
    r.l = &l;
    r.h = health_new(&l, &c, on_result, &r);
    health_start(r.h);
    CHECK_INT((long long)l.timers.len, 0);
    CHECK_STR(health_state(r.h), "");
    CHECK_CONTAINS(health_last_error(r.h), "db.example");
    health_free(r.h);
    loop_free(&l);
}

HARNESS_MAIN()
