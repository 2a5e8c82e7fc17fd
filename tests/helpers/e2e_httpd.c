/* e2e_httpd: a small HTTP server for health-check tests that can be told to stop answering
 * while it stays alive.
 *
 *   usage: e2e_httpd [-r READYFILE] [-a ACCEPTLOG] [-s STATUS] [-m] PORT
 *          e2e_httpd --free-port
 *
 * Listens on 127.0.0.1:PORT (SO_REUSEADDR) and answers every request with
 * "HTTP/1.1 STATUS ..." (default 200) once it has read the request's blank line, then closes
 * the connection. Then writes "ready PID PORT\n" to READYFILE atomically (READYFILE.tmp +
 * rename), so a test may connect, or signal, as soon as the file appears.
 *
 *   -a ACCEPTLOG  append "accepted PID N\n" to ACCEPTLOG for every connection accepted (N
 *                 counts from 1), and "answered PID N\n" when it has been answered: a test
 *                 can wait for a health check to be in flight
 *   -s STATUS     answer with this HTTP status (e.g. 500) instead of 200
 *   -m            start mute (as after SIGUSR1)
 *
 * Signals (taken through a signalfd, so they are never lost and never interrupt a write):
 *   SIGUSR1  go mute: keep listening and accepting, read requests, never answer; every
 *            accepted connection is held open until the process ends (a hanging endpoint)
 *   SIGUSR2  close the listening socket and keep running (a TCP check gets "connection
 *            refused" from a process that is still alive)
 *   SIGHUP   answer again (undo SIGUSR1)
 *   SIGTERM, SIGINT  exit 0 at once (_exit)
 *
 * --free-port binds 127.0.0.1:0, prints the port the kernel chose and exits 0: a port that
 * was free a moment ago, for a config written before the server runs.
 *
 * Exit status: 0 on SIGTERM, 1 on a system error (one line on stderr), 2 on a usage error. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 256
#define REQ_MAX 4096

struct conn {
    int fd;
    unsigned long n; /* accept number */
    size_t len;
    char req[REQ_MAX];
};

static const char *accept_log;
static struct conn conns[MAX_CONNS];
static int nconns;

static void note(const char *what, unsigned long n)
{
    char line[64];
    int fd, len;

    if (accept_log == NULL)
        return;
    len = snprintf(line, sizeof line, "%s %d %lu\n", what, (int)getpid(), n);
    fd = open(accept_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1)
        return;
    (void)!write(fd, line, (size_t)len); /* one small O_APPEND write: atomic */
    close(fd);
}

static int write_ready(const char *path, int port)
{
    char tmp[PATH_MAX], text[64];
    int fd, n;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = snprintf(text, sizeof text, "ready %d %d\n", (int)getpid(), port);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (write(fd, text, (size_t)n) != n) {
        close(fd);
        errno = EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

static int listen_on(int port, int *bound)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd == -1)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == -1 || listen(fd, 64) == -1 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static void drop(int i)
{
    close(conns[i].fd);
    conns[i] = conns[--nconns];
}

/* Reads what the peer sent; answers once the request's header block is complete, unless
 * mute. Returns 1 when connection i was closed (and replaced by another). */
static int serve(int i, int status, int mute)
{
    struct conn *c = &conns[i];
    char reply[256];
    ssize_t r;
    int n;

    if (c->len < REQ_MAX - 1) {
        r = read(c->fd, c->req + c->len, REQ_MAX - 1 - c->len);
        if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
            drop(i);
            return 1;
        }
        if (r > 0)
            c->len += (size_t)r;
        c->req[c->len] = '\0';
    } else {
        char sink[512];
        r = read(c->fd, sink, sizeof sink); /* a mute server keeps draining */
        if (r == 0) {
            drop(i);
            return 1;
        }
    }
    if (mute || strstr(c->req, "\r\n\r\n") == NULL)
        return 0;
    n = snprintf(reply, sizeof reply,
                 "HTTP/1.1 %d %s\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                 status, status == 200 ? "OK" : "Not OK");
    (void)send(c->fd, reply, (size_t)n, MSG_NOSIGNAL); /* a vanished peer is no matter */
    note("answered", c->n);
    drop(i);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: e2e_httpd [-r READYFILE] [-a ACCEPTLOG] [-s STATUS] [-m] PORT\n"
                    "       e2e_httpd --free-port\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *ready = NULL;
    int status = 200, mute = 0, port, bound = 0, lfd, sfd, opt;
    unsigned long accepted = 0;
    sigset_t mask;

    if (argc == 2 && strcmp(argv[1], "--free-port") == 0) {
        lfd = listen_on(0, &bound);
        if (lfd == -1) {
            perror("e2e_httpd: cannot bind 127.0.0.1:0");
            return 1;
        }
        printf("%d\n", bound);
        close(lfd);
        return 0;
    }
    while ((opt = getopt(argc, argv, "r:a:s:m")) != -1) {
        switch (opt) {
        case 'r': ready = optarg; break;
        case 'a': accept_log = optarg; break;
        case 's': status = atoi(optarg); break;
        case 'm': mute = 1; break;
        default: return usage();
        }
    }
    if (optind + 1 != argc)
        return usage();
    port = atoi(argv[optind]);
    if (port <= 0 || port > 65535 || status < 100 || status > 999)
        return usage();

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGUSR2);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1 ||
        (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
        perror("e2e_httpd: signalfd");
        return 1;
    }
    lfd = listen_on(port, &bound);
    if (lfd == -1) {
        fprintf(stderr, "e2e_httpd: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    if (ready != NULL && write_ready(ready, bound) == -1) {
        fprintf(stderr, "e2e_httpd: cannot write %s: %s\n", ready, strerror(errno));
        return 1;
    }
    for (;;) {
        struct pollfd pfd[2 + MAX_CONNS];
        int n = 0, i;

        pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = lfd, .events = lfd == -1 ? 0 : POLLIN};
        for (i = 0; i < nconns; i++)
            pfd[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        if (poll(pfd, (nfds_t)n, -1) == -1) {
            if (errno == EINTR)
                continue;
            perror("e2e_httpd: poll");
            return 1;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                switch (si.ssi_signo) {
                case SIGUSR1:
                    mute = 1;
                    break;
                case SIGHUP:
                    mute = 0;
                    break;
                case SIGUSR2:
                    if (lfd != -1)
                        close(lfd);
                    lfd = -1;
                    break;
                default:
                    /* _exit: nothing to flush, and a sanitizer build's exit-time leak scan
                     * must not make a stop signal look ignored under load. */
                    _exit(0);
                }
            }
            continue; /* the set of descriptors may have changed */
        }
        if (lfd != -1 && (pfd[1].revents & POLLIN)) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c != -1 && nconns == MAX_CONNS) {
                close(c);
            } else if (c != -1) {
                conns[nconns] = (struct conn){.fd = c, .n = ++accepted};
                nconns++;
                note("accepted", accepted);
            }
        }
        /* Walk the polled connections from the end: serve() may move the last one into i. */
        for (i = n - 1; i >= 2; i--) {
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                (void)serve(i - 2, status, mute);
        }
    }
}
