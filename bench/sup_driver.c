/* sup_driver: measures supervisors against the physical floor measured in the same run:
 * tend alone (bench/supervisor.sh), or tend beside supervisord, runit, s6 and daemontools
 * (bench/compare.sh), every one of them driven by the same scenario code.
 *
 *     sup_driver SCENARIO[,SCENARIO...] TEND BEACON
 *
 * SCENARIO: latency | rss | start | idle | status | killall | logs | all
 *           plan: print how the BENCH_N phase would run (mode, process and fd budget), exit
 *
 * Every supervised program is sup_beacon: first thing in main it sends its CLOCK_MONOTONIC
 * time, pid and id to our unix datagram socket, then pauses. So "the program runs again" is a
 * timestamp taken inside the new process, and t1 - t0 spans the kill, the supervisor's
 * reaction, fork, exec and the dynamic loader: the same span for every system and the floor.
 *
 * A "system" is one supervisor in one configuration (struct sys): it knows how to write its
 * configuration for n beacons, start its top process by hand as our child, name the
 * processes that are the supervisor (for runit, s6 and daemontools the scanner plus one
 * supervise process per service: all of them are counted), ask for the status of every
 * program, and stop. The scenarios only use those operations. The floor is this program doing
 * the supervisor's job itself (fork + execve, kill, waitpid) with nothing in the way.
 *
 * Output: a human line per figure, then one line per figure and system for programs:
 *   RESULT name=N system=S config=fast|default value=V unit=U n=SAMPLES baseline=FLOOR
 *          ratio=V/FLOOR vs_tend=V/TEND [target=DESIGN]
 * (ratios are nan when the divisor is 0 or unknown). Benchmarks are not tests: nothing here
 * passes or fails on a figure. The exit status is non-zero only when the benchmark itself
 * breaks (a supervisor did not start, a beacon never came back, a timeout).
 *
 * Knobs (environment), with their defaults:
 *   BENCH_SYSTEMS="tend"           any of: tend supervisord runit s6 daemontools
 *   BENCH_CONFIGS="fast"           configurations for latency and rss-100: fast, default
 *   BENCH_KILLS=200                latency samples per system (and floor)
 *   BENCH_LATENCY_SECS=30          ... or fewer, once a system has been sampled this long
 *   BENCH_MIN_UP_MS=2500           a program is killed only once it has been up this long
 *   BENCH_N=1000                   programs in start, rss (second count), idle, status, killall
 *   BENCH_ROUNDS=3                 rounds of start and killall at most (median reported)
 *   BENCH_START_ROUNDS             rounds of start only (default: BENCH_ROUNDS)
 *   BENCH_BUDGET_SECS=30           no further start/killall round of a system after this
 *   BENCH_IDLE_SECS=30             the idle window
 *   BENCH_STATUS_RUNS=20           status queries per system, BENCH_STATUS_SECS=15 at most
 *   BENCH_LOG_MB=1024              MiB of lines the log writer writes
 *   BENCH_TEND_LOGCAP=0            1: tend's stdout_logfile= goes through its log capture
 *   BENCH_TEND_CGROUPS=1           0: tend runs with [tend] cgroups=false (process groups)
 *   BENCH_SEQUENTIAL               1: the BENCH_N phase brings each system up, measures it and
 *                                  brings it down before the next (floors first, alone);
 *                                  0: all kept up at once; unset: sequential only when all
 *                                  at once would not fit in pid_max / a pids cgroup
 *   BENCH_TMP                      where the scratch directories go (default /tmp)
 *   BENCH_KEEP=0                   1: keep the scratch directory */
#include <dirent.h>
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Only for tend's crash-loop policy constants, so that the benchmark follows the policy. */
#include "proc.h"

/* A program that dies within CRASH_RUN_S of its start counts as a crash; from the
 * CRASH_LOOP_AFTER-th in a row on, tend delays its restart (proc.h). The benchmarks stay out
 * of that on purpose: they measure the immediate restart, not the back-off. */
#ifdef PROC_CRASH_RUN_S
#define CRASH_RUN_S PROC_CRASH_RUN_S
#else
#define CRASH_RUN_S 0
#endif
#ifdef PROC_CRASH_LOOP_AFTER
#define CRASH_LOOP_AFTER PROC_CRASH_LOOP_AFTER
#else
#define CRASH_LOOP_AFTER 1000000
#endif

/* Copied from sup_beacon.c: keep in step. */
#define BEACON_MAGIC 0x7e4dbeacU

struct beacon_msg {
    uint32_t magic;
    int32_t pid;
    int32_t id;
    int32_t kind; /* 0: started; 1: log writer done */
    uint64_t t_ns;
};

#define NS_PER_MS 1000000ULL
#define NS_PER_SEC 1000000000ULL
#define ID_STRIDE 100000 /* beacon ids: slot * ID_STRIDE + program index */
#define FLOOR_SLOT 99
#define MAX_SYS 10
#define MAX_ROUNDS 50
#define MAX_PIDS 16384 /* up to 10,000 programs (make bench's largest size) */
#define PATHLEN 256 /* our scratch paths: /tmp/tend-bench.XXXXXX/N-NAME/... */

enum kind { K_TEND, K_SUPERVISORD, K_RUNIT, K_S6, K_DAEMONTOOLS, K_COUNT };

static const struct kind_info {
    const char *name;
    bool per_service; /* one supervise process per service besides the scanner */
} kinds[K_COUNT] = {
    [K_TEND] = {"tend", false},
    [K_SUPERVISORD] = {"supervisord", false},
    [K_RUNIT] = {"runit", true},
    [K_S6] = {"s6", true},
    [K_DAEMONTOOLS] = {"daemontools", true},
};

/* A set of beacons: one system's programs or the floor's own children. */
struct fleet {
    const char *what;
    int id_base;
    size_t n;
    pid_t *pid;       /* latest pid reported for each id, 0 if none yet */
    uint64_t *t_ns;   /* its start time; 0: no beacon yet */
    uint8_t *crashes; /* kills in a row, each within CRASH_RUN_S of the start (tend's rule) */
    uint64_t since_ns; /* a beacon counts as fresh when it started at or after this */
    size_t fresh;     /* ids with a beacon since since_ns */
    uint64_t last_ns; /* latest start time among the fresh */
    uint64_t done_ns; /* a log writer's "done" time; 0: not yet */
};

struct sys {
    enum kind kind;
    bool fast;
    int slot;
    char label[48];
    char dir[PATHLEN];  /* its scratch directory */
    char svc[PATHLEN];  /* runit/s6/daemontools: the scan directory */
    char conf[PATHLEN], log[PATHLEN], out[PATHLEN], ctl[PATHLEN];
    char logdir[PATHLEN]; /* logs scenario: where the writer's lines end up */
    pid_t pid;           /* the top process, our child; 0 when down */
    int n;
    long long writer_bytes; /* > 0: a single log writer instead of n beacons */
    struct fleet f;
    /* tend's log, read as it grows */
    int log_fd, watch;
    char partial[4096];
    size_t partial_len;
    unsigned long running, backoff, fatal, problems;
    pid_t *running_pid; /* per program index: the last pid tend logged as RUNNING */
    char first_problem[3][512];
    ssize_t seen_len; /* how much of its own log report_anomalies has shown */
};

static struct {
    const char *tend, *beacon;
    char dir[128];
    char sock_path[108];
    int sock_fd, ino_fd;
    struct sys sys[MAX_SYS];
    size_t nsys;
    struct sys *by_slot[FLOOR_SLOT];
    struct fleet of; /* the floor's own beacons */
    bool want_fast, want_default;
    bool cur_fast; /* the configuration of the floor's figures being reported */
    bool tend_logcap;
    /* tend's value of each figure in this run, for vs_tend */
    struct {
        char name[48];
        bool fast;
        double value;
    } tendval[64];
    size_t ntendval;
} g = {.sock_fd = -1, .ino_fd = -1};

/* ---- small helpers ---- */

static uint64_t now_ns(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC)};

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
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
        fprintf(stderr, "sup_driver: %s=%s: want an integer in %ld..%ld; using %ld\n", name, s,
                min, max, dflt);
        return dflt;
    }
    return v;
}

static bool word_in(const char *list, const char *word)
{
    size_t len = strlen(word);

    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t wl = strcspn(p, " ,\t");
        if (wl == len && strncmp(p, word, len) == 0)
            return true;
        p += wl;
    }
    return false;
}

static void write_file(const char *path, const char *text, mode_t mode);

/* ---- processes ---- */

static bool is_own(pid_t pid)
{
    for (size_t i = 0; g.of.pid != NULL && i < g.of.n; i++) {
        if (g.of.pid[i] == pid)
            return true;
    }
    return false;
}

static bool is_top(pid_t pid)
{
    for (size_t i = 0; i < g.nsys; i++) {
        if (g.sys[i].pid == pid && pid > 0)
            return true;
    }
    return false;
}

static void kill_fleet(struct fleet *f)
{
    for (size_t i = 0; f->pid != NULL && i < f->n; i++) {
        if (f->pid[i] > 0)
            (void)kill(f->pid[i], SIGKILL); /* ESRCH: already gone, which is the goal */
    }
}

static void own_stop_all(void)
{
    kill_fleet(&g.of);
    for (size_t i = 0; g.of.pid != NULL && i < g.of.n; i++) {
        if (g.of.pid[i] > 0)
            (void)waitpid(g.of.pid[i], NULL, 0); /* SIGKILLed (or reaped already): prompt */
        g.of.pid[i] = 0;
        g.of.t_ns[i] = 0;
    }
}

/* Our direct children, read from /proc (we are a subreaper: whatever a stopped supervisor
 * left behind is among them). Returns how many, at most max. */
static size_t our_children(pid_t *out, size_t max)
{
    char path[64], buf[65536];
    size_t count = 0, got = 0;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return 0;
    while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    (void)close(fd); /* read-only: nothing to lose */
    buf[got] = '\0';
    for (char *p = buf, *end; *p != '\0' && count < max; p = end) {
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        out[count++] = (pid_t)pid;
    }
    return count;
}

/* Kills and reaps every child of ours that is neither a running system's top process nor a
 * floor beacon: what stopped supervisors left behind. Loops, since killing a left-behind
 * supervise process hands us its program. Returns how many it killed. */
static int reap_strays(void)
{
    static pid_t kids[65536];
    int count = 0;

    for (int pass = 0; pass < 200; pass++) {
        size_t n = our_children(kids, sizeof(kids) / sizeof(kids[0])), hit = 0;
        for (size_t i = 0; i < n; i++) {
            if (is_top(kids[i]) || is_own(kids[i]))
                continue;
            /* Our unreaped child: the number cannot have been reused. */
            (void)kill(kids[i], SIGKILL);
            (void)waitpid(kids[i], NULL, 0); /* SIGKILLed: returns promptly */
            hit++;
        }
        count += (int)hit;
        if (hit == 0)
            break;
        sleep_ns(2 * NS_PER_MS); /* let orphans of what we killed reach us */
    }
    for (;;) { /* zombies that were already dead when we looked */
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid <= 0)
            break;
        for (size_t i = 0; i < g.nsys; i++) {
            if (g.sys[i].pid == pid)
                g.sys[i].pid = 0;
        }
    }
    return count;
}

static int rm_rf(const char *path)
{
    char cmd[PATH_MAX + 32];

    if (strncmp(path, "/tmp/", 5) != 0 && getenv("BENCH_TMP") == NULL)
        return -1; /* only ever our own scratch directories */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    return system(cmd);
}

static void cleanup_files(void)
{
    if (g.dir[0] == '\0' || env_long("BENCH_KEEP", 0, 0, 1) == 1)
        return;
    (void)rm_rf(g.dir);
}

static void print_problems(const struct sys *s)
{
    for (size_t i = 0; i < 3 && s->first_problem[i][0] != '\0'; i++)
        fprintf(stderr, "sup_driver:   %s log: %s\n", s->label, s->first_problem[i]);
}

/* The benchmark broke: say why, kill everything we started, keep the files to look at. */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "sup_driver: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    for (size_t i = 0; i < g.nsys; i++) {
        print_problems(&g.sys[i]);
        if (g.sys[i].pid > 0) {
            (void)kill(g.sys[i].pid, SIGKILL);
            (void)waitpid(g.sys[i].pid, NULL, 0);
            g.sys[i].pid = 0;
        }
    }
    own_stop_all();
    (void)reap_strays();
    if (g.dir[0] != '\0')
        fprintf(stderr, "sup_driver: kept %s (configs, logs, outputs) for inspection\n", g.dir);
    exit(1);
}

/* Async-signal-safe: SIGKILLs and reaps our direct children (what a killed supervisor left
 * behind is among them: we are a subreaper), a few passes deep. */
static void sweep_children_async(void)
{
    char path[64] = "/proc/", buf[16384];
    int len = 6;
    pid_t self = getpid(), digits[12];
    int nd = 0;

    for (pid_t v = self; v > 0 && nd < 12; v /= 10)
        digits[nd++] = v % 10;
    for (int k = 0; k < 2; k++) { /* /proc/SELF/task/SELF/children */
        for (int i = nd - 1; i >= 0; i--)
            path[len++] = (char)('0' + digits[i]);
        memcpy(path + len, k == 0 ? "/task/" : "/children", k == 0 ? 6 : 10);
        len += k == 0 ? 6 : 9;
    }
    for (int pass = 0; pass < 20; pass++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC), hit = 0;
        ssize_t n = fd == -1 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (fd != -1)
            (void)close(fd);
        if (n <= 0)
            return;
        buf[n] = '\0';
        for (char *p = buf; *p != '\0';) {
            pid_t pid = 0;
            while (*p == ' ' || *p == '\n')
                p++;
            while (*p >= '0' && *p <= '9')
                pid = pid * 10 + (*p++ - '0');
            if (pid > 0) {
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                hit++;
            } else if (*p != '\0') {
                p++;
            }
        }
        if (hit == 0)
            return;
    }
}

static void on_fatal_signal(int sig)
{
    /* Only async-signal-safe calls: kill what we started, then what it left behind. */
    for (size_t i = 0; i < g.nsys; i++) {
        if (g.sys[i].pid > 0)
            (void)kill(g.sys[i].pid, SIGKILL);
        for (size_t j = 0; g.sys[i].f.pid != NULL && j < g.sys[i].f.n; j++) {
            if (g.sys[i].f.pid[j] > 0)
                (void)kill(g.sys[i].f.pid[j], SIGKILL);
        }
    }
    for (size_t i = 0; g.of.pid != NULL && i < g.of.n; i++) {
        if (g.of.pid[i] > 0)
            (void)kill(g.of.pid[i], SIGKILL);
    }
    sweep_children_async();
    _exit(128 + sig);
}

/* ---- /proc ---- */

static ssize_t read_small_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    ssize_t n;

    if (fd == -1)
        return -1;
    while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t)n;
    (void)close(fd); /* read-only */
    buf[got] = '\0';
    return (ssize_t)got;
}

/* The number after "KEY:" at the start of a line of /proc/PID/FILE, or -1. */
static long long proc_field(pid_t pid, const char *file, const char *key)
{
    char path[64], buf[16384];
    size_t klen = strlen(key);

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    if (read_small_file(path, buf, sizeof(buf)) == -1)
        return -1;
    for (char *line = buf; line != NULL && *line != '\0';) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':')
            return strtoll(line + klen + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    return -1;
}

/* State letter of /proc/PID/stat, or 0 when the process is gone. */
static char proc_state(pid_t pid)
{
    char path[64], buf[1024];
    const char *rp;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small_file(path, buf, sizeof(buf)) <= 0)
        return 0;
    rp = strrchr(buf, ')');
    return rp != NULL && rp[1] == ' ' ? rp[2] : 0;
}

/* utime + stime in ns, from /proc/PID/stat fields 14 and 15. */
static long long proc_cpu_ns(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long ut = 0, st = 0;
    const char *rp;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (read_small_file(path, buf, sizeof(buf)) <= 0 || (rp = strrchr(buf, ')')) == NULL)
        return -1;
    /* After ") " come field 3 (state) ... field 15 (stime). */
    if (sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)((ut + st) * (NS_PER_SEC / (unsigned long long)sysconf(_SC_CLK_TCK)));
}

/* Time on a CPU in ns from /proc/PID/schedstat (finer than stat's clock ticks), or -1. */
static long long proc_sched_ns(pid_t pid)
{
    char path[64], buf[256];

    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    if (read_small_file(path, buf, sizeof(buf)) <= 0)
        return -1;
    return strtoll(buf, NULL, 10);
}

static long long proc_ctxt(pid_t pid)
{
    long long v = proc_field(pid, "status", "voluntary_ctxt_switches");
    long long nv = proc_field(pid, "status", "nonvoluntary_ctxt_switches");

    return v < 0 || nv < 0 ? -1 : v + nv;
}

static int proc_count_fds(pid_t pid)
{
    char path[64];
    struct dirent *d;
    DIR *dir;
    int n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    dir = opendir(path);
    if (dir == NULL)
        return -1;
    while ((d = readdir(dir)) != NULL)
        n += d->d_name[0] != '.';
    (void)closedir(dir); /* read-only */
    return n;
}

/* The children of pid (from /proc/PID/task/PID/children): at most max. */
static size_t proc_children(pid_t pid, pid_t *out, size_t max)
{
    char path[64];
    static char buf[65536];
    size_t count = 0;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    if (read_small_file(path, buf, sizeof(buf)) <= 0)
        return 0;
    for (char *p = buf, *end; *p != '\0' && count < max; p = end) {
        long c = strtol(p, &end, 10);
        if (end == p)
            break;
        out[count++] = (pid_t)c;
    }
    return count;
}

static void wait_sleeping(pid_t pid)
{
    uint64_t deadline = now_ns() + 5 * NS_PER_SEC;

    for (;;) {
        char s = proc_state(pid);
        if (s == 'S')
            return;
        if (s == 0 || s == 'Z')
            fail("beacon pid %d died before it paused", (int)pid);
        if (now_ns() > deadline)
            fail("beacon pid %d did not pause within 5 s (state %c)", (int)pid, s);
        sleep_ns(50000);
    }
}

/* ---- beacons ---- */

static void fleet_init(struct fleet *f, const char *what, int id_base, size_t n)
{
    free(f->pid);
    free(f->t_ns);
    free(f->crashes);
    memset(f, 0, sizeof(*f));
    f->what = what;
    f->id_base = id_base;
    f->n = n;
    f->pid = calloc(n, sizeof(*f->pid));
    f->t_ns = calloc(n, sizeof(*f->t_ns));
    f->crashes = calloc(n, sizeof(*f->crashes));
    if (f->pid == NULL || f->t_ns == NULL || f->crashes == NULL)
        fail("out of memory");
}

/* From now on, count the beacons that started at or after since_ns. */
static void fleet_arm(struct fleet *f, uint64_t since_ns)
{
    f->since_ns = since_ns;
    f->fresh = 0;
    f->last_ns = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (f->t_ns[i] != 0 && f->t_ns[i] >= since_ns) {
            f->fresh++;
            if (f->t_ns[i] > f->last_ns)
                f->last_ns = f->t_ns[i];
        }
    }
}

static void fleet_note(struct fleet *f, const struct beacon_msg *m)
{
    size_t i = (size_t)(m->id - f->id_base);
    bool was_fresh = f->t_ns[i] != 0 && f->t_ns[i] >= f->since_ns;

    if (m->kind == 1) {
        f->done_ns = m->t_ns;
        return;
    }
    if (m->t_ns < f->t_ns[i])
        return; /* an older instance's message, overtaken */
    f->pid[i] = m->pid;
    f->t_ns[i] = m->t_ns;
    if (m->t_ns >= f->since_ns) {
        if (!was_fresh)
            f->fresh++;
        if (m->t_ns > f->last_ns)
            f->last_ns = m->t_ns;
    }
}

static struct fleet *fleet_of_id(int32_t id)
{
    int slot = id / ID_STRIDE;
    struct fleet *f = NULL;

    if (id < 0)
        return NULL;
    if (slot == FLOOR_SLOT)
        f = &g.of;
    else if (slot < FLOOR_SLOT && g.by_slot[slot] != NULL)
        f = &g.by_slot[slot]->f;
    if (f == NULL || f->pid == NULL || (size_t)(id - f->id_base) >= f->n)
        return NULL;
    return f;
}

static void open_socket(void)
{
    struct sockaddr_un sa;
    int size = 8 << 20;

    g.sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (g.sock_fd == -1)
        fail("cannot create a socket: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g.sock_path);
    if (bind(g.sock_fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
        fail("cannot bind %s: %s", g.sock_path, strerror(errno));
    /* A bigger buffer only helps; the queue length limit makes senders wait, not fail. */
    (void)setsockopt(g.sock_fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

static void check_alive_all(void);

static void drain_socket(void)
{
    struct beacon_msg m;
    ssize_t n;

    while ((n = recv(g.sock_fd, &m, sizeof(m), MSG_DONTWAIT)) == (ssize_t)sizeof(m)) {
        struct fleet *f;
        if (m.magic == BEACON_MAGIC && (f = fleet_of_id(m.id)) != NULL)
            fleet_note(f, &m);
    }
    if (n == -1 && errno != EAGAIN && errno != EINTR)
        fail("cannot receive beacons: %s", strerror(errno));
}

/* Receives beacons for up to timeout_ns, stopping as soon as `done` holds. */
static bool recv_until(bool (*done)(void *), void *arg, uint64_t timeout_ns)
{
    uint64_t deadline = now_ns() + timeout_ns;

    for (;;) {
        drain_socket();
        if (done(arg))
            return true;
        check_alive_all(); /* a dead supervisor is a broken benchmark, not a long wait */
        uint64_t now = now_ns();
        if (now >= deadline)
            return false;
        struct pollfd p = {.fd = g.sock_fd, .events = POLLIN};
        uint64_t left_ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
        (void)poll(&p, 1, left_ms < 1000 ? (int)left_ms : 1000);
    }
}

struct want {
    struct fleet *f;
    size_t count;
    size_t idx;
    uint64_t since;
};

static bool fleet_done(void *arg)
{
    const struct want *w = arg;

    return w->f->fresh >= w->count;
}

static bool one_done(void *arg)
{
    const struct want *w = arg;

    return w->f->t_ns[w->idx] >= w->since;
}

static bool writer_done(void *arg)
{
    const struct want *w = arg;

    return w->f->done_ns != 0;
}

static void wait_fresh(struct fleet *f, size_t count, uint64_t timeout_ns)
{
    struct want w = {.f = f, .count = count};

    if (!recv_until(fleet_done, &w, timeout_ns))
        fail("only %zu of %zu %s beacons came back within %.0f s", f->fresh, count, f->what,
             (double)timeout_ns / 1e9);
}

static void wait_one(struct fleet *f, size_t idx, uint64_t since, uint64_t timeout_ns)
{
    struct want w = {.f = f, .idx = idx, .since = since};

    if (!recv_until(one_done, &w, timeout_ns))
        fail("%s program %zu did not come back within %.0f s", f->what, idx,
             (double)timeout_ns / 1e9);
}

/* Floor: start own beacon i the plainest way there is. */
static pid_t own_spawn(size_t i)
{
    char sock[sizeof(g.sock_path)], id[16];
    char *argv[] = {(char *)g.beacon, sock, id, NULL};
    pid_t pid;

    snprintf(sock, sizeof(sock), "%s", g.sock_path);
    snprintf(id, sizeof(id), "%d", g.of.id_base + (int)i);
    pid = fork();
    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        execv(g.beacon, argv);
        _exit(127);
    }
    g.of.pid[i] = pid; /* so that cleanup finds it even before its beacon arrives */
    return pid;
}

static void own_fleet(size_t n)
{
    own_stop_all();
    fleet_init(&g.of, "floor", FLOOR_SLOT * ID_STRIDE, n);
}

/* ---- tend's log ---- */

static void log_line(struct sys *s, const char *line)
{
    if (strstr(line, " -> RUNNING") != NULL) {
        /* "... INFO b:b_100012 (pid 345): STARTING -> RUNNING: ..." */
        const char *p = strstr(line, " (pid "), *q = p;
        s->running++;
        while (q != NULL && q > line && q[-1] >= '0' && q[-1] <= '9')
            q--;
        if (p != NULL && q < p && q[-1] == '_') {
            long idx = strtol(q, NULL, 10) - s->f.id_base;
            if (idx >= 0 && idx < s->n && s->running_pid != NULL)
                s->running_pid[idx] = (pid_t)strtol(p + 6, NULL, 10);
        }
    }
    if (strstr(line, " -> BACKOFF") != NULL)
        s->backoff++;
    if (strstr(line, " -> FATAL") != NULL)
        s->fatal++;
    if (strstr(line, " WARN ") != NULL || strstr(line, " ERROR ") != NULL ||
        strstr(line, " -> BACKOFF") != NULL || strstr(line, " -> FATAL") != NULL) {
        if (s->problems < 3)
            snprintf(s->first_problem[s->problems], sizeof(s->first_problem[0]), "%.500s", line);
        s->problems++;
    }
}

static void log_poll(struct sys *s)
{
    char buf[65536];
    ssize_t n;

    if (s->kind != K_TEND)
        return;
    if (s->log_fd == -1) {
        s->log_fd = open(s->log, O_RDONLY | O_CLOEXEC);
        if (s->log_fd == -1)
            return; /* tend has not created it yet */
    }
    while ((n = read(s->log_fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                s->partial[s->partial_len] = '\0';
                log_line(s, s->partial);
                s->partial_len = 0;
            } else if (s->partial_len < sizeof(s->partial) - 1) {
                s->partial[s->partial_len++] = buf[i];
            }
        }
    }
}

static void log_reset(struct sys *s)
{
    if (s->log_fd != -1)
        (void)close(s->log_fd); /* read-only */
    s->log_fd = -1;
    s->partial_len = 0;
    s->running = s->backoff = s->fatal = s->problems = 0;
    memset(s->first_problem, 0, sizeof(s->first_problem));
}

/* Reads tend's log as it grows until `done` holds; false after timeout_ns. */
static bool log_wait(struct sys *s, bool (*done)(struct sys *, void *), void *arg,
                     uint64_t timeout_ns)
{
    uint64_t deadline = now_ns() + timeout_ns;
    char ibuf[8192];

    for (;;) {
        log_poll(s);
        if (done(s, arg))
            return true;
        check_alive_all();
        uint64_t now = now_ns();
        if (now >= deadline)
            return false;
        /* inotify wakes us on every write; the 20 ms cap only bounds a missed event. */
        struct pollfd p = {.fd = g.ino_fd, .events = POLLIN};
        uint64_t left_ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
        (void)poll(&p, g.ino_fd == -1 ? 0 : 1, left_ms < 20 ? (int)left_ms : 20);
        while (g.ino_fd != -1 && read(g.ino_fd, ibuf, sizeof(ibuf)) > 0)
            ;
    }
}

static bool running_at_least(struct sys *s, void *arg)
{
    return s->running >= *(const unsigned long *)arg;
}

/* Whether tend logged program idx RUNNING with the pid its beacon reported. */
static bool idx_running(struct sys *s, void *arg)
{
    size_t idx = *(const size_t *)arg;

    return s->running_pid[idx] == s->f.pid[idx];
}

static void wait_running(struct sys *s, unsigned long count, uint64_t timeout_ns)
{
    if (s->kind == K_TEND && !log_wait(s, running_at_least, &count, timeout_ns))
        fail("tend logged %lu of %lu RUNNING transitions within %.0f s", s->running, count,
             (double)timeout_ns / 1e9);
}

/* ---- systems: configuration ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);

    if (fd == -1 || write(fd, text, len) != (ssize_t)len || close(fd) != 0)
        fail("cannot write %s: %s", path, strerror(errno));
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0755) == -1 && errno != EEXIST)
        fail("cannot create %s: %s", path, strerror(errno));
}

/* The settings each system runs with, printed with the results (keep in step with the
 * writers below and with bench/README.md). */
static const char *settings(const struct sys *s)
{
    switch (s->kind) {
    case K_TEND:
        return s->fast ? "command=BEACON (exec'd directly), startsecs=0, autorestart=true, "
                         "stdout/stderr_logfile=NONE"
                       : "command=BEACON only (startsecs=1, autorestart=unexpected, "
                         "logfiles AUTO)";
    case K_SUPERVISORD:
        return s->fast ? "command=BEACON, startsecs=0, autorestart=true, stdout/stderr_logfile="
                         "NONE, minfds=1024 (default; the inherited fd limit is higher), "
                         "loglevel=info (default)"
                       : "command=BEACON only (startsecs=1, autorestart=unexpected, logfiles "
                         "AUTO in childlogdir, minfds=1024)";
    case K_RUNIT:
        return s->fast ? "runsvdir DIR; run = symlink to BEACON (no shell), no finish, no log"
                       : "runsvdir DIR; run = '#!/bin/sh' + 'exec BEACON SOCK ID', no finish";
    case K_S6:
        return s->fast ? "s6-svscan -c 4096 DIR; run = symlink to BEACON (no shell), no finish"
                       : "s6-svscan DIR (-c 4096 only above its default 500); run = "
                         "'#!/bin/sh' + 'exec BEACON SOCK ID'";
    case K_DAEMONTOOLS:
        return s->fast ? "svscan DIR; run = symlink to BEACON (no shell)"
                       : "svscan DIR; run = '#!/bin/sh' + 'exec BEACON SOCK ID'";
    case K_COUNT:
        break;
    }
    return "";
}

static const char *log_settings(const struct sys *s)
{
    switch (s->kind) {
    case K_TEND:
        return "stdout_logfile=FILE, stdout_logfile_maxbytes=0";
    case K_SUPERVISORD:
        return "stdout_logfile=FILE, stdout_logfile_maxbytes=0";
    case K_RUNIT:
        return "log/run: svlogd -b 65536 DIR, config s0 (no rotation)";
    case K_S6:
        return "log/run: s6-log n20 s268435455 DIR (256 MiB files)";
    case K_DAEMONTOOLS:
        return "log/run: multilog s16777215 n100 DIR (16 MiB files, its maximum)";
    case K_COUNT:
        break;
    }
    return "";
}

/* tend's minfds for n programs: room for every program's descriptors (at most 2 each) and
 * tend's own, but never above the hard RLIMIT_NOFILE the peers get too: tend could only
 * raise it as root with CAP_SYS_RESOURCE (else it warns), and a limit the others do not
 * have is not equal footing. 10,000 programs ask for 20,256; the hard limit here is 20,000,
 * and tend's fast configuration needs about one per program (fdbudget.h). */
static long tend_minfds(int n)
{
    struct rlimit rl;
    long want = 2L * n + 256;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
        (rlim_t)want > rl.rlim_max)
        want = (long)rl.rlim_max;
    return want;
}

static void write_tend_conf(struct sys *s)
{
    char buf[8192];
    int n = s->writer_bytes > 0 ? 1 : s->n;
    const char *prog = s->writer_bytes > 0 ? "w" : "b";

    snprintf(buf, sizeof(buf),
             "; written by bench/sup_driver.c (%s)\n"
             "[tend]\n"
             "logfile = %s\n"
             "socket = %s\n"
             "minfds = %ld\n"
             "cgroups = %s\n"
             "\n"
             "[program:%s]\n"
             "command = %s %s %%(process_num)d\n"
             "numprocs = %d\n"
             "numprocs_start = %d\n"
             "process_name = %%(program_name)s_%%(process_num)d\n",
             s->label, s->log, s->ctl, tend_minfds(n),
             env_long("BENCH_TEND_CGROUPS", 1, 0, 1) == 1 ? "true" : "false", prog, g.beacon,
             g.sock_path, n, s->f.id_base);
    if (s->fast && s->writer_bytes == 0)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
                 "startsecs = 0\nautorestart = true\nstdout_logfile = NONE\n"
                 "stderr_logfile = NONE\n");
    if (s->writer_bytes > 0)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
                 "startsecs = 0\nautorestart = true\nstdout_logfile = %s/w.log\n"
                 "stdout_logfile_maxbytes = 0\nstderr_logfile = NONE\n"
                 "environment = SUP_BEACON_WRITE=\"%lld\"\n",
                 s->logdir, s->writer_bytes);
    write_file(s->conf, buf, 0644);
}

static void write_supervisord_conf(struct sys *s)
{
    char buf[8192];
    int n = s->writer_bytes > 0 ? 1 : s->n;
    const char *prog = s->writer_bytes > 0 ? "w" : "b";

    snprintf(buf, sizeof(buf),
             "; written by bench/sup_driver.c (%s)\n"
             "[supervisord]\n"
             "logfile = %s\n"
             "pidfile = %s/supervisord.pid\n"
             "childlogdir = %s\n"
             "user = root\n"
             "\n"
             "[unix_http_server]\n"
             "file = %s\n"
             "\n"
             "[rpcinterface:supervisor]\n"
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
             "\n"
             "[supervisorctl]\n"
             "serverurl = unix://%s\n"
             "\n"
             "[program:%s]\n"
             "command = %s %s %%(process_num)d\n"
             "numprocs = %d\n"
             "numprocs_start = %d\n"
             "process_name = %%(program_name)s_%%(process_num)d\n",
             s->label, s->log, s->dir, s->dir, s->ctl, s->ctl, prog, g.beacon, g.sock_path, n,
             s->f.id_base);
    if (s->fast && s->writer_bytes == 0)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
                 "startsecs = 0\nautorestart = true\nstdout_logfile = NONE\n"
                 "stderr_logfile = NONE\n");
    if (s->writer_bytes > 0)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
                 "startsecs = 0\nautorestart = true\nstdout_logfile = %s/w.log\n"
                 "stdout_logfile_maxbytes = 0\nstderr_logfile = NONE\n"
                 "environment = SUP_BEACON_WRITE=\"%lld\"\n",
                 s->logdir, s->writer_bytes);
    write_file(s->conf, buf, 0644);
}

/* runsvdir watches at most 1,000 services (MAXSERVICES in runit's runsvdir.c). Past that,
 * runit is laid out the way its users do it: a runsvdir over runsvdirs, DIR/sub_K running
 * `runsvdir DIR.sub/K`, each over 1,000 of the programs. */
#define RUNSVDIR_MAX 1000

static bool runit_nested(const struct sys *s)
{
    return s->kind == K_RUNIT && s->writer_bytes == 0 && s->n > RUNSVDIR_MAX;
}

/* The service directory of the program at index i. */
static void service_dir(const struct sys *s, int i, char *out, size_t len)
{
    int id = s->f.id_base + i;

    if (runit_nested(s))
        snprintf(out, len, "%s.sub/%d/b_%d", s->svc, i / RUNSVDIR_MAX, id);
    else
        snprintf(out, len, "%s/%s_%d", s->svc, s->writer_bytes > 0 ? "w" : "b", id);
}

/* Sets a directory's times 2 s in the past. */
static void backdate(const char *path)
{
    struct timespec ts[2];

    (void)clock_gettime(CLOCK_REALTIME, &ts[0]); /* cannot fail for CLOCK_REALTIME */
    ts[0].tv_sec -= 2;
    ts[1] = ts[0];
    if (utimensat(AT_FDCWD, path, ts, 0) == -1)
        fail("cannot set the times of %s: %s", path, strerror(errno));
}

/* runit, s6, daemontools: one service directory per program, DIR/b_ID, whose run is the
 * beacon itself (fast: a symlink; it finds its id in the directory's name and the socket in
 * the environment) or the usual shell script that execs it (default). */
static void write_service_dirs(struct sys *s)
{
    char path[PATHLEN + 64], text[PATH_MAX + 512];
    int n = s->writer_bytes > 0 ? 1 : s->n;

    make_dir(s->svc);
    if (runit_nested(s)) {
        snprintf(path, sizeof(path), "%s.sub", s->svc);
        make_dir(path);
        for (int k = 0; k * RUNSVDIR_MAX < n; k++) {
            snprintf(path, sizeof(path), "%s.sub/%d", s->svc, k);
            make_dir(path);
            snprintf(path, sizeof(path), "%s/sub_%d", s->svc, k);
            make_dir(path);
            snprintf(path + strlen(path), sizeof(path) - strlen(path), "/run");
            snprintf(text, sizeof(text), "#!/bin/sh\nexec runsvdir %s.sub/%d\n", s->svc, k);
            write_file(path, text, 0755);
        }
    }
    for (int i = 0; i < n; i++) {
        int id = s->f.id_base + i;
        service_dir(s, i, path, sizeof(path));
        make_dir(path);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/run");
        if (s->fast || s->writer_bytes > 0) {
            if (symlink(g.beacon, path) == -1 && errno != EEXIST)
                fail("cannot create %s: %s", path, strerror(errno));
        } else {
            snprintf(text, sizeof(text), "#!/bin/sh\nexec %s %s %d\n", g.beacon, g.sock_path,
                     id);
            write_file(path, text, 0755);
        }
    }
    if (s->kind == K_RUNIT) {
        /* runsvdir (2.1.2) scans a directory whose mtime is this very second only after a
         * sleep(1), since it could not see a later change within that second: a second
         * added to runit's start (each nested runsvdir too) by the driver having just
         * written the directory. Nothing changes in it after this, so date it 2 s back. */
        backdate(s->svc);
        for (int k = 0; runit_nested(s) && k * RUNSVDIR_MAX < n; k++) {
            snprintf(path, sizeof(path), "%s.sub/%d", s->svc, k);
            backdate(path);
        }
    }
    if (s->writer_bytes > 0) {
        snprintf(path, sizeof(path), "%s/w_%d/log", s->svc, s->f.id_base);
        make_dir(path);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/run");
        switch (s->kind) {
        case K_RUNIT:
            snprintf(text, sizeof(text), "#!/bin/sh\nexec svlogd -b 65536 %s\n", s->logdir);
            break;
        case K_S6:
            snprintf(text, sizeof(text), "#!/bin/sh\nexec s6-log n20 s268435455 %s\n",
                     s->logdir);
            break;
        default:
            snprintf(text, sizeof(text), "#!/bin/sh\nexec multilog s16777215 n100 %s\n",
                     s->logdir);
            break;
        }
        write_file(path, text, 0755);
        if (s->kind == K_RUNIT) {
            snprintf(path, sizeof(path), "%s/config", s->logdir);
            write_file(path, "s0\n", 0644);
        }
    }
}

static void sys_write_config(struct sys *s)
{
    char path[PATH_MAX + 64];

    if (s->kind != K_TEND && s->kind != K_SUPERVISORD) {
        /* A fresh scan directory: nothing of a previous run's supervise state. */
        snprintf(path, sizeof(path), "%s", s->svc);
        (void)rm_rf(path);
        snprintf(path, sizeof(path), "%s.sub", s->svc);
        (void)rm_rf(path);
    }
    if (s->writer_bytes > 0) {
        (void)rm_rf(s->logdir);
        make_dir(s->logdir);
    }
    switch (s->kind) {
    case K_TEND:
        write_tend_conf(s);
        break;
    case K_SUPERVISORD:
        write_supervisord_conf(s);
        break;
    default:
        write_service_dirs(s);
        break;
    }
}

/* ---- systems: running ---- */

static void sys_init(struct sys *s, enum kind k, bool fast, size_t index)
{
    char top[sizeof(g.dir)];

    memcpy(top, g.dir, sizeof(g.dir));
    memset(s, 0, sizeof(*s));
    s->kind = k;
    s->fast = fast;
    s->slot = 1 + (int)k + (fast ? 0 : 10);
    s->log_fd = -1;
    s->watch = -1;
    snprintf(s->label, sizeof(s->label), "%s%s", kinds[k].name, fast ? "" : "/default");
    snprintf(s->dir, sizeof(s->dir), "%s/%zu-%s%s", top, index, kinds[k].name,
             fast ? "" : "-default");
    make_dir(s->dir);
    memcpy(top, s->dir, sizeof(top) < sizeof(s->dir) ? sizeof(top) : sizeof(s->dir));
    top[sizeof(top) - 1] = '\0';
    snprintf(s->svc, sizeof(s->svc), "%s/service", top);
    snprintf(s->conf, sizeof(s->conf), "%s/%s.conf", top, kinds[k].name);
    snprintf(s->log, sizeof(s->log), "%s/%s.log", top, kinds[k].name);
    snprintf(s->out, sizeof(s->out), "%s/out.log", top);
    snprintf(s->ctl, sizeof(s->ctl), "%s/ctl.sock", top);
    snprintf(s->logdir, sizeof(s->logdir), "%s/logs", top);
    g.by_slot[s->slot] = s;
    if (k == K_TEND && g.ino_fd != -1)
        s->watch = inotify_add_watch(g.ino_fd, s->dir, IN_MODIFY | IN_CREATE);
}

/* Starts the system's top process by hand, as our child, in the foreground. Its
 * configuration (for runit, s6 and daemontools: n service directories) is written first;
 * returns the time read right before the fork, where start_all's clock starts for every
 * system, as it does for the floor right before its first fork. */
static uint64_t sys_launch(struct sys *s, int n)
{
    static char sockenv[160], writeenv[64], cap[16];
    char *argv[8] = {0};
    extern char **environ;
    char **envp;
    size_t ne = 0, k = 0;
    uint64_t t0;
    pid_t pid;

    s->n = n;
    log_reset(s);
    (void)unlink(s->log);
    (void)unlink(s->out);
    s->seen_len = 0;
    fleet_init(&s->f, s->label, s->slot * ID_STRIDE, s->writer_bytes > 0 ? 1 : (size_t)n);
    free(s->running_pid);
    s->running_pid = calloc(s->f.n, sizeof(*s->running_pid));
    if (s->running_pid == NULL)
        fail("out of memory");
    sys_write_config(s);

    switch (s->kind) {
    case K_TEND:
        argv[0] = (char *)g.tend, argv[1] = "daemon", argv[2] = "-n", argv[3] = "-c";
        argv[4] = s->conf;
        break;
    case K_SUPERVISORD:
        argv[0] = "supervisord", argv[1] = "-n", argv[2] = "-c", argv[3] = s->conf;
        break;
    case K_RUNIT:
        argv[0] = "runsvdir", argv[1] = s->svc;
        break;
    case K_S6:
        /* s6-svscan refuses services beyond its -c (500 by default): a capacity, not a
         * throttle, so the fast setting always raises it and the default only when needed. */
        snprintf(cap, sizeof(cap), "%d", 4096);
        argv[k++] = "s6-svscan";
        if (s->fast || n > 500)
            argv[k++] = "-c", argv[k++] = cap;
        argv[k++] = s->svc;
        break;
    case K_DAEMONTOOLS:
        argv[0] = "svscan", argv[1] = s->svc;
        break;
    case K_COUNT:
        break;
    }
    while (environ[ne] != NULL)
        ne++;
    envp = calloc(ne + 3, sizeof(*envp));
    if (envp == NULL)
        fail("out of memory");
    ne = 0;
    for (char **e = environ; *e != NULL; e++) {
        if (strncmp(*e, "SUP_BEACON_", 11) != 0)
            envp[ne++] = *e;
    }
    snprintf(sockenv, sizeof(sockenv), "SUP_BEACON_SOCK=%s", g.sock_path);
    envp[ne++] = sockenv;
    if (s->writer_bytes > 0 && s->kind != K_TEND && s->kind != K_SUPERVISORD) {
        snprintf(writeenv, sizeof(writeenv), "SUP_BEACON_WRITE=%lld", s->writer_bytes);
        envp[ne++] = writeenv;
    }
    t0 = now_ns();
    pid = fork();
    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int out = open(s->out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (out == -1 || in == -1 || dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
            dup2(out, 2) == -1)
            _exit(126);
        (void)setpgid(0, 0); /* a ^C reaches the driver, which stops everything by pid */
        if (s->kind != K_TEND && s->kind != K_SUPERVISORD && chdir(s->dir) == -1)
            _exit(126);
        execvpe(argv[0], argv, envp);
        _exit(127);
    }
    free(envp);
    s->pid = pid;
    return t0;
}

static void check_alive_all(void)
{
    int status;

    for (size_t i = 0; i < g.nsys; i++) {
        struct sys *s = &g.sys[i];
        if (s->pid > 0 && waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            fail("%s exited during the benchmark (status 0x%x); see %s", s->label,
                 (unsigned)status, s->out);
        }
    }
}

static uint64_t up_timeout(int n)
{
    return 60 * NS_PER_SEC + (uint64_t)n * 200 * NS_PER_MS;
}

/* Starts the system with n programs and waits until every beacon reported (and, for tend,
 * until its log shows every program RUNNING). Returns the start time t0: right before the
 * fork of its top process, after its configuration was written (writing 10,000 service
 * directories takes seconds here and is no part of any supervisor's start). */
static uint64_t sys_up(struct sys *s, int n)
{
    uint64_t t0 = sys_launch(s, n);

    fleet_arm(&s->f, t0);
    if (s->writer_bytes == 0) {
        wait_fresh(&s->f, s->f.n, up_timeout(n));
        wait_running(s, (unsigned long)s->f.n, up_timeout(n));
    }
    return t0;
}

/* The supervisor's own processes: the top one, plus for runit/s6/daemontools each
 * per-service supervise process (the top one's children; the programs are grandchildren),
 * and for tend the supervisor, the child of the keeper that `tend daemon` became (the
 * keeper's other children are programs a restarted supervisor took back). */
static size_t sys_pids(const struct sys *s, pid_t *out, size_t max)
{
    size_t n = 0;

    if (s->pid <= 0 || max == 0)
        return 0;
    out[n++] = s->pid;
    if (kinds[s->kind].per_service) {
        n += proc_children(s->pid, out + 1, max - 1);
        /* Nested runit: each sub_K runsv, its runsvdir, and the runsv processes under it. */
        for (size_t i = 1, end = n; runit_nested(s) && i < end && n < max; i++) {
            size_t from = n;
            n += proc_children(out[i], out + n, max - n);
            for (size_t j = from, dirs = n; j < dirs && n < max; j++)
                n += proc_children(out[j], out + n, max - n);
        }
    } else if (s->kind == K_TEND) {
        static pid_t kids[MAX_PIDS];
        size_t nk = proc_children(s->pid, kids, MAX_PIDS);
        for (size_t i = 0; i < nk && n < max; i++) {
            char path[64], comm[32];
            snprintf(path, sizeof(path), "/proc/%d/comm", (int)kids[i]);
            if (read_small_file(path, comm, sizeof(comm)) > 0 && strcmp(comm, "tend\n") == 0)
                out[n++] = kids[i];
        }
    }
    return n;
}

/* Whether the system's log shows trouble (tend: its own lines; supervisord: BACKOFF/FATAL;
 * the others: anything they printed). Prints the first lines of it. */
static void report_anomalies(struct sys *s)
{
    char buf[65536];
    ssize_t len;
    int shown = 0;

    if (s->kind == K_TEND) {
        log_poll(s);
        if (s->backoff > 0 || s->fatal > 0 || s->problems > 0) {
            printf("  WARNING: %s logged %lu BACKOFF, %lu FATAL, %lu warning/error lines\n",
                   s->label, s->backoff, s->fatal, s->problems);
            for (size_t i = 0; i < 3 && s->first_problem[i][0] != '\0'; i++)
                printf("    %s\n", s->first_problem[i]);
        }
        return;
    }
    len = read_small_file(s->kind == K_SUPERVISORD ? s->log : s->out, buf, sizeof(buf));
    if (len < s->seen_len)
        s->seen_len = 0; /* a new file */
    char *from = buf + s->seen_len;
    s->seen_len = len < 0 ? 0 : len;
    for (char *line = from; len > 0 && line != NULL && *line != '\0' && shown < 3;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        bool bad = s->kind == K_SUPERVISORD
                       ? strstr(line, "BACKOFF") != NULL || strstr(line, "FATAL") != NULL ||
                             strstr(line, "gave up") != NULL || strstr(line, " ERRO") != NULL
                       : *line != '\0';
        if (bad)
            printf("  WARNING: %s said: %.300s\n", s->label, line);
        shown += bad;
        line = nl != NULL ? nl + 1 : NULL;
    }
}

/* Stops the system by pid and removes every process it leaves behind. Returns how long its
 * top process took to exit after the stop signal. */
static double sys_down(struct sys *s)
{
    int sig = s->kind == K_RUNIT ? SIGHUP : SIGTERM; /* runsvdir: HUP = TERM to each runsv */
    uint64_t t0 = now_ns(), deadline = t0 + 60 * NS_PER_SEC;
    pid_t pid = s->pid;
    int pidfd, status = 0, strays;
    double secs;

    if (pid <= 0)
        return 0;
    report_anomalies(s);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (kill(pid, sig) == -1)
        fail("cannot signal %s: %s", s->label, strerror(errno));
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (now_ns() > deadline) {
            fprintf(stderr, "sup_driver: %s did not exit within 60 s of signal %d: killed\n",
                    s->label, sig);
            (void)kill(pid, SIGKILL);
            (void)waitpid(pid, &status, 0);
            break;
        }
        if (pidfd != -1) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            (void)poll(&p, 1, 100);
        } else {
            sleep_ns(NS_PER_MS);
        }
    }
    secs = (double)(now_ns() - t0) / 1e9;
    if (pidfd != -1)
        (void)close(pidfd); /* nothing to lose */
    s->pid = 0;
    if ((s->kind == K_TEND || s->kind == K_SUPERVISORD) &&
        (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
        fprintf(stderr, "sup_driver: warning: %s exited with status 0x%x after signal %d\n",
                s->label, (unsigned)status, sig);
    if (s->kind == K_S6) {
        /* s6-supervise processes stop their service and exit by themselves: give them a
         * moment, so that what is left is really left behind. */
        static pid_t kids[65536];
        uint64_t until = now_ns() + 2 * NS_PER_SEC;
        while (now_ns() < until) {
            size_t nk = our_children(kids, sizeof(kids) / sizeof(kids[0]));
            bool left = false;
            for (size_t i = 0; i < nk; i++)
                left |= !is_top(kids[i]) && !is_own(kids[i]);
            if (!left)
                break;
            sleep_ns(10 * NS_PER_MS);
        }
    }
    /* Everything the system left is ours now (subreaper). For tend and supervisord any of it
     * is a program they failed to stop; for the others it is their supervise processes and
     * programs, which their scanners do not stop (runsvdir, svscan): not a fault. */
    strays = reap_strays();
    drain_socket();
    kill_fleet(&s->f); /* programs started after we looked, if any */
    strays += reap_strays();
    if (strays > 0 && (s->kind == K_TEND || s->kind == K_SUPERVISORD))
        printf("  WARNING: %s exited leaving %d of its programs running\n", s->label, strays);
    memset(s->f.pid, 0, s->f.n * sizeof(*s->f.pid));
    return secs;
}

/* ---- reporting ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n sorted values. */
static uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
    double exact = p * (double)n;
    size_t rank = (size_t)exact;

    if ((double)rank < exact)
        rank++; /* ceil without libm */
    return n == 0 ? 0 : sorted[rank == 0 ? 0 : rank - 1];
}

/* The median (the mean of the two middle values when n is even), in ms. */
static double median_ms(uint64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_u64);
    if (n % 2 == 0)
        return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2e6;
    return (double)v[n / 2] / 1e6;
}

static void ratio_str(char *buf, size_t len, double a, double b)
{
    if (b > 0 && a >= 0)
        snprintf(buf, len, "%.2f", a / b);
    else
        snprintf(buf, len, "nan");
}

/* One figure of one system: a line for people, a RESULT line for programs. baseline is the
 * floor's figure measured alongside; target, when not NULL, is the DESIGN figure without
 * spaces ("ratio<=2", "<4096"), in the figure's unit unless it says. value < 0: n/a. */
static void result(const char *name, const struct sys *s, double value, const char *unit,
                   size_t n, double baseline, const char *target)
{
    char ratio[32], vs[32];
    double tv = -1;
    bool fast = s == NULL ? g.cur_fast : s->fast;
    const char *sysname = s == NULL ? "floor" : kinds[s->kind].name;

    if (s != NULL && s->kind == K_TEND && g.ntendval < sizeof(g.tendval) / sizeof(g.tendval[0])) {
        snprintf(g.tendval[g.ntendval].name, sizeof(g.tendval[0].name), "%s", name);
        g.tendval[g.ntendval].fast = fast;
        g.tendval[g.ntendval++].value = value;
    }
    for (size_t i = 0; i < g.ntendval; i++) {
        if (g.tendval[i].fast == fast && strcmp(g.tendval[i].name, name) == 0)
            tv = g.tendval[i].value;
    }
    ratio_str(ratio, sizeof(ratio), value, baseline);
    ratio_str(vs, sizeof(vs), value, tv);
    if (value < 0) {
        snprintf(ratio, sizeof(ratio), "nan");
        snprintf(vs, sizeof(vs), "nan");
    }
    printf("  %-24s %-20s %12.1f %-5s n=%-4zu floor %10.1f  x%-6s vs tend x%-6s%s%s\n", name,
           s == NULL ? "floor" : s->label, value, unit, n, baseline, ratio, vs,
           target ? "  target " : "", target ? target : "");
    printf("RESULT name=%s system=%s config=%s value=%.3f unit=%s n=%zu baseline=%.3f ratio=%s "
           "vs_tend=%s",
           name, sysname, fast ? "fast" : "default", value, unit, n, baseline, ratio, vs);
    if (target != NULL)
        printf(" target=%s", target);
    printf("\n");
    fflush(stdout);
}

static void print_settings(const struct sys *s)
{
    printf("  settings %-20s %s\n", s->label, settings(s));
    printf("SETTINGS system=%s config=%s %s\n", kinds[s->kind].name, s->fast ? "fast" : "default",
           settings(s));
}

/* ---- the systems of this run ---- */

/* The systems to run a scenario on, in order (tend first, so that vs_tend is known). */
static size_t systems_for(bool fast, struct sys **out)
{
    size_t n = 0;

    for (size_t i = 0; i < g.nsys; i++) {
        if (g.sys[i].fast == fast)
            out[n++] = &g.sys[i];
    }
    return n;
}

/* Whether program idx of s may be killed now without meeting a throttle: up for at least
 * min_up, and for tend not the CRASH_LOOP_AFTER-th kill in a row within its crash window. */
static uint64_t eligible_at(const struct sys *s, size_t idx, uint64_t min_up)
{
    uint64_t t = s->f.t_ns[idx] + min_up;

    if (s->kind == K_TEND && CRASH_RUN_S > 0 && s->f.crashes[idx] + 1 >= CRASH_LOOP_AFTER) {
        uint64_t t2 = s->f.t_ns[idx] + (uint64_t)CRASH_RUN_S * NS_PER_SEC + 300 * NS_PER_MS;
        if (t2 > t)
            t = t2;
    }
    return t;
}

static void note_kill(struct sys *s, size_t idx, uint64_t t_kill)
{
    if (t_kill - s->f.t_ns[idx] >= (uint64_t)CRASH_RUN_S * NS_PER_SEC)
        s->f.crashes[idx] = 1;
    else if (s->f.crashes[idx] < 255)
        s->f.crashes[idx]++;
}

/* ---- scenarios ---- */

static void pr_dist(const char *who, uint64_t *v, size_t n)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("  %-22s n=%-4zu min %.1f  median %.1f  p90 %.1f  p99 %.1f  max %.1f us\n", who, n,
           (double)v[0] / 1e3, (double)pct(v, n, 0.5) / 1e3, (double)pct(v, n, 0.9) / 1e3,
           (double)pct(v, n, 0.99) / 1e3, (double)v[n - 1] / 1e3);
}

/* Restart latency after SIGKILL of a program up for longer than BENCH_MIN_UP_MS: kill -> the
 * new instance's first instruction of main. One system at a time, its samples alternating
 * with the floor's (the driver kills its own beacon, reaps it, forks and execs a new one) so
 * that both see the same noise. */
static void scenario_latency(bool fast)
{
    size_t kills = (size_t)env_long("BENCH_KILLS", 200, 5, 100000), warmup = 5;
    uint64_t budget = (uint64_t)env_long("BENCH_LATENCY_SECS", 30, 1, 3600) * NS_PER_SEC;
    uint64_t min_up = (uint64_t)env_long("BENCH_MIN_UP_MS", 2500, 0, 600000) * NS_PER_MS;
    size_t nprogs = kills + warmup;
    uint64_t *lt = calloc(kills, sizeof(*lt)), *lb = calloc(kills, sizeof(*lb));
    uint64_t *pool = calloc(kills * MAX_SYS, sizeof(*pool));
    size_t npool = 0;
    struct sys *sys[MAX_SYS];
    size_t ns = systems_for(fast, sys);

    if (lt == NULL || lb == NULL || pool == NULL)
        fail("out of memory");
    g.cur_fast = fast;
    printf("== latency (%s): SIGKILL of a program up > %.1f s -> its new instance's main(); "
           "up to %zu kills (+%zu warm-up) or %.0f s per system, alternating with the floor\n",
           fast ? "fast" : "default", (double)min_up / 1e9, kills, warmup,
           (double)budget / 1e9);
    for (size_t si = 0; si < ns; si++) {
        struct sys *s = sys[si];
        size_t got = 0, gotb = 0, next = 0;
        uint64_t t_begin;

        print_settings(s);
        (void)sys_up(s, (int)nprogs);
        own_fleet(1);
        fleet_arm(&g.of, 0);
        own_spawn(0);
        wait_fresh(&g.of, 1, 10 * NS_PER_SEC);
        t_begin = now_ns();
        for (size_t k = 0; k < warmup + kills; k++) {
            if (k > warmup && now_ns() - t_begin > budget) {
                printf("  (%s: stopping after %zu samples: %.0f s spent, BENCH_LATENCY_SECS)\n",
                       s->label, got, (double)(now_ns() - t_begin) / 1e9);
                break;
            }
            /* The next program that meets no throttle, in rotation; wait if none does. */
            size_t idx = next;
            uint64_t best = UINT64_MAX, now = now_ns();
            for (size_t j = 0; j < nprogs; j++) {
                size_t c = (next + j) % nprogs;
                uint64_t at = eligible_at(s, c, min_up);
                if (at < best)
                    best = at, idx = c;
                if (at <= now)
                    break;
            }
            if (best > now)
                sleep_ns(best - now);
            next = (idx + 1) % nprogs;
            if (s->kind == K_TEND && !log_wait(s, idx_running, &idx, 10 * NS_PER_SEC))
                fail("tend did not log program %zu (pid %d) RUNNING within 10 s", idx,
                     (int)s->f.pid[idx]);
            for (int turn = 0; turn < 2; turn++) {
                bool sys_turn = (turn == 0) == (k % 2 == 0);
                struct fleet *f = sys_turn ? &s->f : &g.of;
                size_t i = sys_turn ? idx : 0;
                pid_t pid = f->pid[i];
                uint64_t t0;

                wait_sleeping(pid);
                t0 = now_ns();
                if (sys_turn)
                    note_kill(s, i, t0);
                if (kill(pid, SIGKILL) == -1)
                    fail("cannot kill pid %d: %s", (int)pid, strerror(errno));
                if (!sys_turn) {
                    /* The bare supervisor: reap, fork, exec. */
                    if (waitpid(pid, NULL, 0) != pid)
                        fail("cannot reap pid %d: %s", (int)pid, strerror(errno));
                    own_spawn(0);
                }
                wait_one(f, i, t0, 30 * NS_PER_SEC);
                if (k >= warmup) {
                    if (sys_turn)
                        lt[got++] = f->t_ns[i] - t0;
                    else
                        lb[gotb++] = f->t_ns[i] - t0;
                }
            }
        }
        pr_dist(s->label, lt, got);
        pr_dist("floor (alongside)", lb, gotb);
        memcpy(pool + npool, lb, gotb * sizeof(*lb));
        npool += gotb;
        result("restart_latency_median", s, (double)pct(lt, got, 0.5) / 1e3, "us", got,
               (double)pct(lb, gotb, 0.5) / 1e3, s->kind == K_TEND ? "ratio<=2" : NULL);
        result("restart_latency_p99", s, (double)pct(lt, got, 0.99) / 1e3, "us", got,
               (double)pct(lb, gotb, 0.99) / 1e3, s->kind == K_TEND ? "ratio<=2" : NULL);
        own_stop_all();
        (void)sys_down(s);
    }
    if (npool > 0) {
        qsort(pool, npool, sizeof(*pool), cmp_u64);
        printf("  floor, every sample of this configuration:\n");
        result("restart_latency_median", NULL, (double)pct(pool, npool, 0.5) / 1e3, "us", npool,
               (double)pct(pool, npool, 0.5) / 1e3, NULL);
        result("restart_latency_p99", NULL, (double)pct(pool, npool, 0.99) / 1e3, "us", npool,
               (double)pct(pool, npool, 0.99) / 1e3, NULL);
    }
    free(lt);
    free(lb);
    free(pool);
}

struct mem {
    long long rss_kib, pss_kib, hwm_kib, anon_kib;
    int fds;
    size_t procs;
};

static struct mem measure_pids(const pid_t *pids, size_t n)
{
    struct mem m = {0};

    for (size_t i = 0; i < n; i++) {
        long long rss = proc_field(pids[i], "status", "VmRSS");
        long long pss = proc_field(pids[i], "smaps_rollup", "Pss");
        if (rss < 0 || pss < 0)
            fail("cannot read the memory of pid %d from /proc", (int)pids[i]);
        m.rss_kib += rss;
        m.pss_kib += pss;
        m.hwm_kib += proc_field(pids[i], "status", "VmHWM");
        m.anon_kib += proc_field(pids[i], "status", "RssAnon");
        m.fds += proc_count_fds(pids[i]);
    }
    m.procs = n;
    return m;
}

static struct mem measure_sys(const struct sys *s)
{
    static pid_t pids[MAX_PIDS];
    size_t n = sys_pids(s, pids, MAX_PIDS);

    return measure_pids(pids, n);
}

static struct mem floor_mem(void)
{
    struct mem base;

    own_fleet(1);
    fleet_arm(&g.of, 0);
    own_spawn(0);
    wait_fresh(&g.of, 1, 10 * NS_PER_SEC);
    wait_sleeping(g.of.pid[0]);
    base = measure_pids(&g.of.pid[0], 1);
    own_stop_all();
    return base;
}

static void mem_result(const struct sys *s, int count, const struct mem *m,
                       const struct mem *base)
{
    char name[32];

    printf("  %-20s %4d programs: %zu process%s, VmRSS %lld KiB, Pss %lld KiB, RssAnon %lld "
           "KiB, VmHWM %lld KiB, %d fds\n",
           s->label, count, m->procs, m->procs == 1 ? "" : "es", m->rss_kib, m->pss_kib,
           m->anon_kib, m->hwm_kib, m->fds);
    snprintf(name, sizeof(name), "rss_%d", count);
    result(name, s, (double)m->rss_kib, "KiB", m->procs, (double)base->rss_kib,
           s->kind == K_TEND && count == 1000 ? "<4096" : NULL);
    snprintf(name, sizeof(name), "pss_%d", count);
    result(name, s, (double)m->pss_kib, "KiB", m->procs, (double)base->pss_kib,
           s->kind == K_TEND && count == 1000 ? "<4096" : NULL);
}

/* The supervisor's memory with 100 programs (the 1,000 figure comes from the 1,000-program
 * phase). For runit/s6/daemontools the sum over the scanner and every supervise process. */
static void scenario_rss100(bool fast)
{
    struct sys *sys[MAX_SYS];
    size_t ns = systems_for(fast, sys);
    struct mem base = floor_mem(), m;

    g.cur_fast = fast;
    printf("== rss (%s): the supervisor's memory with 100 programs up (floor: one paused "
           "sup_beacon: VmRSS %lld KiB, Pss %lld KiB)\n",
           fast ? "fast" : "default", base.rss_kib, base.pss_kib);
    for (size_t i = 0; i < ns; i++) {
        print_settings(sys[i]);
        (void)sys_up(sys[i], 100);
        sleep_ns(300 * NS_PER_MS); /* let anything deferred finish */
        m = measure_sys(sys[i]);
        mem_result(sys[i], 100, &m, &base);
        (void)sys_down(sys[i]);
    }
    result("rss_100", NULL, (double)base.rss_kib, "KiB", 1, (double)base.rss_kib, NULL);
    result("pss_100", NULL, (double)base.pss_kib, "KiB", 1, (double)base.pss_kib, NULL);
}

/* The floor of "start n programs": fork + exec n beacons in a loop, until the last one runs.
 * Leaves them running (the killall floor uses them). */
static uint64_t floor_start(size_t n)
{
    uint64_t t0;

    own_fleet(n);
    t0 = now_ns();
    fleet_arm(&g.of, t0);
    for (size_t i = 0; i < n; i++)
        own_spawn(i);
    wait_fresh(&g.of, n, 60 * NS_PER_SEC);
    return g.of.last_ns - t0;
}

static void wait_fleet_sleeping(const struct fleet *f)
{
    for (size_t i = 0; i < f->n; i++)
        wait_sleeping(f->pid[i]);
}

struct pid_idx {
    pid_t pid;
    size_t idx;
};

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = ((const struct pid_idx *)a)->pid, y = ((const struct pid_idx *)b)->pid;

    return x < y ? -1 : x > y;
}

/* Floor of killall: the driver kills its n beacons, then reaps and respawns each one as
 * waitpid returns it. Returns the time until the last one ran again. */
static uint64_t floor_killall(struct pid_idx *map)
{
    size_t n = g.of.n;
    uint64_t t0;

    wait_fleet_sleeping(&g.of);
    for (size_t i = 0; i < n; i++)
        map[i] = (struct pid_idx){g.of.pid[i], i};
    qsort(map, n, sizeof(*map), cmp_pid);
    t0 = now_ns();
    fleet_arm(&g.of, t0);
    for (size_t i = 0; i < n; i++)
        (void)kill(g.of.pid[i], SIGKILL); /* our children, unreaped */
    for (size_t done = 0; done < n; done++) {
        struct pid_idx key = {0}, *hit;
        key.pid = waitpid(-1, NULL, 0);
        if (key.pid == -1)
            fail("waitpid: %s", strerror(errno));
        hit = bsearch(&key, map, n, sizeof(*map), cmp_pid);
        if (hit == NULL) {
            if (is_top(key.pid))
                fail("a supervisor (pid %d) exited during the killall floor", (int)key.pid);
            done--; /* an orphan reparented to us: not one of ours */
            continue;
        }
        own_spawn(hit->idx);
    }
    wait_fresh(&g.of, n, 60 * NS_PER_SEC);
    return g.of.last_ns - t0;
}

/* Runs argv (stdout read through a pipe, its lines counted; stderr to the system's out.log).
 * Returns the time from fork to reaped; *lines gets the line count, *status the wait status. */
static uint64_t run_client(char *const argv[], const char *errpath, long *lines, int *status)
{
    int p[2];
    char buf[65536];
    uint64_t t0 = now_ns();
    ssize_t n;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) == -1)
        fail("pipe: %s", strerror(errno));
    pid = fork();
    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        int err = open(errpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (err == -1 || in == -1 || dup2(in, 0) == -1 || dup2(p[1], 1) == -1 ||
            dup2(err, 2) == -1)
            _exit(126);
        execvp(argv[0], argv);
        _exit(127);
    }
    (void)close(p[1]);
    while ((n = read(p[0], buf, sizeof(buf))) > 0 || (n == -1 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++)
            *lines += buf[i] == '\n';
    }
    (void)close(p[0]);
    while (waitpid(pid, status, 0) == -1 && errno == EINTR)
        ;
    return now_ns() - t0;
}

/* One "status of every program" query through the system's own client. */
static uint64_t sys_status(struct sys *s, long *lines, int *status)
{
    static char *argv[MAX_PIDS + 8];
    static char names[MAX_PIDS][PATHLEN + 32];
    size_t k = 0;
    uint64_t total = 0;

    *lines = 0;
    *status = 0;
    switch (s->kind) {
    case K_TEND:
        argv[k++] = (char *)g.tend, argv[k++] = "-s", argv[k++] = s->ctl;
        argv[k++] = "status";
        break;
    case K_SUPERVISORD:
        argv[k++] = "supervisorctl", argv[k++] = "-c", argv[k++] = s->conf;
        argv[k++] = "status";
        break;
    default:
        if (s->kind == K_RUNIT)
            argv[k++] = "sv", argv[k++] = "status";
        else if (s->kind == K_DAEMONTOOLS)
            argv[k++] = "svstat";
        for (size_t i = 0; i < s->f.n && i < MAX_PIDS; i++) {
            service_dir(s, (int)i, names[i], sizeof(names[i]));
            if (s->kind == K_S6) {
                /* s6-svstat takes one service directory: one run per service. */
                char *one[] = {"s6-svstat", names[i], NULL};
                int st = 0;
                total += run_client(one, s->out, lines, &st);
                if (st != 0)
                    *status = st;
            } else {
                argv[k++] = names[i];
            }
        }
        if (s->kind == K_S6)
            return total;
        break;
    }
    argv[k] = NULL;
    return run_client(argv, s->out, lines, status);
}

static void scenario_status(struct sys *const *sys, size_t ns, int n)
{
    size_t runs = (size_t)env_long("BENCH_STATUS_RUNS", 20, 1, 10000);
    uint64_t budget = (uint64_t)env_long("BENCH_STATUS_SECS", 15, 1, 3600) * NS_PER_SEC;
    uint64_t *v = calloc(runs, sizeof(*v)), *b = calloc(runs * MAX_SYS, sizeof(*b));
    size_t nb = 0;
    char *floor_argv[] = {(char *)g.beacon, NULL};

    if (v == NULL || b == NULL)
        fail("out of memory");
    printf("== status: one query for the state of all %d programs, through each system's "
           "client (floor: fork + exec + wait of a program that exits at once)\n", n);
    printf("  clients: tend -s SOCK status | supervisorctl -c CONF status | sv status DIR/* | "
           "s6-svstat DIR/b_i, once per service | svstat DIR/*\n");
    for (size_t si = 0; si < ns; si++) {
        struct sys *s = sys[si];
        size_t got = 0;
        long lines;
        int st;
        uint64_t t_begin = now_ns(); /* the budget counts the warm-up too */

        (void)sys_status(s, &lines, &st); /* warm-up: page cache, the client's first run */
        if (lines < n)
            printf("  WARNING: %s status printed %ld lines for %d programs (status 0x%x)\n",
                   s->label, lines, n, (unsigned)st);
        while (got < runs && (got < 1 || now_ns() - t_begin < budget)) {
            long fl = 0;
            int fst;
            v[got++] = sys_status(s, &lines, &st);
            b[nb++] = run_client(floor_argv, "/dev/null", &fl, &fst);
        }
        qsort(v, got, sizeof(*v), cmp_u64);
        qsort(b + nb - got, got, sizeof(*b), cmp_u64);
        printf("  %-20s n=%-3zu min %.2f  median %.2f  max %.2f ms (%ld lines, exit 0x%x)\n",
               s->label, got, (double)v[0] / 1e6, (double)pct(v, got, 0.5) / 1e6,
               (double)v[got - 1] / 1e6, lines, (unsigned)st);
        result("status_median", s, (double)pct(v, got, 0.5) / 1e6, "ms", got,
               (double)pct(b + nb - got, got, 0.5) / 1e6, s->kind == K_TEND ? "<10" : NULL);
        result("status_p99", s, (double)pct(v, got, 0.99) / 1e6, "ms", got,
               (double)pct(b + nb - got, got, 0.99) / 1e6, s->kind == K_TEND ? "<10" : NULL);
    }
    qsort(b, nb, sizeof(*b), cmp_u64);
    result("status_median", NULL, (double)pct(b, nb, 0.5) / 1e6, "ms", nb,
           (double)pct(b, nb, 0.5) / 1e6, NULL);
    result("status_p99", NULL, (double)pct(b, nb, 0.99) / 1e6, "ms", nb,
           (double)pct(b, nb, 0.99) / 1e6, NULL);
    free(v);
    free(b);
}

/* With n programs up in every system and nothing happening, a supervisor should not run at
 * all: context switches and CPU time of its processes (all of them) over the window. */
static void scenario_idle(struct sys *const *sys, size_t ns, int n)
{
    long secs = env_long("BENCH_IDLE_SECS", 30, 1, 3600);
    static pid_t pids[MAX_SYS][MAX_PIDS];
    size_t np[MAX_SYS];
    long long c0[MAX_SYS] = {0}, c1[MAX_SYS] = {0}, s0[MAX_SYS] = {0}, s1[MAX_SYS] = {0};
    long long x0[MAX_SYS] = {0}, x1[MAX_SYS] = {0}, bc0, bc1, bx0, bx1;
    pid_t own;

    if (g.of.pid == NULL || g.of.n == 0 || g.of.pid[0] <= 0) {
        /* Sequential mode: the floor's beacons are down; one paused beacon of our own. */
        own_fleet(1);
        fleet_arm(&g.of, 0);
        own_spawn(0);
        wait_fresh(&g.of, 1, 10 * NS_PER_SEC);
    }
    own = g.of.pid[0];
    printf("== idle: %d programs up in %s; nothing happens for %ld s "
           "(floor: a paused sup_beacon)\n", n, ns == 1 ? sys[0]->label : "each system, all at once",
           secs);
    wait_sleeping(own);
    sleep_ns(500 * NS_PER_MS); /* settle: the last report pipes close, logs flush */
    for (size_t i = 0; i < ns; i++) {
        np[i] = sys_pids(sys[i], pids[i], MAX_PIDS);
        for (size_t j = 0; j < np[i]; j++) {
            c0[i] += proc_cpu_ns(pids[i][j]);
            s0[i] += proc_sched_ns(pids[i][j]);
            x0[i] += proc_ctxt(pids[i][j]);
        }
    }
    bc0 = proc_cpu_ns(own);
    bx0 = proc_ctxt(own);
    sleep_ns((uint64_t)secs * NS_PER_SEC);
    for (size_t i = 0; i < ns; i++) {
        for (size_t j = 0; j < np[i]; j++) {
            c1[i] += proc_cpu_ns(pids[i][j]);
            s1[i] += proc_sched_ns(pids[i][j]);
            x1[i] += proc_ctxt(pids[i][j]);
        }
    }
    bc1 = proc_cpu_ns(own);
    bx1 = proc_ctxt(own);
    check_alive_all();
    for (size_t i = 0; i < ns; i++) {
        printf("  %-20s %zu process%s: %lld context switches, %.1f ms CPU (stat), %.3f ms on "
               "CPU (schedstat) in %ld s\n",
               sys[i]->label, np[i], np[i] == 1 ? "" : "es", x1[i] - x0[i],
               (double)(c1[i] - c0[i]) / 1e6, (double)(s1[i] - s0[i]) / 1e6, secs);
        result("idle_wakeups", sys[i], (double)(x1[i] - x0[i]), "count", np[i],
               (double)(bx1 - bx0), sys[i]->kind == K_TEND ? "0" : NULL);
        result("idle_cpu", sys[i], (double)(s1[i] - s0[i]) / 1e6, "ms", np[i],
               (double)(bc1 - bc0) / 1e6, sys[i]->kind == K_TEND ? "0" : NULL);
    }
    result("idle_wakeups", NULL, (double)(bx1 - bx0), "count", 1, (double)(bx1 - bx0), NULL);
    result("idle_cpu", NULL, (double)(bc1 - bc0) / 1e6, "ms", 1, (double)(bc1 - bc0) / 1e6,
           NULL);
}

/* Whether a scenario that began at t_begin should skip its further rounds. */
static bool over_budget(const char *what, uint64_t t_begin, size_t rounds_done)
{
    long budget = env_long("BENCH_BUDGET_SECS", 30, 1, 3600);
    double spent = (double)(now_ns() - t_begin) / 1e9;

    if (spent < (double)budget)
        return false;
    printf("  (%s: stopping after %zu round%s: %.0f s spent, BENCH_BUDGET_SECS=%ld)\n", what,
           rounds_done, rounds_done == 1 ? "" : "s", spent, budget);
    return true;
}

/* n programs SIGKILLed at once: until every one of them runs main() again. */
static volatile sig_atomic_t prober_stopping;

static void on_prober_term(int sig)
{
    (void)sig;
    prober_stopping = 1;
}

/* The same client started for nothing that asks the system anything (tend --version): what
 * starting a process costs the host at that moment, the floor of a status call. 0 for
 * the other systems. */
static uint64_t sys_noop(struct sys *s)
{
    char *argv[] = {(char *)g.tend, "--version", NULL};
    long lines = 0;
    int st;

    return s->kind == K_TEND ? run_client(argv, s->out, &lines, &st) : 0;
}

/* Status during a mass restart: a child of ours queries the system's status back to back,
 * timing each call (client included), each followed by a sys_noop, until we stop it; the
 * times come back over a pipe, in pairs.
 * Told to stop, it finishes (and reaps) the client it is running: killed outright, it
 * would hand that client to us, the subreaper, where it would count as a program the
 * system left behind. */
static pid_t prober_start(struct sys *s, int *rd_fd)
{
    int p[2];
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) == -1)
        fail("pipe: %s", strerror(errno));
    pid = fork();
    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        (void)close(p[0]);
        (void)signal(SIGTERM, on_prober_term);
        while (!prober_stopping) {
            long lines = 0;
            int st;
            uint64_t t[2];
            t[0] = sys_status(s, &lines, &st);
            t[1] = sys_noop(s);
            if (write(p[1], t, sizeof(t)) != (ssize_t)sizeof(t))
                _exit(0);
        }
        _exit(0);
    }
    (void)close(p[1]);
    *rd_fd = p[0];
    return pid;
}

/* Stops the prober; its status times into v and its floor times into fl (at most cap of
 * each, both sorted), their count returned. */
static size_t prober_stop(pid_t pid, int rd_fd, uint64_t *v, uint64_t *fl, size_t cap)
{
    size_t n = 0;
    uint64_t t[2];

    (void)kill(pid, SIGTERM);
    while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
        ;
    while (n < cap && read(rd_fd, t, sizeof(t)) == (ssize_t)sizeof(t)) {
        v[n] = t[0];
        fl[n++] = t[1];
    }
    (void)close(rd_fd);
    qsort(v, n, sizeof(*v), cmp_u64);
    qsort(fl, n, sizeof(*fl), cmp_u64);
    return n;
}

struct big {
    int n;
    bool floor_inline; /* the floors alongside the first system (together); else first, alone */
    uint64_t up[MAX_SYS][MAX_ROUNDS];
    size_t nup[MAX_SYS];
    uint64_t fl[MAX_ROUNDS]; /* the start floor */
    size_t nfl;
    uint64_t kb[MAX_ROUNDS]; /* the killall floor */
    size_t nkb;
    struct mem base;
    struct pid_idx *map;
};

/* n programs of each system SIGKILLed at once, until all run again. The floor (b->kb) is
 * measured after the first system's first round when b->floor_inline, else it was before. */
static void scenario_killall(struct sys *const *sys, size_t ns, int n, struct big *b)
{
    size_t rounds = (size_t)env_long("BENCH_ROUNDS", 3, 1, MAX_ROUNDS);
    uint64_t min_up = (uint64_t)env_long("BENCH_MIN_UP_MS", 2500, 0, 600000) * NS_PER_MS;
    uint64_t back[MAX_ROUNDS];

    printf("== killall: %d programs SIGKILLed at once, until all run again (up to %zu rounds; "
           "every program up > %.1f s first)\n", n, rounds, (double)min_up / 1e9);
    for (size_t si = 0; si < ns; si++) {
        struct sys *s = sys[si];
        uint64_t t_begin = now_ns();
        size_t done_rounds = 0;

        for (size_t r = 0; r < rounds; r++) {
            if (r > 0 && over_budget(s->label, t_begin, r))
                break;
            done_rounds = r + 1;
            /* Every program past every throttle: up > min_up, and tend's crash window. */
            uint64_t ready = 0, now = now_ns();
            for (size_t i = 0; i < s->f.n; i++) {
                uint64_t at = eligible_at(s, i, min_up);
                if (at > ready)
                    ready = at;
            }
            if (ready > now) {
                if (ready - now > 3 * NS_PER_SEC)
                    printf("  (waiting %.1f s: tend's crash window is %d s)\n",
                           (double)(ready - now) / 1e9, CRASH_RUN_S);
                fflush(stdout);
                sleep_ns(ready - now);
            }
            unsigned long running_before = s->running;
            wait_fleet_sleeping(&s->f);
            /* The first round also times status queries during the restart, against the
             * median of quiet ones just before. */
            uint64_t quiet[9];
            int probe_fd = -1;
            pid_t prober = -1;
            if (r == 0) {
                for (size_t q = 0; q < 9; q++) {
                    long lines = 0;
                    int st;
                    quiet[q] = sys_status(s, &lines, &st);
                }
                qsort(quiet, 9, sizeof(quiet[0]), cmp_u64);
                prober = prober_start(s, &probe_fd);
            }
            uint64_t t0 = now_ns();
            fleet_arm(&s->f, t0);
            for (size_t i = 0; i < s->f.n; i++) {
                note_kill(s, i, t0);
                (void)kill(s->f.pid[i], SIGKILL); /* our grandchildren, alive: we saw them */
            }
            uint64_t t_killed = now_ns();
            wait_fresh(&s->f, s->f.n, up_timeout(n));
            uint64_t t_seen = now_ns();
            wait_running(s, running_before + (unsigned long)n, up_timeout(n));
            uint64_t t_running = now_ns();
            if (prober > 0) {
                static uint64_t during[100000], floor_during[100000];
                size_t nd = prober_stop(prober, probe_fd, during, floor_during, 100000);
                if (nd > 0) {
                    printf("  round 1 %-20s status during the restart: %zu calls, median "
                           "%.2f ms, p90 %.2f ms, max %.2f ms (quiet median %.2f ms)\n",
                           s->label, nd, (double)pct(during, nd, 0.5) / 1e6,
                           (double)pct(during, nd, 0.9) / 1e6, (double)during[nd - 1] / 1e6,
                           (double)quiet[4] / 1e6);
                    result("status_during_killall_max", s, (double)during[nd - 1] / 1e6, "ms",
                           nd, (double)quiet[4] / 1e6, NULL);
                    result("status_during_killall_median", s,
                           (double)pct(during, nd, 0.5) / 1e6, "ms", nd,
                           (double)quiet[4] / 1e6, NULL);
                    result("status_during_killall_p90", s, (double)pct(during, nd, 0.9) / 1e6,
                           "ms", nd, (double)quiet[4] / 1e6, NULL);
                    if (s->kind == K_TEND) {
                        /* What a client's start alone cost meanwhile: of a status call's
                         * time, this much was not tend's. */
                        printf("  round 1 %-20s a client started for nothing (tend --version) "
                               "meanwhile: median %.2f ms, p90 %.2f ms, max %.2f ms\n",
                               s->label, (double)pct(floor_during, nd, 0.5) / 1e6,
                               (double)pct(floor_during, nd, 0.9) / 1e6,
                               (double)floor_during[nd - 1] / 1e6);
                        result("client_floor_during_killall_max", s,
                               (double)floor_during[nd - 1] / 1e6, "ms", nd,
                               (double)quiet[4] / 1e6, NULL);
                        result("client_floor_during_killall_p90", s,
                               (double)pct(floor_during, nd, 0.9) / 1e6, "ms", nd,
                               (double)quiet[4] / 1e6, NULL);
                    }
                }
            }
            back[r] = s->f.last_ns - t0;
            printf("  round %zu %-20s kill loop %.1f ms, all back %.1f ms (received by %.1f "
                   "ms)",
                   r + 1, s->label, (double)(t_killed - t0) / 1e6, (double)back[r] / 1e6,
                   (double)(t_seen - t0) / 1e6);
            if (s->kind == K_TEND)
                printf(", all RUNNING in tend's log by %.1f ms", (double)(t_running - t0) / 1e6);
            printf("\n");
            if (r == 0 && si == 0 && b->floor_inline) { /* the floor once, right after the
                                      * first system's first round (1,000 forks cost seconds
                                      * here) */
                b->kb[b->nkb] = floor_killall(b->map);
                printf("  round %zu %-20s all back %.1f ms\n", r + 1, "floor",
                       (double)b->kb[b->nkb] / 1e6);
                b->nkb++;
            }
        }
        check_alive_all();
        double fl = median_ms(b->kb, b->nkb);
        result("killall_all_back", s, median_ms(back, done_rounds), "ms", done_rounds, fl,
               s->kind == K_TEND ? "<1000" : NULL);
        report_anomalies(s);
    }
    if (b->nkb > 0 && b->floor_inline)
        result("killall_all_back", NULL, median_ms(b->kb, b->nkb), "ms", b->nkb,
               median_ms(b->kb, b->nkb), NULL);
}

/* ---- the n-program phase: one system after the other kept up, or each alone ---- */

/* Tasks (processes and threads) a system runs with n programs, the programs included. */
static long sys_tasks(const struct sys *s, int n)
{
    switch (s->kind) {
    case K_TEND:
        return n + 2 + 8; /* the keeper, the supervisor, a few threads (io_uring workers) */
    case K_SUPERVISORD:
        return n + 1;
    case K_RUNIT: /* runsvdir, a runsv per program; nested: a runsv + runsvdir per 1,000 */
        return 2L * n + 1 +
               (n > RUNSVDIR_MAX ? 2L * ((n + RUNSVDIR_MAX - 1) / RUNSVDIR_MAX) : 0);
    default: /* the scanner, a supervise process per program */
        return 2L * n + 1;
    }
}

static long read_long(const char *path)
{
    char buf[64];

    if (read_small_file(path, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
        return -1; /* absent, or "max" */
    return strtol(buf, NULL, 10);
}

/* The fewest tasks left under a pids cgroup limit of ours and its ancestors (v1 and v2), or
 * -1 when none is set; what it found goes into why. */
static long cgroup_pids_free(char *why, size_t len)
{
    char buf[4096], path[PATH_MAX + 64];
    long best = -1;

    if (read_small_file("/proc/self/cgroup", buf, sizeof(buf)) <= 0)
        return -1;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        const char *bases[2] = {NULL, NULL};
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        if (strcmp(line, "0") == 0 && c1[1] == '\0') /* v2: / or /unified (hybrid) */
            bases[0] = "/sys/fs/cgroup", bases[1] = "/sys/fs/cgroup/unified";
        else if (word_in(c1 + 1, "pids"))
            bases[0] = "/sys/fs/cgroup/pids";
        for (int b = 0; b < 2 && bases[b] != NULL; b++) {
            char rel[1024];
            snprintf(rel, sizeof(rel), "%.1000s", c2 + 1);
            for (;;) { /* this cgroup, then each ancestor */
                snprintf(path, sizeof(path), "%s%s/pids.max", bases[b], rel);
                long max = read_long(path);
                snprintf(path, sizeof(path), "%s%s/pids.current", bases[b], rel);
                long cur = read_long(path);
                if (max >= 0 && cur >= 0 && (best < 0 || max - cur < best)) {
                    best = max - cur;
                    snprintf(why, len, "pids cgroup %s%.200s: %ld of %ld used", bases[b],
                             rel[0] ? rel : "/", cur, max);
                }
                char *slash = strrchr(rel, '/');
                if (slash == NULL || rel[0] == '\0')
                    break;
                *slash = '\0';
            }
        }
    }
    return best;
}

struct plan {
    long free, together, largest;
    bool sequential;
    char text[768];
};

/* Whether the n-program phase fits with every system up at once (and the floor's n): else
 * each system is brought up, measured and brought down before the next (BENCH_SEQUENTIAL=1
 * forces it, =0 forbids it). Counts tasks against pid_max, threads-max, a pids cgroup and
 * RLIMIT_NPROC, and the descriptors against the hard RLIMIT_NOFILE. */
static void make_plan(struct plan *p, struct sys *const *sys, size_t ns, int n)
{
    long forced = env_long("BENCH_SEQUENTIAL", -1, 0, 1);
    long pid_max = read_long("/proc/sys/kernel/pid_max");
    long threads_max = read_long("/proc/sys/kernel/threads-max");
    long tasks = 0, cg, margin = 500 + n / 20;
    char lbuf[256], cgwhy[384] = "no pids cgroup limit", limit[160];
    struct rlimit rl;
    const char *slash;

    if (read_small_file("/proc/loadavg", lbuf, sizeof(lbuf)) > 0 &&
        (slash = strchr(lbuf, '/')) != NULL)
        tasks = strtol(slash + 1, NULL, 10);
    /* The kernel hands out pids up to pid_max and, after wrapping, none below 300. */
    p->free = pid_max > 0 ? pid_max - 300 - tasks : 32768 - 300 - tasks;
    snprintf(limit, sizeof(limit), "pid_max %ld - 300 reserved - %ld tasks now", pid_max,
             tasks);
    if (threads_max > 0 && threads_max - tasks < p->free) {
        p->free = threads_max - tasks;
        snprintf(limit, sizeof(limit), "threads-max %ld - %ld tasks now", threads_max, tasks);
    }
    cg = cgroup_pids_free(cgwhy, sizeof(cgwhy));
    if (cg >= 0 && cg < p->free) {
        p->free = cg;
        snprintf(limit, sizeof(limit), "%s", cgwhy);
    }
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur - tasks < p->free) {
        p->free = (long)rl.rlim_cur - tasks; /* all tasks: an upper bound of our uid's */
        snprintf(limit, sizeof(limit), "RLIMIT_NPROC %ld - %ld tasks now", (long)rl.rlim_cur,
                 tasks);
    }
    p->together = n + margin; /* the floor's n beacons, clients, the prober, the others */
    p->largest = n + margin;
    for (size_t i = 0; i < ns; i++) {
        long t = sys_tasks(sys[i], n);
        p->together += t;
        if (t + margin > p->largest)
            p->largest = t + margin;
    }
    p->sequential = forced == 1 || (forced == -1 && p->together > p->free);
    long hard = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
                    ? (long)rl.rlim_max
                    : -1;
    snprintf(p->text, sizeof(p->text),
             "mode=%s (%s) n=%d tasks_together=%ld tasks_largest=%ld tasks_free=%ld (%s; %s) "
             "fds: hard RLIMIT_NOFILE %ld, tend minfds %ld, tend needs ~%d (fast: a pidfd "
             "per program + 96)",
             p->sequential ? "sequential" : "together",
             forced == 1   ? "BENCH_SEQUENTIAL=1"
             : forced == 0 ? "BENCH_SEQUENTIAL=0"
             : p->sequential ? "auto: all at once would not fit"
                             : "auto: all at once fits",
             n, p->together, p->largest, p->free, limit, cgwhy, hard, tend_minfds(n), n + 96);
}

/* Systems sys[0..ns) (sys[i] is the run's system first + i) up with n programs each, kept
 * up for the scenarios, then down. */
static void big_group(struct big *b, struct sys *const *sys, size_t ns, size_t first,
                      size_t rounds, bool do_start, bool do_rss, bool do_idle, bool do_status,
                      bool do_killall)
{
    int n = b->n;

    for (size_t i = 0; i < ns; i++) {
        struct sys *s = sys[i];
        size_t x = first + i;
        print_settings(s);
        uint64_t t0 = sys_up(s, n);
        uint64_t t_seen = now_ns();
        b->up[x][b->nup[x]++] = s->f.last_ns - t0;
        printf("  %-20s all %d started %.1f ms after the fork of its top process (received "
               "by %.1f ms)\n", s->label, n, (double)(s->f.last_ns - t0) / 1e6,
               (double)(t_seen - t0) / 1e6);
        if (do_rss) {
            sleep_ns(300 * NS_PER_MS);
            struct mem m = measure_sys(s);
            mem_result(s, n, &m, &b->base);
        }
        /* The floor of this start, right after the first system's (tend's when it runs):
         * one floor for all, 1,000 forks cost seconds here. Its beacons stay up. */
        if (i == 0 && b->floor_inline) {
            b->fl[b->nfl] = floor_start((size_t)n);
            printf("  %-20s all %d started %.1f ms\n", "floor", n, (double)b->fl[b->nfl] / 1e6);
            b->nfl++;
        }
    }
    if (do_idle)
        scenario_idle(sys, ns, n);
    if (do_status)
        scenario_status(sys, ns, n);
    if (do_killall)
        scenario_killall(sys, ns, n, b);
    if (do_start && rounds > 1) {
        printf("== start: further rounds (stop, start again), while the budget lasts\n");
        for (size_t i = 0; i < ns; i++) {
            struct sys *s = sys[i];
            size_t x = first + i;
            /* The budget counts the first round too, which happened earlier. */
            uint64_t t_begin = now_ns() - b->up[x][0];
            for (size_t r = 1; r < rounds; r++) {
                if (over_budget(s->label, t_begin, r))
                    break;
                (void)sys_down(s);
                uint64_t t0 = sys_up(s, n);
                b->up[x][b->nup[x]++] = s->f.last_ns - t0;
                printf("  round %zu %-20s all started %.1f ms\n", r + 1, s->label,
                       (double)(s->f.last_ns - t0) / 1e6);
                if (i == 0 && b->floor_inline) {
                    b->fl[b->nfl] = floor_start((size_t)n);
                    printf("  round %zu %-20s all started %.1f ms\n", r + 1, "floor",
                           (double)b->fl[b->nfl] / 1e6);
                    b->nfl++;
                }
            }
        }
    }
    own_stop_all();
    for (size_t i = 0; i < ns; i++) {
        double down = sys_down(sys[i]);
        printf("  %-20s stopped (signal -> its top process exited) in %.1f ms\n",
               sys[i]->label, down * 1e3);
    }
}

/* The phase with n programs in every (fast) system: start, memory, idle, status, killall.
 * Every system up at once when the machine's process budget allows (make_plan), else one
 * at a time, with the floors measured first, alone. */
static void phase_big(bool do_start, bool do_rss, bool do_idle, bool do_status,
                      bool do_killall)
{
    static struct big b;
    int n = (int)env_long("BENCH_N", 1000, 1, MAX_PIDS - 8);
    size_t rounds = (size_t)env_long("BENCH_START_ROUNDS",
                                     env_long("BENCH_ROUNDS", 3, 1, MAX_ROUNDS), 1, MAX_ROUNDS);
    struct sys *sys[MAX_SYS];
    size_t ns = systems_for(true, sys);
    struct plan plan;

    if (ns == 0)
        return;
    memset(&b, 0, sizeof(b));
    b.n = n;
    b.map = calloc((size_t)n, sizeof(*b.map));
    if (b.map == NULL)
        fail("out of memory");
    g.cur_fast = true;
    make_plan(&plan, sys, ns, n);
    b.floor_inline = !plan.sequential;
    if (do_rss)
        b.base = floor_mem();
    printf("  phase: %s\n", plan.text);
    printf("SETTINGS phase=n_programs %s\n", plan.text);
    if (plan.sequential && plan.largest > plan.free)
        printf("  WARNING: even one system at a time needs ~%ld tasks, %ld are free: forks "
               "may fail\n", plan.largest, plan.free);
    if (!plan.sequential) {
        printf("== %d programs in each system (fast settings), brought up one system after "
               "the other and kept up:%s%s%s%s%s\n", n, do_start ? " start" : "",
               do_rss ? " rss" : "", do_idle ? " idle" : "", do_status ? " status" : "",
               do_killall ? " killall" : "");
        big_group(&b, sys, ns, 0, rounds, do_start, do_rss, do_idle, do_status, do_killall);
    } else {
        printf("== %d programs in each system (fast settings), sequential: the floor first, "
               "alone, then each system brought up, measured and brought down before the "
               "next:%s%s%s%s%s\n", n, do_start ? " start" : "", do_rss ? " rss" : "",
               do_idle ? " idle" : "", do_status ? " status" : "",
               do_killall ? " killall" : "");
        uint64_t t_begin = now_ns();
        for (size_t r = 0; r < rounds && (do_start || do_killall); r++) {
            if (r > 0 && (!do_start || over_budget("floor", t_begin, r)))
                break;
            b.fl[b.nfl] = floor_start((size_t)n);
            printf("  round %zu %-20s all %d started %.1f ms\n", r + 1, "floor", n,
                   (double)b.fl[b.nfl] / 1e6);
            b.nfl++;
            if (r == 0 && do_killall) {
                b.kb[b.nkb] = floor_killall(b.map);
                printf("  round %zu %-20s all %d killed, all back %.1f ms\n", r + 1, "floor",
                       n, (double)b.kb[b.nkb] / 1e6);
                b.nkb++;
            }
            own_stop_all();
        }
        for (size_t i = 0; i < ns; i++)
            big_group(&b, sys + i, 1, i, rounds, do_start, do_rss, do_idle, do_status,
                      do_killall);
        if (b.nkb > 0)
            result("killall_all_back", NULL, median_ms(b.kb, b.nkb), "ms", b.nkb,
                   median_ms(b.kb, b.nkb), NULL);
    }
    if (do_rss) {
        char name[32];
        snprintf(name, sizeof(name), "rss_%d", n);
        result(name, NULL, (double)b.base.rss_kib, "KiB", 1, (double)b.base.rss_kib, NULL);
        snprintf(name, sizeof(name), "pss_%d", n);
        result(name, NULL, (double)b.base.pss_kib, "KiB", 1, (double)b.base.pss_kib, NULL);
    }
    if (do_start) {
        for (size_t i = 0; i < ns; i++)
            result("start_all", sys[i], median_ms(b.up[i], b.nup[i]), "ms", b.nup[i],
                   median_ms(b.fl, b.nfl), NULL);
        result("start_all", NULL, median_ms(b.fl, b.nfl), "ms", b.nfl, median_ms(b.fl, b.nfl),
               NULL);
    }
    free(b.map);
    b.map = NULL;
}

/* ---- logs ---- */

static long long dir_bytes(const char *path)
{
    char p[PATH_MAX + 300];
    struct dirent *d;
    struct stat st;
    long long total = 0;
    DIR *dir = opendir(path);

    if (dir == NULL)
        return -1;
    while ((d = readdir(dir)) != NULL) {
        if (d->d_name[0] == '.' || strcmp(d->d_name, "lock") == 0 ||
            strcmp(d->d_name, "state") == 0 || strcmp(d->d_name, "config") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", path, d->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            total += st.st_size;
    }
    (void)closedir(dir);
    return total;
}

/* Whether the file ends with the writer's end line. */
static bool tail_has_end(const char *path)
{
    char buf[128];
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool hit = false;

    if (fd == -1)
        return false;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        off_t off = st.st_size > 100 ? st.st_size - 100 : 0;
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, off);
        if (n > 0) {
            buf[n] = '\0';
            hit = strstr(buf, "sup_beacon end ") != NULL;
        }
    }
    (void)close(fd);
    return hit;
}

/* The floor: the writer's stdout is a pipe that the driver reads and appends to a file. */
static double floor_logs(long long bytes, const char *dir)
{
    char path[PATH_MAX + 16], sock[sizeof(g.sock_path)], *buf = malloc(1 << 20);
    char *argv[] = {(char *)g.beacon, sock, "9900000", NULL};
    int p[2], out;
    uint64_t t_end, t_start;
    long long total = 0;
    ssize_t n;
    pid_t pid;

    if (buf == NULL)
        fail("out of memory");
    snprintf(sock, sizeof(sock), "%s", g.sock_path);
    snprintf(path, sizeof(path), "%s/floor.log", dir);
    out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (out == -1 || pipe2(p, O_CLOEXEC) == -1)
        fail("cannot set up the log floor: %s", strerror(errno));
    own_fleet(1);
    fleet_arm(&g.of, 0);
    pid = fork();
    if (pid == -1)
        fail("cannot fork: %s", strerror(errno));
    if (pid == 0) {
        char env[64];
        snprintf(env, sizeof(env), "%lld", bytes);
        (void)setenv("SUP_BEACON_WRITE", env, 1);
        if (dup2(p[1], 1) == -1)
            _exit(126);
        execv(g.beacon, argv);
        _exit(127);
    }
    g.of.pid[0] = pid;
    (void)close(p[1]);
    for (;;) {
        n = read(p[0], buf, 1 << 20);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("the log floor's writer closed its stdout early");
        if (write(out, buf, (size_t)n) != n)
            fail("cannot write %s: %s", path, strerror(errno));
        total += n;
        if (n >= 16 && memmem(buf + (n > 100 ? n - 100 : 0), (size_t)(n > 100 ? 100 : n),
                              "sup_beacon end ", 15) != NULL)
            break;
    }
    t_end = now_ns();
    wait_fresh(&g.of, 1, 10 * NS_PER_SEC);
    t_start = g.of.t_ns[0];
    (void)close(p[0]);
    (void)close(out);
    own_stop_all();
    (void)unlink(path);
    free(buf);
    return (double)total / 1e6 / ((double)(t_end - t_start) / 1e9);
}

static void scenario_logs(void)
{
    long long bytes = (long long)env_long("BENCH_LOG_MB", 1024, 1, 1 << 20) << 20;
    struct sys *sys[MAX_SYS];
    size_t ns = systems_for(true, sys);
    double floor_mbs;

    g.cur_fast = true;
    printf("== logs: one program writes %lld MiB of 100-byte lines to stdout; until its last "
           "line is in the log file (MB/s, 1 MB = 10^6 bytes)\n", bytes >> 20);
    (void)floor_logs(bytes < (128LL << 20) ? bytes : 128LL << 20, g.dir); /* warm-up */
    floor_mbs = floor_logs(bytes, g.dir);
    printf("  floor (the driver reads the pipe, appends to a file): %.0f MB/s\n", floor_mbs);
    for (size_t i = 0; i < ns; i++) {
        struct sys *s = sys[i];
        char cur[PATH_MAX + 32];
        uint64_t t_seen, deadline;

        if (s->kind == K_TEND && !g.tend_logcap) {
            printf("  %-20s n/a: stdout_logfile= is not captured by tend yet (src/supervisor.c "
                   "hands the file to the program; src/logcap.c is not wired in)\n", s->label);
            result("log_throughput", s, -1, "MB/s", 0, floor_mbs, ">=500");
            continue;
        }
        printf("  settings %-20s %s\n", s->label, log_settings(s));
        printf("SETTINGS system=%s config=logs %s\n", kinds[s->kind].name, log_settings(s));
        s->writer_bytes = bytes;
        (void)sys_up(s, 1);
        snprintf(cur, sizeof(cur), "%s/%s", s->logdir,
                 s->kind == K_TEND || s->kind == K_SUPERVISORD ? "w.log" : "current");
        deadline = now_ns() + 600 * NS_PER_SEC;
        struct want w = {.f = &s->f};
        for (;;) {
            if (s->f.t_ns[0] != 0 && tail_has_end(cur))
                break;
            if (now_ns() > deadline)
                fail("%s: the writer's last line did not reach %s within 600 s", s->label, cur);
            (void)recv_until(writer_done, &w, 5 * NS_PER_MS);
        }
        t_seen = now_ns();
        drain_socket();
        if (s->f.t_ns[0] == 0)
            fail("%s: no beacon from the log writer", s->label);
        double secs = (double)(t_seen - s->f.t_ns[0]) / 1e9;
        double mbs = (double)bytes / 1e6 / secs;
        long long stored = dir_bytes(s->logdir);
        printf("  %-20s %.0f MB/s: %.2f s until the last line was in %s; writer done after "
               "%.2f s; %lld bytes stored\n", s->label, mbs, secs, cur,
               s->f.done_ns ? (double)(s->f.done_ns - s->f.t_ns[0]) / 1e9 : -1.0, stored);
        if (stored < bytes)
            printf("  WARNING: %s stored %lld of %lld bytes\n", s->label, stored, bytes);
        result("log_throughput", s, mbs, "MB/s", 1, floor_mbs, s->kind == K_TEND ? ">=500" : NULL);
        (void)sys_down(s);
        (void)rm_rf(s->logdir);
        s->writer_bytes = 0;
    }
    result("log_throughput", NULL, floor_mbs, "MB/s", 1, floor_mbs, NULL);
}

int main(int argc, char **argv)
{
    static const char *const known[] = {"latency", "rss", "start", "idle", "status",
                                        "killall", "logs", "all", "plan"};
    const char *systems = getenv("BENCH_SYSTEMS"), *configs = getenv("BENCH_CONFIGS");
    const char *scen;
    struct sigaction sa;
    struct rlimit rl;
    static char tend_abs[PATH_MAX], beacon_abs[PATH_MAX];
    char tmpl[sizeof(g.dir)];
    bool all;

    if (argc != 4) {
        fprintf(stderr, "usage: sup_driver latency|rss|start|idle|status|killall|logs|all"
                        "[,...] TEND BEACON\n       sup_driver plan TEND BEACON\n");
        return 2;
    }
    scen = argv[1];
    for (const char *p = scen; *p != '\0';) {
        size_t wl = strcspn(p, ",");
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= strlen(known[i]) == wl && strncmp(known[i], p, wl) == 0;
        if (!ok) {
            fprintf(stderr, "sup_driver: unknown scenario '%.*s'\n", (int)wl, p);
            return 2;
        }
        p += wl + (p[wl] == ',');
    }
    all = word_in(scen, "all");
    if (realpath(argv[2], tend_abs) == NULL || realpath(argv[3], beacon_abs) == NULL) {
        fprintf(stderr, "sup_driver: %s: %s\n", realpath(argv[2], tend_abs) ? argv[3] : argv[2],
                strerror(errno));
        return 2;
    }
    g.tend = tend_abs;
    g.beacon = beacon_abs;
    if (systems == NULL || *systems == '\0')
        systems = "tend";
    if (configs == NULL || *configs == '\0')
        configs = "fast";
    g.want_fast = true; /* the 1,000-program phase and logs always use the fast settings */
    g.want_default = word_in(configs, "default");
    g.tend_logcap = env_long("BENCH_TEND_LOGCAP", 0, 0, 1) == 1;

    /* Thousands of programs, each with pipes and files in its supervisor: raise the limit
     * that the supervisors inherit. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl); /* best effort: tend's minfds tries again */
    }
    /* Programs that a supervisor leaves behind become ours, so that we find and kill them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        fprintf(stderr, "sup_driver: warning: cannot become a subreaper: %s\n", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL); /* valid arguments: cannot fail */
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);

    snprintf(tmpl, sizeof(tmpl), "%s/tend-bench.XXXXXX",
             getenv("BENCH_TMP") != NULL && *getenv("BENCH_TMP") != '\0' ? getenv("BENCH_TMP")
                                                                         : "/tmp");
    if (mkdtemp(tmpl) == NULL) {
        fprintf(stderr, "sup_driver: cannot create %s: %s\n", tmpl, strerror(errno));
        return 1;
    }
    snprintf(g.dir, sizeof(g.dir), "%s", tmpl);
    if (strlen(tmpl) + 20 >= sizeof(g.sock_path)) {
        fprintf(stderr, "sup_driver: %s: path too long for a unix socket\n", tmpl);
        return 1;
    }
    memcpy(g.sock_path, tmpl, strlen(tmpl));
    memcpy(g.sock_path + strlen(tmpl), "/beacon.sock", sizeof("/beacon.sock"));
    g.ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC); /* -1: poll tend's log every 20 ms */
    open_socket();

    /* The systems: each selected kind in the fast configuration, and in the default one if
     * asked (the default one only runs latency and rss-100). */
    for (int pass = 0; pass < 2; pass++) {
        bool fast = pass == 0;
        if (!fast && !g.want_default)
            continue;
        for (int k = 0; k < K_COUNT; k++) {
            if (word_in(systems, kinds[k].name))
                sys_init(&g.sys[g.nsys], (enum kind)k, fast, g.nsys), g.nsys++;
        }
    }
    for (const char *p = systems; *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t wl = strcspn(p, " ,");
        bool ok = wl == 0;
        for (int k = 0; k < K_COUNT; k++)
            ok |= strlen(kinds[k].name) == wl && strncmp(kinds[k].name, p, wl) == 0;
        if (!ok)
            fprintf(stderr, "sup_driver: BENCH_SYSTEMS: unknown system '%.*s' (ignored)\n",
                    (int)wl, p);
        p += wl;
    }
    if (g.nsys == 0) {
        fprintf(stderr, "sup_driver: BENCH_SYSTEMS names no system\n");
        return 2;
    }

    if (word_in(scen, "plan")) { /* the BENCH_N phase's plan, nothing started */
        struct sys *sys[MAX_SYS];
        size_t ns = systems_for(true, sys);
        struct plan plan;
        int n = (int)env_long("BENCH_N", 1000, 1, MAX_PIDS - 8);
        make_plan(&plan, sys, ns, n);
        printf("%s\n", plan.text);
        cleanup_files();
        return 0;
    }
    if (all || word_in(scen, "latency")) {
        scenario_latency(true);
        if (g.want_default)
            scenario_latency(false);
    }
    if (all || word_in(scen, "rss")) {
        scenario_rss100(true);
        if (g.want_default)
            scenario_rss100(false);
    }
    if (all || word_in(scen, "start") || word_in(scen, "rss") || word_in(scen, "idle") ||
        word_in(scen, "status") || word_in(scen, "killall"))
        phase_big(all || word_in(scen, "start"), all || word_in(scen, "rss"),
                  all || word_in(scen, "idle"), all || word_in(scen, "status"),
                  all || word_in(scen, "killall"));
    if (all || word_in(scen, "logs"))
        scenario_logs();

    own_stop_all();
    for (size_t i = 0; i < g.nsys; i++)
        (void)sys_down(&g.sys[i]);
    if (reap_strays() > 0)
        printf("  WARNING: processes were left behind at the end (killed)\n");
    cleanup_files();
    return 0;
}
