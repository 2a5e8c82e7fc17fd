/* pidfile: atomic pidfile writes and identity-checked ownership. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "pidfile.h"
#include "util/fd.h"

static int tmp_path(const char *path, char *out, size_t len)
{
    int n = snprintf(out, len, "%s.new", path);

    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int pidfile_read_stat(const char *path, pid_t *pid, struct stat *st)
{
    char buf[32];
    char *end;
    long v;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd == -1)
        return -1;
    if (fstat(fd, st) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        fd_close_quiet(fd);
        errno = EINVAL;
        return -1;
    }
    n = fd_read(fd, buf, sizeof(buf) - 1);
    fd_close_quiet(fd);
    if (n == -1)
        return -1;
    buf[n] = '\0';
    if (n == 0) {
        errno = ENODATA;
        return -1;
    }
    errno = 0;
    v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ' || *end == '\t')
        end++;
    if (errno != 0 || end == buf || *end != '\0' || v <= 1 || v > INT_MAX) {
        errno = EINVAL;
        return -1;
    }
    *pid = (pid_t)v;
    return 0;
}

int pidfile_read(const char *path, pid_t *pid)
{
    struct stat st;

    return pidfile_read_stat(path, pid, &st);
}

int pidfile_owner(const char *path, pid_t *pid)
{
    struct stat st;
    struct ident id;
    struct timespec started;
    char state;

    if (pidfile_read_stat(path, pid, &st) == -1)
        return (errno == ENOENT || errno == EINVAL || errno == ENODATA) ? 0 : -1;
    if (ident_read(*pid, &id, &state) == -1 || state == 'Z' || state == 'X')
        return 0;
    /* The owner existed when the file was written. A process that started after the
     * file's mtime holds a reused pid. Start times have clock-tick resolution and are
     * rounded down, so the owner always compares as earlier or equal. */
    started = ident_start_realtime(&id);
    /* The two clocks differ in grain: a start time has clock-tick resolution and goes
     * through a boot-time to wall-clock shift, while file times come from the kernel's
     * coarse clock and can read a few milliseconds early. Allow two ticks in favour of
     * "still running": a stranger would have to reuse the pid within them. */
    long tck = sysconf(_SC_CLK_TCK);
    long long margin_ns = 2 * (1000000000LL / (tck > 0 ? tck : 100));
    long long started_ns = (long long)started.tv_sec * 1000000000LL + started.tv_nsec;
    long long written_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return started_ns <= written_ns + margin_ns ? 1 : 0;
}

int pidfile_begin(const char *path)
{
    char tmp[PATH_MAX];
    int fd;

    if (tmp_path(path, tmp, sizeof(tmp)) == -1)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1)
        return -1;
    /* The lock serialises two launchers racing on the same pidfile; it lives on the .new
     * inode, which only launchers open. */
    if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    if (ftruncate(fd, 0) == -1) {
        pidfile_abort(fd, path);
        return -1;
    }
    return fd;
}

int pidfile_commit(int fd, const char *path, pid_t pid)
{
    char tmp[PATH_MAX], buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);

    if (tmp_path(path, tmp, sizeof(tmp)) == -1 || fd_write_all(fd, buf, (size_t)n) == -1 ||
        rename(tmp, path) == -1) {
        pidfile_abort(fd, path);
        return -1;
    }
    /* Closing after the rename keeps the lock until the new file is in place. */
    if (close(fd) == -1 && errno != EINTR)
        return -1;
    return 0;
}

void pidfile_abort(int fd, const char *path)
{
    char tmp[PATH_MAX];
    int saved = errno;

    if (tmp_path(path, tmp, sizeof(tmp)) == 0)
        (void)unlink(tmp); /* best effort: a leftover .new is harmless and reused next time */
    fd_close_quiet(fd);
    errno = saved;
}
