/* web_bench: the measuring tool of bench/web.sh.
 *
 *   web_bench cli N TEND SOCKET
 *       Runs `TEND -s SOCKET status` (fork + exec, output to /dev/null) N times and prints
 *       "median_ms=M p99_ms=P" of the wall time of each run.
 *   web_bench http SECONDS CLIENTS PORT PATH
 *       CLIENTS threads each send GET PATH to 127.0.0.1:PORT on one keep-alive connection,
 *       one request at a time, for SECONDS; prints "rps=R errors=E" (R: complete 200
 *       answers per second, all threads together).
 *   web_bench ctl SECONDS CLIENTS SOCKET
 *       The same with the control protocol: each request is a connection that sends
 *       "tend/1 status" and reads to the final line, as any client does; prints "rps=R
 *       errors=E".
 *
 * Exit 0, or 2 on a usage or system error. Figures only: bench/web.sh puts them beside their
 * baselines. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static int run_cli(int n, const char *tend, const char *sock)
{
    double *t = calloc((size_t)n, sizeof *t);

    if (t == NULL)
        return 2;
    for (int i = 0; i < n; i++) {
        double t0 = now_s();
        pid_t pid = fork();
        if (pid == -1) {
            perror("web_bench: fork");
            return 2;
        }
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execl(tend, tend, "-s", sock, "status", (char *)NULL);
            _exit(127);
        }
        int st;
        while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
            ;
        t[i] = (now_s() - t0) * 1000;
        /* 3: a process not RUNNING is still a complete answer. */
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3)) {
            fprintf(stderr, "web_bench: tend status failed (status %d)\n", st);
            return 2;
        }
    }
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("median_ms=%.3f p99_ms=%.3f\n", t[n / 2], t[(n * 99) / 100]);
    free(t);
    return 0;
}

struct load {
    const char *target; /* PATH (http) or SOCKET (ctl) */
    int port;
    bool http;
    double until;
    atomic_long done;
    atomic_long errors;
};

static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd == -1)
        return -1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One HTTP answer with Content-Length; 1 for a 200, 0 for another status, -1 on an error. */
static int http_once(int fd, const char *req, size_t reqlen, char *buf, size_t cap)
{
    size_t len = 0;

    if (write(fd, req, reqlen) != (ssize_t)reqlen)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            if (len == cap - 1)
                return -1;
            continue;
        }
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl == NULL || cl > end)
            return -1;
        size_t body = strtoul(cl + 17, NULL, 10), head = (size_t)(end + 4 - buf);
        bool ok = strncmp(buf, "HTTP/1.1 200", 12) == 0;
        /* Read the body, reusing the buffer: only its length matters. */
        size_t have = len - head;
        while (have < body) {
            n = read(fd, buf, cap - 1);
            if (n <= 0)
                return -1;
            have += (size_t)n;
        }
        return ok ? 1 : 0;
    }
}

static int ctl_once(const char *path, char *buf, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    static const char req[] = "tend/1 status\n";
    size_t len = 0;
    int rc = -1;

    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd == -1 || connect(fd, (struct sockaddr *)&a, sizeof a) == -1 ||
        write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
        goto out;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        /* Keep only the tail: the final line is what ends the answer. */
        if (len > 64) {
            memmove(buf, buf + len - 64, 64);
            len = 64;
        }
        buf[len] = '\0';
        if (strstr(buf, "\nok\n") != NULL || strncmp(buf, "ok\n", 3) == 0) {
            rc = 1;
            break;
        }
    }
out:
    if (fd != -1)
        close(fd);
    return rc;
}

static void *worker(void *arg)
{
    struct load *l = arg;
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    char req[1024];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                          l->target);
    int fd = -1;

    if (buf == NULL)
        return NULL;
    while (now_s() < l->until) {
        int r;
        if (l->http) {
            if (fd == -1 && (fd = tcp_connect(l->port)) == -1) {
                atomic_fetch_add(&l->errors, 1);
                continue;
            }
            r = http_once(fd, req, (size_t)reqlen, buf, cap);
            if (r == -1) {
                close(fd);
                fd = -1;
            }
        } else {
            r = ctl_once(l->target, buf, cap);
        }
        if (r == 1)
            atomic_fetch_add(&l->done, 1);
        else
            atomic_fetch_add(&l->errors, 1);
    }
    if (fd != -1)
        close(fd);
    free(buf);
    return NULL;
}

static int run_load(bool http, double seconds, int clients, const char *port, const char *target)
{
    struct load l = {.target = target, .http = http, .port = port ? atoi(port) : 0};
    pthread_t *t = calloc((size_t)clients, sizeof *t);

    if (t == NULL)
        return 2;
    double t0 = now_s();
    l.until = t0 + seconds;
    for (int i = 0; i < clients; i++) {
        if (pthread_create(&t[i], NULL, worker, &l) != 0) {
            fprintf(stderr, "web_bench: cannot start a thread\n");
            return 2;
        }
    }
    for (int i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
    double took = now_s() - t0;
    printf("rps=%.1f errors=%ld\n", (double)atomic_load(&l.done) / took, atomic_load(&l.errors));
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "cli") == 0)
        return run_cli(atoi(argv[2]) > 0 ? atoi(argv[2]) : 1, argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "http") == 0)
        return run_load(true, atof(argv[2]), atoi(argv[3]) > 0 ? atoi(argv[3]) : 1, argv[4],
                        argv[5]);
    if (argc == 5 && strcmp(argv[1], "ctl") == 0)
        return run_load(false, atof(argv[2]), atoi(argv[3]) > 0 ? atoi(argv[3]) : 1, NULL,
                        argv[4]);
    fprintf(stderr, "usage: web_bench cli N TEND SOCKET\n"
                    "       web_bench http SECONDS CLIENTS PORT PATH\n"
                    "       web_bench ctl SECONDS CLIENTS SOCKET\n");
    return 2;
}
