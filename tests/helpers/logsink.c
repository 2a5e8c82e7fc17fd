/* logsink: a minimal syslog receiver, for testing what a program sends to syslog without a
 * system logger.
 *
 *   usage: logsink [-r READYFILE] SOCKET OUTFILE
 *
 * Binds a unix datagram socket at SOCKET (the path syslog(3) calls /dev/log; a stale socket
 * file there is replaced, anything else is refused), then writes "ready PID\n" to READYFILE
 * atomically (READYFILE.tmp + rename) and appends every datagram it receives to OUTFILE as
 * one line: the raw message (e.g. "<14>Nov 25 07:00:00 TAG[123]: text"), a trailing newline
 * or NUL removed, embedded newlines turned into "\n" so one message stays one line. Each line
 * is one write(2) to an O_APPEND file, so `waitfor OUTFILE ERE` sees whole messages.
 * SIGTERM, SIGINT or SIGHUP: remove SOCKET and exit 0. Only datagram senders are served
 * (glibc's syslog tries a datagram socket first). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_MESSAGE 65536

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
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
    const char *ready = NULL, *sock_path, *out_path;
    struct sockaddr_un addr;
    struct sigaction sa;
    struct stat st;
    char *msg, *line;
    int sock_fd, out_fd, opt;

    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt != 'r')
            goto usage;
        ready = optarg;
    }
    if (argc - optind != 2)
        goto usage;
    sock_path = argv[optind];
    out_path = argv[optind + 1];

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(sock_path) >= sizeof addr.sun_path) {
        fprintf(stderr, "logsink: socket path too long: %s\n", sock_path);
        return 2;
    }
    strcpy(addr.sun_path, sock_path);
    if (lstat(sock_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "logsink: %s exists and is not a socket\n", sock_path);
            return 1;
        }
        (void)unlink(sock_path); /* bind reports it if this did not work */
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: recv must return so the loop sees stop */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock_fd == -1 || bind(sock_fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        fprintf(stderr, "logsink: cannot bind %s: %s\n", sock_path, strerror(errno));
        return 1;
    }
    (void)chmod(sock_path, 0666); /* Let any user log, as /dev/log allows. Best effort. */
    out_fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out_fd == -1) {
        fprintf(stderr, "logsink: cannot open %s: %s\n", out_path, strerror(errno));
        return 1;
    }
    if (ready != NULL && write_ready(ready) == -1) {
        fprintf(stderr, "logsink: cannot write %s: %s\n", ready, strerror(errno));
        return 1;
    }

    msg = malloc(MAX_MESSAGE + 1);
    line = malloc(2 * MAX_MESSAGE + 2);
    if (msg == NULL || line == NULL) {
        fprintf(stderr, "logsink: out of memory\n");
        return 1;
    }
    while (!stop) {
        ssize_t n = recv(sock_fd, msg, MAX_MESSAGE, 0);
        size_t i, len = 0;
        if (n == -1) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "logsink: recv: %s\n", strerror(errno));
            break;
        }
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\0'))
            n--;
        for (i = 0; i < (size_t)n; i++) {
            if (msg[i] == '\n') {
                line[len++] = '\\';
                line[len++] = 'n';
            } else {
                line[len++] = msg[i];
            }
        }
        line[len++] = '\n';
        if (write(out_fd, line, len) != (ssize_t)len)
            fprintf(stderr, "logsink: write %s: %s\n", out_path, strerror(errno));
    }
    (void)unlink(sock_path); /* Leave no socket for a later sender to hang on. */
    free(msg);
    free(line);
    close(out_fd);
    close(sock_fd);
    return 0;

usage:
    fprintf(stderr, "usage: logsink [-r READYFILE] SOCKET OUTFILE\n");
    return 2;
}
