/* pidfile_latency: how fast tend brings a pidfile= program (one that daemonizes itself, the
 * article's servers) back after SIGKILL, beside tend's own figure for a foreground program
 * measured in the same run, and beside the origin article's monitor.sh, which polls every
 * 15 s.
 *
 *     pidfile_latency TEND DAEML BEACON      (run by bench/pidfile.sh)
 *
 * Every supervised program is bench/sup_beacon: the first thing its main does is read
 * CLOCK_MONOTONIC, then it sends {pid, id, time} to our unix datagram socket and pauses. The
 * pidfile programs run it through `daeml --pidfile FILE`, so it is a double-forked daemon
 * that tend finds through FILE; the foreground programs run it directly. One sample: t0 is
 * read right before kill(pid, SIGKILL) of a beacon that tend's log shows RUNNING under that
 * pid; t1 is the start time the next beacon of that program reports. latency = t1 - t0: the
 * kill, tend noticing (SIGCHLD: tend is a subreaper, so the daemon is its descendant),
 * relaunching (for a pidfile program: daeml, its double fork, the pidfile), exec and the
 * dynamic loader.
 *
 * Samples alternate pidfile / foreground so that both see the same noise; the first
 * BENCH_WARMUP of each are dropped. tend backs off a program that crashes
 * PROC_CRASH_LOOP_AFTER times within PROC_CRASH_RUN_S (src/proc.h): kills rotate over enough
 * programs that none is killed that often. Also printed: the time until tend's log says the
 * program is RUNNING again (for a pidfile program: adopted), as this driver sees the log.
 *
 * Output: human lines, then `RESULT name=... value=... unit=... baseline=... ratio=...`
 * (ratio = value / baseline). Figures never fail the run; the exit status is non-zero only
 * when the benchmark breaks (tend does not start, a program does not come back).
 *
 * Knobs: BENCH_PIDFILE_KILLS (samples of each kind, default 100), BENCH_WARMUP (5). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h" /* PROC_CRASH_LOOP_AFTER: how many quick kills in a row stay immediate */

/* Copied from sup_beacon.c: keep in step. */
#define BEACON_MAGIC 0x7e4dbeacU
struct beacon_msg {
    uint32_t magic;
    int32_t pid;
    int32_t id;
    int32_t reserved;
    uint64_t t_ns;
};

#define NS_PER_SEC 1000000000ULL
#define NS_PER_US 1000ULL
#define WAIT_S 20                 /* a program not back within this: the benchmark broke */
#define ARTICLE_POLL_US 15000000.0 /* monitor.sh: `sleep 15` between checks */

enum kind { PIDFILE, FOREGROUND, NKINDS };

struct prog {
    char name[16];
    enum kind kind;
    pid_t pid;         /* latest beacon's pid, 0 if none yet */
    uint64_t t_ns;     /* its start time */
    pid_t running_pid; /* the pid tend's log last called RUNNING */
    uint64_t running_seen_ns;
};

static struct {
    char dir[64];
    char sock_path[108], conf[PATH_MAX], log[PATH_MAX], out[PATH_MAX];
    int sock_fd, ino_fd, log_fd;
    pid_t tend_pid;
    struct prog *progs;
    int nper; /* programs of each kind */
    char partial[8192];
    size_t partial_len;
} g = {.sock_fd = -1, .ino_fd = -1, .log_fd = -1};

static uint64_t now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static long env_long(const char *name, long dflt, long min, long max)
{
    const char *s = getenv(name);
    char *end;
    long v;

    if (s == NULL || *s == '\0')
        return dflt;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "pidfile_latency: %s=%s: want %ld..%ld; using %ld\n", name, s, min, max,
                dflt);
        return dflt;
    }
    return v;
}

/* Kills every process we are the parent of (tend, and what it left to us as our subreaper
 * children), then reaps them. */
static void kill_children(void)
{
    char path[64], buf[65536];
    ssize_t n;
    int fd;

    for (int pass = 0; pass < 20; pass++) {
        size_t got = 0, hit = 0;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1)
            break;
        while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
            got += (size_t)n;
        (void)close(fd); /* read-only */
        buf[got] = '\0';
        for (char *p = buf, *end;; p = end) {
            long pid = strtol(p, &end, 10);
            if (end == p)
                break;
            (void)kill((pid_t)pid, SIGKILL); /* our unreaped child: cannot be a stranger */
            (void)waitpid((pid_t)pid, NULL, 0);
            hit++;
        }
        if (hit == 0)
            break;
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void remove_dir(void)
{
    char cmd[128];

    if (g.dir[0] == '\0' || strncmp(g.dir, "/tmp/", 5) != 0)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pidfile_latency: could not remove %s\n", g.dir);
}

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "pidfile_latency: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    if (g.log[0] != '\0') {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof(cmd), "tail -n 15 '%s' >&2", g.log);
        if (system(cmd) != 0)
            fprintf(stderr, "pidfile_latency: (no log)\n");
    }
    kill_children();
    fprintf(stderr, "pidfile_latency: kept %s\n", g.dir);
    exit(1);
}

static void on_fatal_signal(int sig)
{
    if (g.tend_pid > 0)
        (void)kill(g.tend_pid, SIGKILL);
    _exit(128 + sig);
}

static void on_alarm(int sig)
{
    static const char msg[] = "pidfile_latency: tend did not exit within 30 s of SIGTERM\n";

    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    if (g.tend_pid > 0)
        (void)kill(g.tend_pid, SIGKILL);
}

static struct prog *prog_by_name(const char *name, size_t len)
{
    int i;

    if (len < 2 || (name[0] != 'p' && name[0] != 'f'))
        return NULL;
    i = atoi(name + 1);
    if (i < 0 || i >= g.nper)
        return NULL;
    struct prog *p = &g.progs[(name[0] == 'p' ? 0 : g.nper) + i];
    return strlen(p->name) == len && memcmp(p->name, name, len) == 0 ? p : NULL;
}

/* One line of tend's log: "DATE TIME LEVEL NAME (pid P): STARTING -> RUNNING: ...". */
static void log_line(const char *line)
{
    static const char running[] = "): STARTING -> RUNNING";
    const char *r = strstr(line, running), *name, *paren;
    int fields = 0;

    if (r == NULL)
        return;
    name = line;
    for (; *name != '\0' && fields < 3; name++) {
        if (*name == ' ')
            fields++;
    }
    paren = strstr(name, " (pid ");
    if (paren == NULL || paren > r)
        return;
    struct prog *p = prog_by_name(name, (size_t)(paren - name));
    if (p != NULL) {
        p->running_pid = (pid_t)atoi(paren + 6);
        p->running_seen_ns = now_ns();
    }
}

static void read_log(void)
{
    ssize_t n;

    if (g.log_fd == -1) {
        g.log_fd = open(g.log, O_RDONLY | O_CLOEXEC);
        if (g.log_fd == -1)
            return;
    }
    while ((n = read(g.log_fd, g.partial + g.partial_len,
                     sizeof(g.partial) - 1 - g.partial_len)) > 0) {
        char *start = g.partial, *nl;
        g.partial_len += (size_t)n;
        g.partial[g.partial_len] = '\0';
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            log_line(start);
            start = nl + 1;
        }
        g.partial_len -= (size_t)(start - g.partial);
        memmove(g.partial, start, g.partial_len);
        if (g.partial_len == sizeof(g.partial) - 1)
            g.partial_len = 0; /* an absurd line: drop it */
    }
}

static void read_beacons(void)
{
    struct beacon_msg m;
    ssize_t n;

    while ((n = recv(g.sock_fd, &m, sizeof(m), MSG_DONTWAIT)) == (ssize_t)sizeof(m)) {
        if (m.magic != BEACON_MAGIC || m.id < 0 || m.id >= 2 * g.nper)
            continue;
        g.progs[m.id].pid = m.pid;
        g.progs[m.id].t_ns = m.t_ns;
    }
}

/* Waits for events (a beacon, a log line) for at most the time left until deadline. */
static void wait_events(uint64_t deadline)
{
    struct pollfd pfd[2] = {{.fd = g.sock_fd, .events = POLLIN}, {.fd = g.ino_fd, .events = POLLIN}};
    uint64_t now = now_ns();
    int ms = now >= deadline ? 0 : (int)((deadline - now) / 1000000ULL) + 1;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int status;

    if (poll(pfd, 2, ms) == -1 && errno != EINTR)
        fail("poll: %s", strerror(errno));
    if (pfd[1].revents & POLLIN) {
        while (read(g.ino_fd, buf, sizeof(buf)) > 0)
            ;
    }
    read_beacons();
    read_log();
    if (g.tend_pid > 0 && waitpid(g.tend_pid, &status, WNOHANG) == g.tend_pid) {
        g.tend_pid = 0;
        fail("tend exited (status 0x%x)", (unsigned)status);
    }
}

/* Until p's current beacon is RUNNING in tend's log. */
static void wait_running(struct prog *p)
{
    uint64_t deadline = now_ns() + WAIT_S * NS_PER_SEC;

    while (p->pid == 0 || p->running_pid != p->pid) {
        if (now_ns() >= deadline)
            fail("%s: no beacon RUNNING in tend's log within %d s (beacon pid %d, RUNNING %d)",
                 p->name, WAIT_S, (int)p->pid, (int)p->running_pid);
        wait_events(deadline);
    }
}

struct sample {
    uint64_t restart_ns; /* kill -> the new instance's main() */
    uint64_t running_ns; /* kill -> tend's log says RUNNING, as read here */
};

/* Kills p's beacon and waits for its successor; returns the sample. */
static struct sample kill_one(struct prog *p)
{
    pid_t old = p->pid;
    uint64_t t0, deadline;
    struct sample s;

    wait_running(p);
    old = p->pid;
    t0 = now_ns();
    if (kill(old, SIGKILL) == -1)
        fail("%s: kill %d: %s", p->name, (int)old, strerror(errno));
    deadline = t0 + WAIT_S * NS_PER_SEC;
    while (p->pid == old) {
        if (now_ns() >= deadline)
            fail("%s: not back within %d s of the kill of %d", p->name, WAIT_S, (int)old);
        wait_events(deadline);
    }
    s.restart_ns = p->t_ns - t0;
    while (p->running_pid != p->pid) {
        if (now_ns() >= deadline)
            fail("%s: new pid %d not RUNNING within %d s", p->name, (int)p->pid, WAIT_S);
        wait_events(deadline);
    }
    s.running_ns = p->running_seen_ns - t0;
    return s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static double pct(const uint64_t *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999);

    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1];
}

static void write_config(const char *daeml, const char *beacon)
{
    FILE *f = fopen(g.conf, "we");

    if (f == NULL)
        fail("cannot write %s: %s", g.conf, strerror(errno));
    fprintf(f, "[tend]\nlogfile=%s\nsocket=%s/tend.sock\nchildlogdir=%s\n\n", g.log, g.dir,
            g.dir);
    for (int k = 0; k < NKINDS; k++) {
        for (int i = 0; i < g.nper; i++) {
            struct prog *p = &g.progs[k * g.nper + i];
            int id = k * g.nper + i;
            fprintf(f, "[program:%s]\n", p->name);
            if (k == PIDFILE)
                fprintf(f, "command=%s --pidfile %s/%s.pid %s %s %d\npidfile=%s/%s.pid\n", daeml,
                        g.dir, p->name, beacon, g.sock_path, id, g.dir, p->name);
            else
                fprintf(f, "command=%s %s %d\n", beacon, g.sock_path, id);
            fprintf(f, "startsecs=0\nautorestart=true\nstdout_logfile=NONE\n"
                       "stderr_logfile=NONE\n\n");
        }
    }
    if (fclose(f) == EOF)
        fail("cannot write %s: %s", g.conf, strerror(errno));
}

static void start_tend(const char *tend)
{
    pid_t pid;

    pid = fork();
    if (pid == -1)
        fail("fork: %s", strerror(errno));
    if (pid == 0) {
        int out = open(g.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out == -1 || null == -1 || dup2(null, 0) == -1 || dup2(out, 1) == -1 ||
            dup2(out, 2) == -1)
            _exit(126);
        execl(tend, tend, "daemon", "-n", "-c", g.conf, (char *)NULL);
        _exit(127);
    }
    g.tend_pid = pid;
}

static void report(const char *what, uint64_t *fg, uint64_t *pf, size_t n)
{
    qsort(fg, n, sizeof(*fg), cmp_u64);
    qsort(pf, n, sizeof(*pf), cmp_u64);
    printf("  %-34s %10s %10s %10s %10s %10s   (us)\n", what, "min", "median", "p90", "p99",
           "max");
    printf("  %-34s %10.1f %10.1f %10.1f %10.1f %10.1f\n", "  pidfile program (daeml)",
           pct(pf, n, 0) / NS_PER_US, pct(pf, n, 0.5) / NS_PER_US, pct(pf, n, 0.9) / NS_PER_US,
           pct(pf, n, 0.99) / NS_PER_US, pct(pf, n, 1) / NS_PER_US);
    printf("  %-34s %10.1f %10.1f %10.1f %10.1f %10.1f\n", "  foreground program",
           pct(fg, n, 0) / NS_PER_US, pct(fg, n, 0.5) / NS_PER_US, pct(fg, n, 0.9) / NS_PER_US,
           pct(fg, n, 0.99) / NS_PER_US, pct(fg, n, 1) / NS_PER_US);
}

static void result(const char *name, double value, double baseline)
{
    printf("RESULT name=%s value=%.1f unit=us baseline=%.1f ratio=", name, value, baseline);
    if (baseline > 0)
        printf(value / baseline < 100 ? "%.3f\n" : "%.0f\n", value / baseline);
    else
        printf("nan\n");
}

int main(int argc, char **argv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    long kills, warmup;
    int total;

    if (argc != 4) {
        fprintf(stderr, "usage: pidfile_latency TEND DAEML BEACON (see bench/pidfile.sh)\n");
        return 2;
    }
    kills = env_long("BENCH_PIDFILE_KILLS", 100, 1, 100000);
    warmup = env_long("BENCH_WARMUP", 5, 0, 1000);
    total = (int)(kills + warmup);
    /* Each program is killed at most PROC_CRASH_LOOP_AFTER - 1 times: immediate restarts. */
    g.nper = (total + PROC_CRASH_LOOP_AFTER - 2) / (PROC_CRASH_LOOP_AFTER - 1);
    g.progs = calloc((size_t)(2 * g.nper), sizeof(*g.progs));
    if (g.progs == NULL)
        fail("out of memory");
    for (int k = 0; k < NKINDS; k++) {
        for (int i = 0; i < g.nper; i++) {
            struct prog *p = &g.progs[k * g.nper + i];
            p->kind = (enum kind)k;
            snprintf(p->name, sizeof(p->name), "%c%03d", k == PIDFILE ? 'p' : 'f', i);
        }
    }

    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    /* Daemons that lose tend come to us, and are killed at the end. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    snprintf(g.dir, sizeof(g.dir), "/tmp/tend-pidbench.XXXXXX");
    if (mkdtemp(g.dir) == NULL)
        fail("mkdtemp: %s", strerror(errno));
    snprintf(g.sock_path, sizeof(g.sock_path), "%s/b.sock", g.dir);
    snprintf(g.conf, sizeof(g.conf), "%s/tend.conf", g.dir);
    snprintf(g.log, sizeof(g.log), "%s/tend.log", g.dir);
    snprintf(g.out, sizeof(g.out), "%s/tend.out", g.dir);
    memcpy(sa.sun_path, g.sock_path, strlen(g.sock_path) + 1);
    g.sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (g.sock_fd == -1 || bind(g.sock_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
        fail("cannot bind %s: %s", g.sock_path, strerror(errno));
    g.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (g.ino_fd == -1 || inotify_add_watch(g.ino_fd, g.dir, IN_MODIFY | IN_CREATE) == -1)
        fail("inotify: %s", strerror(errno));

    write_config(argv[2], argv[3]);
    start_tend(argv[1]);
    printf("pidfile_latency: %ld kills of each kind (+%ld warm-up), over %d pidfile and %d "
           "foreground programs\n", kills, warmup, g.nper, g.nper);

    uint64_t *fg = calloc((size_t)kills, sizeof(uint64_t)), *pf = calloc((size_t)kills, 8);
    uint64_t *fg_run = calloc((size_t)kills, 8), *pf_run = calloc((size_t)kills, 8);
    if (fg == NULL || pf == NULL || fg_run == NULL || pf_run == NULL)
        fail("out of memory");
    for (int i = 0; i < total; i++) {
        struct prog *pp = &g.progs[0 * g.nper + i % g.nper];
        struct prog *fp = &g.progs[1 * g.nper + i % g.nper];
        struct sample sp = kill_one(pp);
        struct sample sf = kill_one(fp);
        if (i >= warmup) {
            pf[i - warmup] = sp.restart_ns;
            pf_run[i - warmup] = sp.running_ns;
            fg[i - warmup] = sf.restart_ns;
            fg_run[i - warmup] = sf.running_ns;
        }
    }
    report("kill -> the new instance runs", fg, pf, (size_t)kills);
    report("kill -> tend's log says RUNNING", fg_run, pf_run, (size_t)kills);

    double pmed = pct(pf, (size_t)kills, 0.5), p99 = pct(pf, (size_t)kills, 0.99);
    double fmed = pct(fg, (size_t)kills, 0.5), f99 = pct(fg, (size_t)kills, 0.99);
    printf("  the article's monitor.sh polls every 15 s: it notices a death 7.5 s later on "
           "average, 15 s at worst;\n  tend's pidfile restart median is %.0fx shorter than "
           "15 s\n", ARTICLE_POLL_US / (pmed / NS_PER_US));
    result("pidfile_restart_latency_median", pmed / NS_PER_US, fmed / NS_PER_US);
    result("pidfile_restart_latency_p99", p99 / NS_PER_US, f99 / NS_PER_US);
    result("pidfile_running_latency_median", pct(pf_run, (size_t)kills, 0.5) / NS_PER_US,
           pct(fg_run, (size_t)kills, 0.5) / NS_PER_US);
    /* value = the article's polling interval, baseline = tend's median: ratio = 15 s/median. */
    result("article_poll_interval_vs_pidfile_median", ARTICLE_POLL_US, pmed / NS_PER_US);
    fflush(stdout);

    /* Stop tend (SIGKILL after 30 s); whatever it leaves behind is ours to kill. */
    if (g.tend_pid > 0) {
        int status;
        signal(SIGALRM, on_alarm);
        alarm(30);
        (void)kill(g.tend_pid, SIGTERM);
        while (waitpid(g.tend_pid, &status, 0) == -1 && errno == EINTR)
            ;
        alarm(0);
        g.tend_pid = 0;
    }
    kill_children();
    remove_dir();
    free(fg);
    free(pf);
    free(fg_run);
    free(pf_run);
    free(g.progs);
    return 0;
}
