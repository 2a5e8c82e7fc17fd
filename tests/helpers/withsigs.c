/* withsigs: run a command with a chosen signal mask and chosen ignored signals, the state
 * that a careless parent (nohup, a shell, a service manager) can leave behind.
 *
 *   usage: withsigs [-b SIG]... [-i SIG]... [-d SIG]... [--] CMD [ARG...]
 *
 *   -b SIG   block SIG in the mask CMD inherits
 *   -i SIG   set SIG to SIG_IGN (an ignored signal stays ignored across exec)
 *   -d SIG   set SIG back to SIG_DFL (e.g. undo a shell's trap '' SIG)
 * SIG is a name (TERM, SIGTERM), a number, or "all": every signal 1..SIGRTMAX that the
 * kernel lets us block or ignore (all but SIGKILL and SIGSTOP, and the two real-time signals
 * glibc reserves for itself). Options apply in order, then CMD is exec'd (searched on PATH);
 * 127/126 if that fails. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* Returns the signal number, 0 for "all", -1 if unknown. */
static int parse_signal(const char *s)
{
    char *end;
    long n;
    size_t i;

    if (strcasecmp(s, "all") == 0)
        return 0;
    errno = 0;
    n = strtol(s, &end, 10);
    if (errno == 0 && end != s && *end == '\0')
        return (n >= 1 && n <= SIGRTMAX) ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (i = 0; i < sizeof signames / sizeof signames[0]; i++) {
        if (strcasecmp(s, signames[i].name) == 0)
            return signames[i].sig;
    }
    return -1;
}

/* Apply one option to one signal. "all" skips what cannot be changed, quietly. */
static int apply(char what, int sig, int quiet)
{
    if (what == 'b') {
        sigset_t set;
        sigemptyset(&set);
        if (sigaddset(&set, sig) == -1 || sigprocmask(SIG_BLOCK, &set, NULL) == -1)
            goto fail;
        return 0;
    }
    if (signal(sig, what == 'i' ? SIG_IGN : SIG_DFL) == SIG_ERR)
        goto fail;
    return 0;
fail:
    if (quiet)
        return 0;
    fprintf(stderr, "withsigs: cannot change signal %d: %s\n", sig, strerror(errno));
    return -1;
}

int main(int argc, char **argv)
{
    int i = 1, err;

    while (i < argc && argv[i][0] == '-') {
        char what = argv[i][1];
        int sig;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if ((what != 'b' && what != 'i' && what != 'd') || argv[i][2] != '\0' || i + 1 >= argc)
            goto usage;
        sig = parse_signal(argv[i + 1]);
        if (sig == -1) {
            fprintf(stderr, "withsigs: unknown signal '%s'\n", argv[i + 1]);
            return 2;
        }
        if (sig == 0) {
            int s;
            for (s = 1; s <= SIGRTMAX; s++) {
                /* glibc keeps SIGRTMIN-2 .. SIGRTMIN-1 (32, 33) for threads: leave them. */
                if (s == SIGKILL || s == SIGSTOP || (s >= 32 && s < SIGRTMIN))
                    continue;
                (void)apply(what, s, 1);
            }
        } else if (apply(what, sig, 0) == -1) {
            return 2;
        }
        i += 2;
    }
    if (i >= argc)
        goto usage;
    execvp(argv[i], argv + i);
    err = errno;
    fprintf(stderr, "withsigs: %s: cannot execute: %s\n", argv[i], strerror(err));
    return err == ENOENT ? 127 : 126;

usage:
    fprintf(stderr, "usage: withsigs [-b SIG]... [-i SIG]... [-d SIG]... [--] CMD [ARG...]\n");
    return 2;
}
