/* logcap: per-service capture of stdout/stderr through non-blocking pipes read in the event
 * loop, written as whole lines to size-rotated files and/or syslog. See logcap.h for the
 * guarantees; the invariants kept here:
 *
 * - A captured stream owns one pipe for the life of the logcap. The read end is
 *   non-blocking and registered for EPOLLIN once; logcap also keeps the (blocking) write end,
 *   so the pipe always has a writer: EPOLLHUP cannot happen between instances and each
 *   instance gets a write end of the same pipe. A read of 0 (impossible while we hold the
 *   write end) unregisters the fd rather than spin.
 * - Input is read into one shared scratch buffer; only a trailing partial line is kept per
 *   stream (the carry, at most CARRY_MAX bytes, allocated to fit), so an idle service costs
 *   no buffer memory. A partial line that reaches CARRY_MAX is written as a piece.
 * - What reaches the file is whole lines: writes are cut at newlines, and a write that the
 *   file takes only in part has its partial last line truncated away again (regular files).
 * - While a stream is "retrying", file output is dropped and counted; the retry timer is
 *   armed only while there is a drop to report, so a quiet service costs no wakeups. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fdring.h"
#include "log.h"
#include "logcap.h"
#include "util/fd.h"

#define CARRY_MAX (64 * 1024)       /* longest partial line kept; longer ones go in pieces */
#define READ_MAX (128 * 1024)       /* one read(2); a default pipe holds 64 KiB */
#define READS_PER_EVENT 4           /* then let other watchers run (level-triggered: we return) */
#define FLUSH_READS 64              /* bound for a drain (the writer may still be writing) */
#define STAMP_MAX (64 * 1024)       /* output buffer for timestamped lines */
#define TS_MAX 48                   /* "2026-11-25T07:10:00.123+00:00 " is 30 */
#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 30000u
#define RETRY_AGAIN_FIRST_MS 50u    /* EAGAIN: a pipe/terminal/socket reader that is slow */
#define RETRY_AGAIN_MAX_MS 1000u
#define SYSLOG_LINE_MAX 8000        /* longer lines are sent as several messages */
#define SYSLOG_RETRY_NS 1000000000ULL
#define DIR_MODE 0750
#define FILE_MODE 0640
#define NS_PER_MS 1000000ULL
#define PLACE_CHECK_NS 1000000000ULL /* how often the path is compared with the open file */

#define OPEN_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK)

/* Where one stream goes, derived from the config. */
struct stream_conf {
    bool to_file;
    bool to_syslog;
    bool auto_dir;        /* the file is in childlogdir: create the directory if missing */
    bool timestamps;
    bool events;          /* also passed to logcap_event_hook */
    long long capture_max; /* capture mode (logcap_comm_hook); 0: off */
    char *path;           /* owned; NULL unless to_file */
    long long max_bytes;  /* 0: never rotate on size */
    int backups;
};

/* Two per program that captures its output: the fields go by size within each part (the
 * flags of every part at the end), so that there is no padding between them. */
struct stream {
    struct logcap *lc;
    const char *what;     /* "stdout" or "stderr" */
    int syslog_prio;
    int slot;             /* the pipe's read end is held in fdring's slot (-1: in rd_fd, or
                           * none); rd_fd is then only a descriptor lent for one pump */
    struct stream_conf c;

    /* the pipe */
    int rd_fd, wr_fd;
    struct watcher w;
    char *carry;          /* the partial line read so far */
    size_t carry_len, carry_cap;
    char *comm_buf;       /* capture mode: what is between the tokens so far */
    size_t comm_len;

    /* the file (file_fd and the flags at the end) */
    long long file_size;  /* as far as we know: fstat at open + what we wrote */
    uint64_t placed_ns;   /* when the path was last seen naming the open file */
    unsigned long long unseen_lines, unseen_bytes; /* written since then */
    struct stream *lru_prev, *lru_next; /* among the open files, most recently written first */

    /* rotation in progress: renames still to do are rot_next down to 0 (0: X -> X.1),
     * then the open of the new X (rot_next == -1). rot_delay_ms != 0: the last attempt
     * failed, and the next waits for rot_retry_ns. */
    uint64_t rot_retry_ns;
    int rot_next;
    unsigned rot_delay_ms;

    /* retrying after a failed write or open */
    uint64_t retry_at_ns;
    int retry_err;        /* the error that started the episode */
    unsigned retry_delay_ms;
    struct timer retry_timer;
    unsigned long long drop_bytes, drop_lines; /* this episode, not yet reported */
    unsigned long long dropped_total;          /* bytes, for status */
    unsigned long long written_total;          /* bytes the file took, for metrics */

    int file_fd;
    /* the pipe's flags */
    bool in_line;         /* a piece of a long line was delivered; its end has not */
    bool comm_mode;       /* capture mode: between the BEGIN and END tokens */
    /* the file's */
    bool file_regular;    /* rotation and truncation apply */
    bool file_socket;     /* tend's stdout is a socket: send(MSG_DONTWAIT) */
    bool file_mid_line;   /* the file does not end with '\n' */
    bool file_splice;     /* a plain file opened for splice(2): no O_APPEND, offset at end */
    bool file_evicted;    /* closed to make room for another (file_cap): reopen by path */
    bool rot_pending;     /* a rotation is in progress (above) */
    bool retrying;        /* retrying after a failed write or open (above) */
};

/* A failed open's or rotation's reason when strerror alone would mislead. One for all
 * streams (it was 256 bytes in each, two per program): it is set by an open
 * and read by the stream_fail or the rotation report that follows in the same call, on
 * this one thread, and emptied after. */
static char fail_why[256];

struct logcap {
    struct loop *loop;
    char *name;           /* process name: syslog ident, AUTO file names */
    char *display;        /* "group:name" or "name", for tend's log */
    struct stream s[2];   /* [0] stdout, [1] stderr */
    bool redirect_stderr;
};

/* Shared scratch space. tend is single-threaded and none of these is live across a return to
 * the loop, so one copy serves every stream. Untouched pages cost no memory. */
static char scratch[CARRY_MAX + READ_MAX + 1];
static char stamp_buf[STAMP_MAX];

/* syslog: one datagram socket for every stream, connected lazily. */
const char *logcap_syslog_socket = "/dev/log";
static int syslog_fd = -1;
/* Read ends kept as descriptors, and how many may be (the budget's share, fdbudget.h):
 * beyond it a new pipe's read end goes to fdring when a ring is up. */
static size_t pipes_open;
static size_t pipe_cap = (size_t)-1;
static uint64_t syslog_retry_ns;
static bool syslog_failing;
static unsigned live_logcaps; /* closes syslog_fd when the last logcap goes */

static void file_put(struct stream *s, const char *buf, size_t len);
static void stream_unwatch(struct stream *s);
static int rotation_step(struct stream *s);

/* ---- small helpers ---- */

static unsigned long long count_lines(const char *buf, size_t len)
{
    unsigned long long n = 0;
    const char *end = buf + len;

    while (buf < end && (buf = memchr(buf, '\n', (size_t)(end - buf))) != NULL) {
        n++;
        buf++;
    }
    return n;
}

/* "2026-11-25T07:10:00.123+00:00 " (local time, milliseconds, UTC offset) into out, which
 * has room for TS_MAX bytes. Returns the length. */
static size_t format_ts(char *out)
{
    struct timespec ts;
    struct tm tm;
    long off;
    int n;

    (void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for CLOCK_REALTIME */
    if (localtime_r(&ts.tv_sec, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    off = tm.tm_gmtoff;
    n = snprintf(out, TS_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000, off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) % 3600 / 60);
    return n > 0 && n < TS_MAX ? (size_t)n : 0;
}

static void format_delay(char *buf, size_t len, unsigned ms)
{
    if (ms < 1000)
        snprintf(buf, len, "%u ms", ms);
    else
        snprintf(buf, len, "%u s", ms / 1000);
}

/* /dev/stdout and /dev/stderr name tend's own descriptors (the docker idiom). */
static int std_target(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0)
        return STDERR_FILENO;
    return -1;
}

/* Splits path into its directory (copied to dir) and last component. */
static int split_path(const char *path, char *dir, size_t dirlen, const char **base)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        snprintf(dir, dirlen, ".");
        *base = path;
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= dirlen) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
        *base = slash + 1;
    }
    if (**base == '\0') {
        errno = EISDIR;
        return -1;
    }
    return 0;
}

/* mkdir -p: the last directory DIR_MODE, missing parents 0755 (root) or 0700 (a user's
 * state directory, as the XDG spec asks). */
static int make_dirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, geteuid() == 0 ? 0755 : 0700) == -1 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, DIR_MODE) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

/* Opens dir (O_PATH) for the *at calls, refusing a directory in which someone else could
 * plant a file or symlink that redirects tend's writes: a symlink itself, owned by another
 * user, or writable by others (or by a group other than root's and tend's) without the
 * sticky bit. Only the last component is checked: the rest of the path is the admin's.
 * Returns the fd, or -1 with errno and (for a refusal) a reason in why. */
static int open_dir_checked(const char *dir, char *why, size_t whylen)
{
    struct stat st;
    int fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd == -1) {
        int err = errno;
        if ((err == ENOTDIR || err == ELOOP) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
            snprintf(why, whylen, "the directory %.180s is a symbolic link (refused)", dir);
            err = ELOOP;
        }
        errno = err;
        return -1;
    }
    if (fstat(fd, &st) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        snprintf(why, whylen, "the directory %.180s belongs to another user (uid %u; refused)", dir,
                 (unsigned)st.st_uid);
    } else if (!(st.st_mode & S_ISVTX) && (st.st_mode & S_IWOTH)) {
        snprintf(why, whylen, "the directory %.180s is writable by every user (refused)", dir);
    } else if (!(st.st_mode & S_ISVTX) && (st.st_mode & S_IWGRP) && st.st_gid != 0 &&
               st.st_gid != getegid()) {
        snprintf(why, whylen, "the directory %.180s is writable by group %u (refused)", dir,
                 (unsigned)st.st_gid);
    } else {
        return fd;
    }
    (void)close(fd); /* read-only O_PATH descriptor: nothing to lose */
    errno = EPERM;
    return -1;
}

/* ---- syslog ---- */

static int syslog_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(logcap_syslog_socket) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, logcap_syslog_socket);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    return fd;
}

static void syslog_trouble(int err)
{
    if (!syslog_failing)
        log_msg(LOG_LVL_WARN, "cannot send program output to syslog (%s): %s; those lines are "
                "dropped (and counted) until it answers", logcap_syslog_socket, strerror(err));
    syslog_failing = true;
}

/* One datagram per line, "<PRI>Mmm dd hh:mm:ss NAME: text", as syslog(3) formats it. Sent
 * with MSG_DONTWAIT: a syslog daemon that does not keep up costs lines, never a stall
 * (syslog(3) itself would block on a full socket queue). */
static void syslog_send(struct stream *s, const char *head, size_t headlen, const char *msg,
                        size_t len)
{
    uint64_t now;
    struct iovec iov[2] = {{(void *)head, headlen}, {(void *)msg, len}};
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

    if (syslog_fd == -1) {
        now = timer_now_ns();
        if (now < syslog_retry_ns)
            goto drop;
        syslog_retry_ns = now + SYSLOG_RETRY_NS;
        syslog_fd = syslog_connect();
        if (syslog_fd == -1) {
            syslog_trouble(errno);
            goto drop;
        }
    }
    while (sendmsg(syslog_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != ENOBUFS) {
            /* The daemon went away (restart): reconnect, at most once a second. */
            fd_close_quiet(syslog_fd);
            syslog_fd = -1;
        }
        syslog_trouble(errno);
        goto drop;
    }
    if (syslog_failing) {
        syslog_failing = false;
        log_msg(LOG_LVL_INFO, "syslog (%s) takes program output again", logcap_syslog_socket);
    }
    return;
drop:
    s->dropped_total += len + 1;
}

static void syslog_lines(struct stream *s, const char *buf, size_t len)
{
    char head[128], when[32];
    time_t t = time(NULL);
    struct tm tm;
    int n;

    if (localtime_r(&t, &tm) == NULL || strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm) == 0)
        snprintf(when, sizeof(when), "-");
    n = snprintf(head, sizeof(head), "<%d>%s %.64s: ", LOG_DAEMON | s->syslog_prio, when,
                 s->lc->name);
    if (n < 0 || (size_t)n >= sizeof(head))
        n = (int)strlen(head);
    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t line = nl ? (size_t)(nl - buf) : len;
        size_t used = nl ? line + 1 : len;
        if (line > SYSLOG_LINE_MAX)
            line = used = SYSLOG_LINE_MAX;
        if (line > 0) /* an empty message says nothing (and ends a piece: end_line) */
            syslog_send(s, head, (size_t)n, buf, line);
        buf += used;
        len -= used;
    }
}

/* ---- the file ---- */

/* The log files open at once, most recently written first. When the descriptor budget
 * leaves fewer than one a file (logcap_set_file_cap), the least recently written is closed
 * to make room for the next to open, and opened again by its path, at its end, when its
 * program next writes: a file is one descriptor only while it is in use. */
static struct stream *lru_head, *lru_tail;
static size_t files_open, file_cap = SIZE_MAX;
static unsigned long long files_evicted;

static void lru_unlink(struct stream *s)
{
    if (s->lru_prev != NULL)
        s->lru_prev->lru_next = s->lru_next;
    else
        lru_head = s->lru_next;
    if (s->lru_next != NULL)
        s->lru_next->lru_prev = s->lru_prev;
    else
        lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push(struct stream *s)
{
    s->lru_prev = NULL;
    s->lru_next = lru_head;
    if (lru_head != NULL)
        lru_head->lru_prev = s;
    else
        lru_tail = s;
    lru_head = s;
}

/* s's file was just written. */
static void lru_touch(struct stream *s)
{
    if (lru_head != s) {
        lru_unlink(s);
        lru_push(s);
    }
}

static void close_file(struct stream *s)
{
    if (s->file_fd != -1) {
        lru_unlink(s);
        files_open--;
    }
    fd_close_quiet(s->file_fd);
    s->file_fd = -1;
    s->rot_pending = false;
    s->rot_delay_ms = 0;
}

/* Before s opens a file: the least recently written ones are closed while the cap is
 * reached. Never s itself, nor a file in the middle of a call (none is: files are only
 * written from their own stream's calls, which return before another's start). */
static void make_room(struct stream *s)
{
    while (files_open >= file_cap && lru_tail != NULL && lru_tail != s) {
        struct stream *old = lru_tail;
        close_file(old);
        old->file_evicted = true;
        files_evicted++;
    }
}

void logcap_set_file_cap(size_t cap)
{
    file_cap = cap > 0 ? cap : 1;
    make_room(NULL);
}

size_t logcap_files_open(void)
{
    return files_open;
}

unsigned long long logcap_files_evicted(void)
{
    return files_evicted;
}

/* Takes fd as the stream's file (closing any previous one) and learns its size and whether
 * it ends mid-line. */
static int adopt_file(struct stream *s, int fd, bool special)
{
    struct stat st;
    char last;

    if (fstat(fd, &st) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    if (s->file_fd == -1) {
        files_open++;
        lru_push(s);
    } else {
        lru_touch(s);
    }
    fd_close_quiet(s->file_fd);
    s->file_fd = fd;
    s->file_evicted = false;
    s->file_regular = S_ISREG(st.st_mode) && !special;
    s->file_socket = S_ISSOCK(st.st_mode);
    s->file_size = S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
    s->file_mid_line = false;
    if (s->file_regular && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1)
        s->file_mid_line = last != '\n';
    /* splice(2) refuses an O_APPEND file: we are its only writer, so the offset at its end
     * serves the same. Not for what another program reads as it grows (tend's stdout). */
    s->file_splice = false;
    if (s->file_regular && !s->c.to_syslog && !s->c.timestamps) {
        int fl = fcntl(fd, F_GETFL);
        if (fl != -1 && fcntl(fd, F_SETFL, fl & ~O_APPEND) == 0 &&
            lseek(fd, 0, SEEK_END) != (off_t)-1)
            s->file_splice = true;
    }
    s->rot_pending = false;
    s->rot_delay_ms = 0;
    s->placed_ns = timer_now_ns();
    s->unseen_lines = s->unseen_bytes = 0;
    return 0;
}

/* tend's own stdout/stderr: reopened through /proc so that O_NONBLOCK is ours alone (a new
 * open file description); a socket (journald's stdout stream) cannot be reopened, so it is
 * duplicated and written with MSG_DONTWAIT instead. */
static int open_std(struct stream *s, int which)
{
    char proc[64];
    int fd;

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", which);
    fd = open(proc, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        struct stat st;
        fd = fcntl(which, F_DUPFD_CLOEXEC, 3);
        if (fd == -1)
            return -1;
        /* Not a socket and not reopenable (no /proc): the flag is shared with tend's own
         * descriptor, whose writes (log.c) drop on EAGAIN, which is acceptable. */
        if (fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode))
            (void)fd_set_nonblock(fd); /* cannot fail on a valid fd */
    }
    return adopt_file(s, fd, true);
}

/* Opens the stream's path. -1/errno, with fail_why set when the reason is a refusal. */
static int stream_open(struct stream *s)
{
    char dir[PATH_MAX];
    const char *base;
    int dfd, fd, which = std_target(s->c.path);

    fail_why[0] = '\0'; /* none left by an open whose failure nobody reported */
    if (s->file_fd == -1)
        make_room(s);
    if (which >= 0)
        return open_std(s, which);
    if (split_path(s->c.path, dir, sizeof(dir), &base) == -1)
        return -1;
    if (s->c.auto_dir && make_dirs(dir) == -1) {
        int err = errno;
        snprintf(fail_why, sizeof(fail_why), "cannot create the directory %.180s: %s", dir,
                 strerror(err));
        errno = err;
        return -1;
    }
    dfd = open_dir_checked(dir, fail_why, sizeof(fail_why));
    if (dfd == -1)
        return -1;
    /* O_NOFOLLOW: a symlink planted at the log's name must not redirect tend's writes. */
    fd = openat(dfd, base, OPEN_FLAGS, FILE_MODE);
    if (fd == -1 && errno == ELOOP)
        snprintf(fail_why, sizeof(fail_why), "%.200s is a symbolic link (refused)", s->c.path);
    fd_close_quiet(dfd);
    if (fd == -1)
        return -1;
    return adopt_file(s, fd, false);
}

/* True when the path no longer names the open file (moved or deleted, e.g. by logrotate(8)
 * or by an admin freeing space): writing on would fill an invisible file. */
static bool file_moved(const struct stream *s)
{
    struct stat a, b;

    if (s->file_fd == -1 || !s->file_regular)
        return false;
    if (fstat(s->file_fd, &a) == -1)
        return true;
    if (a.st_nlink == 0 || lstat(s->c.path, &b) == -1)
        return true;
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* Writes buf to the file. On failure, returns -1/errno with *done = what the file kept, cut
 * back to a line boundary when possible (a regular file is truncated to drop the partial
 * line it took), and the caller drops the rest. */
static int write_file(struct stream *s, const char *buf, size_t len, size_t *done)
{
    size_t off = 0;
    bool was_mid = s->file_mid_line;
    int err = 0;

    while (off < len) {
        ssize_t w = s->file_socket
                        ? send(s->file_fd, buf + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                        : write(s->file_fd, buf + off, len - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w == -1 && errno == EINTR) {
            continue;
        } else {
            err = w == 0 ? EIO : errno;
            break;
        }
    }
    if (off > 0) {
        lru_touch(s);
        s->file_size += (long long)off;
        s->written_total += off;
        s->file_mid_line = buf[off - 1] != '\n';
        s->unseen_bytes += off;
        s->unseen_lines += count_lines(buf, off);
    }
    *done = off;
    if (off == len)
        return 0;
    if (off > 0 && s->file_mid_line && s->file_regular) {
        const char *nl = memrchr(buf, '\n', off);
        size_t keep = nl ? (size_t)(nl - buf) + 1 : 0;
        off_t cut = (off_t)(off - keep);
        struct stat st;
        if (fstat(s->file_fd, &st) == 0 && st.st_size >= cut &&
            ftruncate(s->file_fd, st.st_size - cut) == 0 &&
            lseek(s->file_fd, 0, SEEK_END) != (off_t)-1) { /* splice files write at the offset */
            s->file_size -= (long long)cut;
            s->file_mid_line = keep > 0 ? false : was_mid;
            *done = keep;
        }
        /* else the piece stays; file_mid_line makes the next line start on its own */
    }
    errno = err;
    return -1;
}

/* Before each write batch: is the open file still the one the path names? A removed file
 * (rm: no link left) is seen at once with one fstat; a replaced one (mv, then a new file at
 * the path) by comparing the path's inode, at most once per PLACE_CHECK_NS. Either way the
 * path is opened again, and tend's log says how much was written to the old file since it
 * was last seen in place (those lines are gone with it, or are in the moved file).
 * 0, or -1/errno when the reopen failed (the stream is then closed: the caller fails it). */
static int check_in_place(struct stream *s)
{
    struct stat st;
    uint64_t now;

    if (s->file_fd == -1 || !s->file_regular)
        return 0;
    now = timer_now_ns();
    if (now - s->placed_ns < PLACE_CHECK_NS && fstat(s->file_fd, &st) == 0 && st.st_nlink > 0)
        return 0;
    if (!file_moved(s)) {
        s->placed_ns = now;
        s->unseen_lines = s->unseen_bytes = 0;
        return 0;
    }
    log_msg(LOG_LVL_WARN, "%s: its %s log %s was removed or replaced under tend: reopened; "
            "%llu lines (%llu bytes) written since it was last seen in place (%.1fs before) "
            "went to the old file", s->lc->display, s->what, s->c.path, s->unseen_lines,
            s->unseen_bytes, (double)(now - s->placed_ns) / 1e9);
    close_file(s);
    s->placed_ns = now;
    s->unseen_lines = s->unseen_bytes = 0;
    return stream_open(s);
}

/* ---- failure, dropping, recovery ---- */

static void stream_fail(struct stream *s, int err, const char *verb)
{
    bool again = err == EAGAIN || err == EWOULDBLOCK;
    char delay[32];

    if (!s->retrying) {
        s->retrying = true;
        s->retry_err = err;
        s->retry_delay_ms = again ? RETRY_AGAIN_FIRST_MS : RETRY_FIRST_MS;
        format_delay(delay, sizeof(delay), s->retry_delay_ms);
        log_msg(LOG_LVL_WARN, "%s: cannot %s %s: %s; its %s is dropped (and counted) until "
                "the log can be written again, next try in %s", s->lc->display, verb,
                s->c.path, fail_why[0] ? fail_why : strerror(err), s->what, delay);
    } else {
        unsigned cap = again ? RETRY_AGAIN_MAX_MS : RETRY_MAX_MS;
        s->retry_delay_ms = s->retry_delay_ms >= cap / 2 ? cap : s->retry_delay_ms * 2;
        log_msg(LOG_LVL_DEBUG, "%s: still cannot %s %s: %s", s->lc->display, verb, s->c.path,
                fail_why[0] ? fail_why : strerror(err));
    }
    fail_why[0] = '\0';
    s->retry_at_ns = timer_now_ns() + s->retry_delay_ms * NS_PER_MS;
}

static void drop(struct stream *s, const char *buf, size_t len)
{
    s->drop_bytes += len;
    s->drop_lines += count_lines(buf, len);
    s->dropped_total += len;
    /* The timer only reports the drop: without it (ENOMEM) the next output retries. */
    if (!timer_armed(&s->retry_timer))
        (void)loop_timer_arm(s->lc->loop, &s->retry_timer, s->retry_at_ns);
}

static void end_retrying(struct stream *s)
{
    s->retrying = false;
    s->drop_bytes = s->drop_lines = 0;
    loop_timer_cancel(s->lc->loop, &s->retry_timer);
}

/* Tries to leave the retrying state: reopen if needed, then write the "dropped" line.
 * 0 on success; -1 (recorded by stream_fail, new deadline) otherwise. */
static int stream_resume(struct stream *s)
{
    char note[TS_MAX + 512];
    size_t n = 0, done;

    if (file_moved(s))
        close_file(s); /* deleted to free space, or moved: write a new file, not a ghost */
    if (s->file_fd == -1 && stream_open(s) == -1) {
        stream_fail(s, errno, "open");
        return -1;
    }
    /* EFBIG (RLIMIT_FSIZE, or the filesystem's largest file): only a new file can help. */
    if (s->retry_err == EFBIG && s->file_regular && s->c.max_bytes > 0 && s->file_size > 0)
        (void)rotation_step(s); /* a failure is logged, and the note's write tells */
    if (s->drop_bytes == 0) {
        log_msg(LOG_LVL_INFO, "%s: %s can be written again", s->lc->display, s->c.path);
        end_retrying(s);
        return 0;
    }
    if (s->file_mid_line)
        note[n++] = '\n';
    if (s->c.timestamps)
        n += format_ts(note + n);
    n += (size_t)snprintf(note + n, sizeof(note) - n,
                          "[tend: dropped %llu lines (%llu bytes) while the log could not be "
                          "written: %s]\n",
                          s->drop_lines, s->drop_bytes, strerror(s->retry_err));
    if (write_file(s, note, n, &done) == -1) {
        stream_fail(s, errno, "write");
        return -1;
    }
    log_msg(LOG_LVL_WARN, "%s: %s: dropped %llu lines (%llu bytes) of its %s while the log "
            "could not be written: %s", s->lc->display, s->c.path, s->drop_lines, s->drop_bytes,
            s->what, strerror(s->retry_err));
    end_retrying(s);
    return 0;
}

static void on_retry_timer(struct timer *t, void *ctx)
{
    struct stream *s = ctx;

    (void)t;
    if (!s->retrying)
        return;
    /* Output that arrived after the timer was armed may have tried (and failed) already,
     * moving the deadline: honour the newer one, or the backoff would not grow. */
    if (timer_now_ns() < s->retry_at_ns || stream_resume(s) == -1) {
        if (s->drop_bytes > 0)
            (void)loop_timer_arm(s->lc->loop, &s->retry_timer, s->retry_at_ns); /* drop() */
    }
}

/* ---- rotation ---- */

static void backup_name(char *buf, size_t len, const char *base, int i)
{
    if (i == 0)
        snprintf(buf, len, "%s", base);
    else
        snprintf(buf, len, "%s.%d", base, i);
}

/* The highest N such that base.1 .. base.N all exist (0 if base.1 does not). */
static int existing_backups(int dfd, const char *base)
{
    char name[PATH_MAX];
    struct stat st;
    int i = 0;

    for (;;) {
        backup_name(name, sizeof(name), base, i + 1);
        if (i == INT_MAX - 1 || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
            return i;
        i++;
    }
}

/* One attempt at the rotation sequence: (truncate when backups=0) | rename X.(k) -> X.(k+1)
 * down to X -> X.1, then open a new X. It starts where the last attempt stopped. On failure
 * the current file stays in use and the next attempt waits for rot_retry_ns. 0 when done. */
static int rotation_step(struct stream *s)
{
    char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX], delay[32];
    const char *base;
    uint64_t now = timer_now_ns();
    int dfd = -1, fd, err;

    if (s->rot_delay_ms != 0 && now < s->rot_retry_ns) {
        errno = EAGAIN; /* the last attempt failed: wait for its deadline */
        return -1;
    }
    fail_why[0] = '\0';
    if (s->c.backups <= 0) {
        /* supervisord: no backups means the file starts over in place. */
        if (ftruncate(s->file_fd, 0) == -1)
            goto fail;
        (void)lseek(s->file_fd, 0, SEEK_SET); /* splice writes at the offset: back to 0 */
        s->file_size = 0;
        s->file_mid_line = false;
        s->rot_pending = false;
        s->rot_delay_ms = 0;
        return 0;
    }
    if (split_path(s->c.path, dir, sizeof(dir), &base) == -1)
        goto fail;
    dfd = open_dir_checked(dir, fail_why, sizeof(fail_why));
    if (dfd == -1)
        goto fail;
    if (!s->rot_pending) {
        int k = existing_backups(dfd, base);
        /* Backups beyond the number kept (backups was lowered): remove them. */
        for (int i = k; i > s->c.backups; i--) {
            backup_name(from, sizeof(from), base, i);
            if (unlinkat(dfd, from, 0) == -1 && errno != ENOENT)
                goto fail;
        }
        s->rot_next = k < s->c.backups - 1 ? k : s->c.backups - 1;
        s->rot_pending = true;
    }
    for (; s->rot_next >= 0; s->rot_next--) {
        backup_name(from, sizeof(from), base, s->rot_next);
        backup_name(to, sizeof(to), base, s->rot_next + 1);
        /* ENOENT: that backup does not exist (or X was removed): nothing to move. */
        if (renameat(dfd, from, dfd, to) == -1 && errno != ENOENT)
            goto fail;
    }
    fd = openat(dfd, base, OPEN_FLAGS, FILE_MODE);
    if (fd == -1) {
        if (errno == ELOOP)
            snprintf(fail_why, sizeof(fail_why), "%.200s is a symbolic link (refused)", s->c.path);
        goto fail;
    }
    fd_close_quiet(dfd);
    if (s->rot_delay_ms != 0)
        log_msg(LOG_LVL_INFO, "%s: rotated %s at last", s->lc->display, s->c.path);
    /* Until here the old file (now X.1) took every line: nothing was lost or reordered. */
    return adopt_file(s, fd, false);

fail:
    err = errno;
    fd_close_quiet(dfd);
    if (s->rot_delay_ms == 0) {
        s->rot_delay_ms = RETRY_FIRST_MS;
        format_delay(delay, sizeof(delay), s->rot_delay_ms);
        log_msg(LOG_LVL_WARN, "%s: cannot rotate %s: %s; writing on to the current file, next "
                "try in %s", s->lc->display, s->c.path, fail_why[0] ? fail_why : strerror(err),
                delay);
    } else {
        s->rot_delay_ms = s->rot_delay_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS
                                                              : s->rot_delay_ms * 2;
    }
    fail_why[0] = '\0';
    s->rot_retry_ns = now + s->rot_delay_ms * NS_PER_MS;
    errno = err;
    return -1;
}

/* How much of buf goes to the current file before a rotation; *rotate asks for the rotation
 * first. Rotation happens only between lines: the cut is the last newline that fits; a line in
 * progress (after a piece) is finished first; a line longer than max_bytes fills a new file
 * alone. */
static size_t next_chunk(const struct stream *s, const char *buf, size_t len, bool *rotate)
{
    long long room = s->c.max_bytes - s->file_size;
    const char *cut;

    *rotate = false;
    if (!s->file_regular || s->c.max_bytes <= 0 || (long long)len <= room)
        return len;
    if (!s->file_mid_line) {
        cut = room > 0 ? memrchr(buf, '\n', (size_t)room) : NULL;
        if (cut != NULL)
            return (size_t)(cut - buf) + 1;
        if (s->file_size > 0) {
            *rotate = true;
            return 0;
        }
    }
    cut = memchr(buf, '\n', len);
    return cut ? (size_t)(cut - buf) + 1 : len;
}

/* Appends buf to the file: rotating as needed, dropping (and counting) what the file cannot
 * take. */
static void file_put(struct stream *s, const char *buf, size_t len)
{
    bool stuck = false;

    if (s->retrying && (timer_now_ns() < s->retry_at_ns || stream_resume(s) == -1)) {
        drop(s, buf, len);
        return;
    }
    if ((s->file_fd != -1 ? check_in_place(s) : stream_open(s)) == -1) {
        stream_fail(s, errno, "open");
        drop(s, buf, len);
        return;
    }
    while (len > 0) {
        bool rotate;
        size_t chunk = next_chunk(s, buf, len, &rotate), done;
        if (rotate) {
            /* A new file that is not empty (someone else writes it) ends rotating for this
             * call: otherwise the loop could rotate forever. The lines are kept either way. */
            if (!stuck && rotation_step(s) == 0) {
                stuck = s->file_size > 0;
                continue;
            }
            chunk = len;
        }
        if (write_file(s, buf, chunk, &done) == -1) {
            stream_fail(s, errno, "write");
            drop(s, buf + done, len - done);
            return;
        }
        buf += chunk;
        len -= chunk;
    }
}

/* Timestamped copy of buf (whole lines, or a piece) to the file, built in stamp_buf and
 * written once per STAMP_MAX bytes. A long line's continuation gets no new stamp. */
static void put_stamped(struct stream *s, const char *buf, size_t len)
{
    char ts[TS_MAX];
    size_t tslen = format_ts(ts), o = 0;
    bool at_start = !s->in_line;

    while (len > 0) {
        const char *nl = memchr(buf, '\n', len);
        size_t seg = nl ? (size_t)(nl - buf) + 1 : len;
        size_t need = seg + (at_start ? tslen : 0);
        if (o > 0 && o + need > STAMP_MAX) {
            file_put(s, stamp_buf, o);
            o = 0;
        }
        if (at_start) {
            memcpy(stamp_buf + o, ts, tslen);
            o += tslen;
        }
        if (o + seg > STAMP_MAX) {
            /* A line longer than the buffer: stamp, then the line as it is. */
            file_put(s, stamp_buf, o);
            file_put(s, buf, seg);
            o = 0;
        } else {
            memcpy(stamp_buf + o, buf, seg);
            o += seg;
        }
        at_start = nl != NULL;
        buf += seg;
        len -= seg;
    }
    if (o > 0)
        file_put(s, stamp_buf, o);
}

/* ---- reading ---- */

bool logcap_strip_ansi;
void (*logcap_event_hook)(const char *name, bool is_stderr, const char *buf, size_t len);
void (*logcap_comm_hook)(const char *name, bool is_stderr, const char *buf, size_t len);

#define COMM_BEGIN "<!--XSUPERVISOR:BEGIN-->"
#define COMM_END "<!--XSUPERVISOR:END-->"

/* Copies buf without its ANSI escape sequences into out (at least len bytes); returns the
 * new length. A sequence cut by the end of buf loses only its part in buf. */
static size_t strip_ansi(const char *buf, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\033') {
            out[o++] = buf[i];
            continue;
        }
        if (i + 1 < len && buf[i + 1] == '[') {
            /* CSI: parameters and intermediates (0x20..0x3f), then a final 0x40..0x7e. */
            i += 2;
            while (i < len && (unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] <= 0x3f)
                i++;
            /* i is at the final byte (skipped by the loop), or at the end. */
        } else if (i + 1 < len && buf[i + 1] != '\n') {
            i++; /* ESC and one character (ESC c, ESC 7, ...) */
        }
    }
    return o;
}

/* Capture mode: keeps the newest capture_max bytes of what is between the tokens. */
static void comm_append(struct stream *s, const char *buf, size_t len)
{
    size_t max = (size_t)s->c.capture_max;
    if (len >= max) {
        buf += len - max;
        len = max;
        s->comm_len = 0;
    }
    if (s->comm_buf == NULL && (s->comm_buf = malloc(max)) == NULL)
        return; /* no memory: this capture is lost, its tokens still bound it */
    if (s->comm_len + len > max) {
        size_t drop = s->comm_len + len - max;
        memmove(s->comm_buf, s->comm_buf + drop, s->comm_len - drop);
        s->comm_len -= drop;
    }
    memcpy(s->comm_buf + s->comm_len, buf, len);
    s->comm_len += len;
}

static void deliver_out(struct stream *s, const char *buf, size_t len);

/* buf is whole lines, or a piece of a long line (no final newline). */
static void deliver(struct stream *s, const char *buf, size_t len)
{
    if (s->c.capture_max <= 0) {
        deliver_out(s, buf, len);
        return;
    }
    while (len > 0) {
        const char *tok = s->comm_mode ? COMM_END : COMM_BEGIN;
        size_t tlen = strlen(tok);
        const char *at = memmem(buf, len, tok, tlen);
        size_t upto = at != NULL ? (size_t)(at - buf) : len;
        if (s->comm_mode)
            comm_append(s, buf, upto);
        else
            deliver_out(s, buf, upto);
        if (at == NULL)
            return;
        buf = at + tlen;
        len -= upto + tlen;
        if (s->comm_mode) {
            if (logcap_comm_hook != NULL)
                logcap_comm_hook(s->lc->name, s == &s->lc->s[1], s->comm_buf != NULL ?
                                 s->comm_buf : "", s->comm_len);
            s->comm_len = 0;
        }
        s->comm_mode = !s->comm_mode;
    }
}

static void deliver_out(struct stream *s, const char *buf, size_t len)
{
    static char stripped[CARRY_MAX + READ_MAX + 1];

    if (len == 0)
        return;
    if (logcap_strip_ansi && len <= sizeof(stripped) && memchr(buf, '\033', len) != NULL) {
        bool open_line = buf[len - 1] != '\n';
        len = strip_ansi(buf, len, stripped);
        buf = stripped;
        if (len == 0) {
            s->in_line = open_line;
            return;
        }
    }
    if (s->c.events && logcap_event_hook != NULL)
        logcap_event_hook(s->lc->name, s == &s->lc->s[1], buf, len);
    if (s->c.to_syslog)
        syslog_lines(s, buf, len);
    if (s->c.to_file) {
        if (s->c.timestamps)
            put_stamped(s, buf, len);
        else
            file_put(s, buf, len);
    }
    s->in_line = buf[len - 1] != '\n';
}

static bool keep_carry(struct stream *s, const char *buf, size_t len)
{
    if (len > s->carry_cap) {
        size_t cap = s->carry_cap ? s->carry_cap : 256;
        while (cap < len)
            cap *= 2;
        char *p = realloc(s->carry, cap);
        if (p == NULL)
            return false;
        s->carry = p;
        s->carry_cap = cap;
    }
    memcpy(s->carry, buf, len);
    s->carry_len = len;
    return true;
}

/* buf: the carry followed by what was just read. */
static void consume(struct stream *s, const char *buf, size_t len)
{
    const char *nl = memrchr(buf, '\n', len);
    size_t whole = nl ? (size_t)(nl - buf) + 1 : 0;
    size_t rest = len - whole;

    deliver(s, buf, whole);
    s->carry_len = 0;
    /* A partial line at the buffer's size (or no memory to keep it) goes out as a piece. */
    if (rest >= CARRY_MAX || (rest > 0 && !keep_carry(s, buf + whole, rest)))
        deliver(s, buf + whole, rest);
}

/* Copies what the pipe holds into scratch without taking it out (tee(2) into a pipe of our
 * own, then read back from there). Returns the number of bytes; 0 with errno EAGAIN when the
 * pipe is empty, 0 with another errno when peeking is not possible. */
static size_t peek(struct stream *s, size_t max)
{
    static int peek_fd[2] = {-1, -1};
    ssize_t n, r;

    if (peek_fd[0] == -1 && pipe2(peek_fd, O_CLOEXEC | O_NONBLOCK) == -1)
        return 0;
    n = tee(s->rd_fd, peek_fd[1], max, SPLICE_F_NONBLOCK);
    if (n <= 0) {
        if (n == 0)
            errno = 0; /* no writer left: the read path sees the end and stops watching */
        return 0;
    }
    /* The peek pipe was empty and holds just this copy: all of it comes back at once. */
    r = fd_read(peek_fd[0], scratch, (size_t)n);
    if (r != n) {
        errno = EIO;
        return 0;
    }
    return (size_t)n;
}

/* Moves len bytes (scratch[0..len), as peeked) from the pipe into the file with splice(2).
 * On a short or failed move the file is cut back to its last whole line, as write_file does
 * (what the pipe gave up past that is counted as dropped). 0, or -1/errno. */
static int splice_out(struct stream *s, size_t len)
{
    size_t off = 0;
    bool was_mid = s->file_mid_line;

    while (off < len) {
        ssize_t m = splice(s->rd_fd, NULL, s->file_fd, NULL, len - off, SPLICE_F_NONBLOCK);
        if (m == -1 && errno == EINTR)
            continue;
        if (m <= 0) {
            int err = m == 0 ? EIO : errno;
            if (off > 0 && scratch[off - 1] != '\n') {
                const char *nl = memrchr(scratch, '\n', off);
                size_t keep = nl ? (size_t)(nl - scratch) + 1 : 0;
                if (ftruncate(s->file_fd, s->file_size - (long long)(off - keep)) == 0 &&
                    lseek(s->file_fd, 0, SEEK_END) != (off_t)-1) {
                    drop(s, scratch + keep, off - keep);
                    s->file_size -= (long long)(off - keep);
                    s->file_mid_line = keep > 0 ? false : was_mid;
                }
            }
            errno = err;
            return -1;
        }
        lru_touch(s);
        s->file_size += (long long)m;
        s->unseen_bytes += (unsigned long long)m;
        s->unseen_lines += count_lines(scratch + off, (size_t)m);
        off += (size_t)m;
        s->file_mid_line = scratch[off - 1] != '\n';
    }
    return 0;
}

/* The zero-copy path for a stream written to a plain file (no syslog, no timestamps): the
 * bytes go from the pipe to the file with splice(2) and never sit in tend's memory, so a
 * supervisor killed at any instant loses and repeats nothing: what the kernel took from the
 * pipe is in the file, the rest is still in the pipe for the next supervisor. The data is
 * peeked at first (tee) to cut at line boundaries, and rotation happens between lines
 * exactly as on the write path. Whole lines only: when the pipe holds just the start of a
 * line, the read path takes it into the carry (a pipe cannot be left readable without epoll
 * reporting it again and again), and the read path serves the stream until that line is
 * done. So a kill loses at most a partial line that was in the carry. Returns 1 when done
 * (drained, or the round limit), 0 when the read path must take over (a partial line, a
 * failed write: it drops and counts; or peeking is impossible). */
static int splice_pump(struct stream *s, int max_rounds)
{
    for (int i = 0; i < max_rounds; i++) {
        size_t n = peek(s, READ_MAX), whole, off = 0;
        bool stuck = false;
        const char *nl;

        if (n == 0)
            return errno == EAGAIN ? 1 : 0;
        if (check_in_place(s) == -1) {
            stream_fail(s, errno, "open");
            return 0;
        }
        if (!s->file_splice)
            return 0; /* reopened as something splice cannot serve */
        nl = memrchr(scratch, '\n', n);
        whole = nl ? (size_t)(nl - scratch) + 1 : 0;
        if (whole == 0)
            return 0; /* only the start of a line: the read path keeps it as the carry */
        while (off < whole) {
            bool rotate;
            size_t chunk = next_chunk(s, scratch + off, whole - off, &rotate);
            if (rotate) {
                if (!stuck && rotation_step(s) == 0) {
                    stuck = s->file_size > 0;
                    if (!s->file_splice)
                        return 0;
                    continue;
                }
                chunk = whole - off;
            }
            /* splice_out works on scratch from its start: what is left goes there. */
            if (off > 0)
                memmove(scratch, scratch + off, whole - off);
            whole -= off;
            if (splice_out(s, chunk) == -1) {
                stream_fail(s, errno, "write");
                return 0;
            }
            off = chunk;
        }
        s->in_line = s->file_mid_line;
    }
    return 1;
}

static bool splicing(const struct stream *s)
{
    return s->rd_fd != -1 && s->c.to_file && s->file_fd != -1 && s->file_splice &&
           !s->retrying && s->carry_len == 0 && !s->c.to_syslog && !s->c.timestamps &&
           !logcap_strip_ansi && !s->c.events && s->c.capture_max <= 0;
}

/* Reads up to max_reads times, stopping when the pipe is empty. */
static void stream_pump(struct stream *s, int max_reads)
{
    /* The splice path needs the file open. Not an AUTO one: that is created at the first
     * line written (a pump may find the pipe empty), so its first bytes take the read path,
     * which opens it then, and the splice path serves the rest. */
    if (s->rd_fd != -1 && s->c.to_file && !s->c.auto_dir && s->file_fd == -1 && !s->retrying &&
        stream_open(s) == -1)
        stream_fail(s, errno, "open");
    if (splicing(s) && splice_pump(s, max_reads) == 1)
        return;
    for (int i = 0; i < max_reads && s->rd_fd != -1; i++) {
        size_t have = s->carry_len;
        ssize_t n;

        if (have > 0)
            memcpy(scratch, s->carry, have);
        n = fd_read(s->rd_fd, scratch + have, READ_MAX);
        if (n == -1) {
            if (errno != EAGAIN)
                log_msg(LOG_LVL_WARN, "%s: cannot read its %s: %s", s->lc->display, s->what,
                        strerror(errno));
            return;
        }
        if (n == 0) {
            /* No writer left: the instance and all it left behind are gone, and the pipe
             * would report a hang-up for ever. It is watched again when the next instance
             * gets its write end (lend_write_end). */
            stream_unwatch(s);
            return;
        }
        consume(s, scratch, have + (size_t)n);
        if ((size_t)n < READ_MAX)
            return; /* drained; level-triggered epoll calls again if more comes */
    }
}

static void on_readable(struct watcher *w, uint32_t events)
{
    (void)events;
    stream_pump(w->ctx, READS_PER_EVENT);
}

/* A read end held in fdring is read through a descriptor lent for the pump (one transient
 * descriptor, fdbudget's spawn reserve). Whether one was lent (to give back). */
static bool rd_lend(struct stream *s)
{
    if (s->slot == -1 || s->rd_fd != -1)
        return false;
    s->rd_fd = fdring_fd(s->slot);
    if (s->rd_fd == -1) {
        log_msg(LOG_LVL_WARN, "%s: cannot read its %s (held in the ring): %s", s->lc->display,
                s->what, strerror(errno));
        return false;
    }
    return true;
}

static void rd_return(struct stream *s, bool lent)
{
    if (lent) {
        fd_close_quiet(s->rd_fd);
        s->rd_fd = -1;
    }
}

static bool has_pipe(const struct stream *s)
{
    return s->rd_fd != -1 || s->slot != -1;
}

/* stream_pump for either kind of read end. */
static void pump(struct stream *s, int max_reads)
{
    bool lent = rd_lend(s);

    stream_pump(s, max_reads);
    rd_return(s, lent);
}

static void on_ring_readable(void *ctx, uint32_t revents)
{
    (void)revents;
    pump(ctx, READS_PER_EVENT);
}

static bool stream_watched(const struct stream *s)
{
    return s->slot != -1 ? fdring_watched(s->slot) : s->w.fd != -1;
}

/* Watches the read end (level-triggered either way). 0, or -1/errno. */
static int stream_watch(struct stream *s)
{
    if (s->slot != -1)
        return fdring_watch(s->slot, on_ring_readable, s);
    return loop_add(s->lc->loop, &s->w, s->rd_fd, EPOLLIN, on_readable, s);
}

static void stream_unwatch(struct stream *s)
{
    if (s->slot != -1)
        fdring_unwatch(s->slot);
    loop_del(s->lc->loop, &s->w);
}

/* An instance boundary (or the end): its unterminated last line becomes a line. */
static void end_line(struct stream *s)
{

    if (s->carry_len == 0 && !s->in_line)
        return;
    memcpy(scratch, s->carry, s->carry_len);
    scratch[s->carry_len] = '\n';
    deliver(s, scratch, s->carry_len + 1);
    s->carry_len = 0;
}

static void close_pipe(struct stream *s)
{
    stream_unwatch(s);
    if (s->slot != -1) {
        /* Handing over, the ring keeps the pipe for the next supervisor (the keeper holds
         * the ring); otherwise it goes like a descriptor would. */
        if (!logcap_handing_over)
            fdring_drop(s->slot);
        s->slot = -1;
    } else if (s->rd_fd != -1) {
        pipes_open--;
    }
    fd_close_quiet(s->rd_fd);
    fd_close_quiet(s->wr_fd);
    s->rd_fd = s->wr_fd = -1;
    s->in_line = false;
}

void logcap_set_pipe_cap(size_t cap)
{
    pipe_cap = cap;
}

size_t logcap_pipes_open(void)
{
    return pipes_open;
}

/* Sets s->wr_fd to a write end of the stream's pipe for the next instance, making the pipe
 * if there is none, and watches the read end. Only the read end is kept between instances
 * (one descriptor a stream, see fdbudget.h): each instance gets a write end of its own,
 * opened through /proc/self/fd from the read end, which names the same pipe, and tend's
 * copy is closed by logcap_after_spawn. 0, or -1/errno. */
static int lend_write_end(struct stream *s)
{
    if (has_pipe(s)) {
        char path[40];
        bool lent = rd_lend(s);
        if (s->rd_fd == -1)
            return -1; /* the ring could not lend a descriptor (logged) */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", s->rd_fd);
        /* A pipe with a reader opens for writing at once, and blocking (the program's end
         * must wait when the pipe is full, never fail). */
        int wr = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        int err = errno;
        rd_return(s, lent);
        errno = err;
        if (wr == -1 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
            return -1;
        if (wr == -1) {
            /* No /proc: a new pipe. Whatever still holds the old one's write end (a
             * descendant of the last instance) gets SIGPIPE from now on. */
            pump(s, FLUSH_READS);
            end_line(s);
            close_pipe(s);
        } else if (!stream_watched(s) && stream_watch(s) == -1) {
            fd_close_quiet(wr);
            return -1;
        } else {
            s->wr_fd = wr;
            return 0;
        }
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) == -1)
        return -1;
    /* Only our end is non-blocking: file status flags belong to each end separately, and
     * the program's end must stay blocking (it waits only when the pipe is full). */
    if (fd_set_nonblock(p[0]) == -1) {
        fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        return -1;
    }
    /* Past the budget's share of descriptors, the read end lives in the ring. */
    int slot = pipes_open >= pipe_cap ? fdring_hold(p[0]) : -1;
    s->slot = slot;
    s->rd_fd = slot == -1 ? p[0] : -1;
    if (stream_watch(s) == -1) {
        int err = errno;
        if (slot != -1)
            fdring_drop(slot);
        else
            fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        s->slot = s->rd_fd = -1;
        errno = err;
        return -1;
    }
    if (slot == -1)
        pipes_open++;
    s->wr_fd = p[1];
    return 0;
}

/* ---- configuration ---- */

static void stream_conf_free(struct stream_conf *c)
{
    free(c->path);
    c->path = NULL;
}

/* Where a stream goes, into *out (already zeroed). -1/ENOMEM; an AUTO path without a usable
 * childlogdir is logged and leaves the stream without a file. */
static int make_stream_conf(struct stream_conf *out, const char *display, const char *name,
                            const char *what, enum log_target kind, const char *path,
                            bool syslog_too, long long max_bytes, int backups, bool timestamps,
                            const char *childlogdir)
{
    out->to_syslog = kind == LOG_TARGET_SYSLOG || syslog_too;
    out->max_bytes = max_bytes > 0 ? max_bytes : 0;
    out->backups = backups > 0 ? backups : 0;
    out->timestamps = timestamps;
    if (kind == LOG_TARGET_PATH && path != NULL) {
        out->path = strdup(path);
        if (out->path == NULL)
            return -1;
        out->to_file = true;
    } else if (kind == LOG_TARGET_AUTO) {
        char dflt[PATH_MAX];
        if (childlogdir == NULL) {
            if (logcap_default_childlogdir(dflt, sizeof(dflt)) == -1) {
                log_msg(LOG_LVL_ERROR, "%s: no directory for its %s log (set [tend] "
                        "childlogdir): %s; its %s is not kept", display, what, strerror(errno),
                        what);
                return 0;
            }
            childlogdir = dflt;
        }
        if (asprintf(&out->path, "%s/%s-%s.log", childlogdir, name, what) == -1) {
            out->path = NULL;
            return -1;
        }
        /* A name is one path component here, whatever the config allowed in it. */
        for (char *p = out->path + strlen(childlogdir) + 1; *p != '\0'; p++) {
            if (*p == '/')
                *p = '_';
        }
        out->to_file = true;
        out->auto_dir = true;
    }
    return 0;
}

static int make_confs(struct stream_conf c[2], const char *display, const struct proc_conf *p,
                      const char *childlogdir)
{
    memset(c, 0, 2 * sizeof(*c));
    /* An event listener's stdout is the protocol's pipe: its stream stays unused. */
    if (proc_conf_stdout_captured(p)) {
        if (make_stream_conf(&c[0], display, p->name, "stdout", p->stdout_logfile_kind,
                             p->stdout_logfile, p->stdout_syslog, p->stdout_logfile_maxbytes,
                             p->stdout_logfile_backups, p->stdout_timestamps, childlogdir) == -1)
            return -1;
        c[0].events = p->stdout_events;
        c[0].capture_max = proc_conf_events(p)->stdout_capture_maxbytes;
    }
    c[1].events = p->stderr_events;
    c[1].capture_max = proc_conf_events(p)->stderr_capture_maxbytes;
    /* redirect_stderr: stderr shares stdout's pipe, so its own stream stays unused. */
    if (!p->redirect_stderr &&
        make_stream_conf(&c[1], display, p->name, "stderr", p->stderr_logfile_kind,
                         p->stderr_logfile, p->stderr_syslog, p->stderr_logfile_maxbytes,
                         p->stderr_logfile_backups, false, childlogdir) == -1) {
        stream_conf_free(&c[0]);
        return -1;
    }
    return 0;
}

static bool str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Reports (in tend's log) a drop that can no longer go into its file. */
static void report_lost_drop(struct stream *s)
{
    if (s->retrying && s->drop_bytes > 0)
        log_msg(LOG_LVL_WARN, "%s: %s: dropped %llu lines (%llu bytes) of its %s while the log "
                "could not be written: %s", s->lc->display, s->c.path, s->drop_lines,
                s->drop_bytes, s->what, strerror(s->retry_err));
    if (s->retrying)
        end_retrying(s);
}

static bool capturing(const struct stream_conf *c)
{
    return c->to_file || c->to_syslog || c->events || c->capture_max > 0;
}

/* "group:name", or "name" when the group is the program itself, as tend's log says it. */
static char *make_display(const struct proc_conf *conf)
{
    char *d;

    if (conf->group == NULL || strcmp(conf->group, conf->name) == 0)
        return strdup(conf->name);
    return asprintf(&d, "%s:%s", conf->group, conf->name) == -1 ? NULL : d;
}

/* ---- public ---- */

char *logcap_instance_dir(const char *childlogdir, const char *identifier,
                          const char *config_path)
{
    char dflt[PATH_MAX];
    char *out = NULL;

    if (childlogdir == NULL) {
        if (logcap_default_childlogdir(dflt, sizeof(dflt)) == -1)
            return NULL;
        childlogdir = dflt;
    }
    if (identifier != NULL) {
        if (asprintf(&out, "%s/%s", childlogdir, identifier) == -1)
            return NULL;
        for (char *p = out + strlen(childlogdir) + 1; *p != '\0'; p++) {
            if (*p == '/')
                *p = '_';
        }
        return out;
    }
    /* FNV-1a of the path: stable across runs, distinct for distinct configs. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)config_path; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    const char *base = strrchr(config_path, '/');
    base = base != NULL ? base + 1 : config_path;
    size_t blen = strcspn(base, ".");
    if (blen == 0 || blen > 64)
        blen = strlen(base) > 64 ? 64 : strlen(base);
    if (asprintf(&out, "%s/%.*s-%08x", childlogdir, (int)blen, base, (unsigned)h) == -1)
        return NULL;
    return out;
}

/* NAME-stdout.log, NAME-stderr.log, and those followed by .N (a rotated backup). */
static bool is_auto_name(const char *name)
{
    static const char *const ends[] = {"-stdout.log", "-stderr.log"};

    for (size_t i = 0; i < 2; i++) {
        const char *at = strstr(name, ends[i]);
        while (at != NULL) {
            const char *rest = at + strlen(ends[i]);
            if (*rest == '\0')
                return at > name;
            if (*rest == '.' && rest[1] != '\0' && strspn(rest + 1, "0123456789") ==
                                                         strlen(rest + 1))
                return at > name;
            at = strstr(at + 1, ends[i]);
        }
    }
    return false;
}

size_t logcap_clean_auto(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        return 0; /* nothing there yet: nothing to clean */
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (!is_auto_name(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
            !S_ISREG(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            n++;
        /* else: left in place; the next write appends to it, nothing is lost */
    }
    (void)closedir(d); /* read-only directory stream */
    return n;
}

int logcap_default_childlogdir(char *buf, size_t len)
{
    const char *base = NULL, *sub = "";
    int n;

    if (geteuid() == 0) {
        base = "/var/log/tend";
    } else if ((base = getenv("XDG_STATE_HOME")) != NULL && base[0] == '/') {
        sub = "/tend";
    } else {
        base = getenv("HOME");
        if (base == NULL || base[0] != '/') {
            struct passwd *pw = getpwuid(geteuid());
            base = pw ? pw->pw_dir : NULL;
        }
        if (base == NULL || base[0] != '/') {
            errno = ENOENT;
            return -1;
        }
        sub = "/.local/state/tend";
    }
    n = snprintf(buf, len, "%s%s", base, sub);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

struct logcap *logcap_new(struct loop *loop, const struct proc_conf *conf,
                          const char *childlogdir)
{
    struct logcap *lc = calloc(1, sizeof(*lc));
    static const char *const what[2] = {"stdout", "stderr"};

    if (lc == NULL)
        return NULL;
    lc->loop = loop;
    lc->name = strdup(conf->name);
    lc->display = make_display(conf);
    lc->redirect_stderr = conf->redirect_stderr;
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        s->lc = lc;
        s->what = what[i];
        s->syslog_prio = i == 0 ? LOG_INFO : LOG_ERR;
        s->rd_fd = s->wr_fd = s->file_fd = -1;
        s->slot = -1;
        s->w.fd = -1;
        s->rot_next = -1;
        timer_init(&s->retry_timer, on_retry_timer, s);
    }
    struct stream_conf c[2];
    if (lc->name == NULL || lc->display == NULL ||
        make_confs(c, lc->display, conf, childlogdir) == -1) {
        free(lc->name);
        free(lc->display);
        free(lc);
        errno = ENOMEM;
        return NULL;
    }
    lc->s[0].c = c[0];
    lc->s[1].c = c[1];
    live_logcaps++;
    return lc;
}

bool logcap_wanted(const struct proc_conf *p)
{
    /* As make_confs would make them: stderr's events and capture mode count even under
     * redirect_stderr. */
    return (proc_conf_stdout_captured(p) &&
            (p->stdout_logfile_kind != LOG_TARGET_NONE || p->stdout_syslog || p->stdout_events ||
             proc_conf_events(p)->stdout_capture_maxbytes > 0)) ||
           p->stderr_events || proc_conf_events(p)->stderr_capture_maxbytes > 0 ||
           (!p->redirect_stderr && (p->stderr_logfile_kind != LOG_TARGET_NONE || p->stderr_syslog));
}

int logcap_child_fds(struct logcap *lc, int *out_fd, int *err_fd)
{
    int rc = 0, err = 0;

    *out_fd = *err_fd = -1;
    if (lc == NULL)
        return 0;
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        if (has_pipe(s)) {
            /* What the previous instance wrote last belongs before the new one's output. */
            pump(s, FLUSH_READS);
            end_line(s);
        }
        if (!capturing(&s->c))
            continue;
        if (lend_write_end(s) == -1) {
            err = errno;
            rc = -1;
            /* The caller says what comes of it (a wait for descriptors, or /dev/null). */
            log_msg(LOG_LVL_ERROR, "%s: cannot create a pipe for its %s: %s", lc->display,
                    s->what, strerror(err));
            continue;
        }
        /* Open a configured path now, so that a bad one is reported when the program
         * starts. An AUTO file is created at the first line written: a program that never
         * writes to stderr gets no empty stderr file. */
        if (s->c.to_file && !s->c.auto_dir && s->file_fd == -1 && !s->retrying &&
            stream_open(s) == -1)
            stream_fail(s, errno, "open");
        /* Its directory exists from the start all the same: `tend logs -f` watches it. */
        char dir[PATH_MAX];
        const char *base;
        if (s->c.to_file && s->c.auto_dir && split_path(s->c.path, dir, sizeof(dir), &base) == 0)
            (void)make_dirs(dir); /* a failure is reported by the open at the first write */
    }
    *out_fd = capturing(&lc->s[0].c) ? lc->s[0].wr_fd : -1;
    if (lc->redirect_stderr)
        *err_fd = *out_fd;
    else
        *err_fd = capturing(&lc->s[1].c) ? lc->s[1].wr_fd : -1;
    if (rc == -1)
        errno = err;
    return rc;
}

void logcap_fds(const struct logcap *lc, int fds[4])
{
    for (int i = 0; i < 2; i++) {
        const struct stream *s = lc ? &lc->s[i] : NULL;
        fds[2 * i] = s != NULL && s->slot == -1 ? s->rd_fd : -1;
        /* A write end is only ever lent to an instance: its place says where a read end
         * held in the ring is. */
        fds[2 * i + 1] = s != NULL && s->slot != -1 ? LOGCAP_SLOT_FD(s->slot) : -1;
    }
}

int logcap_attach(struct logcap *lc, const int fds[4])
{
    int rc = 0, err = 0;

    for (int i = 0; i < 2; i++) {
        struct stream *s = lc ? &lc->s[i] : NULL;
        int rd = fds[2 * i], wr = fds[2 * i + 1];
        if (wr <= LOGCAP_SLOT_FD(0)) {
            /* Held in the ring the last supervisor left (adopted before this). */
            int slot = LOGCAP_FD_SLOT(wr);
            if (s == NULL || has_pipe(s) || !capturing(&s->c) || fdring_claim(slot) == -1)
                continue; /* unclaimed: fdring_settle empties it */
            s->slot = slot;
            if (stream_watch(s) == -1) {
                err = errno;
                rc = -1;
                fdring_drop(slot);
                s->slot = -1;
            }
            continue;
        }
        /* A supervisor of an older version kept a write end too: not needed any more. */
        fd_close_quiet(wr);
        if (rd == -1)
            continue;
        if (s == NULL || has_pipe(s) || !capturing(&s->c)) {
            /* Nothing captures this stream any more. */
            fd_close_quiet(rd);
            continue;
        }
        /* O_NONBLOCK belongs to the read end's open file description: already set by the
         * supervisor that made it, set again in case. */
        if (fd_set_nonblock(rd) == -1 ||
            loop_add(lc->loop, &s->w, rd, EPOLLIN, on_readable, s) == -1) {
            err = errno;
            rc = -1;
            fd_close_quiet(rd);
            continue;
        }
        s->rd_fd = rd;
        pipes_open++;
        /* The file is opened (at its end) when the first bytes arrive. */
    }
    if (rc == -1)
        errno = err;
    return rc;
}

void logcap_after_spawn(struct logcap *lc)
{
    if (lc == NULL)
        return;
    /* The instance has its copies now (or never will): ours go, so that the pipe reports
     * its end once the instance and its descendants are gone. */
    for (int i = 0; i < 2; i++) {
        fd_close_quiet(lc->s[i].wr_fd);
        lc->s[i].wr_fd = -1;
    }
}

void logcap_flush(struct logcap *lc)
{
    if (lc == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        if (has_pipe(&lc->s[i]))
            pump(&lc->s[i], FLUSH_READS);
    }
}

void logcap_reconfigure(struct logcap *lc, const struct proc_conf *conf, const char *childlogdir)
{
    struct stream_conf c[2];

    if (lc == NULL)
        return;
    logcap_flush(lc); /* what is in the pipes was written under the old settings */
    if (make_confs(c, lc->display, conf, childlogdir) == -1) {
        log_msg(LOG_LVL_ERROR, "%s: out of memory applying new log settings; keeping the old",
                lc->display);
        return;
    }
    lc->redirect_stderr = conf->redirect_stderr;
    char *display = make_display(conf); /* a reload may have moved it into a group */
    if (display != NULL) {
        free(lc->display);
        lc->display = display;
    }
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        bool moved = s->c.to_file != c[i].to_file || !str_same(s->c.path, c[i].path);
        if (moved || !capturing(&c[i]))
            end_line(s); /* the old target gets the old instance's last line whole */
        if (moved) {
            report_lost_drop(s);
            close_file(s);
        }
        if (s->c.capture_max != c[i].capture_max) {
            /* The buffer is sized by the old capture_maxbytes: a capture under way ends. */
            free(s->comm_buf);
            s->comm_buf = NULL;
            s->comm_len = 0;
            s->comm_mode = false;
        }
        stream_conf_free(&s->c);
        s->c = c[i];
        if (!capturing(&s->c) && has_pipe(s))
            close_pipe(s);
    }
}

int logcap_rotate(struct logcap *lc)
{
    int rc = 0, err = 0;

    if (lc == NULL)
        return 0;
    logcap_flush(lc); /* what was written before the request belongs to the old file */
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        if (!s->c.to_file)
            continue;
        if (s->retrying) {
            if (stream_resume(s) == -1 && rc == 0) {
                rc = -1;
                err = s->retry_err;
            }
            continue;
        }
        if (s->file_fd == -1 && !s->file_evicted)
            continue; /* opened at the next write */
        /* logrotate(8) moved it (or it is a device): reopen the name, and that is all. A
         * file closed for room (file_cap) is opened to be rotated. */
        bool moved = s->file_fd != -1 && (!s->file_regular || file_moved(s));
        if (moved)
            close_file(s);
        if (s->file_fd == -1 && stream_open(s) == -1) {
            int e = errno;
            stream_fail(s, e, "open");
            if (rc == 0) {
                rc = -1;
                err = e;
            }
            continue;
        }
        if (moved || !s->file_regular)
            continue;
        s->rot_retry_ns = 0; /* asked for: no waiting for a deadline */
        if (rotation_step(s) == -1 && rc == 0) {
            rc = -1;
            err = errno;
        }
    }
    if (rc == -1)
        errno = err;
    return rc;
}

unsigned long long logcap_dropped(const struct logcap *lc)
{
    return lc == NULL ? 0 : lc->s[0].dropped_total + lc->s[1].dropped_total;
}

unsigned long long logcap_written(const struct logcap *lc)
{
    return lc == NULL ? 0 : lc->s[0].written_total + lc->s[1].written_total;
}

const char *logcap_path(const struct logcap *lc, int stream)
{
    const struct stream *s;

    if (lc == NULL || (stream != LOGCAP_STDOUT && stream != LOGCAP_STDERR))
        return NULL;
    s = &lc->s[stream - 1];
    return s->c.to_file ? s->c.path : NULL;
}

int logcap_clear(struct logcap *lc)
{
    int rc = 0, err = 0;

    if (lc == NULL)
        return 0;
    logcap_flush(lc); /* what the pipes hold now was written before the clear */
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        if (s->file_fd == -1 && s->file_evicted && stream_open(s) == -1) {
            rc = -1;
            err = errno;
            continue;
        }
        if (s->file_fd == -1 || !s->file_regular)
            continue;
        /* The open file is emptied in place (its name stays, as supervisord's clear
         * leaves it); a splice-mode descriptor has its own offset, which goes back to 0 so
         * the next line lands at the start, not after a hole. */
        if (ftruncate(s->file_fd, 0) == -1 ||
            (s->file_splice && lseek(s->file_fd, 0, SEEK_SET) == (off_t)-1)) {
            rc = -1;
            err = errno;
            continue;
        }
        s->file_size = 0;
        s->file_mid_line = false;
    }
    errno = err;
    return rc;
}

static void free_mem(void *ptr)
{
    struct logcap *lc = ptr;

    for (int i = 0; i < 2; i++) {
        stream_conf_free(&lc->s[i].c);
        free(lc->s[i].carry);
        free(lc->s[i].comm_buf);
    }
    free(lc->name);
    free(lc->display);
    free(lc);
}

bool logcap_handing_over;

void logcap_free(struct logcap *lc)
{
    if (lc == NULL)
        return;
    if (!logcap_handing_over)
        logcap_flush(lc);
    for (int i = 0; i < 2; i++) {
        struct stream *s = &lc->s[i];
        if (logcap_handing_over) {
            /* The rest of the line is still to come, for the next supervisor: what we read
             * of it goes out as it is, and the pipe keeps the rest. */
            deliver(s, s->carry, s->carry_len);
            s->carry_len = 0;
        } else {
            end_line(s);
        }
        if (s->retrying && s->drop_bytes > 0 && timer_now_ns() >= s->retry_at_ns)
            (void)stream_resume(s); /* a last chance to put the note in the file */
        report_lost_drop(s);
        close_pipe(s);
        close_file(s);
        loop_timer_cancel(lc->loop, &s->retry_timer);
    }
    if (--live_logcaps == 0 && syslog_fd != -1) {
        fd_close_quiet(syslog_fd);
        syslog_fd = -1;
    }
    /* A watcher of ours may still have an event in the current batch. */
    loop_defer_free(lc->loop, free_mem, lc);
}
