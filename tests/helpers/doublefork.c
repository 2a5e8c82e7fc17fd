/* doublefork: daemonize the old-fashioned way, as the article's servers do.
 *
 *   usage: doublefork [-p PIDFILE] [-r READYFILE] [-d MS] [CMD [ARG...]]
 *
 * Forks; the child calls setsid and forks again, then exits; the grandchild (now orphaned,
 * reparented to the nearest subreaper or to PID 1):
 *   - waits MS milliseconds if -d is given (a slow daemon: its pidfile appears late),
 *   - writes its pid and a newline to PIDFILE atomically (PIDFILE.tmp + rename),
 *   - writes "ready PID\n" to READYFILE the same way,
 *   - execs CMD (searched on PATH), or pauses forever if there is none (SIGTERM ends it).
 * The original process exits 0 once the grandchild has exec'd CMD (or has written its files
 * and is about to pause), having reaped the middle child, so when it returns the pidfile is
 * there. If a step fails it prints one line and exits 1 (127/126 if CMD cannot be executed).
 *
 * The grandchild reports back over a close-on-exec pipe: EOF alone means exec succeeded,
 * an int means it failed with that errno. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <poll.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What failed in the grandchild, sent to the original. */
struct report {
    int stage; /* STAGE_* */
    int err;
};

enum { STAGE_PIDFILE = 1, STAGE_READY, STAGE_EXEC };

static int write_file_atomic(const char *path, const char *text)
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
        int saved = errno;
        close(fd);
        errno = saved ? saved : EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

static void report_and_exit(int fd, int stage, int err)
{
    struct report r = {stage, err};
    (void)!write(fd, &r, sizeof r); /* If the original is gone, nobody is left to tell. */
    _exit(stage == STAGE_EXEC ? (err == ENOENT ? 127 : 126) : 1);
}

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *pidfile = NULL, *ready = NULL;
    long delay_ms = 0;
    int pipe_fd[2], opt, status;
    struct report r;
    ssize_t n;
    pid_t pid;

    while ((opt = getopt(argc, argv, "+p:r:d:")) != -1) {
        char *end;
        switch (opt) {
        case 'p':
            pidfile = optarg;
            break;
        case 'r':
            ready = optarg;
            break;
        case 'd':
            errno = 0;
            delay_ms = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || delay_ms < 0 ||
                delay_ms > 3600000) {
                fprintf(stderr, "doublefork: -d: not a number of milliseconds: '%s'\n", optarg);
                return 2;
            }
            break;
        default:
            fprintf(stderr, "usage: doublefork [-p PIDFILE] [-r READYFILE] [-d MS] [CMD...]\n");
            return 2;
        }
    }

    if (pipe2(pipe_fd, O_CLOEXEC) == -1) {
        perror("doublefork: pipe2");
        return 1;
    }
    pid = fork();
    if (pid == -1) {
        perror("doublefork: cannot fork");
        return 1;
    }
    if (pid == 0) {
        pid_t grandchild;
        char text[64];

        close(pipe_fd[0]);
        if (setsid() == -1)
            _exit(1);
        pid_t middle = getpid();
        grandchild = fork();
        if (grandchild == -1)
            _exit(1);
        if (grandchild > 0)
            _exit(0);
        /* Like a real daemon, write the pidfile once orphaned. A pidfd of `middle` becomes
         * readable only after its children were handed to the reaper. While getppid() still
         * names it, `middle` is not reaped, so the pidfd is its own (not a reused pid's);
         * once getppid() names another, the reparenting is done and nothing is left to wait
         * for. (A parent-death signal would race: the kernel changes the parent before it
         * sends the signal, so a check of getppid() can see the new parent first.) */
        int pidfd = (int)syscall(SYS_pidfd_open, middle, 0);
        if (pidfd != -1) {
            struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
            while (getppid() == middle && poll(&pfd, 1, -1) == -1 && errno == EINTR)
                ;
            close(pidfd);
        }

        if (delay_ms > 0) {
            struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000};
            while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
        }
        snprintf(text, sizeof text, "%d\n", (int)getpid());
        if (pidfile != NULL && write_file_atomic(pidfile, text) == -1)
            report_and_exit(pipe_fd[1], STAGE_PIDFILE, errno);
        snprintf(text, sizeof text, "ready %d\n", (int)getpid());
        if (ready != NULL && write_file_atomic(ready, text) == -1)
            report_and_exit(pipe_fd[1], STAGE_READY, errno);
        if (optind < argc) {
            execvp(argv[optind], argv + optind);
            report_and_exit(pipe_fd[1], STAGE_EXEC, errno);
        }
        signal(SIGTERM, on_term);
        close(pipe_fd[1]); /* No exec to close it for us: this is the "all is well". */
        for (;;)
            pause();
    }

    close(pipe_fd[1]);
    while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
        ;
    do {
        n = read(pipe_fd[0], &r, sizeof r);
    } while (n == -1 && errno == EINTR);
    if (n == (ssize_t)sizeof r) {
        const char *what = r.stage == STAGE_PIDFILE ? pidfile
                           : r.stage == STAGE_READY ? ready
                                                    : argv[optind];
        fprintf(stderr, "doublefork: %s: cannot %s: %s\n", what,
                r.stage == STAGE_EXEC ? "execute" : "write", strerror(r.err));
        return r.stage == STAGE_EXEC ? (r.err == ENOENT ? 127 : 126) : 1;
    }
    if (n != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "doublefork: the daemon did not start\n");
        return 1;
    }
    return 0;
}
