/* daeml_launch: how long `daeml PROGRAM` takes, against a bare fork+exec+wait of PROGRAM
 * measured in the same run.
 *
 *   usage: daeml_launch [-n RUNS] DAEML
 *
 * PROGRAM is this binary in target mode (`daeml_launch --target FILE`): the first thing its
 * main() does is read CLOCK_MONOTONIC, then it writes the value to FILE and exits. Each run
 * takes the time t0 just before fork and reports two figures:
 *   returned  t0 -> the caller's waitpid returns. For the baseline that is the target's
 *             whole life; for daeml it is the time until daeml exits, which it does only
 *             once the daemon's exec has succeeded: the latency a caller of daeml waits.
 *   reached   t0 -> the target's main() runs (its timestamp): the latency until the
 *             program's own code starts, daemonized or not.
 * The two kinds of run alternate, after a few warm-up runs, so that both see the same
 * machine state. Figures are medians and 99th percentiles (nearest rank) in microseconds,
 * each printed for people and as a `RESULT name=... value=... unit=us baseline=...
 * ratio=...` line (bench/README.md); the ratio is daeml's figure over the baseline's:
 *   daeml_return_median, daeml_return_p99   "returned" above
 *   daeml_exec_median, daeml_exec_p99       "reached" above
 * This process is a child subreaper, so the daemons are reparented to it and reaped, never
 * left to PID 1. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RUNS 200
#define WARMUP_RUNS 10
#define RUN_TIMEOUT_S 10

enum kind { KIND_BASELINE, KIND_DAEML, NKINDS };

struct sample {
    long long returned_ns;
    long long reached_ns;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Target mode: record when main() ran, as early as possible. */
static int target_main(const char *file)
{
    long long t = now_ns();
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld\n", t);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1 || write(fd, buf, (size_t)n) != n)
        return 1;
    return close(fd) == -1;
}

static void on_alarm(int sig)
{
    static const char msg[] = "daeml_launch: a run took more than 10 s; giving up\n";
    (void)sig;
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(1);
}

static int read_stamp(const char *file, long long *t)
{
    char buf[32];
    ssize_t n;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    *t = strtoll(buf, NULL, 10);
    return 0;
}

/* One run of one kind. Returns 0 and fills *s, or -1 with a message printed. */
static int run_once(enum kind kind, const char *daeml, const char *self, const char *stamp,
                    struct sample *s)
{
    char *const base_argv[] = {(char *)self, "--target", (char *)stamp, NULL};
    char *const daeml_argv[] = {(char *)daeml, (char *)self, "--target", (char *)stamp, NULL};
    long long t0, t1, reached;
    int status;
    pid_t pid;

    (void)unlink(stamp); /* A stale stamp would be read as this run's. */
    alarm(RUN_TIMEOUT_S);
    t0 = now_ns();
    pid = fork();
    if (pid == -1) {
        perror("daeml_launch: fork");
        return -1;
    }
    if (pid == 0) {
        if (kind == KIND_BASELINE)
            execv(self, base_argv);
        else
            execv(daeml, daeml_argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            perror("daeml_launch: waitpid");
            return -1;
        }
    }
    t1 = now_ns();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "daeml_launch: %s exited with status 0x%x\n",
                kind == KIND_BASELINE ? self : daeml, status);
        return -1;
    }
    /* The daemon was reparented to us: reap it (and anything else) so the stamp is written
     * and nothing accumulates. */
    while (waitpid(-1, &status, 0) != -1 || errno == EINTR)
        ;
    alarm(0);
    if (read_stamp(stamp, &reached) == -1) {
        fprintf(stderr, "daeml_launch: the target left no timestamp in %s\n", stamp);
        return -1;
    }
    s->returned_ns = t1 - t0;
    s->reached_ns = reached - t0;
    return 0;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Sorts v; returns the value at quantile q (nearest rank). */
static long long quantile(long long *v, size_t n, double q)
{
    size_t rank;
    qsort(v, n, sizeof *v, cmp_ll);
    rank = (size_t)(q * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* One figure, for people and for programs (bench/README.md: RESULT lines). */
static void figure(const char *name, const char *label, long long value_ns, long long base_ns)
{
    double value = (double)value_ns / 1e3, base = (double)base_ns / 1e3;
    double ratio = base_ns > 0 ? value / base : NAN;
    printf("  %-30s %10.1f us   baseline %10.1f us   ratio %.2f\n", label, value, base, ratio);
    printf("RESULT name=%s value=%.3f unit=us baseline=%.3f ratio=%.2f\n", name, value, base,
           ratio);
}

/* Median and p99 of daeml's samples against the baseline's (both arrays get sorted). */
static void report(const char *name, const char *label, long long *base, long long *daeml,
                   size_t n)
{
    char full_name[64], full_label[64];
    snprintf(full_name, sizeof full_name, "%s_median", name);
    snprintf(full_label, sizeof full_label, "%s, median", label);
    figure(full_name, full_label, quantile(daeml, n, 0.5), quantile(base, n, 0.5));
    snprintf(full_name, sizeof full_name, "%s_p99", name);
    snprintf(full_label, sizeof full_label, "%s, p99", label);
    figure(full_name, full_label, quantile(daeml, n, 0.99), quantile(base, n, 0.99));
}

int main(int argc, char **argv)
{
    char self[PATH_MAX], dir[] = "/tmp/daeml_launch.XXXXXX", stamp[PATH_MAX + 16];
    long long *v[NKINDS][2] = {{NULL, NULL}, {NULL, NULL}};
    struct sample s;
    long runs = DEFAULT_RUNS;
    const char *daeml;
    ssize_t n;
    long i;
    int k, opt, rc = 1;

    if (argc == 3 && strcmp(argv[1], "--target") == 0)
        return target_main(argv[2]);
    while ((opt = getopt(argc, argv, "n:")) != -1) {
        char *end;
        if (opt != 'n')
            goto usage;
        runs = strtol(optarg, &end, 10);
        if (*end != '\0' || runs < 1 || runs > 1000000)
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;
    daeml = argv[optind];

    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n == -1) {
        perror("daeml_launch: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    if (access(daeml, X_OK) == -1) {
        fprintf(stderr, "daeml_launch: %s: %s\n", daeml, strerror(errno));
        return 1;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1) {
        perror("daeml_launch: PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    signal(SIGALRM, on_alarm);
    if (mkdtemp(dir) == NULL) {
        perror("daeml_launch: mkdtemp");
        return 1;
    }
    snprintf(stamp, sizeof stamp, "%s/stamp", dir);
    for (k = 0; k < NKINDS; k++) {
        v[k][0] = calloc((size_t)runs, sizeof(long long));
        v[k][1] = calloc((size_t)runs, sizeof(long long));
        if (v[k][0] == NULL || v[k][1] == NULL) {
            fprintf(stderr, "daeml_launch: out of memory\n");
            goto out;
        }
    }

    for (i = 0; i < WARMUP_RUNS; i++) {
        for (k = 0; k < NKINDS; k++) {
            if (run_once((enum kind)k, daeml, self, stamp, &s) == -1)
                goto out;
        }
    }
    for (i = 0; i < runs; i++) {
        for (k = 0; k < NKINDS; k++) {
            if (run_once((enum kind)k, daeml, self, stamp, &s) == -1)
                goto out;
            v[k][0][i] = s.returned_ns;
            v[k][1][i] = s.reached_ns;
        }
    }
    printf("  %ld runs of each, alternating, after %d warm-up runs; target: %s --target\n",
           runs, WARMUP_RUNS, self);
    report("daeml_return", "daeml returned", v[KIND_BASELINE][0], v[KIND_DAEML][0],
           (size_t)runs);
    report("daeml_exec", "PROGRAM's main() ran", v[KIND_BASELINE][1], v[KIND_DAEML][1],
           (size_t)runs);
    rc = 0;
out:
    (void)unlink(stamp);
    (void)rmdir(dir);
    for (k = 0; k < NKINDS; k++) {
        free(v[k][0]);
        free(v[k][1]);
    }
    return rc;

usage:
    fprintf(stderr, "usage: daeml_launch [-n RUNS] DAEML\n");
    return 2;
}
