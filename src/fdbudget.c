/* fdbudget: tend's descriptor budget (see fdbudget.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fdbudget.h"
#include "fdring.h"

static unsigned long conn_cap = FDBUDGET_CONNS_MAX;

/* A stream costs its pipe's read end when it goes anywhere (the syslog socket is one for
 * all); its file is counted apart. */
static unsigned long stream_cost(enum log_target kind, bool syslog)
{
    return kind != LOG_TARGET_NONE || syslog ? 1 : 0;
}

static unsigned long file_cost(enum log_target kind)
{
    return kind == LOG_TARGET_AUTO || kind == LOG_TARGET_PATH ? 1 : 0;
}

unsigned long fdbudget_files(const struct proc_conf *c)
{
    return (proc_conf_stdout_captured(c) ? file_cost(c->stdout_logfile_kind) : 0) +
           (c->redirect_stderr ? 0 : file_cost(c->stderr_logfile_kind));
}

static unsigned long streams_of(const struct proc_conf *c)
{
    return (proc_conf_stdout_captured(c) ? stream_cost(c->stdout_logfile_kind, c->stdout_syslog)
                                         : 0) +
           (c->redirect_stderr ? 0 : stream_cost(c->stderr_logfile_kind, c->stderr_syslog));
}

unsigned long fdbudget_program(const struct proc_conf *c)
{
    unsigned long n = streams_of(c);

    /* pidfile=: the inotify watch while waiting, then the daemon's pidfd. Any other: the
     * pidfd that pins its process while a supervisor restarted after a crash or for an
     * upgrade has taken it back (until it exits: its next instance is our child). */
    n += c->pidfile != NULL ? 2 : 1;
    if (proc_conf_health(c)->kind != HEALTH_NONE)
        n += 3;
    if (c->kind == PROC_KIND_LISTENER)
        n += 2; /* the protocol's pipes: the write end of its stdin, the read end of its stdout */
    if (c->readiness == READY_NOTIFY || proc_conf_ready(c)->watchdogsecs > 0)
        n += 1; /* its sd_notify socket (notify_wanted) */
    if (c->readiness == READY_TCP)
        n += 1; /* the probe's socket while it starts */
    return n;
}

void fdbudget_count(const struct config *cfg, struct fdbudget *b)
{
    memset(b, 0, sizeof(*b));
    for (size_t i = 0; i < cfg->nprocs; i++) {
        if (cfg->procs[i] != NULL) {
            b->programs += fdbudget_program(cfg->procs[i]);
            b->streams += streams_of(cfg->procs[i]);
            b->files += fdbudget_files(cfg->procs[i]);
        }
    }
    b->need = b->programs + (b->files < FDBUDGET_FILES_MIN ? b->files : FDBUDGET_FILES_MIN) +
              FDBUDGET_FIXED + FDBUDGET_SPAWN + FDBUDGET_CONNS_MIN;
}

/* fs.nr_open: the most a hard limit may be raised to. */
static rlim_t nr_open(void)
{
    unsigned long v = 1024 * 1024; /* the kernel's default, if the file cannot be read */
    FILE *f = fopen("/proc/sys/fs/nr_open", "re");

    if (f != NULL) {
        if (fscanf(f, "%lu", &v) != 1)
            v = 1024 * 1024;
        (void)fclose(f); /* read-only: nothing to lose */
    }
    return (rlim_t)v;
}

int fdbudget_fit(struct fdbudget *b, pid_t keeper, char *msg, size_t len)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
        snprintf(msg, len, "cannot read the descriptor limit (RLIMIT_NOFILE): %s",
                 strerror(errno));
        return -1;
    }
    /* Every file open and the connections' full share: what a raise asks for. */
    unsigned long fixed = b->programs + FDBUDGET_FIXED + FDBUDGET_SPAWN;
    if (rl.rlim_max != RLIM_INFINITY &&
        rl.rlim_max < (rlim_t)(fixed + b->files + FDBUDGET_CONNS_MIN)) {
        rlim_t want = (rlim_t)(fixed + b->files + FDBUDGET_CONNS_MAX);
        rlim_t top = nr_open();
        struct rlimit up = {.rlim_cur = want < top ? want : top};
        up.rlim_max = up.rlim_cur;
        if (up.rlim_cur >= (rlim_t)b->need && setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up; /* root (CAP_SYS_RESOURCE) may raise the hard limit */
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || getrlimit(RLIMIT_NOFILE, &rl) == -1) {
            snprintf(msg, len, "cannot raise the descriptor limit (RLIMIT_NOFILE) to its hard "
                     "limit %llu: %s", (unsigned long long)rl.rlim_max, strerror(errno));
            return -1;
        }
    }
    b->ring = 0;
    b->ring_slots = 0;
    b->pipe_cap = b->streams;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)b->need) {
        /* The read ends over the limit go to the ring, which holds up to the limit again. */
        unsigned long over = b->need - (unsigned long)rl.rlim_cur;
        if (over <= b->streams && over <= (unsigned long)rl.rlim_cur && fdring_available()) {
            b->ring = over;
            b->ring_slots = (unsigned long)rl.rlim_cur;
            b->pipe_cap = b->streams - over;
            b->need -= over;
            b->programs -= over;
            fixed -= over;
        } else {
            snprintf(msg, len, "not enough file descriptors: the programs need up to %lu, "
                     "tend needs %lu in all (%d fixed, %d for spawning, %d control "
                     "connections, %lu log files open at once), but RLIMIT_NOFILE is %llu "
                     "and tend cannot raise it%s; raise the hard limit (ulimit -Hn, "
                     "LimitNOFILE=) or capture less (stdout_logfile=NONE, "
                     "redirect_stderr=true)", b->programs, b->need, FDBUDGET_FIXED,
                     FDBUDGET_SPAWN, FDBUDGET_CONNS_MIN, b->need - fixed - FDBUDGET_CONNS_MIN,
                     (unsigned long long)rl.rlim_cur,
                     fdring_available() ? ", nor hold that many pipes in an io_uring"
                                        : " (and io_uring, which could hold the pipes past "
                                          "it, is not available)");
            return -1;
        }
    }
    if (keeper > 0) {
        /* The keeper holds each deposited pipe at the number the supervisor has it at. It is
         * our parent, with our credentials. */
        struct rlimit kl;
        if (prlimit(keeper, RLIMIT_NOFILE, NULL, &kl) == 0 && kl.rlim_cur < rl.rlim_cur &&
            prlimit(keeper, RLIMIT_NOFILE, &rl, NULL) == -1) {
            snprintf(msg, len, "cannot raise the keeper's descriptor limit (RLIMIT_NOFILE) to "
                     "%llu: %s", (unsigned long long)rl.rlim_cur, strerror(errno));
            return -1;
        }
    }
    b->limit = rl.rlim_cur == RLIM_INFINITY ? (unsigned long)-1 : (unsigned long)rl.rlim_cur;
    /* Files first (each open file spares an open and a close per write), then connections. */
    unsigned long spare = b->limit - fixed - FDBUDGET_CONNS_MIN;
    b->file_cap = spare > b->files ? b->files : spare;
    spare = b->limit - fixed - b->file_cap;
    b->conns = spare > FDBUDGET_CONNS_MAX ? FDBUDGET_CONNS_MAX : spare;
    conn_cap = b->conns;
    return 0;
}

unsigned long fdbudget_conn_cap(void)
{
    return conn_cap;
}
