/* cgroup: a service is its whole process tree. Every service gets its own cgroup (v2) under
 * tend's, and its child is started inside it (clone3 with CLONE_INTO_CGROUP, or the child
 * joins before it execs), so no descendant can leave by double-forking or setsid. When the
 * main process has exited, what is left of the tree is stopped (stopsignal, then SIGKILL
 * after stopwaitsecs) before the next instance starts; "populated 0" in cgroup.events, seen
 * by the loop (EPOLLPRI), says the tree is gone. Limits (memory, tasks, CPU) and usage
 * (memory, CPU, tasks) come from the same cgroup; on a hybrid host the memory and pids limits
 * go through the v1 controllers.
 *
 * Without cgroup2 (not mounted, no permission, [tend] cgroups=false) the same calls fall back
 * to the process group the service's child leads: leftovers in that group are stopped before
 * a restart, and at shutdown every descendant of tend in another session (what a program
 * abandoned with setsid) gets SIGTERM, a grace period, then SIGKILL. */
#ifndef TEND_CGROUP_H
#define TEND_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "loop.h"
#include "spawn.h"

struct cgroup_tree;
struct cgroup_svc;

/* Called when a tree that was being stopped is gone (the service may start again). */
typedef void cgroup_empty_fn(void *ctx);

/* What the kernel offers tend, as far as limits go (for tend check and start-up). */
struct cgroup_caps {
    bool v2;          /* a cgroup2 hierarchy tend can create cgroups in */
    bool memory_max;  /* memory_max= can be applied (v2 memory, or v1 memory) */
    bool memory_high; /* v2 memory controller only */
    bool tasks_max;   /* v2 pids, or v1 pids */
    bool cpu;         /* cpu_weight=, cpu_max=: v2 cpu controller only */
    char why[256];    /* why cgroups are not used, "" when they are */
};

/* Finds tend's own cgroup and makes the parent of the service cgroups under it. enabled
 * false ([tend] cgroups=false) or any failure selects the process-group fallback; the reason
 * is logged once. on_sweep_done is called when the shutdown sweep has finished. Never NULL
 * (out of memory aborts, as everywhere in tend).
 * keeper: the keeper's pid (0: none). The tree is the keeper's, not one supervisor's: a
 * supervisor it restarts finds the same tree (with the programs it takes back in it), and
 * in a cgroup of its own the keeper moves into the leaf with the supervisor, so that the
 * cgroup holds no process and may hand controllers down (cgroup v2's rule). restarted: a
 * supervisor the keeper restarted, born in that leaf. */
struct cgroup_tree *cgroup_tree_open(struct loop *loop, bool enabled, pid_t keeper,
                                     bool restarted, cgroup_empty_fn *on_sweep_done,
                                     void *ctx);
/* Removes the (empty) service cgroups and the parent tend made; frees. NULL is a no-op. */
void cgroup_tree_close(struct cgroup_tree *t);
bool cgroup_tree_active(const struct cgroup_tree *t);

/* Probes what this host supports, without creating anything (tend check). */
void cgroup_probe(struct cgroup_caps *caps);
/* The first limit of c that caps cannot apply: its key and why, in msg. 0 when every limit
 * can be applied, -1 otherwise. */
int cgroup_check_limits(const struct cgroup_caps *caps, const struct proc_conf *c, char *msg,
                        size_t len);

/* tend check: every limit of every program this host cannot apply (or any, with [tend]
 * cgroups=false) printed to stderr as "FILE:LINE: error: KEY: cannot be applied: WHY".
 * 0 when there is none, -1 otherwise. */
int cgroup_check_config(const struct config *cfg);

/* A service's cgroup (made at its first spawn). name names it in the log and the path. */
struct cgroup_svc *cgroup_svc_new(struct cgroup_tree *t, const char *name,
                                  cgroup_empty_fn *on_empty, void *ctx);
/* The same for a command (an alert or health-check command) rather than a service: the
 * shutdown sweep leaves it alone (an alert sent during shutdown runs to its end, and its
 * owner stops it at its timeout), and shutdown does not wait for it. */
struct cgroup_svc *cgroup_cmd_new(struct cgroup_tree *t, const char *name,
                                  cgroup_empty_fn *on_empty, void *ctx);
/* Stops the watchers and timer (the service is being dropped or tend is exiting). */
void cgroup_svc_release(struct cgroup_svc *cg);
/* Releases, removes the cgroup if it is empty, frees. NULL is a no-op. */
void cgroup_svc_free(struct cgroup_svc *cg);

/* Before a spawn: makes the cgroup, applies c's limits and fills *out for spawn_spec.cgroup.
 * Returns 0 (out->dir_fd -1 without cgroups), or -1 with the reason in msg (a limit that
 * cannot be applied: the start fails with that reason). */
int cgroup_svc_prepare(struct cgroup_svc *cg, const struct proc_conf *c,
                       struct spawn_cgroup *out, char *msg, size_t len);
/* After spawn_start (pid > 0) or a failed one (pid 0): closes what prepare opened and, without
 * cgroups, remembers the process group the child leads. */
void cgroup_svc_spawned(struct cgroup_svc *cg, struct spawn_cgroup *sc, pid_t pid);
/* pid, started by a previous supervisor, is taken back: its cgroup (and process group) are
 * the service's again, for its leftovers and its usage. 0, or -1 with msg filled. */
int cgroup_svc_taken_back(struct cgroup_svc *cg, const struct proc_conf *c, pid_t pid,
                          char *msg, size_t len);

/* The main process has exited: stop what is left of its tree with c's stopsignal, SIGKILL
 * after stopwaitsecs (unless leftovers=keep and !force). Logs what it killed. */
void cgroup_svc_exited(struct cgroup_svc *cg, const struct proc_conf *c, bool force);
/* Leftovers are being stopped: the next instance must wait (see cgroup_svc_defer). */
bool cgroup_svc_busy(const struct cgroup_svc *cg);
/* Whether the OOM killer killed something in the cgroup since the last spawn. */
bool cgroup_svc_oom(const struct cgroup_svc *cg);
/* Whether pid is a process in this service's cgroup (without cgroups: its process group or
 * a descendant of its launcher, launcher_pid). */
bool cgroup_svc_owns(const struct cgroup_svc *cg, pid_t pid, pid_t launcher_pid);

/* Usage read on request. -1 in a field that is not known. */
struct cgroup_usage {
    long long memory_bytes;
    long long cpu_usec;
    long long tasks;
};
/* A reading is kept this long: `tend status` hammered by many clients, or polled during a
 * mass restart, reads each cgroup at most once a second (three to four file reads a
 * program, more than all else a status costs). A new instance reads afresh. */
#define CGROUP_USAGE_MAX_AGE_NS 1000000000ULL
/* Whether the cgroup has no reading of this instance younger than that at now
 * (timer_now_ns); false without cgroups. */
bool cgroup_svc_usage_stale(const struct cgroup_svc *cg, uint64_t now);
/* Reads the usage now and keeps it (cg made, see cgroup_svc_usage_stale). */
void cgroup_svc_usage_read(struct cgroup_svc *cg);
/* This instance's last reading, whatever its age, without reading anything (what a status
 * shows, control.c); -1 in every field when it has none. */
void cgroup_svc_usage_last(const struct cgroup_svc *cg, struct cgroup_usage *u);

/* The fallback for a command's tree without cgroups (an alert or health-check command at its
 * timeout): SIGKILL to every live descendant of pid by the current parent links, whatever
 * its process group or session; pid itself is stopped (SIGSTOP) first, so that it cannot
 * see them die and exit on its own before the caller's SIGKILL, which is left to the caller.
 * Call while pid is alive: once it has exited its children are someone else's. Returns how
 * many were signalled. */
long cgroup_kill_descendants(pid_t pid);

/* Some child of tend was reaped: without cgroups, that is how a process group's emptiness
 * is noticed. */
void cgroup_reaped(struct cgroup_tree *t);

/* Shutdown, after every service has stopped: anything still alive under tend gets SIGTERM,
 * a grace period, then SIGKILL. Returns true while that is going on (on_sweep_done follows),
 * false once there is nothing (left) to do. */
bool cgroup_sweep(struct cgroup_tree *t);

#endif
