/* standin: a small stand-in for the article's servers (login_server, msg_server, ...), so
 * the example configs run as they are. It prints a line when it starts, optionally serves
 * HTTP on 127.0.0.1:PORT (answering every request with "200 ok", for health checks), can
 * crash after a while to show restarts, and exits 0 on SIGTERM.
 *
 *   standin NAME [--port PORT] [--crash-after SECONDS] */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd == -1)
        return -1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* best effort */
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(fd, 64) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve_one(int lfd)
{
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n"
                                "\r\nok\n";
    char buf[1024];
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

    if (c == -1)
        return;
    /* One read is enough for a health check's small GET; the reply does not depend on it. */
    (void)read(c, buf, sizeof(buf));
    (void)send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
    close(c);
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "standin";
    int port = 0, crash_after = 0, lfd = -1;
    sigset_t mask;
    struct pollfd pfd[2];

    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--crash-after") == 0)
            crash_after = atoi(argv[i + 1]);
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
        return 1;
    pfd[0].fd = signalfd(-1, &mask, SFD_CLOEXEC);
    pfd[0].events = POLLIN;
    if (port > 0 && (lfd = listen_on(port)) == -1) {
        fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d: %s\n", name, port, strerror(errno));
        return 1;
    }
    pfd[1].fd = lfd;
    pfd[1].events = POLLIN;
    printf("%s: started as pid %d%s\n", name, (int)getpid(), port ? " (serving HTTP)" : "");
    fflush(stdout);
    for (;;) {
        int n = poll(pfd, 2, crash_after > 0 ? crash_after * 1000 : -1);
        if (n == 0) {
            fprintf(stderr, "%s: simulated crash after %d s\n", name, crash_after);
            abort();
        }
        if (n == -1 && errno != EINTR)
            return 1;
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            printf("%s: SIGTERM, exiting\n", name);
            return 0;
        }
        if (n > 0 && (pfd[1].revents & POLLIN))
            serve_one(lfd);
    }
}
