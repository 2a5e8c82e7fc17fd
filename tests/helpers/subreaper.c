/* subreaper: run a command as a child subreaper, so that nothing it starts can escape.
 *
 *   usage: subreaper CMD [ARG...]
 *
 * Sets PR_SET_CHILD_SUBREAPER, runs CMD as a child and reaps every descendant that is
 * reparented to it while CMD runs (daemons that double-fork end up here, never at PID 1).
 * SIGTERM, SIGINT and SIGHUP are forwarded to CMD. When CMD exits, every remaining descendant
 * (found by walking the ppid chains in /proc/PID/stat) gets SIGKILL, repeatedly until none is
 * left, and all are reaped. Exit status: CMD's, or 128+N if CMD was killed by signal N;
 * 127 if CMD could not be executed (126 if found but not executable).
 *
 * Signals are blocked and taken synchronously with sigtimedwait, so no handler ever runs and
 * the child starts with the caller's original mask and dispositions. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct pinfo {
    pid_t pid;
    pid_t ppid;
    char state;
};

static const int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP};

static int status_to_exit(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* Parse pid, state and ppid out of /proc/PID/stat. The comm field may hold spaces and
 * parentheses, so everything is read after the last ')'. Returns -1 if the process is gone. */
static int read_stat(pid_t pid, struct pinfo *out)
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;
    char *close_paren;
    int ppid;
    char state;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    if (close_paren == NULL || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2)
        return -1;
    out->pid = pid;
    out->ppid = (pid_t)ppid;
    out->state = state;
    return 0;
}

/* Snapshot every process in /proc. Returns the count, the array in *out (caller frees). */
static size_t scan_processes(struct pinfo **out)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    struct pinfo *v = NULL;
    size_t n = 0, cap = 0;

    *out = NULL;
    if (d == NULL) {
        perror("subreaper: cannot open /proc");
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        struct pinfo p;
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (read_stat((pid_t)atoi(e->d_name), &p) == -1)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct pinfo *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL)
                break; /* A partial scan is still useful; the caller rescans anyway. */
            v = nv;
            cap = ncap;
        }
        v[n++] = p;
    }
    closedir(d);
    *out = v;
    return n;
}

/* Send SIGKILL to every live descendant of this process. Returns how many were signalled.
 * A process forked after the scan is caught by the caller's next round. */
static size_t kill_descendants(void)
{
    struct pinfo *v;
    size_t n = scan_processes(&v), i, killed = 0;
    pid_t self = getpid();
    char *mine = calloc(n ? n : 1, 1);
    int changed = 1;

    if (mine == NULL) {
        free(v);
        return 0;
    }
    /* Mark descendants: a process is ours if its parent is us or is already marked.
     * Iterate to a fixed point, since /proc order does not follow the tree. */
    while (changed) {
        changed = 0;
        for (i = 0; i < n; i++) {
            size_t j;
            if (mine[i])
                continue;
            if (v[i].ppid == self) {
                mine[i] = 1;
                changed = 1;
                continue;
            }
            for (j = 0; j < n; j++) {
                if (mine[j] && v[j].pid == v[i].ppid) {
                    mine[i] = 1;
                    changed = 1;
                    break;
                }
            }
        }
    }
    for (i = 0; i < n; i++) {
        if (mine[i] && v[i].state != 'Z' && v[i].state != 'X') {
            if (kill(v[i].pid, SIGKILL) == 0)
                killed++;
        }
    }
    free(mine);
    free(v);
    return killed;
}

/* Reap every child that has exited. Returns 1 if there are no children left at all. */
static int reap_all(pid_t cmd_pid, int *cmd_status, int *cmd_done)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            if (pid == cmd_pid) {
                *cmd_status = status;
                *cmd_done = 1;
            }
            continue;
        }
        if (pid == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return errno == ECHILD;
    }
}

int main(int argc, char **argv)
{
    sigset_t blocked, orig;
    pid_t cmd_pid;
    int cmd_status = 0, cmd_done = 0;
    size_t i;

    if (argc < 2) {
        fprintf(stderr, "usage: subreaper CMD [ARG...]\n");
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == -1) {
        perror("subreaper: cannot set PR_SET_CHILD_SUBREAPER");
        return 1;
    }

    /* Block before forking, so a SIGCHLD or a SIGTERM that comes early is queued, not lost. */
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGCHLD);
    for (i = 0; i < sizeof forwarded_signals / sizeof forwarded_signals[0]; i++)
        sigaddset(&blocked, forwarded_signals[i]);
    if (sigprocmask(SIG_BLOCK, &blocked, &orig) == -1) {
        perror("subreaper: cannot block signals");
        return 1;
    }

    cmd_pid = fork();
    if (cmd_pid == -1) {
        perror("subreaper: cannot fork");
        return 1;
    }
    if (cmd_pid == 0) {
        int err;
        sigprocmask(SIG_SETMASK, &orig, NULL);
        execvp(argv[1], argv + 1);
        err = errno;
        fprintf(stderr, "subreaper: %s: cannot execute: %s\n", argv[1], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }

    /* While CMD runs: reap whatever arrives, forward termination requests. */
    while (!cmd_done) {
        siginfo_t si;
        int sig = sigwaitinfo(&blocked, &si);
        if (sig == -1)
            continue; /* EINTR: only from a stop/continue; just wait again. */
        if (sig == SIGCHLD)
            (void)reap_all(cmd_pid, &cmd_status, &cmd_done); /* Leftovers come next. */
        else
            (void)kill(cmd_pid, sig); /* CMD may be gone already; its status arrives anyway. */
    }

    /* CMD is gone: kill what it left behind. Each round kills what the scan finds, then
     * reaps. A survivor forked during the scan, or a child reparented to us later, is found
     * by the next round; the short wait between rounds only bounds that race, since a
     * SIGCHLD normally ends it at once. */
    for (;;) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        size_t killed = kill_descendants();
        int none_left = reap_all(cmd_pid, &cmd_status, &cmd_done);
        if (killed == 0 && none_left)
            break;
        (void)sigtimedwait(&blocked, NULL, &ts); /* Any signal, or the timeout: rescan. */
    }
    return status_to_exit(cmd_status);
}
