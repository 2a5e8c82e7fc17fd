/* e2e_spawner: starts processes on request, as a service outside the supervisor's family
 * would (a pidfile naming a process that is not the supervisor's descendant).
 *
 *   usage: e2e_spawner -f FIFO -l LOG [-r READYFILE] CMD [ARG...]
 *
 * Creates FIFO (mode 0600) if it does not exist and reads lines from it. Each line is a
 * pidfile path: e2e_spawner forks, the child execs CMD (searched on PATH), and the child's
 * pid is written to that path atomically (PATH.tmp + rename) once the exec has succeeded.
 * LOG gets "spawned PID PATH\n" after each pidfile write and "reaped PID STATUS\n" when a
 * child ends (STATUS: "exit N" or "signal N"). The children stay e2e_spawner's own and it
 * reaps them, so they never become anyone else's zombies. READYFILE gets "ready PID\n" once
 * the FIFO is open. SIGTERM or SIGINT: exit 0, leaving the children running (the test's
 * cleanup kills them).
 *
 * A requester just writes a line: `echo /tmp/x.pid > FIFO`. The FIFO is opened read-write,
 * so requesters coming and going never make it see end-of-file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *log_path;

static void __attribute__((format(printf, 1, 2))) append_log(const char *fmt, ...)
{
    char line[PATH_MAX + 64];
    va_list ap;
    int n, fd;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd == -1)
        return;
    if (n > 0)
        (void)!write(fd, line, (size_t)n);
    close(fd);
}

static int write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    size_t n = strlen(text);
    int fd;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        errno = EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

/* Forks and execs argv; returns the child's pid once its exec succeeded, -1 otherwise. */
static pid_t spawn(char **argv, const sigset_t *old_mask)
{
    int p[2], err = 0;
    pid_t pid;
    ssize_t r;

    if (pipe2(p, O_CLOEXEC) == -1)
        return -1;
    pid = fork();
    if (pid == -1) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        sigprocmask(SIG_SETMASK, old_mask, NULL);
        execvp(argv[0], argv);
        err = errno;
        (void)!write(p[1], &err, sizeof err);
        _exit(127);
    }
    close(p[1]);
    do {
        r = read(p[0], &err, sizeof err);
    } while (r == -1 && errno == EINTR);
    close(p[0]);
    if (r > 0) {
        fprintf(stderr, "e2e_spawner: cannot execute %s: %s\n", argv[0], strerror(err));
        return -1; /* the child exits 127 and is reaped with the others */
    }
    return pid;
}

static void reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        char what[32];
        if (WIFEXITED(status))
            snprintf(what, sizeof what, "exit %d", WEXITSTATUS(status));
        else
            snprintf(what, sizeof what, "signal %d", WTERMSIG(status));
        append_log("reaped %ld %s\n", (long)pid, what);
    }
}

int main(int argc, char **argv)
{
    const char *fifo = NULL, *ready = NULL;
    char buf[PATH_MAX + 2], text[64];
    size_t len = 0;
    sigset_t mask, old;
    int opt, ffd, sfd;

    while ((opt = getopt(argc, argv, "+f:l:r:")) != -1) {
        switch (opt) {
        case 'f': fifo = optarg; break;
        case 'l': log_path = optarg; break;
        case 'r': ready = optarg; break;
        default: goto usage;
        }
    }
    if (fifo == NULL || log_path == NULL || optind >= argc)
        goto usage;

    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, &old) == -1 ||
        (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
        perror("e2e_spawner: signalfd");
        return 1;
    }
    if (mkfifo(fifo, 0600) == -1 && errno != EEXIST) {
        fprintf(stderr, "e2e_spawner: mkfifo %s: %s\n", fifo, strerror(errno));
        return 1;
    }
    ffd = open(fifo, O_RDWR | O_CLOEXEC);
    if (ffd == -1) {
        fprintf(stderr, "e2e_spawner: open %s: %s\n", fifo, strerror(errno));
        return 1;
    }
    snprintf(text, sizeof text, "ready %d\n", (int)getpid());
    if (ready != NULL && write_atomic(ready, text) == -1) {
        fprintf(stderr, "e2e_spawner: cannot write %s: %s\n", ready, strerror(errno));
        return 1;
    }
    for (;;) {
        struct pollfd pfd[2] = {{.fd = sfd, .events = POLLIN}, {.fd = ffd, .events = POLLIN}};
        if (poll(pfd, 2, -1) == -1) {
            if (errno == EINTR)
                continue;
            perror("e2e_spawner: poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) != (ssize_t)sizeof si && errno == EINTR)
                ;
            if (si.ssi_signo != SIGCHLD)
                _exit(0); /* at once: no exit-time leak scan in a sanitizer build */
            reap();
        }
        if (pfd[1].revents & POLLIN) {
            ssize_t r = read(ffd, buf + len, sizeof buf - 1 - len);
            char *nl;
            if (r <= 0)
                continue;
            len += (size_t)r;
            buf[len] = '\0';
            while ((nl = strchr(buf, '\n')) != NULL) {
                pid_t pid;
                *nl = '\0';
                if (buf[0] != '\0' && (pid = spawn(argv + optind, &old)) > 0) {
                    snprintf(text, sizeof text, "%d\n", (int)pid);
                    if (write_atomic(buf, text) == -1)
                        fprintf(stderr, "e2e_spawner: cannot write %s: %s\n", buf,
                                strerror(errno));
                    else
                        append_log("spawned %ld %s\n", (long)pid, buf);
                }
                len -= (size_t)(nl + 1 - buf);
                memmove(buf, nl + 1, len + 1);
            }
            if (len == sizeof buf - 1)
                len = 0; /* a line longer than a path: drop it */
        }
    }

usage:
    fprintf(stderr, "usage: e2e_spawner -f FIFO -l LOG [-r READYFILE] CMD [ARG...]\n");
    return 2;
}
