/* inpty: run a command on a new pseudo-terminal that is its controlling terminal.
 *
 *   usage: inpty CMD [ARG...]
 *
 * CMD runs in a new session (it is the session leader) with the pty's slave side as its
 * controlling terminal and as its stdin, stdout and stderr. Everything written to the pty is
 * copied, byte for byte, to inpty's stdout (output post-processing is off, so "\n" stays "\n"
 * and is not turned into "\r\n"; echo is off). inpty does not feed its own stdin to the
 * terminal: CMD reads nothing unless it opens something else.
 *
 * When CMD exits, inpty copies what is still buffered in the pty and exits with CMD's status
 * (128+N if killed by signal N; 127/126 if CMD could not be executed). It does not wait for
 * other holders of the terminal: a process that kept the tty open does not hold the test up.
 * As CMD is the controlling process, its exit hangs the terminal up (SIGHUP to the session's
 * foreground group), which is how a test checks that a daemon really left the session.
 * SIGTERM, SIGINT and SIGHUP sent to inpty are forwarded to CMD. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
    int saved = errno;
    if (child_pid > 0)
        (void)kill((pid_t)child_pid, sig); /* Nothing to do if it is already gone. */
    errno = saved;
}

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* stdout is gone: keep draining the pty, just drop the bytes. */
        buf += w;
        n -= (size_t)w;
    }
}

/* Copy what the pty holds now to stdout. Returns 0 at EOF/EIO (no slave holder left), 1 if
 * the master is still open but empty for now, -1 on error. The master is non-blocking. */
static int copy_available(int master_fd)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(master_fd, buf, sizeof buf);
        if (n > 0) {
            write_all(STDOUT_FILENO, buf, (size_t)n);
            continue;
        }
        if (n == 0 || errno == EIO)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 1;
        return -1;
    }
}

static int status_to_exit(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int main(int argc, char **argv)
{
    int master_fd, slave_fd, pid_fd, status;
    struct termios tio;
    struct winsize ws = {24, 80, 0, 0};
    struct sigaction sa;
    pid_t pid;
    int master_open = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: inpty CMD [ARG...]\n");
        return 2;
    }
    if (openpty(&master_fd, &slave_fd, NULL, NULL, &ws) == -1) {
        perror("inpty: cannot open a pseudo-terminal");
        return 1;
    }
    /* Settle the terminal modes before CMD can write anything. */
    if (tcgetattr(slave_fd, &tio) == 0) {
        tio.c_oflag &= ~(tcflag_t)OPOST;
        tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        (void)tcsetattr(slave_fd, TCSANOW, &tio); /* Cosmetic: only affects line endings. */
    }

    pid = fork();
    if (pid == -1) {
        perror("inpty: cannot fork");
        return 1;
    }
    if (pid == 0) {
        int err;
        close(master_fd);
        /* New session first: TIOCSCTTY only works for a session leader without a terminal. */
        if (setsid() == -1 || ioctl(slave_fd, TIOCSCTTY, 0) == -1) {
            perror("inpty: cannot make the pty the controlling terminal");
            _exit(1);
        }
        if (dup2(slave_fd, 0) == -1 || dup2(slave_fd, 1) == -1 || dup2(slave_fd, 2) == -1)
            _exit(1);
        if (slave_fd > 2)
            close(slave_fd);
        execvp(argv[1], argv + 1);
        err = errno;
        fprintf(stderr, "inpty: %s: cannot execute: %s\n", argv[1], strerror(err));
        _exit(err == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    /* Our copy of the slave must go, or the master would never see EOF. */
    close(slave_fd);
    (void)fcntl(master_fd, F_SETFD, FD_CLOEXEC);
    if (fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK) == -1) {
        perror("inpty: fcntl");
        return 1;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pid_fd == -1) {
        perror("inpty: pidfd_open");
        return 1;
    }

    for (;;) {
        struct pollfd pfd[2] = {{pid_fd, POLLIN, 0}, {master_open ? master_fd : -1, POLLIN, 0}};
        int r = poll(pfd, 2, -1);
        if (r == -1) {
            if (errno == EINTR)
                continue;
            perror("inpty: poll");
            return 1;
        }
        if (master_open && pfd[1].revents != 0 && copy_available(master_fd) != 1)
            master_open = 0; /* Every slave holder is gone; just wait for CMD. */
        if (pfd[0].revents != 0)
            break;
    }
    /* CMD has exited. A read on the master flushes the pty's pending input buffer first, so
     * this picks up everything CMD wrote before it died. */
    if (master_open)
        (void)copy_available(master_fd);
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            perror("inpty: waitpid");
            return 1;
        }
    }
    return status_to_exit(status);
}
