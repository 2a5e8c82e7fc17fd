/* status_bench: `tend status` with many programs, and what status traffic does to restarts.
 *
 *     status_bench TEND BEACON DIR        (run by bench/status.sh; knobs in the environment)
 *
 * Starts `TEND daemon -n` on a config of BENCH_N (1000) programs, every one a sup_beacon
 * (bench/sup_beacon.c: first thing in main it sends {pid, id, CLOCK_MONOTONIC} to our
 * datagram socket, then pauses), with startsecs=0 and autorestart=true, everything in DIR.
 * Once every beacon has reported and tend says every program is RUNNING, it measures:
 *
 *   status_cli       BENCH_RUNS (100) calls of the real CLI, `TEND -s SOCK status`: fork,
 *                    exec, connect, request, 1,000 proc lines, the table (to /dev/null), exit.
 *                    Baseline: `TEND -s SOCK pid`, the cost of running any client at all
 *                    (DESIGN.md: status with 1,000 programs within 3 ms of it).
 *   client_cli       that `tend pid` call. Baseline: fork + exec + wait of /bin/true, the
 *                    floor of any command. The three alternate call by call.
 *   status_raw       the protocol round trip from here: connect, "tend/1 status", read up to
 *                    the final line (1,000 proc lines checked). Baseline: the same for
 *                    "tend/1 pid" (a one-line reply): the cost of the socket and the loop.
 *   restart_latency  t0 just before kill(SIGKILL) of a RUNNING program, t1 the start time
 *                    its next instance reports from inside its main(): kill, tend noticing,
 *                    fork, exec, loader. BENCH_KILLS (30) samples while BENCH_CLIENTS (100)
 *                    concurrent clients hammer `status` in a loop (connect, request, read
 *                    the ~130 KB reply, close, again), against the same number of samples
 *                    without them (the baseline). Each kill hits a different program, and
 *                    the next one waits until tend reports the new instance RUNNING, so no
 *                    program comes near tend's crash-loop back-off (3 short runs in a row).
 *   status_throughput the hammer's completed status requests per second, against
 *                    1000 / status_raw's median (one client at a time).
 *
 * Output: a human line per figure, then `RESULT name=... value=... unit=... baseline=...
 * ratio=...` (ratio = value / baseline; nan when the baseline is 0). Figures are reported,
 * never judged; the exit status is non-zero only when the benchmark breaks (tend does not
 * start, a program does not come back, a reply is wrong).
 *
 * We are a child subreaper: whatever tend leaves behind becomes ours and is killed at the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Copied from sup_beacon.c: keep in step. */
#define BEACON_MAGIC 0x7e4dbeacU

struct beacon_msg {
    uint32_t magic;
    int32_t pid;
    int32_t id;
    int32_t reserved;
    uint64_t t_ns;
};

#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL

static struct {
    const char *tend, *beacon, *dir;
    char sock[108], beacon_sock[108]; /* sizeof sun_path */
    char conf[4096], log[4096], out[4096];
    int n, runs, kills, clients;
    int dgram;        /* the beacons' datagram socket */
    pid_t tend_pid;
    pid_t *pid;       /* by program id: the pid its latest beacon reported */
    uint64_t *t_ns;   /* ... and that beacon's start time */
    unsigned *reports;
    int reported;     /* programs that reported at least once */
} g;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void cleanup(void);

static void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("status_bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

static int env_int(const char *name, int def, int min, int max)
{
    const char *v = getenv(name);
    char *end;
    long x;

    if (v == NULL || *v == '\0')
        return def;
    x = strtol(v, &end, 10);
    if (*end != '\0' || x < min || x > max)
        fail("%s=%s: want %d..%d", name, v, min, max);
    return (int)x;
}

/* ---- beacons ---- */

/* Reads every datagram waiting; returns the number read. */
static int drain_beacons(void)
{
    struct beacon_msg m;
    int got = 0;

    for (;;) {
        ssize_t r = recv(g.dgram, &m, sizeof m, MSG_DONTWAIT);
        if (r == -1 && errno == EINTR)
            continue;
        if (r != (ssize_t)sizeof m)
            return got;
        if (m.magic != BEACON_MAGIC || m.id < 0 || m.id >= g.n)
            continue;
        if (g.reports[m.id]++ == 0)
            g.reported++;
        g.pid[m.id] = m.pid;
        g.t_ns[m.id] = m.t_ns;
        got++;
    }
}

/* Waits up to timeout for datagrams; returns after the first batch (or the timeout). */
static void wait_beacons(int timeout_ms)
{
    struct pollfd p = {.fd = g.dgram, .events = POLLIN};

    if (poll(&p, 1, timeout_ms) > 0)
        drain_beacons();
}

/* ---- the protocol, raw ---- */

static int connect_sock(bool nonblock)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

    if (fd == -1)
        return -1;
    memcpy(sa.sun_path, g.sock, sizeof g.sock);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A whole-line scanner: returns true when buf[0..len) ends with a final line (ok / err). */
static bool has_final(const char *buf, size_t len)
{
    const char *end, *line;

    if (len == 0 || buf[len - 1] != '\n')
        return false;
    end = buf + len - 1;
    line = end;
    while (line > buf && line[-1] != '\n')
        line--;
    return (end - line == 2 && memcmp(line, "ok", 2) == 0) ||
           (end - line >= 3 && memcmp(line, "err", 3) == 0 && (end - line == 3 || line[3] == ' '));
}

static char *rbuf;
static size_t rcap;

/* One request; the reply (up to its final line) in rbuf. Returns its length, or -1. */
static ssize_t request(const char *req)
{
    size_t len = 0;
    int fd = connect_sock(false);

    if (fd == -1)
        return -1;
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    for (;;) {
        if (rcap - len < 65536) {
            rcap = rcap ? rcap * 2 : 1 << 20;
            rbuf = realloc(rbuf, rcap);
            if (rbuf == NULL)
                fail("out of memory");
        }
        ssize_t r = read(fd, rbuf + len, rcap - len - 1);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (has_final(rbuf, len))
            break;
    }
    close(fd);
    rbuf[len] = '\0';
    return has_final(rbuf, len) ? (ssize_t)len : -1;
}

static int count_lines(const char *prefix, const char *needle)
{
    int n = 0;
    size_t plen = strlen(prefix);

    for (const char *l = rbuf; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (len >= plen && memcmp(l, prefix, plen) == 0 &&
            (needle == NULL || memmem(l, len, needle, strlen(needle)) != NULL))
            n++;
        l += len + (nl != NULL);
    }
    return n;
}

/* Whether tend says program id is RUNNING with the pid its beacon reported. */
static bool program_running(int id)
{
    char req[64], want[64];

    snprintf(req, sizeof req, "tend/1 status p_%04d\n", id);
    if (request(req) == -1)
        return false;
    snprintf(want, sizeof want, " state=RUNNING pid=%d ", (int)g.pid[id]);
    return strstr(rbuf, want) != NULL;
}

/* ---- tend ---- */

static void write_config(void)
{
    FILE *f = fopen(g.conf, "w");

    if (f == NULL)
        fail("cannot write %s: %s", g.conf, strerror(errno));
    fprintf(f,
            "; written by bench/status_bench.c\n"
            "[tend]\n"
            "logfile = %s\n"
            "socket = %s\n"
            "minfds = %d\n"
            "\n"
            "[program:p]\n"
            "command = %s %s %%(process_num)d\n"
            "numprocs = %d\n"
            "process_name = p_%%(process_num)04d\n"
            "startsecs = 0\n"
            "autorestart = true\n"
            "stopwaitsecs = 10\n",
            g.log, g.sock, 2 * g.n + 1024, g.beacon, g.beacon_sock, g.n);
    if (fclose(f) != 0)
        fail("cannot write %s: %s", g.conf, strerror(errno));
}

static void start_tend(void)
{
    char *argv[] = {(char *)g.tend, "daemon", "-n", "-c", g.conf, NULL};
    pid_t pid = fork();

    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int out = open(g.out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out == -1 || in == -1 || dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
            dup2(out, 2) == -1)
            _exit(126);
        execv(g.tend, argv);
        _exit(127);
    }
    g.tend_pid = pid;
}

static void tend_check_alive(void)
{
    int status;

    if (g.tend_pid > 0 && waitpid(g.tend_pid, &status, WNOHANG) == g.tend_pid) {
        g.tend_pid = 0;
        fail("tend exited (status 0x%x); see %s", (unsigned)status, g.out);
    }
}

/* Waits until every beacon reported and tend says all n programs are RUNNING. */
static void wait_all_running(void)
{
    uint64_t deadline = now_ns() + 120 * NS_PER_SEC;
    int running = 0;

    while (now_ns() < deadline) {
        tend_check_alive();
        wait_beacons(100);
        if (g.reported < g.n)
            continue;
        if (request("tend/1 status\n") != -1 &&
            (running = count_lines("proc ", " state=RUNNING ")) == g.n)
            return;
    }
    fail("after 120 s: %d of %d beacons reported, %d programs RUNNING", g.reported, g.n,
         running);
}

static void reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void cleanup(void)
{
    int status;

    if (g.tend_pid > 0) {
        uint64_t deadline = now_ns() + 30 * NS_PER_SEC;
        kill(g.tend_pid, SIGTERM);
        while (waitpid(g.tend_pid, &status, WNOHANG) == 0 && now_ns() < deadline)
            wait_beacons(20); /* keeps draining: a beacon never blocks on a full queue */
        kill(g.tend_pid, SIGKILL);
        waitpid(g.tend_pid, &status, 0);
        g.tend_pid = 0;
    }
    /* Programs tend left behind were reparented to us (subreaper). */
    for (int round = 0; round < 5; round++) {
        bool any = false;
        for (int i = 0; i < g.n && g.pid != NULL; i++) {
            if (g.pid[i] > 0 && kill(g.pid[i], 0) == 0) {
                kill(g.pid[i], SIGKILL);
                any = true;
            }
        }
        reap_all();
        if (!any)
            break;
    }
}

/* ---- statistics ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

struct stats {
    double min, median, p90, p99, max; /* ms */
};

static struct stats summarize(uint64_t *ns, int n)
{
    struct stats s;

    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
#define RANK(p) ((double)ns[(int)(((p) * n + 99) / 100) - 1] / 1e6) /* nearest rank */
    s.min = (double)ns[0] / 1e6;
    s.median = RANK(50);
    s.p90 = RANK(90);
    s.p99 = RANK(99);
    s.max = (double)ns[n - 1] / 1e6;
#undef RANK
    return s;
}

static void result(const char *name, double value, const char *unit, double baseline,
                   const char *target)
{
    printf("RESULT name=%s value=%.3f unit=%s baseline=%.3f ratio=", name, value, unit, baseline);
    if (baseline > 0)
        printf("%.2f", value / baseline);
    else
        printf("nan");
    if (target != NULL)
        printf(" target=%s", target);
    printf("\n");
}

static void show(const char *what, struct stats s)
{
    printf("  %-34s median %8.3f  p90 %8.3f  p99 %8.3f  min %8.3f  max %8.3f ms\n", what,
           s.median, s.p90, s.p99, s.min, s.max);
}

/* ---- status through the CLI, and the baseline ---- */

/* fork + exec + wait of argv, stdout to /dev/null; returns the time taken, fails on a
 * non-zero exit. */
static uint64_t time_spawn(char *const argv[])
{
    uint64_t t0 = now_ns();
    int status;
    pid_t pid = fork();

    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null == -1 || dup2(null, 1) == -1)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid)
        fail("waitpid: %s", strerror(errno));
    uint64_t t1 = now_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("%s %s exited with status 0x%x", argv[0], argv[1] ? argv[1] : "", (unsigned)status);
    return t1 - t0;
}

/* The three alternate call by call, so that all see the same noise. */
static void bench_cli(struct stats *cli, struct stats *client, struct stats *spawn)
{
    char *status_argv[] = {(char *)g.tend, "-s", g.sock, "status", NULL};
    char *pid_argv[] = {(char *)g.tend, "-s", g.sock, "pid", NULL};
    char *true_argv[] = {"/bin/true", NULL};
    uint64_t *a = calloc((size_t)g.runs, sizeof *a), *b = calloc((size_t)g.runs, sizeof *b);
    uint64_t *c = calloc((size_t)g.runs, sizeof *c);

    if (a == NULL || b == NULL || c == NULL)
        fail("out of memory");
    for (int i = 0; i < 5; i++) { /* warm-up: page cache, the loader */
        time_spawn(status_argv);
        time_spawn(pid_argv);
        time_spawn(true_argv);
    }
    for (int i = 0; i < g.runs; i++) {
        a[i] = time_spawn(status_argv);
        c[i] = time_spawn(pid_argv);
        b[i] = time_spawn(true_argv);
        drain_beacons();
    }
    *cli = summarize(a, g.runs);
    *client = summarize(c, g.runs);
    *spawn = summarize(b, g.runs);
    free(a);
    free(b);
    free(c);
}

static void bench_raw(struct stats *st, struct stats *pid)
{
    uint64_t *a = calloc((size_t)g.runs, sizeof *a), *b = calloc((size_t)g.runs, sizeof *b);

    if (a == NULL || b == NULL)
        fail("out of memory");
    for (int i = 0; i < g.runs; i++) {
        uint64_t t0 = now_ns();
        if (request("tend/1 status\n") == -1)
            fail("status: no final line");
        a[i] = now_ns() - t0;
        if (count_lines("proc ", NULL) != g.n || count_lines("ok", NULL) != 1)
            fail("status: %d proc lines, want %d", count_lines("proc ", NULL), g.n);
        t0 = now_ns();
        if (request("tend/1 pid\n") == -1)
            fail("pid: no final line");
        b[i] = now_ns() - t0;
        if (count_lines("msg ", NULL) != 1)
            fail("pid: unexpected reply '%s'", rbuf);
    }
    *st = summarize(a, g.runs);
    *pid = summarize(b, g.runs);
    free(a);
    free(b);
}

/* ---- restart latency ---- */

/* Where a restart's time goes, from tend's log (millisecond timestamps, wall clock): kill ->
 * tend logs the exit ("noticed"), -> tend logs the spawn ("forked"), -> the new instance's
 * main() ("running"). */
struct sample {
    int id;
    pid_t old_pid, new_pid;
    uint64_t kill_real_ns;   /* CLOCK_REALTIME at the kill */
    uint64_t main_real_ns;   /* the new instance's start, converted to CLOCK_REALTIME */
};

static uint64_t real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Kills programs first..first+kills-1 one at a time; the latency of each into out[]. */
static void restart_samples(int first, uint64_t *out, struct sample *smp)
{
    for (int k = 0; k < g.kills; k++) {
        int id = first + k;
        uint64_t deadline = now_ns() + 30 * NS_PER_SEC;
        unsigned before = g.reports[id];
        pid_t old = g.pid[id];

        while (!program_running(id)) {
            if (now_ns() > deadline)
                fail("program p_%04d is not RUNNING with pid %d", id, (int)old);
            tend_check_alive();
            wait_beacons(10);
        }
        uint64_t r0 = real_ns(), t0 = now_ns();
        if (kill(old, SIGKILL) == -1)
            fail("kill %d: %s", (int)old, strerror(errno));
        while (g.reports[id] == before) {
            if (now_ns() > deadline)
                fail("program p_%04d did not come back after SIGKILL of pid %d", id, (int)old);
            tend_check_alive();
            wait_beacons(1000);
        }
        if (g.pid[id] == old)
            fail("program p_%04d reported its old pid %d", id, (int)old);
        out[k] = g.t_ns[id] - t0;
        smp[k] = (struct sample){.id = id, .old_pid = old, .new_pid = g.pid[id],
                                 .kill_real_ns = r0, .main_real_ns = r0 + out[k]};
        reap_all(); /* nothing should be ours, but an orphan might be */
    }
    /* The last one must be RUNNING again before the next phase. */
    uint64_t deadline = now_ns() + 30 * NS_PER_SEC;
    while (!program_running(first + g.kills - 1) && now_ns() < deadline)
        wait_beacons(10);
}

/* The wall-clock time of the first line of tend's log containing `what`, in ns; 0 if none. */
static uint64_t log_time(const char *what)
{
    FILE *f = fopen(g.log, "re");
    char line[1024];
    uint64_t t = 0;

    if (f == NULL)
        return 0;
    while (t == 0 && fgets(line, sizeof line, f) != NULL) {
        struct tm tm = {0};
        int ms;
        if (strstr(line, what) == NULL)
            continue;
        if (sscanf(line, "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_isdst = -1;
        t = (uint64_t)mktime(&tm) * NS_PER_SEC + (uint64_t)ms * NS_PER_MS;
    }
    fclose(f);
    return t;
}

/* Splits each sample's latency at tend's log lines; prints the medians. Log timestamps are
 * truncated to the millisecond, so each part is good to about 1 ms. */
static void breakdown(const char *label, const struct sample *smp)
{
    uint64_t *noticed = calloc((size_t)g.kills, sizeof *noticed);
    uint64_t *forked = calloc((size_t)g.kills, sizeof *forked);
    uint64_t *running = calloc((size_t)g.kills, sizeof *running);
    int n = 0;

    if (noticed == NULL || forked == NULL || running == NULL)
        fail("out of memory");
    for (int k = 0; k < g.kills; k++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "p_%04d (pid %d): RUNNING -> ", smp[k].id, (int)smp[k].old_pid);
        snprintf(b, sizeof b, "p_%04d: spawned pid %d\n", smp[k].id, (int)smp[k].new_pid);
        uint64_t ta = log_time(a), tb = log_time(b);
        /* The log's millisecond is truncated: its true time is up to 1 ms later. */
        uint64_t k0 = smp[k].kill_real_ns / NS_PER_MS * NS_PER_MS;
        if (ta == 0 || tb == 0 || ta < k0 || tb < ta)
            continue;
        noticed[n] = ta - k0;
        forked[n] = tb - ta;
        running[n] = smp[k].main_real_ns > tb ? smp[k].main_real_ns - tb : 0;
        n++;
    }
    if (n > 0) {
        struct stats a = summarize(noticed, n), b = summarize(forked, n), c = summarize(running, n);
        printf("  %-34s kill->exit logged %6.1f, ->spawn logged %6.1f, ->main() %6.1f ms "
               "(medians of %d, +-1 ms)\n", label, a.median, b.median, c.median, n);
    }
    free(noticed);
    free(forked);
    free(running);
}

/* The hammer: a child process driving `clients` connections, each one status request after
 * another, as fast as tend answers. It writes one byte on ready_fd once every client has had
 * a full reply, and on SIGTERM writes "completed failed seconds" to result_fd and exits. */
struct hclient {
    int fd;
    size_t len;      /* bytes of the current reply */
    char tail[4];    /* its last bytes, to spot "\nok\n" across reads */
    bool done_once;
};

static volatile sig_atomic_t hammer_stop;

static void on_hammer_term(int sig)
{
    (void)sig;
    hammer_stop = 1;
}

static int hammer_connect(int ep, struct hclient *c)
{
    static const char req[] = "tend/1 status\n";
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

    c->fd = connect_sock(true);
    c->len = 0;
    memset(c->tail, 0, sizeof c->tail);
    if (c->fd == -1)
        return -1; /* EAGAIN: the backlog is full; retried on the next round */
    if (send(c->fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)sizeof req - 1 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

static void hammer(int clients, int ready_fd, int result_fd)
{
    struct hclient *cl = calloc((size_t)clients, sizeof *cl);
    struct epoll_event evs[256];
    unsigned long long completed = 0, failed = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC), ready = 0;
    static char buf[262144];
    struct sigaction sa = {.sa_handler = on_hammer_term};
    uint64_t t0 = now_ns();

    sigaction(SIGTERM, &sa, NULL);
    if (cl == NULL || ep == -1)
        _exit(2);
    for (int i = 0; i < clients; i++)
        hammer_connect(ep, &cl[i]);
    while (!hammer_stop) {
        int missing = 0;
        for (int i = 0; i < clients; i++) {
            if (cl[i].fd == -1 && hammer_connect(ep, &cl[i]) == -1)
                missing++;
        }
        int n = epoll_wait(ep, evs, 256, missing ? 1 : 100);
        for (int e = 0; e < n; e++) {
            struct hclient *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r == -1 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0) {
                /* The reply is complete when its last 4 bytes are "\nok\n" (only the final
                 * line is exactly "ok"); they may arrive split across reads. */
                for (ssize_t i = r > 4 ? r - 4 : 0; i < r; i++) {
                    memmove(c->tail, c->tail + 1, 3);
                    c->tail[3] = buf[i];
                }
                c->len += (size_t)r;
                if (c->len >= 4 && memcmp(c->tail, "\nok\n", 4) == 0)
                    goto complete;
                continue;
            }
            failed++; /* closed before its final ok, or an error reply */
            goto next;
        complete:
            completed++;
            if (!c->done_once) {
                c->done_once = true;
                if (++ready == clients && write(ready_fd, "r", 1) != 1)
                    _exit(2);
            }
        next:
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
        }
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    dprintf(result_fd, "%llu %llu %.3f\n", completed, failed, secs);
    _exit(0);
}

struct hammer_run {
    pid_t pid;
    int result_fd;
    uint64_t t_ready;
};

static struct hammer_run hammer_start(void)
{
    int ready[2], res[2];
    struct hammer_run h;
    char c;

    if (pipe2(ready, O_CLOEXEC) == -1 || pipe2(res, O_CLOEXEC) == -1)
        fail("pipe: %s", strerror(errno));
    h.pid = fork();
    if (h.pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (h.pid == 0) {
        close(ready[0]);
        close(res[0]);
        close(g.dgram);
        hammer(g.clients, ready[1], res[1]);
    }
    close(ready[1]);
    close(res[1]);
    h.result_fd = res[0];
    /* Every client has had one full reply: the load is on. */
    struct pollfd p = {.fd = ready[0], .events = POLLIN};
    uint64_t deadline = now_ns() + 60 * NS_PER_SEC;
    while (poll(&p, 1, 100) == 0) {
        tend_check_alive();
        drain_beacons();
        if (now_ns() > deadline)
            fail("the %d hammering clients did not all get a reply within 60 s", g.clients);
    }
    if (read(ready[0], &c, 1) != 1)
        fail("the hammer died before it was ready");
    close(ready[0]);
    h.t_ready = now_ns();
    return h;
}

static void hammer_stop_and_read(struct hammer_run *h, unsigned long long *completed,
                                 unsigned long long *failed, double *secs)
{
    char line[128] = "";
    ssize_t n;
    int status;

    kill(h->pid, SIGTERM);
    n = read(h->result_fd, line, sizeof line - 1);
    waitpid(h->pid, &status, 0);
    close(h->result_fd);
    if (n <= 0 || sscanf(line, "%llu %llu %lf", completed, failed, secs) != 3)
        fail("the hammer reported nothing (status 0x%x)", (unsigned)status);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stats cli, client, spawn, raw, rawpid, lat0, lat1;

    if (argc != 4) {
        fprintf(stderr, "usage: status_bench TEND BEACON DIR (see bench/status.sh)\n");
        return 2;
    }
    g.tend = argv[1];
    g.beacon = argv[2];
    g.dir = argv[3];
    g.n = env_int("BENCH_N", 1000, 1, 9999);
    g.runs = env_int("BENCH_RUNS", 100, 5, 100000);
    g.kills = env_int("BENCH_KILLS", 30, 3, 4000);
    g.clients = env_int("BENCH_CLIENTS", 100, 1, 500);
    if (2 * g.kills > g.n)
        fail("BENCH_KILLS=%d needs BENCH_N >= %d (each kill hits another program)", g.kills,
             2 * g.kills);
    if (strlen(g.dir) + sizeof "/beacon.sock" > sizeof g.sock)
        fail("%s: too long for a socket path", g.dir);
    snprintf(g.sock, sizeof g.sock, "%s/tend.sock", g.dir);
    snprintf(g.beacon_sock, sizeof g.beacon_sock, "%s/beacon.sock", g.dir);
    snprintf(g.conf, sizeof g.conf, "%s/tend.conf", g.dir);
    snprintf(g.log, sizeof g.log, "%s/tend.log", g.dir);
    snprintf(g.out, sizeof g.out, "%s/tend.out", g.dir);
    g.pid = calloc((size_t)g.n, sizeof *g.pid);
    g.t_ns = calloc((size_t)g.n, sizeof *g.t_ns);
    g.reports = calloc((size_t)g.n, sizeof *g.reports);
    if (g.pid == NULL || g.t_ns == NULL || g.reports == NULL)
        fail("out of memory");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        fail("cannot become a subreaper: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);

    g.dgram = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memcpy(sa.sun_path, g.beacon_sock, sizeof g.beacon_sock);
    if (g.dgram == -1 || bind(g.dgram, (struct sockaddr *)&sa, sizeof sa) == -1)
        fail("cannot bind %s: %s", g.beacon_sock, strerror(errno));
    int rcvbuf = 4 << 20;
    (void)setsockopt(g.dgram, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

    write_config();
    uint64_t t0 = now_ns();
    start_tend();
    wait_all_running();
    printf("  tend (pid %d) has %d programs RUNNING, %.1f s after its start\n", (int)g.tend_pid,
           g.n, (double)(now_ns() - t0) / 1e9);
    fflush(stdout);

    bench_cli(&cli, &client, &spawn);
    show("tend status (CLI, fork+exec)", cli);
    show("baseline: tend pid (CLI, fork+exec)", client);
    show("floor: /bin/true (fork+exec)", spawn);
    printf("  status beyond any client call: median %+.3f ms (target: under 3 ms)\n",
           cli.median - client.median);
    bench_raw(&raw, &rawpid);
    show("status round trip (raw protocol)", raw);
    show("baseline: pid round trip (raw)", rawpid);
    fflush(stdout);

    uint64_t *s0 = calloc((size_t)g.kills, sizeof *s0), *s1 = calloc((size_t)g.kills, sizeof *s1);
    struct sample *m0 = calloc((size_t)g.kills, sizeof *m0), *m1 = calloc((size_t)g.kills, sizeof *m1);
    if (s0 == NULL || s1 == NULL || m0 == NULL || m1 == NULL)
        fail("out of memory");
    restart_samples(0, s0, m0);
    struct hammer_run h = hammer_start();
    restart_samples(g.kills, s1, m1);
    unsigned long long completed, failed;
    double secs;
    hammer_stop_and_read(&h, &completed, &failed, &secs);
    lat0 = summarize(s0, g.kills);
    lat1 = summarize(s1, g.kills);
    show("restart latency, no clients", lat0);
    char what[64];
    snprintf(what, sizeof what, "restart latency, %d clients", g.clients);
    show(what, lat1);
    breakdown("  where it goes, no clients:", m0);
    snprintf(what, sizeof what, "  where it goes, %d clients:", g.clients);
    breakdown(what, m1);
    double rate = secs > 0 ? (double)completed / secs : 0;
    double seq_rate = raw.median > 0 ? 1000.0 / raw.median : 0;
    printf("  %d clients: %llu status replies in %.1f s (%.0f/s; %llu failed); one client at a "
           "time: %.0f/s\n", g.clients, completed, secs, rate, failed, seq_rate);
    printf("  delay of a restart by the clients: median %+.3f ms, p99 %+.3f ms (target: a few ms)\n",
           lat1.median - lat0.median, lat1.p99 - lat0.p99);

    result("status_cli_median", cli.median, "ms", client.median, "<baseline+3");
    result("status_cli_p99", cli.p99, "ms", client.p99, NULL);
    result("client_cli_median", client.median, "ms", spawn.median, NULL);
    result("status_raw_median", raw.median, "ms", rawpid.median, NULL);
    result("status_raw_p99", raw.p99, "ms", rawpid.p99, NULL);
    result("restart_latency_clients_median", lat1.median, "ms", lat0.median, NULL);
    result("restart_latency_clients_p99", lat1.p99, "ms", lat0.p99, NULL);
    result("status_throughput_clients", rate, "req/s", seq_rate, NULL);
    fflush(stdout);
    free(s0);
    free(s1);
    free(m0);
    free(m1);
    cleanup();
    if (failed > 0)
        fail("%llu status requests of the hammer failed", failed);
    return 0;
}
