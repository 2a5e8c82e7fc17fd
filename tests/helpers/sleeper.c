/* sleeper: a well-behaved long-running service, optionally with a family.
 *
 *   usage: sleeper [-r READYFILE] [-c CHILDREN]
 *
 * Forks CHILDREN children (default 0) that stay in sleeper's process group and also pause.
 * Then writes READYFILE atomically (READYFILE.tmp + rename):
 *     ready PID
 *     child PID      (one line per child)
 * and pauses forever. SIGTERM makes sleeper, and each child, exit 0. Children do not die with
 * their parent: a test of "signal the whole process group" sees each of them go only if the
 * group was signalled. The SIGTERM handler is installed before the forks and before readiness
 * is reported, so a test may signal as soon as the file appears. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CHILDREN 4096

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static int write_ready(const char *path, const pid_t *kids, long nkids)
{
    char tmp[PATH_MAX];
    FILE *f;
    long i;
    int fail;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    f = fopen(tmp, "we");
    if (f == NULL)
        return -1;
    fprintf(f, "ready %d\n", (int)getpid());
    for (i = 0; i < nkids; i++)
        fprintf(f, "child %d\n", (int)kids[i]);
    fail = ferror(f);
    if (fclose(f) == EOF || fail) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return rename(tmp, path);
}

int main(int argc, char **argv)
{
    const char *ready = NULL;
    long nkids = 0, i;
    pid_t *kids;
    struct sigaction sa;
    int opt;

    while ((opt = getopt(argc, argv, "r:c:")) != -1) {
        char *end;
        switch (opt) {
        case 'r':
            ready = optarg;
            break;
        case 'c':
            errno = 0;
            nkids = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || nkids < 0 ||
                nkids > MAX_CHILDREN) {
                fprintf(stderr, "sleeper: -c: want 0..%d, got '%s'\n", MAX_CHILDREN, optarg);
                return 2;
            }
            break;
        default:
            goto usage;
        }
    }
    if (optind != argc)
        goto usage;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);

    kids = calloc((size_t)(nkids ? nkids : 1), sizeof *kids);
    if (kids == NULL) {
        perror("sleeper");
        return 1;
    }
    for (i = 0; i < nkids; i++) {
        kids[i] = fork();
        if (kids[i] == -1) {
            perror("sleeper: cannot fork");
            return 1;
        }
        if (kids[i] == 0) {
            for (;;)
                pause();
        }
    }
    if (ready != NULL && write_ready(ready, kids, nkids) == -1) {
        fprintf(stderr, "sleeper: cannot write %s: %s\n", ready, strerror(errno));
        return 1;
    }
    free(kids);
    for (;;)
        pause();

usage:
    fprintf(stderr, "usage: sleeper [-r READYFILE] [-c CHILDREN]\n");
    return 2;
}
