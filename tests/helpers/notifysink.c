/* notifysink: a stand-in for a service manager's notification socket (sd_notify), to test
 * what tend sends to $NOTIFY_SOCKET without systemd.
 *
 *   usage: notifysink SOCKET OUTFILE
 *
 * Binds a unix datagram socket at SOCKET: a path (an existing socket file there is replaced)
 * or, with a leading '@', an abstract name. Then appends "listening PID" to OUTFILE and, for
 * every datagram received, one line per KEY=VALUE line of it:
 *     SEQ COUNT LINE
 * SEQ numbers the datagrams from 1; COUNT is how many datagrams so far held this same LINE
 * (so `waitfor OUTFILE '^[0-9]+ 3 WATCHDOG=1$'` waits for the third ping). Each datagram is
 * one write(2) to an O_APPEND file. SIGTERM or SIGINT: remove a path SOCKET and exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_DATAGRAM 4096
#define MAX_SEEN 256

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static struct {
    char *line;
    unsigned count;
} seen[MAX_SEEN];

static unsigned count_line(const char *line)
{
    int i;

    for (i = 0; i < MAX_SEEN && seen[i].line != NULL; i++) {
        if (strcmp(seen[i].line, line) == 0)
            return ++seen[i].count;
    }
    if (i == MAX_SEEN)
        return 0; /* too many distinct lines to count: 0 says so */
    seen[i].line = strdup(line);
    if (seen[i].line == NULL) {
        perror("notifysink: strdup");
        exit(1);
    }
    return seen[i].count = 1;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            perror("notifysink: write");
            exit(1);
        }
        buf += n;
        len -= (size_t)n;
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct sigaction sa = {.sa_handler = on_stop};
    static char msg[MAX_DATAGRAM + 1], out[4 * MAX_DATAGRAM];
    unsigned long seq = 0;
    socklen_t addr_len;
    size_t len;
    int fd, out_fd;
    struct stat st;

    if (argc != 3) {
        fprintf(stderr, "usage: notifysink SOCKET OUTFILE\n");
        return 2;
    }
    len = strlen(argv[1]);
    if (len < 2 || len >= sizeof(addr.sun_path)) {
        fprintf(stderr, "notifysink: bad socket name '%s'\n", argv[1]);
        return 2;
    }
    memcpy(addr.sun_path, argv[1], len);
    if (argv[1][0] == '@') {
        addr.sun_path[0] = '\0';
        addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        addr_len = (socklen_t)sizeof(addr);
        if (lstat(argv[1], &st) == 0 && S_ISSOCK(st.st_mode))
            (void)unlink(argv[1]); /* a stale socket: bind reports any real problem */
    }
    out_fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (out_fd == -1 || fd == -1 || bind(fd, (struct sockaddr *)&addr, addr_len) == -1) {
        fprintf(stderr, "notifysink: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1) {
        perror("notifysink: sigaction");
        return 1;
    }
    len = (size_t)snprintf(out, sizeof(out), "listening %d\n", (int)getpid());
    write_all(out_fd, out, len);
    while (!stop) {
        ssize_t n = recv(fd, msg, MAX_DATAGRAM, 0);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            perror("notifysink: recv");
            return 1;
        }
        msg[n] = '\0';
        seq++;
        len = 0;
        for (char *line = strtok(msg, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            int w = snprintf(out + len, sizeof(out) - len, "%lu %u %s\n", seq, count_line(line),
                             line);
            if (w < 0 || (size_t)w >= sizeof(out) - len)
                break;
            len += (size_t)w;
        }
        write_all(out_fd, out, len);
    }
    if (argv[1][0] != '@')
        (void)unlink(argv[1]); /* ours; a failure leaves a dead socket file behind only */
    return 0;
}
