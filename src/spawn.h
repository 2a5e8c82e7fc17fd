/* spawn: start a program with a precisely prepared child state, and learn whether its exec
 * succeeded. Shared by daeml (with a double fork, spawn_daemon) and the supervisor (one
 * fork per service, spawn_start). Everything the child needs is prepared by the caller in a
 * struct spawn_spec; between fork and exec the child calls only async-signal-safe functions.
 *
 * Child order: its cgroup (already there when clone3 placed it) -> new session or process group -> every signal disposition to default ->
 * rlimits, umask, chdir -> stdio -> supplementary groups -> gid -> uid -> verify the ids ->
 * close every other fd -> empty the signal mask -> execve. Before each step the child notes
 * its stage; on failure it reports {stage, errno} over a close-on-exec pipe and exits 127.
 * End of file on that pipe without a record means the exec happened. */
#ifndef TEND_SPAWN_H
#define TEND_SPAWN_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

enum spawn_stage {
    STAGE_NONE,
    STAGE_FORK,
    STAGE_CGROUP,
    STAGE_SETSID,
    STAGE_SETPGID,
    STAGE_SIGNALS,
    STAGE_RLIMIT,
    STAGE_RLIMITS,
    STAGE_UMASK,
    STAGE_CHDIR,
    STAGE_STDIO,
    STAGE_SETGROUPS,
    STAGE_SETGID,
    STAGE_SETUID,
    STAGE_VERIFY_IDS,
    STAGE_CLOSE_FDS,
    STAGE_SIGMASK,
    STAGE_EXEC,
};

enum spawn_detach {
    SPAWN_DETACH_NONE,    /* stay in the caller's session and process group */
    SPAWN_DETACH_PGRP,    /* own process group (a supervised service: killasgroup works) */
    SPAWN_DETACH_SESSION, /* own session, hence no controlling terminal */
};

/* Where the child starts (cgroup.c prepares it). Descriptors are -1 when unused. */
struct spawn_cgroup {
    int dir_fd;     /* the v2 cgroup directory: clone3(CLONE_INTO_CGROUP) starts it there */
    int procs_fd;   /* that cgroup's cgroup.procs: without clone3 the child writes itself in
                     * before anything else, so no code of the program ever runs outside */
    int join_fd[2]; /* cgroup.procs of v1 hierarchies (memory, pids) the child joins too */
};

/* One resource limit for the child (soft and hard). */
struct spawn_rlimit {
    int resource; /* RLIMIT_* */
    struct rlimit value;
};

struct spawn_spec {
    const char *path;        /* executable, already resolved (see spawn_find_program) */
    char *const *argv;       /* passed as is; argv[0] need not equal path */
    char *const *envp;
    const char *dir;         /* chdir target, NULL to stay */
    int umask;               /* -1 to inherit */
    int stdio_fd[3];         /* descriptor for 0/1/2; -1 means /dev/null */
    bool keep_stdio;         /* leave 0/1/2 exactly as inherited (daeml --no-close) */
    enum spawn_detach detach;
    bool set_ids;            /* drop to uid/gid/groups (needs root) */
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t ngroups;
    rlim_t nofile;           /* set the RLIMIT_NOFILE soft limit to this; 0 = keep */
    const sigset_t *reset;   /* signals whose disposition may differ from the default (the
                              * caller ignores or handles them); NULL = reset every one */
    const struct spawn_cgroup *cgroup; /* spawn_start only; NULL: stay in the caller's */
    const struct spawn_rlimit *rlimits; /* set after nofile; may be NULL when nrlimits is 0 */
    size_t nrlimits;
    /* The child stores its pid in each non-NULL one, before anything else.
     * They point into shared memory that outlives the parent (the handover state), so a
     * parent killed between the fork and its own record still leaves the pid behind. */
    volatile int32_t *note_pid[2];
};

struct spawn_error {
    enum spawn_stage stage;
    int err; /* errno */
};

/* Human words for a stage, e.g. "chdir", "execute", "set supplementary groups". */
const char *spawn_stage_name(enum spawn_stage stage);

/* Child side, usable directly for daeml --foreground: performs every stage and execs.
 * Every descriptor >= 3 except keep_fd (-1: none) is closed before the exec.
 * Returns only on failure, with *err filled. */
int spawn_exec(const struct spawn_spec *spec, int keep_fd, struct spawn_error *err);

/* Forks one child that runs spawn_exec, inside spec->cgroup when set: with clone3 and
 * CLONE_INTO_CGROUP, or (ENOSYS, EINVAL: an older kernel) fork and the child joins the
 * cgroup first, reporting a failure at STAGE_CGROUP. On success *pid is the child and *report_fd the
 * read end (close-on-exec) of its report pipe: read it with spawn_read_report. -1/errno if
 * the fork or pipe failed. Signals are blocked across the fork so that no handler of the
 * caller can run in the child. */
int spawn_start(const struct spawn_spec *spec, pid_t *pid, int *report_fd);

/* Like spawn_start, but the child is made with clone(CLONE_VM|CLONE_VFORK) (clone3 with
 * CLONE_INTO_CGROUP when spec->cgroup has a directory; without it, or when the kernel
 * refuses, the child joins its cgroups first): it runs in the caller's memory on a private
 * stack while the caller waits, so a spawn costs the same whatever the caller's size, and
 * the outcome is known on return, with no report pipe. The caller must be single-threaded.
 * Returns 0 when the exec happened (*pid is the program); 1 when the child failed at
 * err->stage with err->err and exited 127 (*pid is still to be reaped); -1/errno when no
 * child could be made (err->stage STAGE_FORK, err->err the errno: EAGAIN for a process or
 * pids limit, ENOMEM). */
int spawn_run(const struct spawn_spec *spec, pid_t *pid, struct spawn_error *err);

/* Reads one report from a report pipe. Returns 1 with *err filled when the child reported a
 * failure, 0 at end of file (the exec succeeded), -1/errno on a read error (EAGAIN on a
 * non-blocking pipe that has nothing yet). */
int spawn_read_report(int report_fd, struct spawn_error *err);

/* daeml's launch: fork, setsid, fork again so the daemon is not a session leader, then
 * spawn_exec in the grandchild. Waits until the exec succeeded or failed and reaps the
 * intermediate child, so the caller never gets a zombie and the daemon is reparented to
 * init or the nearest subreaper. Returns 0 with *daemon_pid set, or -1 with *err filled. */
int spawn_daemon(const struct spawn_spec *spec, pid_t *daemon_pid, struct spawn_error *err);

/* Looks NAME up like execvp: a name with a slash is taken as is, otherwise each directory of
 * search_path (NULL: the default path) is tried. Writes the path into out. Returns 0, or -1
 * with errno ENOENT (nowhere), EACCES (found but not executable), ENAMETOOLONG. */
int spawn_find_program(const char *name, const char *search_path, char *out, size_t out_len);

/* Resolves "USER[:GROUP]" (names or numbers) into ids and the user's supplementary groups
 * (malloc'd into *groups). Returns 0, or -1 with a message in msg. */
int spawn_resolve_user(const char *user_group, uid_t *uid, gid_t *gid, gid_t **groups,
                       size_t *ngroups, char *msg, size_t msg_len);

#endif

/* Turns the calling process into a daemon that keeps running this code: fork, setsid, fork.
 * The original process waits for the daemon's verdict and exits: 0 when the daemon writes a
 * NUL byte to *notify_fd (spawn_detach_ready), 1 after printing whatever text it wrote
 * instead (spawn_detach_fail), or 1 if the daemon dies first. Returns 0 in the daemon, -1
 * with errno in the caller if the first fork failed. */
int spawn_detach_self(int *notify_fd);
void spawn_detach_ready(int notify_fd);
void spawn_detach_fail(int notify_fd, const char *msg);
