/* cgroup: every service in its own cgroup, nothing left behind, limits and usage (see
 * cgroup.h).
 *
 * Layout. tend's own cgroup (from /proc/self/cgroup, line "0::") is the parent of the service
 * cgroups, "svc.NAME". When tend sits in the root cgroup (a container without a cgroup
 * namespace, a test machine) it makes "tend.PID.N" there instead and removes it at exit.
 * Otherwise (a delegated subtree, e.g. systemd's Delegate=yes) tend moves itself into a leaf
 * "tend" first, so that its cgroup may enable controllers for the services: cgroup v2 lets a
 * cgroup either hold processes or hand controllers down, not both.
 * On a hybrid host the v2 hierarchy has no controllers; the memory and pids limits then use
 * the v1 controllers, in "tend-BASENAME/svc.NAME" under tend's own v1 cgroup, made only for
 * services that set such a limit.
 *
 * Invariants: a service cgroup holds only processes of that service (the child is placed
 * before it runs any of the program's code); the loop watches cgroup.events only while a
 * tree is being stopped, so an idle service costs no descriptor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "ident.h"
#include "log.h"
#include "util/fd.h"
#include "util/str.h"

#define NS_PER_SEC 1000000000ULL
/* How long the shutdown sweep waits after SIGTERM before SIGKILL. */
#define SWEEP_GRACE_S 10

struct cgroup_tree {
    struct loop *loop;
    bool active;              /* v2 tracking in use */
    char *base;               /* absolute path of the service cgroups' parent */
    char *rel;                /* the same, relative to the v2 mount ("/..."), for /proc */
    bool made_base;           /* tend made base (it sat in the root cgroup): remove at exit */
    bool has_kill;            /* cgroup.kill exists (Linux 5.14) */
    bool v2_memory, v2_pids, v2_cpu; /* controllers the service cgroups have */
    char *v1_memory, *v1_pids; /* hybrid: where v1 service cgroups go; NULL: none */
    struct cgroup_svc *svcs;  /* every service's, linked */
    /* the shutdown sweep */
    bool sweep_started, sweep_done, sweep_killed;
    struct timer sweep_timer;
    cgroup_empty_fn *on_sweep_done;
    void *ctx;
    char why[256];
};

/* Stopping what is left of a service's tree after its main process has gone (from
 * cgroup_svc_exited to drain_done). Allocated for the while: most programs leave nothing. */
struct cgroup_drain {
    int sig;                  /* the signal sent first */
    bool killed;              /* SIGKILL sent */
    int events_fd;            /* its cgroup.events while watched, else -1 */
    long count;               /* how many there were */
    struct watcher events_w;
    struct timer timer;       /* SIGKILL after stopwaitsecs, then giving up */
};

/* One per program, in one allocation with its name: the fields are ordered so that there is
 * no padding between them. Its cgroups' paths are not kept (a path is 60 bytes and more,
 * and is only needed at a spawn, a stop or a status): dir_of makes them from the name. */
struct cgroup_svc {
    struct cgroup_tree *t;
    struct cgroup_svc *next;
    struct cgroup_drain *drain; /* stopping leftovers; NULL: not */
    cgroup_empty_fn *on_empty;
    void *ctx;
    long long oom_base;       /* OOM kills counted at the last spawn */
    struct cgroup_usage usage; /* cgroup_svc_usage's last reading, */
    uint64_t usage_ns;        /* and when (0: none for this instance) */
    pid_t pgid;               /* without cgroups: the group the last child led */
    bool command;             /* cgroup_cmd_new: not the shutdown sweep's */
    bool made;                /* its v2 cgroup exists (not without cgroups) */
    bool made_v1_mem, made_v1_pids; /* its v1 cgroups exist (made when a limit needs them) */
    char name[];              /* names it in the log and in its cgroups' paths */
};

/* Which of a service's cgroups. */
enum cg_which { CG_V2, CG_V1_MEM, CG_V1_PIDS };

/* ---- small file helpers ---- */

/* Reads up to len-1 bytes of dir/name into buf (NUL-terminated). Bytes read, or -1/errno. */
static ssize_t read_at(const char *dir, const char *name, char *buf, size_t len)
{
    char path[PATH_MAX];
    int fd;
    ssize_t n;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    n = fd_read(fd, buf, len - 1);
    fd_close_quiet(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static int write_at(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    int fd, rc;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    rc = fd_write_all(fd, text, strlen(text));
    int saved = errno;
    fd_close_quiet(fd);
    errno = saved;
    return rc;
}

/* The number after "key " in a "key value" file such as cpu.stat; -1 when absent. */
static long long keyed_value(const char *text, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n') ? strchr(p, '\n') + 1
                                                                          : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ')
            return strtoll(p + klen + 1, NULL, 10);
    }
    return -1;
}

static long long read_keyed(const char *dir, const char *file, const char *key)
{
    char buf[2048];

    if (dir == NULL || read_at(dir, file, buf, sizeof(buf)) == -1)
        return -1;
    return keyed_value(buf, key);
}

static long long read_number(const char *dir, const char *file)
{
    char buf[64];

    if (dir == NULL || read_at(dir, file, buf, sizeof(buf)) <= 0)
        return -1;
    return strtoll(buf, NULL, 10);
}

/* Every pid in dir/cgroup.procs, malloc'd into *pids. The count, or -1/errno. */
static long read_pids(const char *dir, pid_t **pids)
{
    char path[PATH_MAX], buf[4096];
    size_t n = 0, cap = 0;
    pid_t *v = NULL;
    long cur = 0;
    bool in = false;
    ssize_t r;
    int fd;

    *pids = NULL;
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return -1;
    while ((r = fd_read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] >= '0' && buf[i] <= '9') {
                cur = cur * 10 + (buf[i] - '0');
                in = true;
            } else if (in) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    v = xrealloc(v, cap * sizeof(*v));
                }
                v[n++] = (pid_t)cur;
                cur = 0;
                in = false;
            }
        }
    }
    fd_close_quiet(fd);
    *pids = v;
    return (long)n;
}

/* ---- finding the hierarchies ---- */

/* The mount point of the cgroup2 hierarchy, or (v1 != NULL) of the v1 hierarchy with that
 * controller, from /proc/self/mountinfo. 0 or -1. */
static int find_mount(const char *v1, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char *line = NULL;
    size_t cap = 0;
    int rc = -1;

    if (f == NULL)
        return -1;
    while (rc == -1 && getline(&line, &cap, f) > 0) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
        char *sep = strstr(line, " - ");
        char root[PATH_MAX], mnt[PATH_MAX], fstype[64], super[512] = "";
        if (sep == NULL || sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2 ||
            sscanf(sep + 3, "%63s %*s %511s", fstype, super) < 1)
            continue;
        if (v1 == NULL && strcmp(fstype, "cgroup2") == 0) {
            snprintf(out, len, "%s", mnt);
            rc = 0;
        } else if (v1 != NULL && strcmp(fstype, "cgroup") == 0) {
            for (char *tok = strtok(super, ","); tok != NULL; tok = strtok(NULL, ","))
                if (strcmp(tok, v1) == 0) {
                    snprintf(out, len, "%s", mnt);
                    rc = 0;
                }
        }
    }
    free(line);
    (void)fclose(f); /* read-only: nothing to lose */
    return rc;
}

/* tend's path in a hierarchy from /proc/self/cgroup: "0::" for v2, or the v1 controller. */
static int own_path(const char *v1, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char *line = NULL;
    size_t cap = 0;
    int rc = -1;

    if (f == NULL)
        return -1;
    while (rc == -1 && getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c1 = '\0';
        *c2 = '\0';
        bool match = false;
        if (v1 == NULL) {
            match = strcmp(line, "0") == 0 && c1[1] == '\0';
        } else {
            for (char *tok = strtok(c1 + 1, ","); tok != NULL; tok = strtok(NULL, ","))
                match = match || strcmp(tok, v1) == 0;
        }
        if (match) {
            snprintf(out, len, "%s", c2 + 1);
            rc = 0;
        }
    }
    free(line);
    (void)fclose(f); /* read-only */
    return rc;
}

/* Enables a controller for the children of dir if dir offers it. */
static bool enable_controller(const char *dir, const char *name)
{
    char buf[512], word[32];

    if (read_at(dir, "cgroup.controllers", buf, sizeof(buf)) == -1)
        return false;
    bool offered = false;
    for (char *tok = strtok(buf, " \n"); tok != NULL; tok = strtok(NULL, " \n"))
        offered = offered || strcmp(tok, name) == 0;
    if (!offered)
        return false;
    snprintf(word, sizeof(word), "+%s", name);
    return write_at(dir, "cgroup.subtree_control", word) == 0;
}

/* Where v1 service cgroups go for one controller, made now. NULL when unavailable. */
static char *v1_base(const char *ctrl, const char *v2_base)
{
    char mnt[PATH_MAX], own[PATH_MAX];
    const char *leaf = strrchr(v2_base, '/');

    if (find_mount(ctrl, mnt, sizeof(mnt)) == -1 || own_path(ctrl, own, sizeof(own)) == -1)
        return NULL;
    char *dir = xasprintf("%s%s/tend-%s", mnt, strcmp(own, "/") == 0 ? "" : own,
                          leaf ? leaf + 1 : "root");
    if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
        free(dir);
        return NULL;
    }
    return dir;
}

void cgroup_probe(struct cgroup_caps *caps)
{
    char mnt[PATH_MAX], own[PATH_MAX], dir[PATH_MAX * 2], buf[512];

    memset(caps, 0, sizeof(*caps));
    if (find_mount(NULL, mnt, sizeof(mnt)) == -1) {
        snprintf(caps->why, sizeof(caps->why), "no cgroup2 hierarchy is mounted");
        return;
    }
    if (own_path(NULL, own, sizeof(own)) == -1) {
        snprintf(caps->why, sizeof(caps->why), "tend's cgroup v2 is not in /proc/self/cgroup");
        return;
    }
    snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(own, "/") == 0 ? "" : own);
    if (access(dir, W_OK) == -1) {
        snprintf(caps->why, sizeof(caps->why), "cannot create cgroups in %.160s: %s", dir,
                 strerror(errno));
        return;
    }
    caps->v2 = true;
    if (read_at(dir, "cgroup.controllers", buf, sizeof(buf)) == -1)
        buf[0] = '\0';
    for (char *tok = strtok(buf, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
        if (strcmp(tok, "memory") == 0)
            caps->memory_max = caps->memory_high = true;
        else if (strcmp(tok, "pids") == 0)
            caps->tasks_max = true;
        else if (strcmp(tok, "cpu") == 0)
            caps->cpu = true;
    }
    if (!caps->memory_max && find_mount("memory", mnt, sizeof(mnt)) == 0)
        caps->memory_max = true;
    if (!caps->tasks_max && find_mount("pids", mnt, sizeof(mnt)) == 0)
        caps->tasks_max = true;
}

int cgroup_check_limits(const struct cgroup_caps *caps, const struct proc_conf *c, char *msg,
                        size_t len)
{
    const struct proc_limits *lim = proc_conf_limits(c);
    const char *key = NULL, *why = NULL;

    if (lim->memory_max > 0 && !caps->memory_max)
        key = "memory_max", why = "no memory controller (cgroup v2 or v1) is available";
    else if (lim->memory_high > 0 && !caps->memory_high)
        key = "memory_high", why = "it needs the cgroup v2 memory controller, which this host "
                                   "does not offer (cgroup v1's soft limit is not the same)";
    else if (lim->tasks_max > 0 && !caps->tasks_max)
        key = "tasks_max", why = "no pids controller (cgroup v2 or v1) is available";
    else if (lim->cpu_weight > 0 && !caps->cpu)
        key = "cpu_weight", why = "it needs the cgroup v2 cpu controller, which this host "
                                  "does not offer";
    else if (lim->cpu_max > 0 && !caps->cpu)
        key = "cpu_max", why = "it needs the cgroup v2 cpu controller, which this host does "
                               "not offer";
    if (key == NULL)
        return 0;
    if (!caps->v2)
        why = caps->why;
    snprintf(msg, len, "%s: cannot be applied: %s", key, why);
    return -1;
}

int cgroup_check_config(const struct config *cfg)
{
    struct cgroup_caps caps;
    char msg[512];
    int rc = 0;

    cgroup_probe(&caps);
    if (!cfg->tend.cgroups) {
        memset(&caps, 0, sizeof(caps));
        snprintf(caps.why, sizeof(caps.why), "cgroups=false in [tend]");
    }
    for (size_t i = 0; i < cfg->nprocs; i++) {
        const struct proc_conf *c = cfg->procs[i];
        if (c == NULL || cgroup_check_limits(&caps, c, msg, sizeof(msg)) == 0)
            continue;
        fprintf(stderr, "%s:%d: error: [program:%s] %s\n", c->file ? c->file : cfg->path,
                c->line, c->program, msg);
        rc = -1;
    }
    return rc;
}

/* ---- the tree ---- */

static void on_sweep_timer(struct timer *tm, void *ctx);

static bool tree_setup(struct cgroup_tree *t, pid_t keeper, bool restarted)
{
    char mnt[PATH_MAX], own[PATH_MAX], buf[64];
    struct ident kid;

    if (find_mount(NULL, mnt, sizeof(mnt)) == -1) {
        snprintf(t->why, sizeof(t->why), "no cgroup2 hierarchy is mounted");
        return false;
    }
    if (own_path(NULL, own, sizeof(own)) == -1) {
        snprintf(t->why, sizeof(t->why), "tend's cgroup v2 is not in /proc/self/cgroup");
        return false;
    }
    if (strcmp(own, "/") == 0) {
        /* The root cgroup: make a parent of our own, named so that tends sharing the host
         * (or PID 1 of several PID namespaces) cannot collide: after the keeper (its pid and
         * start time), so that a restarted supervisor finds it again, or after us. */
        if (keeper > 0 && ident_read(keeper, &kid, NULL) == 0)
            t->rel = xasprintf("/tend.%d.%llx", (int)keeper, kid.start_ticks);
        else
            t->rel = xasprintf("/tend.%d.%llx", (int)getpid(),
                               (unsigned long long)(timer_now_ns() & 0xffffffffffULL));
        t->base = xasprintf("%s%s", mnt, t->rel);
        if (mkdir(t->base, 0755) == -1 && (keeper <= 0 || errno != EEXIST)) {
            snprintf(t->why, sizeof(t->why), "cannot create cgroup %s: %s", t->base,
                     strerror(errno));
            return false;
        }
        t->made_base = true;
    } else {
        /* Born in the leaf the first supervisor made for itself and the keeper: the tree is
         * its parent's. */
        size_t n = strlen(own);
        if (restarted && keeper > 0 && n > 5 && strcmp(own + n - 5, "/tend") == 0)
            own[n - 5] = '\0';
        t->rel = xstrdup(own);
        t->base = xasprintf("%s%s", mnt, own);
        /* Move into a leaf so the base may hand controllers to the services. Failing that,
         * tracking still works, only without v2 limits. */
        char *leaf = xasprintf("%s/tend", t->base);
        snprintf(buf, sizeof(buf), "%d", (int)getpid());
        if ((mkdir(leaf, 0755) == -1 && errno != EEXIST) ||
            write_at(leaf, "cgroup.procs", buf) == -1) {
            snprintf(t->why, sizeof(t->why), "cannot create cgroups in %s: %s", t->base,
                     strerror(errno));
            free(leaf);
            return false;
        }
        /* The keeper too: it would otherwise be a process in base, where v2 then refuses to
         * enable controllers for the services. A failure costs only the v2 limits. */
        snprintf(buf, sizeof(buf), "%d", (int)keeper);
        if (keeper > 0 && write_at(leaf, "cgroup.procs", buf) == -1)
            log_msg(LOG_LVL_WARN, "cgroups: cannot move the keeper (pid %d) into %s: %s",
                    (int)keeper, leaf, strerror(errno));
        free(leaf);
    }
    char probe[PATH_MAX * 2];
    snprintf(probe, sizeof(probe), "%s/cgroup.kill", t->base);
    t->has_kill = access(probe, F_OK) == 0;
    t->v2_memory = enable_controller(t->base, "memory");
    t->v2_pids = enable_controller(t->base, "pids");
    t->v2_cpu = enable_controller(t->base, "cpu");
    return true;
}

struct cgroup_tree *cgroup_tree_open(struct loop *loop, bool enabled, pid_t keeper,
                                     bool restarted, cgroup_empty_fn *on_sweep_done,
                                     void *ctx)
{
    struct cgroup_tree *t = xcalloc(1, sizeof(*t));

    t->loop = loop;
    t->on_sweep_done = on_sweep_done;
    t->ctx = ctx;
    timer_init(&t->sweep_timer, on_sweep_timer, t);
    if (!enabled)
        snprintf(t->why, sizeof(t->why), "disabled by cgroups=false");
    else
        t->active = tree_setup(t, keeper, restarted);
    if (t->active) {
        log_msg(LOG_LVL_INFO, "cgroups: every program in its own cgroup under %s%s%s%s",
                t->base, t->v2_memory || t->v2_pids || t->v2_cpu ? " (controllers:" : "",
                t->v2_memory || t->v2_pids || t->v2_cpu ?
                    (t->v2_memory ? (t->v2_pids ? " memory pids" : " memory") :
                                    (t->v2_pids ? " pids" : "")) : "",
                t->v2_memory || t->v2_pids || t->v2_cpu ? (t->v2_cpu ? " cpu)" : ")") : "");
    } else {
        log_msg(LOG_LVL_WARN, "cgroups not used: %s; falling back to process groups (a "
                "program's leftovers are found through its process group)", t->why);
        free(t->base);
        free(t->rel);
        t->base = t->rel = NULL;
    }
    return t;
}

bool cgroup_tree_active(const struct cgroup_tree *t)
{
    return t != NULL && t->active;
}

void cgroup_tree_close(struct cgroup_tree *t)
{
    if (t == NULL)
        return;
    loop_timer_cancel(t->loop, &t->sweep_timer);
    /* Services free theirs first; any left (none in tend) go here, detached from the list. */
    struct cgroup_svc *cg = t->svcs, *next;
    t->svcs = NULL;
    for (; cg != NULL; cg = next) {
        next = cg->next;
        cgroup_svc_free(cg);
    }
    if (t->made_base)
        (void)rmdir(t->base); /* EBUSY: something escaped our accounting; leave it visible */
    if (t->v1_memory != NULL)
        (void)rmdir(t->v1_memory); /* EBUSY: same */
    if (t->v1_pids != NULL)
        (void)rmdir(t->v1_pids);
    free(t->v1_memory);
    free(t->v1_pids);
    free(t->base);
    free(t->rel);
    free(t);
}

/* ---- one service ---- */

static void on_drain_timer(struct timer *tm, void *ctx);
static const char *dir_of(const struct cgroup_svc *cg, enum cg_which which, char *buf);

struct cgroup_svc *cgroup_svc_new(struct cgroup_tree *t, const char *name,
                                  cgroup_empty_fn *on_empty, void *ctx)
{
    size_t len = strlen(name);
    struct cgroup_svc *cg = xcalloc(1, sizeof(*cg) + len + 1);

    cg->t = t;
    memcpy(cg->name, name, len + 1);
    cg->oom_base = -1;
    cg->on_empty = on_empty;
    cg->ctx = ctx;
    cg->next = t->svcs;
    t->svcs = cg;
    return cg;
}

struct cgroup_svc *cgroup_cmd_new(struct cgroup_tree *t, const char *name,
                                  cgroup_empty_fn *on_empty, void *ctx)
{
    struct cgroup_svc *cg = cgroup_svc_new(t, name, on_empty, ctx);

    cg->command = true;
    return cg;
}

/* Ends the drain, if any: its watch, its timer and, after the current batch of events (which
 * may still hold one for its watcher), its memory. */
static void stop_draining(struct cgroup_svc *cg)
{
    struct cgroup_drain *d = cg->drain;

    if (d == NULL)
        return;
    loop_del(cg->t->loop, &d->events_w);
    fd_close_quiet(d->events_fd);
    loop_timer_cancel(cg->t->loop, &d->timer);
    loop_defer_free(cg->t->loop, free, d);
    cg->drain = NULL;
}

void cgroup_svc_release(struct cgroup_svc *cg)
{
    if (cg == NULL)
        return;
    stop_draining(cg);
}

void cgroup_svc_free(struct cgroup_svc *cg)
{
    if (cg == NULL)
        return;
    cgroup_svc_release(cg);
    for (struct cgroup_svc **pp = &cg->t->svcs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == cg) {
            *pp = cg->next;
            break;
        }
    }
    /* EBUSY: leftovers a program was allowed to keep (stopleftovers=false); the cgroup
     * stays so that they remain visible and accounted. */
    static const enum cg_which all[] = {CG_V2, CG_V1_MEM, CG_V1_PIDS};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char buf[PATH_MAX];
        const char *dir = dir_of(cg, all[i], buf);
        if (dir != NULL)
            (void)rmdir(dir);
    }
    free(cg);
}

/* The path of the service's cgroup `which` into buf (PATH_MAX bytes): its base, then
 * "svc.NAME" with any '/' or newline of the name made '_' (one path component). made: only
 * once it exists, else NULL. NULL/ENAMETOOLONG when it does not fit. */
static const char *path_of(const struct cgroup_svc *cg, enum cg_which which, bool made,
                           char *buf)
{
    const struct cgroup_tree *t = cg->t;
    const char *base = which == CG_V2 ? t->base : which == CG_V1_MEM ? t->v1_memory : t->v1_pids;
    bool exists = which == CG_V2 ? cg->made : which == CG_V1_MEM ? cg->made_v1_mem
                                                                : cg->made_v1_pids;

    if ((made && !exists) || base == NULL)
        return NULL;
    int n = snprintf(buf, PATH_MAX, "%s/svc.%s", base, cg->name);
    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    for (char *p = buf + strlen(base) + 1; *p != '\0'; p++)
        if (*p == '/' || *p == '\n')
            *p = '_';
    return buf;
}

/* The path of the service's cgroup `which` if it was made, else NULL (see path_of). */
static const char *dir_of(const struct cgroup_svc *cg, enum cg_which which, char *buf)
{
    return path_of(cg, which, true, buf);
}

/* Makes the service's cgroup `which` unless it exists: its path in buf, or NULL/errno. */
static const char *mkdir_svc(struct cgroup_svc *cg, enum cg_which which, char *buf)
{
    const char *dir = path_of(cg, which, false, buf);

    if (dir == NULL)
        return NULL;
    if (mkdir(dir, 0755) == -1 && errno != EEXIST)
        return NULL;
    if (which == CG_V2)
        cg->made = true;
    else if (which == CG_V1_MEM)
        cg->made_v1_mem = true;
    else
        cg->made_v1_pids = true;
    return dir;
}

static long long oom_kills(const struct cgroup_svc *cg)
{
    char buf[PATH_MAX];
    const char *dir;
    long long v = -1;

    if (cg->t->v2_memory && (dir = dir_of(cg, CG_V2, buf)) != NULL)
        v = read_keyed(dir, "memory.events", "oom_kill");
    if (v == -1 && (dir = dir_of(cg, CG_V1_MEM, buf)) != NULL)
        v = read_keyed(dir, "memory.oom_control", "oom_kill");
    return v;
}

/* Applies one limit; "max" or the number. */
static int set_limit(const char *dir, const char *file, long long value, char *msg, size_t len,
                     const char *key)
{
    char buf[64];

    if (value > 0)
        snprintf(buf, sizeof(buf), "%lld", value);
    else
        snprintf(buf, sizeof(buf), "max");
    if (write_at(dir, file, buf) == -1) {
        snprintf(msg, len, "cannot set %s (%s/%s): %s", key, dir, file, strerror(errno));
        return -1;
    }
    return 0;
}

static int apply_limits(struct cgroup_svc *cg, const struct proc_conf *c, char *msg,
                        size_t len)
{
    const struct proc_limits *lim = proc_conf_limits(c);
    struct cgroup_tree *t = cg->t;
    char buf[64], v2buf[PATH_MAX], v1buf[PATH_MAX];
    const char *v2 = dir_of(cg, CG_V2, v2buf), *v1;

    if (lim->memory_max > 0 || lim->memory_high > 0) {
        if (t->v2_memory) {
            if (set_limit(v2, "memory.max", lim->memory_max, msg, len, "memory_max") ||
                set_limit(v2, "memory.high", lim->memory_high, msg, len, "memory_high"))
                return -1;
            /* The whole tree goes together when one process is OOM-killed: a half-killed
             * service is worse than a restarted one. */
            (void)write_at(v2, "memory.oom.group", "1"); /* older kernels: no such file */
        } else if (lim->memory_high > 0) {
            snprintf(msg, len, "memory_high: cannot be applied: it needs the cgroup v2 "
                     "memory controller, which this host does not offer");
            return -1;
        } else {
            if (t->v1_memory == NULL)
                t->v1_memory = v1_base("memory", t->base ? t->base : "/root");
            if (t->v1_memory == NULL || (v1 = mkdir_svc(cg, CG_V1_MEM, v1buf)) == NULL) {
                snprintf(msg, len, "memory_max: cannot be applied: no usable memory "
                         "controller (cgroup v1 or v2): %s", strerror(errno));
                return -1;
            }
            snprintf(buf, sizeof(buf), "%lld", lim->memory_max);
            if (write_at(v1, "memory.limit_in_bytes", buf) == -1) {
                snprintf(msg, len, "cannot set memory_max (%s): %s", v1, strerror(errno));
                return -1;
            }
        }
    } else if (v2 != NULL && t->v2_memory) {
        /* Limits removed by a reload go back to none. */
        (void)write_at(v2, "memory.max", "max");  /* the controller was enabled */
        (void)write_at(v2, "memory.high", "max");
    } else if ((v1 = dir_of(cg, CG_V1_MEM, v1buf)) != NULL) {
        (void)write_at(v1, "memory.limit_in_bytes", "-1"); /* same */
    }
    if (t->v2_pids && v2 != NULL) {
        if (set_limit(v2, "pids.max", lim->tasks_max, msg, len, "tasks_max"))
            return -1;
    } else if (lim->tasks_max > 0) {
        if (t->v1_pids == NULL)
            t->v1_pids = v1_base("pids", t->base ? t->base : "/root");
        if (t->v1_pids == NULL || (v1 = mkdir_svc(cg, CG_V1_PIDS, v1buf)) == NULL) {
            snprintf(msg, len, "tasks_max: cannot be applied: no usable pids controller "
                     "(cgroup v1 or v2): %s", strerror(errno));
            return -1;
        }
        if (set_limit(v1, "pids.max", lim->tasks_max, msg, len, "tasks_max"))
            return -1;
    } else if ((v1 = dir_of(cg, CG_V1_PIDS, v1buf)) != NULL) {
        (void)write_at(v1, "pids.max", "max"); /* the controller exists */
    }
    if (lim->cpu_weight > 0 || lim->cpu_max > 0) {
        if (!t->v2_cpu) {
            snprintf(msg, len,
                     "%s: cannot be applied: it needs the cgroup v2 cpu controller, "
                     "which this host does not offer",
                     lim->cpu_weight ? "cpu_weight" : "cpu_max");
            return -1;
        }
    }
    if (t->v2_cpu && v2 != NULL) {
        snprintf(buf, sizeof(buf), "%d", lim->cpu_weight > 0 ? lim->cpu_weight : 100);
        if (write_at(v2, "cpu.weight", buf) == -1) {
            snprintf(msg, len, "cannot set cpu_weight: %s", strerror(errno));
            return -1;
        }
        if (lim->cpu_max > 0)
            snprintf(buf, sizeof(buf), "%d 100000", lim->cpu_max * 1000);
        else
            snprintf(buf, sizeof(buf), "max 100000");
        if (write_at(v2, "cpu.max", buf) == -1) {
            snprintf(msg, len, "cannot set cpu_max: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int open_procs(const char *dir)
{
    char path[PATH_MAX];

    if (dir == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    return open(path, O_WRONLY | O_CLOEXEC);
}

int cgroup_svc_prepare(struct cgroup_svc *cg, const struct proc_conf *c,
                       struct spawn_cgroup *out, char *msg, size_t len)
{
    const struct proc_limits *lim = proc_conf_limits(c);
    struct cgroup_tree *t = cg->t;
    char buf[PATH_MAX], v1buf[PATH_MAX];
    const char *dir, *v1;

    out->dir_fd = out->procs_fd = out->join_fd[0] = out->join_fd[1] = -1;
    if (!t->active) {
        if (lim->memory_max > 0 || lim->memory_high > 0 || lim->tasks_max > 0 ||
            lim->cpu_weight > 0 || lim->cpu_max > 0) {
            snprintf(msg, len, "%s: cannot be applied: cgroups are not used (%s)",
                     lim->memory_max > 0    ? "memory_max"
                     : lim->memory_high > 0 ? "memory_high"
                     : lim->tasks_max > 0   ? "tasks_max"
                     : lim->cpu_weight > 0  ? "cpu_weight"
                                            : "cpu_max",
                     t->why);
            return -1;
        }
        return 0;
    }
    if ((dir = mkdir_svc(cg, CG_V2, buf)) == NULL) {
        snprintf(msg, len, "cannot create its cgroup under %s: %s", t->base, strerror(errno));
        return -1;
    }
    if (apply_limits(cg, c, msg, len) == -1)
        return -1;
    out->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    out->procs_fd = open_procs(dir);
    if (out->dir_fd == -1 || out->procs_fd == -1) {
        snprintf(msg, len, "cannot open its cgroup %s: %s", dir, strerror(errno));
        cgroup_svc_spawned(cg, out, 0);
        return -1;
    }
    if (getenv("TEND_CGROUP_NO_CLONE3") != NULL) {
        /* Test switch: exercise the path taken on kernels without CLONE_INTO_CGROUP. */
        fd_close_quiet(out->dir_fd);
        out->dir_fd = -1;
    }
    if (cg->made_v1_mem && lim->memory_max > 0 && (v1 = dir_of(cg, CG_V1_MEM, v1buf)) != NULL)
        out->join_fd[0] = open_procs(v1);
    if (cg->made_v1_pids && lim->tasks_max > 0 && (v1 = dir_of(cg, CG_V1_PIDS, v1buf)) != NULL)
        out->join_fd[1] = open_procs(v1);
    if ((cg->made_v1_mem && lim->memory_max > 0 && out->join_fd[0] == -1) ||
        (cg->made_v1_pids && lim->tasks_max > 0 && out->join_fd[1] == -1)) {
        snprintf(msg, len, "cannot open its v1 cgroup: %s", strerror(errno));
        cgroup_svc_spawned(cg, out, 0);
        return -1;
    }
    cg->oom_base = oom_kills(cg);
    return 0;
}

int cgroup_svc_taken_back(struct cgroup_svc *cg, const struct proc_conf *c, pid_t pid,
                          char *msg, size_t len)
{
    struct spawn_cgroup sc;

    /* The same steps as before a spawn (its cgroup exists: the tree is the keeper's), with
     * the descriptors a spawn would use closed at once. */
    if (cgroup_svc_prepare(cg, c, &sc, msg, len) == -1)
        return -1;
    cgroup_svc_spawned(cg, &sc, 0);
    pid_t pgid = getpgid(pid);
    cg->pgid = pgid > 0 ? pgid : pid; /* gone meanwhile: its exit comes anyway */
    return 0;
}

void cgroup_svc_spawned(struct cgroup_svc *cg, struct spawn_cgroup *sc, pid_t pid)
{
    fd_close_quiet(sc->dir_fd);
    fd_close_quiet(sc->procs_fd);
    fd_close_quiet(sc->join_fd[0]);
    fd_close_quiet(sc->join_fd[1]);
    sc->dir_fd = sc->procs_fd = sc->join_fd[0] = sc->join_fd[1] = -1;
    if (pid > 0)
        cg->pgid = pid; /* the child leads its own group (SPAWN_DETACH_PGRP) */
    cg->usage_ns = 0; /* a new instance: nothing read of it yet */
}

bool cgroup_svc_oom(const struct cgroup_svc *cg)
{
    long long now;

    if (cg == NULL || cg->oom_base < 0)
        return false;
    now = oom_kills(cg);
    return now > cg->oom_base;
}

/* ---- /proc scans (the fallback) ---- */

struct pinfo {
    pid_t pid, ppid, pgrp, sid;
};

/* Every process, from /proc/PID/stat. The count; *out malloc'd. */
static size_t scan_procs(struct pinfo **out)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t n = 0, cap = 0;
    struct pinfo *v = NULL;

    *out = NULL;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.32s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd == -1)
            continue; /* gone meanwhile */
        ssize_t r = fd_read(fd, buf, sizeof(buf) - 1);
        fd_close_quiet(fd);
        if (r <= 0)
            continue;
        buf[r] = '\0';
        const char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp, sid;
        if (rp == NULL || sscanf(rp + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid) != 4 ||
            state == 'Z' || state == 'X')
            continue; /* zombies are done: reaping them is someone's SIGCHLD */
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            v = xrealloc(v, cap * sizeof(*v));
        }
        v[n].pid = (pid_t)atoi(e->d_name);
        v[n].ppid = ppid;
        v[n].pgrp = pgrp;
        v[n].sid = sid;
        n++;
    }
    (void)closedir(d); /* read-only */
    *out = v;
    return n;
}

static long count_group(pid_t pgid)
{
    struct pinfo *v;
    size_t n = scan_procs(&v);
    long count = 0;

    for (size_t i = 0; i < n; i++)
        count += v[i].pgrp == pgid;
    free(v);
    return count;
}

/* Whether pid descends from ancestor (by the current parent links). */
static bool descends(const struct pinfo *v, size_t n, pid_t pid, pid_t ancestor)
{
    for (int depth = 0; depth < 4096 && pid > 1; depth++) {
        pid_t parent = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].pid == pid) {
                parent = v[i].ppid;
                break;
            }
        }
        if (parent == ancestor)
            return true;
        pid = parent;
    }
    return false;
}

long cgroup_kill_descendants(pid_t pid)
{
    struct pinfo *v;
    long count = 0;

    /* Before the scan, so that it forks nothing after it. ESRCH only: it is exiting
     * anyway (its status is what it is). */
    (void)kill(pid, SIGSTOP);
    size_t n = scan_procs(&v);
    /* By number, from one snapshot: a descendant that exits and whose pid is reused between
     * the scan and the kill would be hit; the window is one loop over the snapshot. */
    for (size_t i = 0; i < n; i++) {
        if (v[i].pid != pid && descends(v, n, v[i].pid, pid) && kill(v[i].pid, SIGKILL) == 0)
            count++;
    }
    free(v);
    return count;
}

/* ---- stopping leftovers ---- */

/* pid is (still) in the v2 cgroup whose path relative to the mount is rel. */
static bool in_cgroup(pid_t pid, const char *rel)
{
    char path[64], buf[PATH_MAX + 16];

    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    if (read_at("", path + 1, buf, sizeof(buf)) <= 0)
        return false;
    /* read_at joins with '/': "" + "/" + "proc/..." is the absolute path. */
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (strncmp(line, "0::", 3) == 0)
            return strcmp(line + 3, rel) == 0;
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Sends sig to every process of the service's cgroup; returns how many there were. A pid
 * read from cgroup.procs is pinned with a pidfd and checked to be in the cgroup still, so a
 * reused pid is never signalled. */
static long signal_cgroup(struct cgroup_svc *cg, int sig)
{
    pid_t *pids;
    char buf[PATH_MAX];
    const char *dir = dir_of(cg, CG_V2, buf);
    if (dir == NULL)
        return 0; /* never made: nothing in it */
    long n = read_pids(dir, &pids);
    char *rel = xasprintf("%s%s", cg->t->rel, dir + strlen(cg->t->base));

    if (sig == SIGKILL && cg->t->has_kill && write_at(dir, "cgroup.kill", "1") == 0) {
        free(pids);
        free(rel);
        return n;
    }
    for (long i = 0; i < n; i++) {
        int pfd = (int)syscall(SYS_pidfd_open, pids[i], 0);
        if (pfd == -1)
            continue; /* gone already */
        if (in_cgroup(pids[i], rel)) {
            (void)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0); /* it may just exit */
            if (sig != SIGKILL)
                (void)syscall(SYS_pidfd_send_signal, pfd, SIGCONT, NULL, 0); /* same */
        }
        fd_close_quiet(pfd);
    }
    free(pids);
    free(rel);
    return n < 0 ? 0 : n;
}

/* Reads cgroup.events; true when the cgroup is populated (or unreadable: assume so). */
static bool populated(const struct cgroup_svc *cg)
{
    char buf[256];

    if (cg->drain != NULL && cg->drain->events_fd != -1) {
        ssize_t n = pread(cg->drain->events_fd, buf, sizeof(buf) - 1, 0);
        if (n < 0)
            return true;
        buf[n] = '\0';
        return keyed_value(buf, "populated") != 0;
    }
    char path[PATH_MAX];
    const char *dir = dir_of(cg, CG_V2, path);
    return dir == NULL || read_keyed(dir, "cgroup.events", "populated") != 0;
}

static bool tree_empty(const struct cgroup_svc *cg)
{
    if (cg->t->active)
        return !cg->made || !populated(cg);
    return cg->pgid <= 0 || (kill(-cg->pgid, 0) == -1 && errno == ESRCH);
}

static void drain_done(struct cgroup_svc *cg)
{
    struct cgroup_drain *d = cg->drain;

    log_msg(LOG_LVL_INFO, "killed %ld leftover process%s of %s (SIG%s)", d->count,
            d->count == 1 ? "" : "es", cg->name,
            d->killed ? "KILL" : sig_name(d->sig) ? sig_name(d->sig) : "?");
    stop_draining(cg);
    if (!cg->t->active)
        cg->pgid = 0; /* the group is gone: its id may be reused */
    if (cg->on_empty != NULL)
        cg->on_empty(cg->ctx);
}

static void on_events(struct watcher *w, uint32_t events)
{
    struct cgroup_svc *cg = w->ctx;

    (void)events;
    if (cg->drain != NULL && !populated(cg))
        drain_done(cg);
}

static void on_drain_timer(struct timer *tm, void *ctx)
{
    struct cgroup_svc *cg = ctx;
    struct cgroup_drain *d = cg->drain;

    (void)tm;
    if (d == NULL)
        return;
    if (!d->killed) {
        d->killed = true;
        log_msg(LOG_LVL_WARN, "%s: leftovers still alive after SIG%s: sending SIGKILL",
                cg->name, sig_name(d->sig) ?: "?");
        if (cg->t->active) {
            (void)signal_cgroup(cg, SIGKILL);
            /* The cgroup empties within moments: the events watcher ends the wait. A tree
             * stuck in the kernel (D state) is waited for once more, then given up on. */
            if (loop_timer_arm(cg->t->loop, &d->timer, timer_now_ns() + 5 * NS_PER_SEC) == -1)
                drain_done(cg);
            return;
        }
        (void)kill(-cg->pgid, SIGKILL); /* ESRCH: gone meanwhile */
        drain_done(cg); /* without cgroups nothing signals the end: SIGKILL is final */
        return;
    }
    log_msg(LOG_LVL_ERROR, "%s: leftover processes do not die even of SIGKILL; going on",
            cg->name);
    drain_done(cg);
}

void cgroup_svc_exited(struct cgroup_svc *cg, const struct proc_conf *c, bool force)
{
    struct cgroup_tree *t;
    struct cgroup_drain *d;

    if (cg == NULL || cg->drain != NULL || (!force && !c->stopleftovers))
        return;
    t = cg->t;
    if (t->active ? !cg->made : tree_empty(cg))
        return;
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        /* Known limit: out of memory, the leftovers are left, as with stopleftovers=false. */
        log_msg(LOG_LVL_ERROR, "%s: cannot stop its leftover processes: %s", cg->name,
                strerror(errno));
        return;
    }
    d->events_fd = -1;
    d->events_w.fd = -1;
    timer_init(&d->timer, on_drain_timer, cg);
    cg->drain = d;
    if (t->active) {
        char path[PATH_MAX], buf[PATH_MAX];
        const char *dir = dir_of(cg, CG_V2, buf);
        snprintf(path, sizeof(path), "%s/cgroup.events", dir != NULL ? dir : "");
        /* Watch first, then look: an exit between the two is then seen either way. */
        d->events_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (d->events_fd != -1 &&
            loop_add(t->loop, &d->events_w, d->events_fd, EPOLLPRI, on_events, cg) == -1) {
            fd_close_quiet(d->events_fd);
            d->events_fd = -1;
        }
        if (!populated(cg)) {
            stop_draining(cg);
            return;
        }
        if (d->events_fd == -1)
            log_msg(LOG_LVL_WARN, "%s: cannot watch %s: %s; relying on the SIGKILL deadline",
                    cg->name, path, strerror(errno));
    }
    d->killed = false;
    d->sig = c->stopsignal;
    d->count = t->active ? signal_cgroup(cg, c->stopsignal) : count_group(cg->pgid);
    if (!t->active) {
        (void)kill(-cg->pgid, c->stopsignal); /* ESRCH: the group just emptied */
        (void)kill(-cg->pgid, SIGCONT);
    }
    log_msg(LOG_LVL_INFO, "%s: main process gone; stopping %ld leftover process%s with SIG%s",
            cg->name, d->count, d->count == 1 ? "" : "es", sig_name(c->stopsignal) ?: "?");
    if (loop_timer_arm(t->loop, &d->timer,
                       timer_now_ns() + (uint64_t)c->stopwaitsecs * NS_PER_SEC + 1) == -1)
        log_msg(LOG_LVL_ERROR, "%s: cannot arm a timer: %s", cg->name, strerror(errno));
    if (t->active && d->events_fd != -1 && !populated(cg))
        drain_done(cg); /* they were quick */
}

bool cgroup_svc_busy(const struct cgroup_svc *cg)
{
    return cg != NULL && cg->drain != NULL;
}

bool cgroup_svc_owns(const struct cgroup_svc *cg, pid_t pid, pid_t launcher_pid)
{
    if (cg == NULL || pid <= 0)
        return false;
    if (cg->t->active) {
        char buf[PATH_MAX];
        const char *dir = dir_of(cg, CG_V2, buf);
        if (dir == NULL)
            return false;
        char *rel = xasprintf("%s%s", cg->t->rel, dir + strlen(cg->t->base));
        bool in = in_cgroup(pid, rel);
        free(rel);
        return in;
    }
    /* Without cgroups: in the group the launcher led, or below the launcher (while it is
     * alive), or an orphan that reached tend (its launcher's descendants end up there). */
    struct pinfo *v;
    size_t n = scan_procs(&v);
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++) {
        if (v[i].pid != pid)
            continue;
        ok = (cg->pgid > 0 && v[i].pgrp == cg->pgid) ||
             (launcher_pid > 0 && descends(v, n, pid, launcher_pid)) ||
             v[i].ppid == getpid();
    }
    free(v);
    return ok;
}

/* CGROUP_USAGE_MAX_AGE_NS, or what the tests set with TEND_TEST_USAGE_MAX_AGE_NS (0: no
 * reading is kept past its status, to see each status read the programs in turn). */
static uint64_t usage_max_age_ns(void)
{
    static uint64_t age = UINT64_MAX;

    if (age == UINT64_MAX) {
        const char *v = getenv("TEND_TEST_USAGE_MAX_AGE_NS");
        age = v != NULL ? strtoull(v, NULL, 10) : CGROUP_USAGE_MAX_AGE_NS;
    }
    return age;
}

bool cgroup_svc_usage_stale(const struct cgroup_svc *cg, uint64_t now)
{
    return cg != NULL && cg->t->active && cg->made &&
           (cg->usage_ns == 0 || now - cg->usage_ns >= usage_max_age_ns());
}

void cgroup_svc_usage_last(const struct cgroup_svc *cg, struct cgroup_usage *u)
{
    if (cg != NULL && cg->t->active && cg->usage_ns != 0) {
        *u = cg->usage;
        return;
    }
    u->memory_bytes = u->cpu_usec = u->tasks = -1;
}

void cgroup_svc_usage_read(struct cgroup_svc *cg)
{
    char buf[PATH_MAX], v1buf[PATH_MAX];
    const char *dir, *v1;
    struct cgroup_usage *u = &cg->usage;

    if (!cg->t->active || (dir = dir_of(cg, CG_V2, buf)) == NULL)
        return;
    u->memory_bytes = -1;
    u->tasks = -1;
    u->cpu_usec = read_keyed(dir, "cpu.stat", "usage_usec");
    if (cg->t->v2_pids)
        u->tasks = read_number(dir, "pids.current");
    if (cg->t->v2_memory)
        u->memory_bytes = read_number(dir, "memory.current");
    else if ((v1 = dir_of(cg, CG_V1_MEM, v1buf)) != NULL)
        u->memory_bytes = read_number(v1, "memory.usage_in_bytes");
    if (u->memory_bytes == -1 || u->tasks == -1) {
        /* No memory or no pids controller (a hybrid host): one pass over its processes,
         * whose /proc/PID/stat gives both their resident set and their threads. */
        pid_t *pids;
        long n = read_pids(dir, &pids);
        long long mem = 0, tasks = 0;
        long page = sysconf(_SC_PAGESIZE);
        for (long i = 0; i < n; i++) {
            long long threads, rss;
            if (ident_usage(pids[i], &threads, &rss) == 0) {
                mem += rss * page;
                tasks += threads;
            }
        }
        if (n >= 0 && u->memory_bytes == -1)
            u->memory_bytes = mem;
        if (n >= 0 && u->tasks == -1)
            u->tasks = tasks;
        free(pids);
    }
    cg->usage_ns = timer_now_ns();
}

/* Without cgroups, what the shutdown sweep stops: a descendant of tend in another session.
 * tend's own helpers (health checks, alert commands) stay in tend's session, in process
 * groups of their own; by the time of the sweep every program's main process and its process
 * group are gone, so what is left in other sessions was abandoned by a program. */
static bool sweepable(const struct pinfo *v, size_t n, size_t i)
{
    return v[i].sid != getsid(0) && descends(v, n, v[i].pid, getpid());
}

/* ---- without cgroups: groups that empty are noticed as children are reaped ---- */

void cgroup_reaped(struct cgroup_tree *t)
{
    if (t == NULL || t->active)
        return;
    for (struct cgroup_svc *cg = t->svcs; cg != NULL; cg = cg->next) {
        if (cg->drain != NULL && tree_empty(cg)) {
            drain_done(cg);
            return; /* the callback may have changed the list: the next reap looks again */
        }
    }
    if (t->sweep_started && !t->sweep_done) {
        struct pinfo *v;
        size_t n = scan_procs(&v);
        bool left = false;
        for (size_t i = 0; i < n && !left; i++)
            left = sweepable(v, n, i);
        free(v);
        if (!left) {
            t->sweep_done = true;
            loop_timer_cancel(t->loop, &t->sweep_timer);
            if (t->on_sweep_done != NULL)
                t->on_sweep_done(t->ctx);
        }
    }
}

/* ---- the shutdown sweep ---- */

/* Signals every sweepable process (see sweepable). Returns how many. The processes are our
 * descendants, so a pid cannot be reused by a stranger before its parent, ours, reaps it. */
static long signal_descendants(int sig)
{
    struct pinfo *v;
    size_t n = scan_procs(&v);
    long count = 0;

    for (size_t i = 0; i < n; i++) {
        if (!sweepable(v, n, i))
            continue;
        (void)kill(v[i].pid, sig); /* ESRCH: it has just exited */
        if (sig != SIGKILL)
            (void)kill(v[i].pid, SIGCONT);
        count++;
    }
    free(v);
    return count;
}

static void on_sweep_timer(struct timer *tm, void *ctx)
{
    struct cgroup_tree *t = ctx;
    long n;

    (void)tm;
    n = signal_descendants(SIGKILL);
    if (n > 0)
        log_msg(LOG_LVL_WARN, "shutdown: killed %ld remaining process%s with SIGKILL", n,
                n == 1 ? "" : "es");
    t->sweep_done = true;
    if (t->on_sweep_done != NULL)
        t->on_sweep_done(t->ctx);
}

bool cgroup_sweep(struct cgroup_tree *t)
{
    if (t == NULL || t->sweep_done)
        return false;
    if (t->active) {
        /* Every service's tree was stopped with it, except those allowed to keep their
         * leftovers: stop those now. Busy services keep shutdown waiting by themselves. */
        bool busy = false;
        if (!t->sweep_started) {
            t->sweep_started = true;
            for (struct cgroup_svc *cg = t->svcs; cg != NULL; cg = cg->next) {
                if (cg->made && !cg->command && cg->drain == NULL && populated(cg)) {
                    struct proc_conf fake = {.stopsignal = SIGTERM,
                                             .stopwaitsecs = SWEEP_GRACE_S};
                    cgroup_svc_exited(cg, &fake, true);
                }
            }
        }
        for (struct cgroup_svc *cg = t->svcs; cg != NULL; cg = cg->next)
            busy = busy || (cg->drain != NULL && !cg->command);
        if (!busy)
            t->sweep_done = true;
        return busy;
    }
    if (t->sweep_started)
        return true;
    t->sweep_started = true;
    long n = signal_descendants(SIGTERM);
    if (n == 0) {
        t->sweep_done = true;
        return false;
    }
    log_msg(LOG_LVL_INFO, "shutdown: %ld process%s left behind by programs: sent SIGTERM, "
            "SIGKILL in %ds", n, n == 1 ? "" : "es", SWEEP_GRACE_S);
    if (loop_timer_arm(t->loop, &t->sweep_timer,
                       timer_now_ns() + SWEEP_GRACE_S * NS_PER_SEC) == -1) {
        on_sweep_timer(&t->sweep_timer, t);
        return false;
    }
    return true;
}
