/* waitfor: block until an event happens, with a deadline that only turns a hang into a failure.
 *
 *   usage: waitfor [-t SECONDS] FILE ERE      a line of FILE matches the extended regex ERE
 *          waitfor [-t SECONDS] --exists PATH PATH exists (any file type; lstat)
 *          waitfor [-t SECONDS] --gone PID    process PID has exited (a zombie counts as exited)
 *
 * Exit status: 0 when the event happened, 1 on timeout (with a message on stderr), 2 on a
 * usage or system error. SECONDS may be fractional; the default is 10.
 *
 * FILE mode matches lines already in the file and lines appended later. FILE need not exist
 * yet (nor its directory: the nearest existing ancestor is watched). Truncation restarts the
 * scan from the top, and so does replacement of FILE (rename over it, or delete and create).
 * A last line without a newline is matched too, so a pidfile written without one counts; a
 * line written in several pieces may therefore be tested before it is complete. On timeout
 * the message is "waitfor: timeout after Ns waiting for /ERE/ in FILE", followed by the
 * file's last 20 lines (or a note that it does not exist).
 *
 * Nothing polls: file events come from inotify on the file and its directory, process exit
 * from a pidfd. Watches are re-armed after every event, which keeps the logic to one rule:
 * "after anything happened, look again". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define TAIL_LINES 20

enum mode { MODE_MATCH, MODE_EXISTS, MODE_GONE };

/* The file being followed in MODE_MATCH. */
struct follow {
    const char *path;
    int fd;        /* -1 while the file does not exist */
    dev_t dev;
    ino_t ino;
    off_t offset;  /* bytes consumed from fd so far */
    char seen[64]; /* the last bytes consumed, which end at offset */
    size_t seen_len;
    char *line;    /* the unterminated tail of the file */
    size_t len, cap;
};

static const char *timeout_arg = "10";

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds until the deadline, rounded so that a wait never ends early; 0 when passed. */
static int remaining_ms(long long deadline_ms)
{
    long long left = deadline_ms - now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static int parse_seconds(const char *s, long long *ms)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1e7)
        return -1;
    *ms = (long long)(v * 1000.0 + 0.999);
    return 0;
}

/* Watch PATH's nearest existing ancestor directory for entries coming and going, and PATH
 * itself if it exists. Adding a watch twice on one inode just updates it, so this is cheap to
 * call after every event. */
static void arm_watches(int ino_fd, const char *path)
{
    char dir[PATH_MAX];
    const uint32_t dir_mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                              IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR;
    const uint32_t file_mask = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF |
                               IN_MOVE_SELF;
    size_t n = strlen(path);

    if (n >= sizeof dir)
        n = sizeof dir - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    /* The file (a failure just means it is not there yet, or is not watchable). */
    (void)inotify_add_watch(ino_fd, path, file_mask);
    /* Its directory, or the nearest ancestor that exists. */
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL) {
            (void)inotify_add_watch(ino_fd, ".", dir_mask);
            return;
        }
        if (slash == dir) {
            (void)inotify_add_watch(ino_fd, "/", dir_mask);
            return;
        }
        *slash = '\0';
        if (inotify_add_watch(ino_fd, dir, dir_mask) != -1)
            return;
    }
}

/* Consume the inotify queue. The events themselves do not matter: the caller looks again. */
static void drain_inotify(int ino_fd)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(ino_fd, buf, sizeof buf) > 0)
        ;
}

static int line_matches(const regex_t *re, const char *line)
{
    return regexec(re, line, 0, NULL, 0) == 0;
}

/* Do the bytes just before our offset still read as they did? */
static int follow_unchanged(const struct follow *f)
{
    char now[sizeof f->seen];
    ssize_t n;

    if (f->seen_len == 0)
        return 1;
    do {
        n = pread(f->fd, now, f->seen_len, f->offset - (off_t)f->seen_len);
    } while (n == -1 && errno == EINTR);
    return n == (ssize_t)f->seen_len && memcmp(now, f->seen, f->seen_len) == 0;
}

/* Remember the last bytes consumed: buf[0..n) has just been read, ending at f->offset. */
static void follow_remember(struct follow *f, const char *buf, size_t n)
{
    size_t keep = n < sizeof f->seen ? n : sizeof f->seen;
    size_t old = f->seen_len + keep > sizeof f->seen ? sizeof f->seen - keep : f->seen_len;

    memmove(f->seen, f->seen + f->seen_len - old, old);
    memcpy(f->seen + old, buf + n - keep, keep);
    f->seen_len = old + keep;
}

/* Make f->fd follow whatever inode f->path names now; restart from the top if it changed or
 * shrank. */
static void follow_refresh(struct follow *f)
{
    struct stat st;

    if (stat(f->path, &st) == -1) {
        /* Gone (or not yet there). Keep reading the old inode until it is replaced: what was
         * appended before the unlink still counts. */
        return;
    }
    if (f->fd != -1 && (st.st_dev != f->dev || st.st_ino != f->ino)) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->fd == -1) {
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (f->fd == -1)
            return;
        if (fstat(f->fd, &st) == -1) {
            close(f->fd);
            f->fd = -1;
            return;
        }
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->offset = 0;
        f->seen_len = 0;
        f->len = 0;
    }
    /* Truncated: everything now in the file is new. A truncation followed by writes past
     * our offset (all between two looks) does not show in the size, but it does show as
     * different bytes just before the offset. */
    if (fstat(f->fd, &st) == 0 && (st.st_size < f->offset || !follow_unchanged(f))) {
        f->offset = 0;
        f->seen_len = 0;
        f->len = 0;
    }
}

/* Read what is new and test each line. Returns 1 on a match. */
static int follow_scan(struct follow *f, const regex_t *re)
{
    char buf[65536];

    if (f->fd == -1)
        return 0;
    for (;;) {
        ssize_t n = pread(f->fd, buf, sizeof buf, f->offset);
        ssize_t i;
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        f->offset += n;
        follow_remember(f, buf, (size_t)n);
        for (i = 0; i < n; i++) {
            if (f->len + 1 >= f->cap) {
                size_t ncap = f->cap ? f->cap * 2 : 256;
                char *nl = realloc(f->line, ncap);
                if (nl == NULL) {
                    fprintf(stderr, "waitfor: out of memory\n");
                    exit(2);
                }
                f->line = nl;
                f->cap = ncap;
            }
            if (buf[i] == '\n') {
                f->line[f->len] = '\0';
                f->len = 0;
                if (line_matches(re, f->line))
                    return 1;
            } else {
                f->line[f->len++] = buf[i];
            }
        }
    }
    if (f->len > 0) {
        f->line[f->len] = '\0';
        if (line_matches(re, f->line))
            return 1;
    }
    return 0;
}

/* Print the last TAIL_LINES lines of PATH to stderr, indented. */
static void print_tail(const char *path)
{
    FILE *fp = fopen(path, "re");
    char *lines[TAIL_LINES] = {NULL};
    char *l = NULL;
    size_t cap = 0, count = 0, i;

    if (fp == NULL) {
        fprintf(stderr, "  (%s: %s)\n", path, strerror(errno));
        return;
    }
    while (getline(&l, &cap, fp) != -1) {
        free(lines[count % TAIL_LINES]);
        lines[count % TAIL_LINES] = l;
        l = NULL;
        cap = 0;
        count++;
    }
    free(l);
    fclose(fp);
    fprintf(stderr, "  --- last lines of %s (%zu in all):\n", path, count);
    for (i = count > TAIL_LINES ? count - TAIL_LINES : 0; i < count; i++) {
        char *s = lines[i % TAIL_LINES];
        size_t n = strlen(s);
        fprintf(stderr, "  %s%s", s, n > 0 && s[n - 1] == '\n' ? "" : "\n");
    }
    for (i = 0; i < TAIL_LINES; i++)
        free(lines[i]);
}

static int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int wait_gone(const char *pid_arg, long long deadline_ms)
{
    char *end;
    long pid;
    int pidfd;
    struct pollfd pfd;

    errno = 0;
    pid = strtol(pid_arg, &end, 10);
    if (errno != 0 || end == pid_arg || *end != '\0' || pid <= 0 || pid > INT_MAX) {
        fprintf(stderr, "waitfor: --gone: not a pid: '%s'\n", pid_arg);
        return 2;
    }
    pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pidfd == -1) {
        if (errno == ESRCH)
            return 0; /* Already reaped. */
        fprintf(stderr, "waitfor: cannot pidfd_open %ld: %s\n", pid, strerror(errno));
        return 2;
    }
    pfd.fd = pidfd;
    pfd.events = POLLIN;
    for (;;) {
        int r = poll(&pfd, 1, remaining_ms(deadline_ms));
        if (r > 0) {
            close(pidfd);
            return 0;
        }
        if (r == 0) {
            fprintf(stderr, "waitfor: timeout after %ss waiting for pid %ld to exit\n",
                    timeout_arg, pid);
            close(pidfd);
            return 1;
        }
        if (errno != EINTR) {
            fprintf(stderr, "waitfor: poll: %s\n", strerror(errno));
            close(pidfd);
            return 2;
        }
    }
}

static int wait_file(enum mode mode, const char *path, const char *ere, long long deadline_ms)
{
    regex_t re;
    struct follow f = {.path = path, .fd = -1};
    int ino_fd, rc;

    if (mode == MODE_MATCH) {
        int err = regcomp(&re, ere, REG_EXTENDED | REG_NOSUB);
        if (err != 0) {
            char msg[256];
            regerror(err, &re, msg, sizeof msg);
            fprintf(stderr, "waitfor: bad regex /%s/: %s\n", ere, msg);
            return 2;
        }
    }
    ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ino_fd == -1) {
        fprintf(stderr, "waitfor: inotify_init1: %s\n", strerror(errno));
        if (mode == MODE_MATCH)
            regfree(&re);
        return 2;
    }
    for (;;) {
        struct pollfd pfd = {ino_fd, POLLIN, 0};
        int r;

        /* Watch first, then look: a change after the look is then sure to wake us. */
        arm_watches(ino_fd, path);
        if (mode == MODE_EXISTS) {
            if (path_exists(path)) {
                rc = 0;
                break;
            }
        } else {
            follow_refresh(&f);
            if (follow_scan(&f, &re)) {
                rc = 0;
                break;
            }
        }
        r = poll(&pfd, 1, remaining_ms(deadline_ms));
        if (r == -1 && errno != EINTR) {
            fprintf(stderr, "waitfor: poll: %s\n", strerror(errno));
            rc = 2;
            break;
        }
        if (r == 0) {
            /* One last look: the event may have landed as the deadline passed. */
            if (mode == MODE_EXISTS ? path_exists(path)
                                    : (follow_refresh(&f), follow_scan(&f, &re))) {
                rc = 0;
                break;
            }
            if (mode == MODE_EXISTS) {
                fprintf(stderr, "waitfor: timeout after %ss waiting for %s to exist\n",
                        timeout_arg, path);
            } else {
                fprintf(stderr, "waitfor: timeout after %ss waiting for /%s/ in %s\n",
                        timeout_arg, ere, path);
                print_tail(path);
            }
            rc = 1;
            break;
        }
        drain_inotify(ino_fd);
    }
    close(ino_fd);
    if (f.fd != -1)
        close(f.fd);
    free(f.line);
    if (mode == MODE_MATCH)
        regfree(&re);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: waitfor [-t SECONDS] FILE ERE\n"
                    "       waitfor [-t SECONDS] --exists PATH\n"
                    "       waitfor [-t SECONDS] --gone PID\n");
    return 2;
}

int main(int argc, char **argv)
{
    long long timeout_ms = 10000, deadline_ms;
    int i = 1;

    if (i + 1 < argc && strcmp(argv[i], "-t") == 0) {
        timeout_arg = argv[i + 1];
        if (parse_seconds(timeout_arg, &timeout_ms) == -1) {
            fprintf(stderr, "waitfor: -t: not a number of seconds: '%s'\n", timeout_arg);
            return 2;
        }
        i += 2;
    }
    deadline_ms = now_ms() + timeout_ms;
    if (argc - i == 2 && strcmp(argv[i], "--gone") == 0)
        return wait_gone(argv[i + 1], deadline_ms);
    if (argc - i == 2 && strcmp(argv[i], "--exists") == 0)
        return wait_file(MODE_EXISTS, argv[i + 1], NULL, deadline_ms);
    if (argc - i == 2 && argv[i][0] != '-')
        return wait_file(MODE_MATCH, argv[i], argv[i + 1], deadline_ms);
    return usage();
}
