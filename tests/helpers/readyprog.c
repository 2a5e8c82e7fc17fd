/* readyprog: a program that takes its time to become ready, and says so in one of the ways
 * tend's readiness= understands; and a sender of arbitrary sd_notify datagrams.
 *
 *   readyprog [-d MS] [-n] [-M] [-p PORT] [-w MS] [-m TEXT] NOTEFILE
 *       Appends "start MS_SINCE_EPOCH PID" to NOTEFILE, waits -d MS (default 0), then
 *       becomes ready: listens on 127.0.0.1:PORT (-p), appends "ready MS_SINCE_EPOCH PID"
 *       and then sends "READY=1\nSTATUS=TEXT" to $NOTIFY_SOCKET (-n; TEXT from -m, default
 *       "serving"; with -M also MAINPID= its own pid). With -w, sends WATCHDOG=1 every MS
 *       until SIGUSR1 (then it goes silent, appending "silent MS_SINCE_EPOCH PID"). Accepts
 *       and closes connections; runs until a signal ends it.
 *   readyprog --send SOCKET TEXT       one datagram TEXT ("\n" as written is a newline)
 *   readyprog --send-size SOCKET N     one datagram of N bytes "READY=1\nX=xxx..."
 *       to SOCKET (a path, or '@' and an abstract name). Exit 0 when sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t silent;

static void on_usr1(int sig)
{
    (void)sig;
    silent = 1;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note(const char *file, const char *what)
{
    char line[128];
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    int n = snprintf(line, sizeof(line), "%s %lld %d\n", what, now_ms(), (int)getpid());

    if (fd == -1 || write(fd, line, (size_t)n) != n) {
        perror("readyprog: note");
        exit(1);
    }
    close(fd);
}

static int send_to(const char *sock, const char *buf, size_t len)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t sl = strlen(sock);
    socklen_t alen;
    int fd;

    if (sl < 2 || sl >= sizeof(a.sun_path))
        return -1;
    memcpy(a.sun_path, sock, sl);
    if (sock[0] == '@')
        a.sun_path[0] = '\0';
    alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sl + (sock[0] != '@'));
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    /* Large datagrams need a large enough send buffer. */
    int sz = (int)len + 4096;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    if (sendto(fd, buf, len, 0, (struct sockaddr *)&a, alen) == -1) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* "\n" written as two characters becomes a newline. */
static size_t unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') {
            *w++ = '\n';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

int main(int argc, char **argv)
{
    int delay = 0, port = 0, wd = 0, opt, lfd = -1;
    int notify = 0, mainpid = 0;
    const char *text = "serving";

    if (argc == 4 && strcmp(argv[1], "--send") == 0) {
        size_t len = unescape(argv[3]);
        if (send_to(argv[2], argv[3], len) == -1) {
            perror("readyprog: send");
            return 1;
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--send-size") == 0) {
        size_t n = (size_t)atol(argv[3]);
        char *buf = malloc(n + 1);
        if (buf == NULL || n < 10)
            return 2;
        memset(buf, 'x', n);
        memcpy(buf, "READY=1\nX=", 10);
        if (send_to(argv[2], buf, n) == -1) {
            perror("readyprog: send");
            return 1;
        }
        free(buf);
        return 0;
    }
    while ((opt = getopt(argc, argv, "d:nMp:w:m:")) != -1) {
        switch (opt) {
        case 'd': delay = atoi(optarg); break;
        case 'n': notify = 1; break;
        case 'M': mainpid = 1; break;
        case 'p': port = atoi(optarg); break;
        case 'w': wd = atoi(optarg); break;
        case 'm': text = optarg; break;
        default:
            fprintf(stderr, "usage: readyprog [-d MS] [-n] [-p PORT] [-w MS] [-m TEXT] FILE\n");
            return 2;
        }
    }
    if (optind + 1 != argc)
        return 2;
    signal(SIGUSR1, on_usr1);
    note(argv[optind], "start");
    if (delay > 0)
        poll(NULL, 0, delay);
    if (port > 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        int one = 1;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (lfd == -1 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
            bind(lfd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(lfd, 64) == -1) {
            perror("readyprog: listen");
            return 1;
        }
    }
    /* Noted before it is said: whoever sees it ready sees the note's time as earlier. */
    note(argv[optind], "ready");
    if (notify) {
        const char *sock = getenv("NOTIFY_SOCKET");
        char msg[512];
        int n = mainpid ? snprintf(msg, sizeof(msg), "MAINPID=%d\nREADY=1\nSTATUS=%s",
                                   (int)getpid(), text)
                        : snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", text);
        if (sock == NULL || send_to(sock, msg, (size_t)n) == -1) {
            perror("readyprog: notify");
            return 1;
        }
    }
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int r = poll(&p, 1, wd > 0 && !silent ? wd : -1);
        if (r > 0 && (p.revents & POLLIN)) {
            int c = accept(lfd, NULL, NULL);
            if (c != -1)
                close(c);
        }
        if (wd > 0 && !silent) {
            const char *sock = getenv("NOTIFY_SOCKET");
            if (sock != NULL)
                (void)send_to(sock, "WATCHDOG=1", 10);
        } else if (wd > 0 && silent == 1) {
            silent = 2;
            note(argv[optind], "silent");
        }
    }
}
