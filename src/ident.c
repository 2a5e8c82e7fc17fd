/* ident: process identity from /proc/PID/stat. The comm field may hold spaces and
 * parentheses, so parsing starts after the LAST ')'. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ident.h"
#include "util/fd.h"

/* Reads /proc/PID/stat into buf and returns a pointer just past "PID (comm) ", at the state
 * field (field 3), or NULL with errno ESRCH. */
static char *read_stat(pid_t pid, char *buf, size_t len)
{
    char path[64];
    int fd;
    ssize_t n;
    char *close_paren;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        errno = ESRCH;
        return NULL;
    }
    n = fd_read(fd, buf, len - 1);
    fd_close_quiet(fd);
    if (n <= 0) {
        errno = ESRCH;
        return NULL;
    }
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    if (close_paren == NULL || close_paren[1] != ' ') {
        errno = ESRCH;
        return NULL;
    }
    return close_paren + 2;
}

/* Returns field number `field` (3-based, as proc(5) counts) from the state field onwards. */
static const char *stat_field(const char *p, int field)
{
    for (int i = 3; i < field && p != NULL; i++) {
        p = strchr(p, ' ');
        if (p != NULL)
            p++;
    }
    return p;
}

int ident_read(pid_t pid, struct ident *out, char *state)
{
    char buf[1024];
    char *p = read_stat(pid, buf, sizeof(buf));
    const char *start;

    if (p == NULL)
        return -1;
    start = stat_field(p, 22);
    if (start == NULL) {
        errno = ESRCH;
        return -1;
    }
    out->pid = pid;
    out->start_ticks = strtoull(start, NULL, 10);
    if (state != NULL)
        *state = *p;
    return 0;
}

bool ident_alive(const struct ident *id)
{
    struct ident now;
    char state;

    if (ident_read(id->pid, &now, &state) == -1)
        return false;
    return state != 'Z' && state != 'X' && now.start_ticks == id->start_ticks;
}

struct timespec ident_start_realtime(const struct ident *id)
{
    struct timespec real, boot, r;
    long tck = sysconf(_SC_CLK_TCK);
    long long start_ns, offset_ns, ns;

    if (tck <= 0)
        tck = 100;
    /* Field 22 counts from boot on CLOCK_BOOTTIME; shift it onto the wall clock. */
    (void)clock_gettime(CLOCK_REALTIME, &real); /* cannot fail for these clock ids */
    (void)clock_gettime(CLOCK_BOOTTIME, &boot);
    offset_ns = (real.tv_sec - boot.tv_sec) * 1000000000LL + (real.tv_nsec - boot.tv_nsec);
    start_ns = (long long)(id->start_ticks / (unsigned long long)tck) * 1000000000LL +
               (long long)(id->start_ticks % (unsigned long long)tck) * (1000000000LL / tck);
    ns = start_ns + offset_ns;
    r.tv_sec = ns / 1000000000LL;
    r.tv_nsec = ns % 1000000000LL;
    return r;
}

int ident_parents(pid_t pid, pid_t *ppid, pid_t *pgid, pid_t *sid)
{
    char buf[1024];
    char *p = read_stat(pid, buf, sizeof(buf));
    int a, b, c;

    if (p == NULL)
        return -1;
    if (sscanf(p, "%*c %d %d %d", &a, &b, &c) != 3) {
        errno = ESRCH;
        return -1;
    }
    *ppid = a;
    *pgid = b;
    *sid = c;
    return 0;
}

int ident_usage(pid_t pid, long long *threads, long long *rss_pages)
{
    char buf[1024];
    const char *p = read_stat(pid, buf, sizeof(buf));
    const char *t = p ? stat_field(p, 20) : NULL, *r = p ? stat_field(p, 24) : NULL;

    if (t == NULL || r == NULL) {
        errno = ESRCH;
        return -1;
    }
    *threads = strtoll(t, NULL, 10);
    *rss_pages = strtoll(r, NULL, 10);
    return 0;
}
