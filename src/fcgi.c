/* fcgi: [fcgi-program:x] listening sockets (see fcgi.h). Invariants: one socket per program
 * and socket= value, shared by its instances through a reference count; the supervisor's
 * copy is close-on-exec (an instance gets it only as fd 0, by spawn's dup2); while tend runs
 * with a keeper, the keeper holds a copy too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgi.h"
#include "handover.h"
#include "keeper.h"
#include "log.h"
#include "spawn.h"
#include "supervisor.h"
#include "util/fd.h"

struct fcgi_sock {
    unsigned refs;
    int fd;        /* -1: not bound (yet, or binding failed) */
    char *spec;    /* socket= as written */
    char *program;
};

/* The address socket= names, resolved: one entry per candidate (TCP may give several). */
struct fcgi_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    int family;
};

#define MAX_ADDRS 8

/* Resolves spec into up to MAX_ADDRS addresses. Returns how many, or -1 with err filled. */
static int resolve(const char *spec, struct fcgi_addr *out, char *err, size_t err_len)
{
    if (strncmp(spec, "unix://", 7) == 0) {
        const char *path = spec + 7;
        struct sockaddr_un *un = (struct sockaddr_un *)&out[0].sa;
        if (strlen(path) >= sizeof(un->sun_path)) {
            snprintf(err, err_len, "socket path %s is too long", path);
            return -1;
        }
        memset(&out[0], 0, sizeof(out[0]));
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        out[0].len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
        out[0].family = AF_UNIX;
        return 1;
    }
    /* tcp://HOST:PORT; HOST may be [v6], * or empty (every address). */
    char host[256], port[32];
    const char *hp = spec + 6, *colon = strrchr(hp, ':');
    size_t hlen = colon != NULL ? (size_t)(colon - hp) : 0;
    if (colon == NULL || hlen >= sizeof(host) || strlen(colon + 1) >= sizeof(port) ||
        colon[1] == '\0') {
        snprintf(err, err_len, "socket %s is not tcp://HOST:PORT", spec);
        return -1;
    }
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    char *h = host;
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h[hlen - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(h[0] == '\0' || strcmp(h, "*") == 0 ? NULL : h, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "cannot resolve %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    int n = 0;
    for (struct addrinfo *a = res; a != NULL && n < MAX_ADDRS; a = a->ai_next) {
        if (a->ai_addrlen > sizeof(out[n].sa))
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        memcpy(&out[n].sa, a->ai_addr, a->ai_addrlen);
        out[n].len = a->ai_addrlen;
        out[n].family = a->ai_family;
        n++;
    }
    freeaddrinfo(res);
    if (n == 0)
        snprintf(err, err_len, "%s resolves to no address", spec);
    return n > 0 ? n : -1;
}

/* A unix socket file left by an earlier run: removed only when nobody answers on it. */
static int clear_stale(const struct fcgi_addr *a, char *err, size_t err_len)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
    struct stat st;

    if (lstat(un->sun_path, &st) == -1)
        return 0; /* nothing there (or nothing we could see: bind will say) */
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, err_len, "%s exists and is not a socket", un->sun_path);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        snprintf(err, err_len, "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, (const struct sockaddr *)&a->sa, a->len);
    int saved = errno;
    fd_close_quiet(fd);
    if (rc == 0) {
        snprintf(err, err_len, "%s is in use by another process", un->sun_path);
        return -1;
    }
    if (saved == ECONNREFUSED && unlink(un->sun_path) == -1 && errno != ENOENT) {
        snprintf(err, err_len, "cannot remove stale socket %s: %s", un->sun_path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

static int bind_socket(const struct proc_conf *c, char *err, size_t err_len)
{
    const struct proc_fcgi *f = proc_conf_fcgi(c);
    struct fcgi_addr addrs[MAX_ADDRS];
    int n = resolve(f->socket, addrs, err, err_len);
    int last = 0;

    for (int i = 0; i < n; i++) {
        const struct fcgi_addr *a = &addrs[i];
        if (a->family == AF_UNIX && clear_stale(a, err, err_len) == -1)
            return -1;
        int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd == -1) {
            last = errno;
            continue;
        }
        int one = 1;
        if (a->family != AF_UNIX)
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)); /* a restart
                                                  * within TIME_WAIT must not fail to bind */
        int rc;
        if (a->family == AF_UNIX) {
            /* The mode is set by the umask at bind, never chmod'ed after the fact: no moment
             * exists when the socket is more open than asked. */
            mode_t old = umask((mode_t)(~f->socket_mode & 0777));
            rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
            last = errno;
            umask(old);
        } else {
            rc = bind(fd, (const struct sockaddr *)&a->sa, a->len);
            last = errno;
        }
        if (rc == 0 && a->family == AF_UNIX && f->socket_owner != NULL) {
            uid_t uid;
            gid_t gid, *groups = NULL;
            size_t ng = 0;
            char msg[200];
            const char *path = ((const struct sockaddr_un *)&a->sa)->sun_path;
            if (spawn_resolve_user(f->socket_owner, &uid, &gid, &groups, &ng, msg, sizeof(msg)) ==
                -1) {
                snprintf(err, err_len, "socket_owner '%s': %s", f->socket_owner, msg);
                (void)unlink(path); /* ours, just made */
                fd_close_quiet(fd);
                return -1;
            }
            free(groups);
            if (chown(path, uid, gid) == -1) {
                snprintf(err, err_len, "cannot give %s to %s: %s", path, f->socket_owner,
                         strerror(errno));
                (void)unlink(path); /* ours, just made */
                fd_close_quiet(fd);
                return -1;
            }
        }
        if (rc == 0 && listen(fd, f->socket_backlog) == 0)
            return fd;
        if (rc == 0)
            last = errno;
        fd_close_quiet(fd);
    }
    if (n > 0)
        snprintf(err, err_len, "cannot bind %s: %s", f->socket, strerror(last));
    return -1;
}

/* An inherited descriptor (deposited by a previous supervisor) bound to spec's address. */
static int find_inherited(const char *spec)
{
    struct fcgi_addr addrs[MAX_ADDRS];
    char err[256];
    int n = resolve(spec, addrs, err, sizeof(err));
    int found = -1;
    DIR *d;
    struct dirent *e;

    if (n <= 0 || (d = opendir("/proc/self/fd")) == NULL)
        return -1; /* without /proc the socket is bound afresh (and may find it in use) */
    while (found == -1 && (e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name), fl;
        struct stat st;
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < KEEPER_FIRST_FD || fd == dirfd(d))
            continue;
        fl = fcntl(fd, F_GETFD);
        if (fl == -1 || (fl & FD_CLOEXEC) || fstat(fd, &st) == -1 || !S_ISSOCK(st.st_mode) ||
            getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
            continue;
        for (int i = 0; i < n && found == -1; i++) {
            if (len == addrs[i].len && memcmp(&sa, &addrs[i].sa, len) == 0)
                found = fd;
        }
    }
    closedir(d);
    return found;
}

static struct fcgi_sock *sock_new(const struct proc_conf *c)
{
    struct fcgi_sock *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->spec = strdup(proc_conf_fcgi(c)->socket);
    s->program = strdup(c->program);
    if (s->spec == NULL || s->program == NULL) {
        free(s->spec);
        free(s->program);
        free(s);
        return NULL;
    }
    s->refs = 1;
    s->fd = -1;
    return s;
}

/* Another instance of the same program already has the socket: share it. */
static struct fcgi_sock *sibling(const struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;
    struct supervisor *sup = svc->sup;
    for (size_t i = 0; i < sup->nsvcs; i++) {
        struct fcgi_sock *s = sup->svcs[i]->fcgi;
        if (sup->svcs[i] != svc && s != NULL && strcmp(s->program, c->program) == 0 &&
            strcmp(s->spec, proc_conf_fcgi(c)->socket) == 0)
            return s;
    }
    return NULL;
}

void fcgi_attach(struct service *svc)
{
    const struct proc_conf *c = svc->p.conf;

    if (c->kind != PROC_KIND_FCGI || proc_conf_fcgi(c)->socket == NULL || svc->fcgi != NULL ||
        !handover_restoring(svc->sup->handover))
        return;
    struct fcgi_sock *s = sibling(svc);
    if (s != NULL) {
        s->refs++;
        svc->fcgi = s;
        return;
    }
    int fd = find_inherited(proc_conf_fcgi(c)->socket);
    if (fd == -1)
        return; /* bound afresh at the next start */
    s = sock_new(c);
    if (s == NULL)
        return; /* the inherited copy is closed as unclaimed; the next start binds again */
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* cannot fail on an open fd; ours now, never a
                                           * child's but as its stdin */
    s->fd = fd;
    svc->fcgi = s;
    log_msg(LOG_LVL_INFO, "%s: took back the socket %s (fd %d)", svc->display, s->spec, fd);
}

int fcgi_child_fd(struct service *svc, int *in_fd, char *err, size_t err_len)
{
    const struct proc_conf *c = svc->p.conf;

    if (c->kind != PROC_KIND_FCGI || proc_conf_fcgi(c)->socket == NULL)
        return 0;
    if (svc->fcgi != NULL && strcmp(svc->fcgi->spec, proc_conf_fcgi(c)->socket) != 0)
        fcgi_detach(svc); /* a reload changed socket= */
    if (svc->fcgi == NULL) {
        struct fcgi_sock *s = sibling(svc);
        if (s != NULL)
            s->refs++;
        else if ((s = sock_new(c)) == NULL) {
            snprintf(err, err_len, "cannot bind %s: out of memory", proc_conf_fcgi(c)->socket);
            return -1;
        }
        svc->fcgi = s;
    }
    struct fcgi_sock *s = svc->fcgi;
    if (s->fd == -1) {
        s->fd = bind_socket(c, err, err_len);
        if (s->fd == -1)
            return -1;
        handover_deposit(svc->sup->handover, s->fd);
        log_msg(LOG_LVL_INFO, "%s: listening on %s (fd %d), handed to each instance as stdin",
                svc->display, s->spec, s->fd);
    }
    *in_fd = s->fd;
    return 0;
}

void fcgi_detach(struct service *svc)
{
    struct fcgi_sock *s = svc->fcgi;

    if (s == NULL)
        return;
    svc->fcgi = NULL;
    if (--s->refs > 0)
        return;
    if (s->fd != -1) {
        if (!svc->sup->upgrading) {
            handover_release(svc->sup->handover, s->fd);
            if (strncmp(s->spec, "unix://", 7) == 0)
                (void)unlink(s->spec + 7); /* best effort: a stale file is cleared at bind */
        }
        fd_close_quiet(s->fd);
    }
    free(s->spec);
    free(s->program);
    free(s);
}
