/* sup_beacon: the supervised program of the supervisor benchmarks (bench/supervisor.sh and
 * bench/compare.sh, both through bench/sup_driver.c).
 *
 *     sup_beacon SOCKET [ID]      (SOCKET may also come from $SUP_BEACON_SOCK; "-" = quiet)
 *
 * Run with neither, it prints its usage and exits 2 rather than pause forever, so that a
 * runner that tries every program in build/bench/ is not stuck on it (the driver also uses
 * that as "the cheapest client program there is", the floor of the status figure).
 *
 * The very first thing it does is read CLOCK_MONOTONIC; then it sends one datagram
 * {magic, pid, id, kind=0, time} to the unix datagram socket SOCKET, where the driver
 * (sup_driver) listens, and then it pauses until a signal kills it. The time is taken before
 * anything else so that the driver measures "kill -> the new instance runs main", not how
 * long the datagram waited in a full socket queue. Without a socket it only pauses: the
 * smallest possible idle C program, used as the memory baseline.
 *
 * SOCKET is taken from the first argument only when it has a slash (or is "-"): s6-supervise
 * runs ./run with the service's name as its one argument.
 *
 * Without an ID argument the ID is the number that ends the name of the current directory:
 * runit's runsv, s6-supervise and daemontools' supervise run ./run in the service directory
 * (named b_ID by the driver), so a service directory's run can be a symlink to this binary,
 * with the socket in the environment: nothing between the supervisor and main().
 *
 * $SUP_BEACON_WRITE=BYTES makes it a log writer: after the datagram it writes BYTES of
 * 100-byte lines to stdout in 64 KiB writes (BYTES rounded up to whole lines), then the line
 * "sup_beacon end ID", then sends a second datagram (kind=1) with the time the last write
 * returned, and pauses.
 *
 * The message layout is shared with sup_driver.c by copy (one file per program); keep the
 * two in step. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BEACON_MAGIC 0x7e4dbeacU
#define LINE_LEN 100

struct beacon_msg {
    uint32_t magic;
    int32_t pid;
    int32_t id;
    int32_t kind;  /* 0: started (t_ns = start of main); 1: writer done (t_ns = last write) */
    uint64_t t_ns; /* CLOCK_MONOTONIC */
};

static uint64_t ts_ns(const struct timespec *ts)
{
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}

/* The number that ends the name of the current directory, or -1. */
static int32_t id_from_cwd(void)
{
    char cwd[4096];
    size_t len;

    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    len = strlen(cwd);
    while (len > 0 && cwd[len - 1] >= '0' && cwd[len - 1] <= '9')
        len--;
    return cwd[len] == '\0' ? -1 : (int32_t)strtol(cwd + len, NULL, 10);
}

static void send_msg(int fd, const struct sockaddr_un *sa, const struct beacon_msg *m)
{
    /* Blocks while the driver's queue is full (net.unix.max_dgram_qlen); the time in the
     * message is already taken. A driver that is gone is nobody's loss. */
    while (sendto(fd, m, sizeof(*m), 0, (const struct sockaddr *)sa, sizeof(*sa)) == -1 &&
           errno == EINTR)
        ;
}

/* Writes `bytes` of lines and the end line to stdout. Returns 0, or -1 when stdout failed. */
static int write_lines(long long bytes, int32_t id)
{
    static char buf[65536 / LINE_LEN * LINE_LEN];
    char end[64];
    long long left = bytes;

    for (size_t i = 0; i < sizeof(buf); i += LINE_LEN) {
        memset(buf + i, 'x', LINE_LEN - 1);
        memcpy(buf + i, "sup_beacon log line ", 20);
        buf[i + LINE_LEN - 1] = '\n';
    }
    while (left > 0) {
        size_t chunk = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
        chunk = (chunk + LINE_LEN - 1) / LINE_LEN * LINE_LEN;
        for (size_t off = 0; off < chunk;) {
            ssize_t n = write(1, buf + off, chunk - off);
            if (n == -1 && errno == EINTR)
                continue;
            if (n <= 0)
                return -1;
            off += (size_t)n;
        }
        left -= (long long)chunk;
    }
    int len = snprintf(end, sizeof(end), "sup_beacon end %d\n", (int)id);
    return write(1, end, (size_t)len) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct timespec ts;
    struct beacon_msg m;
    struct sockaddr_un sa;
    const char *path, *wr;
    int fd;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for CLOCK_MONOTONIC */
    /* A first argument without a slash is not ours: s6-supervise runs ./run with the
     * service's name as its argument. */
    path = argc > 1 && (strchr(argv[1], '/') != NULL || strcmp(argv[1], "-") == 0)
               ? argv[1]
               : getenv("SUP_BEACON_SOCK");
    if (path == NULL) {
        static const char usage[] = "usage: sup_beacon SOCKET|- [ID] (a supervisor benchmark "
                                    "helper: see bench/supervisor.sh)\n";
        (void)write(2, usage, sizeof(usage) - 1); /* nothing to do if stderr is closed */
        return 2;
    }
    if (strcmp(path, "-") != 0 && strlen(path) < sizeof(sa.sun_path)) {
        memset(&m, 0, sizeof(m));
        m.magic = BEACON_MAGIC;
        m.pid = (int32_t)getpid();
        m.id = argc > 2 ? (int32_t)strtol(argv[2], NULL, 10) : id_from_cwd();
        m.t_ns = ts_ns(&ts);
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd != -1) {
            send_msg(fd, &sa, &m);
            wr = getenv("SUP_BEACON_WRITE");
            if (wr != NULL && *wr != '\0' && write_lines(strtoll(wr, NULL, 10), m.id) == 0) {
                (void)clock_gettime(CLOCK_MONOTONIC, &ts);
                m.kind = 1;
                m.t_ns = ts_ns(&ts);
                send_msg(fd, &sa, &m);
            }
            (void)close(fd); /* nothing was written through it that close could lose */
        }
    }
    for (;;)
        pause();
}
