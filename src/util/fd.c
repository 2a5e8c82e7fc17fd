/* File-descriptor helpers. Everything here is async-signal-safe (no malloc, no stdio), so
 * the spawn code may call it between fork and exec. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fd.h"

int fd_force_no_close_range;

ssize_t fd_read(int fd, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = read(fd, buf, len);
    } while (n == -1 && errno == EINTR);
    return n;
}

int fd_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void fd_close_quiet(int fd)
{
    int saved = errno;

    /* close() is never retried: on Linux the descriptor is released even on EINTR. */
    if (fd >= 0)
        (void)close(fd);
    errno = saved;
}

int fd_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    if (flags & O_NONBLOCK)
        return 0;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int fd_set_blocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1)
        return -1;
    if (!(flags & O_NONBLOCK))
        return 0;
    return fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/* Walks /proc/self/fd with getdents64 (opendir would malloc) and closes what is >= lowfd.
 * The directory's own descriptor is skipped and closed last. */
static int close_from_procfs(int lowfd, int keep_fd)
{
    char buf[4096];
    int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dfd == -1)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
        if (n == -1) {
            fd_close_quiet(dfd);
            return -1;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(void *)(buf + off);
            int fd = 0;
            const char *s = d->d_name;
            off += d->d_reclen;
            if (*s < '0' || *s > '9')
                continue;
            for (; *s >= '0' && *s <= '9'; s++)
                fd = fd * 10 + (*s - '0');
            if (fd >= lowfd && fd != dfd && fd != keep_fd)
                (void)close(fd); /* an fd already gone is fine: the goal is "not open" */
        }
    }
    (void)close(dfd);
    return 0;
}

static int close_range_sys(unsigned first, unsigned last)
{
    if (fd_force_no_close_range) {
        errno = ENOSYS;
        return -1;
    }
    if (first > last)
        return 0;
    return (int)syscall(SYS_close_range, first, last, 0);
}

int fd_close_from(int lowfd, int keep_fd)
{
    struct rlimit rl;
    int rc;

    if (keep_fd >= lowfd) {
        rc = close_range_sys((unsigned)lowfd, (unsigned)keep_fd - 1);
        if (rc == 0)
            rc = close_range_sys((unsigned)keep_fd + 1, ~0U);
    } else {
        rc = close_range_sys((unsigned)lowfd, ~0U);
    }
    if (rc == 0)
        return 0;
    if (errno != ENOSYS)
        return -1;
    if (close_from_procfs(lowfd, keep_fd) == 0)
        return 0;
    /* No /proc: fall back to the descriptor limit, which bounds every open fd number. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
        return -1;
    for (rlim_t fd = (rlim_t)lowfd; fd < rl.rlim_cur; fd++) {
        if ((int)fd != keep_fd)
            (void)close((int)fd);
    }
    return 0;
}
