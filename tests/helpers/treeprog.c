/* treeprog: programs whose process tree outgrows their main process, for the cgroup tests.
 *
 *   treeprog freeport                    print a TCP port of 127.0.0.1 free right now
 *   treeprog prefork -r READY -p PORT -w N
 *       like nginx: the master binds 127.0.0.1:PORT (no SO_REUSEPORT: a second binder fails),
 *       forks N workers that keep the listening socket and accept on it, writes READY
 *       ("ready MASTER\nworker PID\n..." atomically) and pauses. Exits 1 if it cannot bind.
 *   treeprog escape -r READY -t TERMFILE
 *       forks a child that calls setsid and forks again: the grandchild, out of the main
 *       process's session and group, appends "term PID" to TERMFILE when SIGTERM comes, then
 *       exits. READY gets "ready MAIN\nescaped PID\n". The main process pauses.
 *   treeprog alloc -r READY
 *       writes READY, then allocates and touches memory 1 MB at a time, forever.
 *   treeprog forkbomb -r READY
 *       forks paused children until fork fails, then writes "ready PID\nforks N errno E\n"
 *       to READY and pauses.
 * SIGTERM ends every paused process of these programs (exit 0) unless said otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *termfile;

static void die(const char *what)
{
    fprintf(stderr, "treeprog: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) == -1 ||
        rename(tmp, path) == -1)
        die(path);
}

static void on_term(int sig)
{
    (void)sig;
    if (termfile != NULL) {
        char line[64];
        int n = snprintf(line, sizeof(line), "term %d\n", (int)getpid());
        int fd = open(termfile, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd != -1) {
            (void)!write(fd, line, (size_t)n); /* a test reading it will notice a loss */
            (void)close(fd);
        }
    }
    _exit(0);
}

static void pause_forever(void)
{
    for (;;)
        pause();
}

static int listener(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1)
        die("socket");
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* TIME_WAIT only */
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
        die("bind");
    if (listen(fd, 16) == -1)
        die("listen");
    return fd;
}

int main(int argc, char **argv)
{
    const char *ready = NULL, *mode;
    int port = 0, workers = 2, opt;
    char text[8192];
    size_t len = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: treeprog freeport|prefork|escape|alloc|forkbomb [options]\n");
        return 2;
    }
    mode = argv[1];
    optind = 2;
    while ((opt = getopt(argc, argv, "r:p:w:t:")) != -1) {
        switch (opt) {
        case 'r': ready = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'w': workers = atoi(optarg); break;
        case 't': termfile = optarg; break;
        default: return 2;
        }
    }
    signal(SIGTERM, on_term);
    if (strcmp(mode, "freeport") == 0) {
        struct sockaddr_in a;
        socklen_t alen = sizeof(a);
        int fd = listener(0);
        if (getsockname(fd, (struct sockaddr *)&a, &alen) == -1)
            die("getsockname");
        printf("%d\n", ntohs(a.sin_port));
        return 0;
    }
    if (ready == NULL) {
        fprintf(stderr, "treeprog: -r READY is required\n");
        return 2;
    }
    len += (size_t)snprintf(text + len, sizeof(text) - len, "ready %d\n", (int)getpid());
    if (strcmp(mode, "prefork") == 0) {
        int fd = listener(port);
        for (int i = 0; i < workers; i++) {
            pid_t w = fork();
            if (w == -1)
                die("fork");
            if (w == 0) {
                for (;;) {
                    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                    if (c != -1)
                        (void)close(c);
                }
            }
            len += (size_t)snprintf(text + len, sizeof(text) - len, "worker %d\n", (int)w);
        }
        write_atomic(ready, text);
        pause_forever();
    }
    if (strcmp(mode, "escape") == 0) {
        int p[2];
        pid_t esc = 0;
        if (pipe(p) == -1)
            die("pipe");
        pid_t mid = fork();
        if (mid == -1)
            die("fork");
        if (mid == 0) {
            if (setsid() == -1)
                die("setsid");
            pid_t g = fork();
            if (g == -1)
                die("fork");
            if (g > 0)
                _exit(0);
            /* The handler is set (inherited) before the pid is announced. */
            esc = getpid();
            if (write(p[1], &esc, sizeof(esc)) != sizeof(esc))
                die("write");
            termfile = termfile ? termfile : "/dev/null";
            pause_forever();
        }
        if (read(p[0], &esc, sizeof(esc)) != sizeof(esc))
            die("read");
        termfile = NULL; /* the main process just exits on SIGTERM */
        len += (size_t)snprintf(text + len, sizeof(text) - len, "escaped %d\n", (int)esc);
        write_atomic(ready, text);
        pause_forever();
    }
    if (strcmp(mode, "alloc") == 0) {
        write_atomic(ready, text);
        for (;;) {
            char *m = malloc(1 << 20);
            if (m == NULL)
                die("malloc");
            memset(m, 1, 1 << 20);
        }
    }
    if (strcmp(mode, "forkbomb") == 0) {
        long n = 0;
        int err;
        for (;;) {
            pid_t c = fork();
            if (c == 0)
                pause_forever();
            if (c == -1) {
                err = errno;
                break;
            }
            n++;
        }
        len += (size_t)snprintf(text + len, sizeof(text) - len, "forks %ld errno %d\n", n, err);
        write_atomic(ready, text);
        pause_forever();
    }
    fprintf(stderr, "treeprog: unknown mode %s\n", mode);
    return 2;
}
