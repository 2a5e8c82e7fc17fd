/* runtime: the runtime directory and the supervisors' advertisements (see runtime.h). An
 * advertisement is only a hint: the client believes it after connecting to its socket, and a
 * stale one (the supervisor died without removing it) is skipped by its dead pid, or by the
 * refused connection if the pid was reused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight.h"
#include "runtime.h"
#include "util/fd.h"
#include "util/str.h"

const char *runtime_dir(char *buf, size_t len)
{
    const char *own = getenv("TEND_RUNTIME_DIR");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;

    if (own != NULL && own[0] == '/')
        n = snprintf(buf, len, "%s", own);
    else if (geteuid() == 0)
        n = snprintf(buf, len, "/run/tend");
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, len, "%s/tend", xdg);
    else
        n = snprintf(buf, len, "/tmp/tend-%lu", (unsigned long)geteuid());
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return buf;
}

/* mkdir that accepts an existing directory. */
static int make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == -1 && errno != EEXIST)
        return -1;
    return 0;
}

int runtime_advertise(const char *socket, const char *config, pid_t pid, char *path,
                      size_t len)
{
    char dir[PATH_MAX], sub[PATH_MAX + 16], tmp[PATH_MAX + 48], err[PATH_MAX + 256];

    path[0] = '\0';
    if (runtime_dir(dir, sizeof(dir)) == NULL)
        return -1;
    /* Both levels: the runtime directory's parent is /run, $XDG_RUNTIME_DIR or /tmp. */
    if (make_dir(dir) == -1)
        return -1;
    if (preflight_socket_dir(dir, err, sizeof(err)) != 0) {
        errno = EPERM; /* not a directory we may trust others to read from */
        return -1;
    }
    snprintf(sub, sizeof(sub), "%s/supervisors", dir);
    if (make_dir(sub) == -1)
        return -1;
    int n = snprintf(path, len, "%s/%ld", sub, (long)pid);
    if (n < 0 || (size_t)n >= len || (size_t)n + 4 >= sizeof(tmp)) {
        path[0] = '\0';
        errno = ENAMETOOLONG;
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1) {
        path[0] = '\0';
        return -1;
    }
    char *text = xasprintf("socket=%s\nconfig=%s\n", socket, config != NULL ? config : "");
    int rc = fd_write_all(fd, text, strlen(text)) == -1 ? -1 : 0;
    int saved = errno;
    free(text);
    if (close(fd) == -1 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) == -1) {
        rc = -1;
        saved = errno;
    }
    if (rc == -1) {
        (void)unlink(tmp); /* best effort: a leftover .new is never read */
        path[0] = '\0';
        errno = saved;
    }
    return rc;
}

void runtime_withdraw(const char *path)
{
    if (path != NULL && path[0] != '\0')
        (void)unlink(path); /* best effort: a stale one is skipped by its dead pid */
}

static int entry_cmp(const void *a, const void *b)
{
    const struct runtime_entry *x = a, *y = b;

    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Reads one advertisement. 0, or -1 when it is unreadable or names no socket. */
static int read_entry(const char *file, struct runtime_entry *e)
{
    FILE *f = fopen(file, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (f == NULL)
        return -1;
    while ((n = getline(&line, &cap, f)) != -1) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        if (strncmp(line, "socket=", 7) == 0 && line[7] == '/') {
            free(e->socket);
            e->socket = xstrdup(line + 7);
        } else if (strncmp(line, "config=", 7) == 0 && line[7] != '\0') {
            free(e->config);
            e->config = xstrdup(line + 7);
        }
    }
    free(line);
    (void)fclose(f); /* read-only: nothing to lose */
    if (e->socket == NULL) {
        free(e->config);
        e->config = NULL;
        return -1;
    }
    return 0;
}

size_t runtime_list(const char *dir_opt, struct runtime_entry **out)
{
    char dir[PATH_MAX], sub[PATH_MAX + 16], file[PATH_MAX + 16 + 264], err[PATH_MAX + 256];
    struct runtime_entry *v = NULL;
    size_t n = 0, cap = 0;
    DIR *d;
    struct dirent *de;

    *out = NULL;
    if (dir_opt != NULL)
        snprintf(dir, sizeof(dir), "%s", dir_opt);
    else if (runtime_dir(dir, sizeof(dir)) == NULL)
        return 0;
    /* Only a directory nobody else could have written into is believed. */
    if (preflight_socket_dir(dir, err, sizeof(err)) != 0)
        return 0;
    snprintf(sub, sizeof(sub), "%s/supervisors", dir);
    if (preflight_socket_dir(sub, err, sizeof(err)) != 0 || (d = opendir(sub)) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end != '\0' || pid > INT_MAX)
            continue; /* ".", "..", "PID.new" */
        if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
            continue; /* stale: that supervisor is gone */
        struct runtime_entry e = {.pid = (pid_t)pid};
        snprintf(file, sizeof(file), "%s/%s", sub, de->d_name);
        if (read_entry(file, &e) == -1)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = e;
    }
    (void)closedir(d); /* read-only */
    if (n > 0)
        qsort(v, n, sizeof(*v), entry_cmp);
    *out = v;
    return n;
}

void runtime_entries_free(struct runtime_entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].socket);
        free(entries[i].config);
    }
    free(entries);
}
