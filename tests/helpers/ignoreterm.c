/* ignoreterm: a process that will not stop politely.
 *
 *   usage: ignoreterm [-r READYFILE]
 *
 * Ignores SIGTERM, SIGINT and SIGHUP, then writes "ready PID\n" to READYFILE atomically
 * (READYFILE.tmp, then rename, so a reader never sees a partial file) and pauses forever.
 * Only an uncatchable signal (SIGKILL) or another fatal one ends it. The dispositions are set
 * before readiness is reported, so a test that waits for the file may signal at once. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_ready(const char *path)
{
    char tmp[PATH_MAX], buf[64];
    int fd, n;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = snprintf(buf, sizeof buf, "ready %d\n", (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (write(fd, buf, (size_t)n) != n) {
        int saved = errno;
        close(fd);
        errno = saved ? saved : EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    const char *ready = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "r:")) != -1) {
        if (opt != 'r') {
            fprintf(stderr, "usage: ignoreterm [-r READYFILE]\n");
            return 2;
        }
        ready = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: ignoreterm [-r READYFILE]\n");
        return 2;
    }
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (ready != NULL && write_ready(ready) == -1) {
        fprintf(stderr, "ignoreterm: cannot write %s: %s\n", ready, strerror(errno));
        return 1;
    }
    for (;;)
        pause();
}
