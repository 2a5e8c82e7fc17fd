/* log: tend's own log. One write(2) per line so concurrent writers (a second tend, a
 * logrotate copy) never interleave within a line; a failing write is dropped, never fatal:
 * the supervisor must not die because its log's disk is full. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util/fd.h"

enum dest { DEST_STDERR, DEST_FILE, DEST_SYSLOG };

static struct {
    enum dest dest;
    int fd;
    char path[PATH_MAX];
    enum log_level level;
    long long max_bytes; /* rotate the file before it would pass this; 0: never */
    int backups;         /* path.1 .. path.N kept; 0: the file is emptied instead */
    long long size;      /* as far as we know: fstat at open + what we wrote */
} lg = {DEST_STDERR, -1, "", LOG_LVL_INFO, 0, 0, 0};

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd == -1)
        return -1;
    if (strlen(path) >= sizeof(lg.path)) {
        fd_close_quiet(fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    fd_close_quiet(lg.fd);
    lg.fd = fd;
    strcpy(lg.path, path);
    lg.dest = DEST_FILE;
    struct stat st;
    lg.size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
    return 0;
}

void log_set_rotation(long long max_bytes, int backups)
{
    lg.max_bytes = max_bytes > 0 ? max_bytes : 0;
    lg.backups = backups > 0 ? backups : 0;
}

/* path.N-1 -> path.N ... path -> path.1, then a new path; with no backups, the file is
 * emptied. Every step is best effort: a failed rename leaves the file growing, which loses
 * nothing, and the next line tries again. */
static void rotate(void)
{
    char from[PATH_MAX + 16], to[PATH_MAX + 16];

    if (lg.backups == 0) {
        if (ftruncate(lg.fd, 0) == 0)
            lg.size = 0;
        return;
    }
    for (int i = lg.backups - 1; i >= 1; i--) {
        snprintf(from, sizeof(from), "%s.%d", lg.path, i);
        snprintf(to, sizeof(to), "%s.%d", lg.path, i + 1);
        (void)rename(from, to); /* a missing backup is normal: fewer rotations so far */
    }
    snprintf(to, sizeof(to), "%s.1", lg.path);
    if (rename(lg.path, to) == -1)
        return;
    char path[PATH_MAX];
    strcpy(path, lg.path);
    (void)log_open_file(path); /* on failure the renamed file keeps the lines */
}

int log_reopen(void)
{
    char path[PATH_MAX];

    if (lg.dest != DEST_FILE)
        return 0;
    strcpy(path, lg.path);
    return log_open_file(path);
}

void log_use_syslog(const char *ident)
{
    log_close();
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    lg.dest = DEST_SYSLOG;
}

void log_use_stderr(void)
{
    log_close();
}

void log_close(void)
{
    if (lg.dest == DEST_SYSLOG)
        closelog();
    fd_close_quiet(lg.fd);
    lg.fd = -1;
    lg.dest = DEST_STDERR;
}

int log_to_stderr(void)
{
    return lg.dest == DEST_STDERR;
}

void log_set_level(enum log_level level)
{
    lg.level = level;
}

int log_parse_level(const char *name, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } map[] = {
        {"critical", LOG_LVL_ERROR}, {"error", LOG_LVL_ERROR}, {"warn", LOG_LVL_WARN},
        {"warning", LOG_LVL_WARN},   {"info", LOG_LVL_INFO},   {"debug", LOG_LVL_DEBUG},
        {"trace", LOG_LVL_DEBUG},    {"blather", LOG_LVL_DEBUG},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(name, map[i].name) == 0) {
            *out = map[i].level;
            return 0;
        }
    }
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    size_t n = 0;
    va_list ap;
    int saved = errno;

    if (level > lg.level)
        return;
    va_start(ap, fmt);
    if (lg.dest == DEST_SYSLOG) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        vsnprintf(line, sizeof(line), fmt, ap);
        syslog(prio[level], "%s", line);
    } else {
        struct timeval tv;
        struct tm tm;
        int w;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
        w = snprintf(line + n, sizeof(line) - n, ".%03d %s ", (int)(tv.tv_usec / 1000),
                     level_names[level]);
        n += (size_t)w;
        w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        n = (w < 0) ? n : n + (size_t)w;
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2; /* truncated: keep the line whole and terminated */
        line[n++] = '\n';
        if (lg.dest == DEST_FILE && lg.max_bytes > 0 && lg.size > 0 &&
            lg.size + (long long)n > lg.max_bytes)
            rotate();
        /* Dropped on failure (full disk, closed stderr): logging must never stop tend. */
        if (fd_write_all(lg.dest == DEST_FILE ? lg.fd : STDERR_FILENO, line, n) == 0)
            lg.size += (long long)n;
    }
    va_end(ap);
    errno = saved;
}

const char *log_file_path(void)
{
    return lg.dest == DEST_FILE ? lg.path : NULL;
}

int log_clear(void)
{
    if (lg.dest != DEST_FILE)
        return 0;
    if (ftruncate(lg.fd, 0) == -1) /* O_APPEND: the next line goes to the new end */
        return -1;
    lg.size = 0;
    return 0;
}
