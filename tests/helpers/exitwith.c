/* exitwith: end with a chosen exit status or signal, optionally after a readiness report,
 * a delay, or a go-ahead signal.
 *
 *   usage: exitwith [-r READYFILE] [-m MS] [-u] N         exit with status N (0..255)
 *          exitwith [-r READYFILE] [-m MS] [-u] -s SIG   die of signal SIG (name or number)
 *
 *   -r READYFILE  first write "ready PID\n" to READYFILE atomically (READYFILE.tmp + rename)
 *   -m MS         then run for MS milliseconds before ending (a program that "crashes after a
 *                 while", for startsecs-style tests; tests themselves never sleep)
 *   -u            then wait for SIGUSR1 before ending (the test decides when)
 *
 * -s SIG: the signal's disposition is reset to default and it is unblocked before raising it,
 * so the death is by SIG even if the caller ignored or blocked it. Signals that do not
 * terminate by default (CHLD, CONT, STOP, TSTP, TTIN, TTOU, URG, WINCH) are refused with
 * status 2. Core dumps are disabled first (the process is made non-dumpable), so SIGSEGV or
 * SIGABRT end quickly without writing a core file; the status still says "killed by SIG". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct signame {
    const char *name;
    int sig;
};

static const struct signame signames[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"BUS", SIGBUS},       {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},   {"TERM", SIGTERM},     {"STKFLT", SIGSTKFLT},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},   {"URG", SIGURG},       {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
    {"IO", SIGIO},     {"PWR", SIGPWR},     {"SYS", SIGSYS},
};

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return (errno == 0 && end != s && *end == '\0' && *out >= min && *out <= max) ? 0 : -1;
}

static int parse_signal(const char *s)
{
    long n;
    size_t i;
    if (parse_long(s, 1, SIGRTMAX, &n) == 0)
        return (int)n;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; i < sizeof signames / sizeof signames[0]; i++) {
        if (strcasecmp(s, signames[i].name) == 0)
            return signames[i].sig;
    }
    return -1;
}

static int write_ready(const char *path)
{
    char tmp[PATH_MAX], buf[64];
    int fd, n;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = snprintf(buf, sizeof buf, "ready %d\n", (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (write(fd, buf, (size_t)n) != n) {
        int saved = errno;
        close(fd);
        errno = saved ? saved : EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    const char *ready = NULL;
    long delay_ms = -1, code = 0;
    int wait_usr1 = 0, sig = 0, opt;

    while ((opt = getopt(argc, argv, "+r:m:us:")) != -1) {
        switch (opt) {
        case 'r':
            ready = optarg;
            break;
        case 'm':
            if (parse_long(optarg, 0, LONG_MAX / 1000000, &delay_ms) == -1) {
                fprintf(stderr, "exitwith: -m: not a number of milliseconds: '%s'\n", optarg);
                return 2;
            }
            break;
        case 'u':
            wait_usr1 = 1;
            break;
        case 's':
            sig = parse_signal(optarg);
            if (sig == -1) {
                fprintf(stderr, "exitwith: -s: unknown signal '%s'\n", optarg);
                return 2;
            }
            break;
        default:
            goto usage;
        }
    }
    if (sig == 0) {
        if (optind != argc - 1 || parse_long(argv[optind], 0, 255, &code) == -1)
            goto usage;
    } else if (optind != argc) {
        goto usage;
    }
    switch (sig) {
    case SIGCHLD: case SIGCONT: case SIGSTOP: case SIGTSTP:
    case SIGTTIN: case SIGTTOU: case SIGURG: case SIGWINCH:
        fprintf(stderr, "exitwith: signal %d does not terminate a process by default\n", sig);
        return 2;
    default:
        break;
    }

    if (wait_usr1) {
        /* Block SIGUSR1 before announcing readiness, so a prompt go-ahead is not lost. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
    }
    if (ready != NULL && write_ready(ready) == -1) {
        fprintf(stderr, "exitwith: cannot write %s: %s\n", ready, strerror(errno));
        return 2;
    }
    if (delay_ms > 0) {
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
            ;
    }
    if (wait_usr1) {
        sigset_t set;
        int got;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        while (sigwait(&set, &got) != 0)
            ;
    }

    if (sig != 0) {
        struct rlimit no_core = {0, 0};
        sigset_t set;
        (void)setrlimit(RLIMIT_CORE, &no_core); /* Best effort; non-dumpable covers pipes. */
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        signal(sig, SIG_DFL);
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(sig);
        fprintf(stderr, "exitwith: still alive after raising signal %d\n", sig);
        return 2;
    }
    return (int)code;

usage:
    fprintf(stderr, "usage: exitwith [-r READYFILE] [-m MS] [-u] N\n"
                    "       exitwith [-r READYFILE] [-m MS] [-u] -s SIG\n");
    return 2;
}
