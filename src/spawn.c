/* spawn: child set-up between fork and exec, and the report pipe that tells the parent how
 * the exec went. See spawn.h for the order of the stages and why it is that order.
 *
 * Invariant: after fork, the child (and daeml's intermediate child) only calls
 * async-signal-safe functions and writes at most one fixed-size record to the report pipe,
 * which is atomic because it is smaller than PIPE_BUF.
 *
 * spawn_run (the supervisor's services) goes further: its child is created with
 * CLONE_VM|CLONE_VFORK, so it runs in tend's own memory, on a private stack, while tend is
 * suspended until the child's execve succeeded or the child exited. Nothing of tend's memory
 * is copied (a spawn costs the same with 10 or 10,000 services), and the outcome is known
 * when the clone returns: the child writes its {stage, errno} into the caller's record in
 * that shared memory, so no report pipe (no descriptor) exists at all. The invariant that
 * makes this safe, on top of the one above:
 * - the child writes no memory of tend's but its own stack frames and that record: no malloc,
 *   no stdio, no lock of the C library, no cached state (errno is tend's thread's: tend saves
 *   what it needs before the clone and reads nothing the child may have left in it);
 * - it changes no state shared with tend: it has its own descriptor table (no CLONE_FILES),
 *   its own signal handlers (no CLONE_SIGHAND), and it changes ids with raw system calls, so
 *   the C library never runs its every-thread set-id protocol on tend's behalf;
 * - tend is single-threaded and blocks every signal across the clone, so no handler and no
 *   other thread of tend can run on that memory while the child does;
 * - it never returns into tend's code: it ends in execve or _exit. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "util/fd.h"

enum report_kind { REPORT_PID = 1, REPORT_FAIL = 2 };

struct report {
    int kind;
    int stage;
    int err;
    pid_t pid;
};

static const char *const stage_names[] = {
    [STAGE_NONE] = "start",
    [STAGE_FORK] = "fork",
    [STAGE_CGROUP] = "join its cgroup",
    [STAGE_SETSID] = "create a session",
    [STAGE_SETPGID] = "create a process group",
    [STAGE_SIGNALS] = "reset signal dispositions",
    [STAGE_RLIMIT] = "set the file descriptor limit",
    [STAGE_RLIMITS] = "set its resource limits (rlimit_*)",
    [STAGE_UMASK] = "set the umask",
    [STAGE_CHDIR] = "change directory",
    [STAGE_STDIO] = "set up stdin/stdout/stderr",
    [STAGE_SETGROUPS] = "set supplementary groups",
    [STAGE_SETGID] = "set group id",
    [STAGE_SETUID] = "set user id",
    [STAGE_VERIFY_IDS] = "verify dropped privileges",
    [STAGE_CLOSE_FDS] = "close inherited descriptors",
    [STAGE_SIGMASK] = "reset the signal mask",
    [STAGE_EXEC] = "execute",
};

const char *spawn_stage_name(enum spawn_stage stage)
{
    if ((size_t)stage < sizeof(stage_names) / sizeof(stage_names[0]) && stage_names[stage])
        return stage_names[stage];
    return "start";
}

static int fail(struct spawn_error *err, enum spawn_stage stage)
{
    err->stage = stage;
    err->err = errno;
    return -1;
}

/* Puts the three stdio descriptors in place. A source that is itself 0, 1 or 2 is first
 * copied above 2, so that moving one onto its slot cannot clobber another still needed. */
static int setup_stdio(const struct spawn_spec *spec)
{
    int src[3];
    int null_fd = -1;

    for (int i = 0; i < 3; i++) {
        src[i] = spec->stdio_fd[i];
        if (src[i] == -1) {
            if (null_fd == -1) {
                null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null_fd == -1)
                    return -1;
                if (null_fd < 3) {
                    int moved = fcntl(null_fd, F_DUPFD_CLOEXEC, 3);
                    if (moved == -1)
                        return -1;
                    (void)close(null_fd); /* the copy above 2 replaces it */
                    null_fd = moved;
                }
            }
            src[i] = null_fd;
        } else if (src[i] < 3) {
            int moved = fcntl(src[i], F_DUPFD_CLOEXEC, 3);
            if (moved == -1)
                return -1;
            src[i] = moved;
        }
    }
    /* Every source is now >= 3, so dup2 always makes a fresh, inheritable copy. */
    for (int i = 0; i < 3; i++) {
        if (dup2(src[i], i) == -1)
            return -1;
    }
    /* The sources above 2 are close-on-exec and fall to fd_close_from later anyway. */
    return 0;
}

/* A process that is not root after the drop must not be able to become root again. */
static int verify_ids(const struct spawn_spec *spec)
{
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;

    if (getresuid(&ruid, &euid, &suid) == -1 || getresgid(&rgid, &egid, &sgid) == -1)
        return -1;
    if (ruid != spec->uid || euid != spec->uid || suid != spec->uid || rgid != spec->gid ||
        egid != spec->gid || sgid != spec->gid) {
        errno = EPERM;
        return -1;
    }
    if (spec->uid != 0 && syscall(SYS_setuid, 0) != -1) { /* raw: see the top */
        errno = EPERM;
        return -1;
    }
    return 0;
}

int spawn_exec(const struct spawn_spec *spec, int keep_fd, struct spawn_error *err)
{
    struct sigaction dfl;
    sigset_t none;

    if (spec->detach == SPAWN_DETACH_SESSION && setsid() == -1)
        return fail(err, STAGE_SETSID);
    if (spec->detach == SPAWN_DETACH_PGRP && setpgid(0, 0) == -1)
        return fail(err, STAGE_SETPGID);

    /* Dispositions first: an ignored SIGPIPE or SIGHUP of the caller (nohup) survives exec
     * and would silently change the program's behaviour. Handlers do not survive exec, but
     * resetting everything keeps the rule simple. EINVAL for KILL, STOP and the two
     * signals glibc reserves is expected and harmless. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        /* glibc's reserved real-time signals (32 up to SIGRTMIN) cannot be read or put in a
         * sigset_t, so the caller cannot know them: always reset those. */
        bool reserved = sig >= 32 && sig < SIGRTMIN;
        if (!reserved && spec->reset != NULL && sigismember(spec->reset, sig) != 1)
            continue; /* the caller knows this one is already at its default */
        if (sigaction(sig, &dfl, NULL) == 0)
            continue;
        if (errno != EINVAL)
            return fail(err, STAGE_SIGNALS);
        /* glibc refuses the two real-time signals it reserves (32, 33), yet a caller can
         * have them ignored through the raw system call, and that would survive the exec:
         * reset them the same way. KILL and STOP fail here too, harmlessly. */
        struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } k = {0};
        (void)syscall(SYS_rt_sigaction, sig, &k, NULL, sizeof(k.mask)); /* see above */
    }

    if (spec->nofile > 0) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
            return fail(err, STAGE_RLIMIT);
        if (rl.rlim_cur != spec->nofile) {
            rl.rlim_cur = spec->nofile;
            if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < spec->nofile)
                rl.rlim_max = spec->nofile;
            if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
                return fail(err, STAGE_RLIMIT);
        }
    }
    for (size_t i = 0; i < spec->nrlimits; i++) {
        /* Raising a hard limit needs CAP_SYS_RESOURCE: tend as root has it. */
        /* glibc types the resource as an enum, musl as an int: this converts to either. */
        if (setrlimit(spec->rlimits[i].resource, &spec->rlimits[i].value) == -1)
            return fail(err, STAGE_RLIMITS);
    }
    if (spec->umask >= 0)
        (void)umask((mode_t)spec->umask); /* umask(2) cannot fail */
    if (spec->dir != NULL && chdir(spec->dir) == -1)
        return fail(err, STAGE_CHDIR);

    /* stdio before the privilege drop: the files were opened by the caller with its rights,
     * and /dev/null must be opened while we still may. */
    if (!spec->keep_stdio && setup_stdio(spec) == -1)
        return fail(err, STAGE_STDIO);

    /* Groups before gid before uid: once the uid is dropped we may no longer change them. */
    if (spec->set_ids) {
        /* Raw system calls: glibc's wrappers may run a protocol that makes every thread of
         * the process change ids, which a CLONE_VM child must not (see the top). */
        if (syscall(SYS_setgroups, spec->ngroups, spec->groups) == -1)
            return fail(err, STAGE_SETGROUPS);
        if (syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid) == -1)
            return fail(err, STAGE_SETGID);
        if (syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid) == -1)
            return fail(err, STAGE_SETUID);
        if (verify_ids(spec) == -1)
            return fail(err, STAGE_VERIFY_IDS);
    }

    /* Second line of defence: every fd of ours is close-on-exec, but the caller of daeml
     * may have left anything open at any number. The report pipe (keep_fd) is close-on-exec:
     * it stays open to report an exec failure and closes exactly when the exec succeeds. */
    if (fd_close_from(3, keep_fd) == -1)
        return fail(err, STAGE_CLOSE_FDS);

    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) == -1)
        return fail(err, STAGE_SIGMASK);
    execve(spec->path, spec->argv, spec->envp);
    return fail(err, STAGE_EXEC);
}

/* The child side of spawn_start and spawn_daemon: report a failure, then die with 127 (the
 * shell's "could not run" code) without running any atexit handler of the parent. */
static void __attribute__((noreturn)) child_fail(int report_fd, const struct spawn_error *e)
{
    struct report r = {.kind = REPORT_FAIL, .stage = (int)e->stage, .err = e->err};

    (void)fd_write_all(report_fd, &r, sizeof(r)); /* nothing more to do if the parent left */
    _exit(127);
}

/* Writes the calling process into a cgroup.procs ("0" means the writer). */
static int join_cgroup(int procs_fd)
{
    return procs_fd == -1 || fd_write_all(procs_fd, "0", 1) == 0 ? 0 : -1;
}

static void __attribute__((noreturn)) child_run(const struct spawn_spec *spec, int report_fd,
                                                bool placed)
{
    struct spawn_error e;
    const struct spawn_cgroup *cg = spec->cgroup;

    /* Plain stores to shared memory, async-signal-safe; the raw call, not a cached pid. */
    for (int i = 0; i < 2; i++) {
        if (spec->note_pid[i] != NULL)
            *spec->note_pid[i] = (int32_t)syscall(SYS_getpid);
    }
    /* Then, so that nothing the program does can happen outside its cgroups. */
    if (cg != NULL && ((!placed && join_cgroup(cg->procs_fd) == -1) ||
                       join_cgroup(cg->join_fd[0]) == -1 || join_cgroup(cg->join_fd[1]) == -1)) {
        e.stage = STAGE_CGROUP;
        e.err = errno;
        child_fail(report_fd, &e);
    }
    (void)spawn_exec(spec, report_fd, &e); /* returns only on failure */
    child_fail(report_fd, &e);
}

/* clone3 with CLONE_INTO_CGROUP: like fork, but the child exists only inside the cgroup.
 * -1/ENOSYS or EINVAL (among others) on kernels or set-ups that cannot: the caller falls
 * back to fork. The raw system call bypasses glibc's fork handlers; the child runs only
 * async-signal-safe code, as after fork, and never relies on glibc's cached thread id. */
/* clone3's argument, as the kernel defines it (linux/sched.h, version 2 with cgroup); spelt
 * out here because a static build's C library (musl) brings no kernel headers. */
struct tend_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};
#define TEND_CLONE_INTO_CGROUP 0x200000000ULL

static pid_t clone_into(int cgroup_fd)
{
    struct tend_clone_args args;

    memset(&args, 0, sizeof(args));
    args.flags = TEND_CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int block_all(sigset_t *old)
{
    sigset_t all;

    sigfillset(&all);
    return sigprocmask(SIG_SETMASK, &all, old);
}

int spawn_start(const struct spawn_spec *spec, pid_t *pid, int *report_fd)
{
    int p[2];
    sigset_t old;
    pid_t child;

    if (pipe2(p, O_CLOEXEC) == -1)
        return -1;
    if (block_all(&old) == -1) {
        fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        return -1;
    }
    bool placed = false, give_up = false;
    child = -1;
    if (spec->cgroup != NULL && spec->cgroup->dir_fd != -1) {
        child = clone_into(spec->cgroup->dir_fd);
        placed = child != -1; /* in the child too: clone3 returned 0 there */
        /* A transient failure is the caller's to retry; anything else (no clone3, no
         * CLONE_INTO_CGROUP, a cgroup clone3 refuses) falls back to fork + join, whose
         * failure the child reports as a stage with its errno. */
        give_up = child == -1 && (errno == EAGAIN || errno == ENOMEM);
    }
    if (child == -1 && !give_up)
        child = fork();
    if (child == 0) {
        (void)close(p[0]); /* the child only writes */
        child_run(spec, p[1], placed);
    }
    int saved = errno;
    (void)sigprocmask(SIG_SETMASK, &old, NULL); /* restoring a valid old mask cannot fail */
    (void)close(p[1]); /* keep only the read end: EOF then means exec or death */
    if (child == -1) {
        fd_close_quiet(p[0]);
        errno = saved;
        return -1;
    }
    *pid = child;
    *report_fd = p[0];
    return 0;
}

/* ---- spawn_run: the child in tend's memory (see the top of the file) ---- */

#define VM_STACK_BYTES (256 * 1024) /* spawn_exec's frames need a few KiB; ASan's more */

/* What the child reads and writes in tend's memory: the spec, and its outcome. */
struct vm_child {
    const struct spawn_spec *spec;
    bool placed;               /* clone3 put it into its cgroup already */
    volatile int failed;       /* set by the child just before _exit(127) */
    volatile int stage, err;
};

/* The stack the child runs on, mapped once and kept for the life of the process (a
 * deliberate leak): one child at a time uses it, since tend waits for each (CLONE_VFORK).
 * The lowest page is a guard. */
static char *vm_stack_top(void)
{
    static char *top;

    if (top == NULL) {
        char *base = mmap(NULL, VM_STACK_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base == MAP_FAILED)
            return NULL;
        (void)mprotect(base, 4096, PROT_NONE); /* without the guard it still works */
        top = base + VM_STACK_BYTES;
    }
    return top;
}

/* The child: sanitizers are kept out of its frame, whose calls must not touch their
 * bookkeeping for a stack they do not know. Ends in execve or _exit(127). */
__attribute__((no_sanitize_address)) static int vm_child_main(void *arg)
{
    struct vm_child *c = arg;
    struct spawn_error e = {STAGE_NONE, 0};
    const struct spawn_cgroup *cg = c->spec->cgroup;

    /* First of all, as in child_run: a parent killed while it waits for us still leaves
     * our pid in the handover state. */
    for (int i = 0; i < 2; i++) {
        if (c->spec->note_pid[i] != NULL)
            *c->spec->note_pid[i] = (int32_t)syscall(SYS_getpid);
    }
    if (cg != NULL && ((!c->placed && join_cgroup(cg->procs_fd) == -1) ||
                       join_cgroup(cg->join_fd[0]) == -1 || join_cgroup(cg->join_fd[1]) == -1)) {
        e.stage = STAGE_CGROUP;
        e.err = errno;
    } else {
        (void)spawn_exec(c->spec, -1, &e); /* returns only on failure */
    }
    c->stage = (int)e.stage;
    c->err = e.err;
    c->failed = 1;
    _exit(127);
}

#if defined(__x86_64__)
/* clone3 with a new stack cannot go through syscall(): the child would return through a
 * frame on a stack it does not have. Here the child jumps straight into fn(arg) on its
 * own stack and never comes back. Returns the child's pid, or -errno. */
static long clone3_vm(struct tend_clone_args *args, int (*fn)(void *), void *arg)
{
    long ret;

    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %[arg], %%rdi\n\t"
                     "call *%[fn]\n\t"
                     "ud2\n"
                     "1:"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(args), "S"(sizeof(*args)), [fn] "r"(fn),
                       [arg] "r"(arg)
                     : "rcx", "r11", "memory", "cc");
    return ret;
}
#endif

int spawn_run(const struct spawn_spec *spec, pid_t *pid, struct spawn_error *err)
{
    struct vm_child c = {.spec = spec};
    char *top = vm_stack_top();
    sigset_t old;
    pid_t child = -1;
    int saved = 0;

    err->stage = STAGE_FORK;
    err->err = 0;
    if (top == NULL) {
        err->err = errno;
        return -1;
    }
    if (block_all(&old) == -1) {
        err->err = errno;
        return -1;
    }
#if defined(__x86_64__)
    static int no_clone3 = -1;
    if (no_clone3 == -1) /* test switch: take the path of kernels without clone3 */
        no_clone3 = getenv("TEND_SPAWN_NO_CLONE3") != NULL;
    if (!no_clone3) {
        struct tend_clone_args args;
        int cg_fd = spec->cgroup != NULL ? spec->cgroup->dir_fd : -1;
        memset(&args, 0, sizeof(args));
        args.flags = CLONE_VM | CLONE_VFORK;
        args.exit_signal = SIGCHLD;
        args.stack = (uint64_t)(uintptr_t)(top - VM_STACK_BYTES);
        args.stack_size = VM_STACK_BYTES;
        if (cg_fd != -1) {
            args.flags |= TEND_CLONE_INTO_CGROUP;
            args.cgroup = (uint64_t)cg_fd;
        }
        c.placed = cg_fd != -1;
        long r = clone3_vm(&args, vm_child_main, &c);
        if (r > 0) {
            child = (pid_t)r;
        } else {
            saved = (int)-r;
            c.placed = false;
            /* No clone3 at all: never again. A transient shortage is the caller's to
             * retry. Anything else (a cgroup clone3 refuses) goes on with clone below,
             * the child joining its cgroup itself. */
            if (saved == ENOSYS)
                no_clone3 = 1;
            else if (saved == EAGAIN || saved == ENOMEM)
                goto done;
        }
    }
#endif
    if (child == -1) {
        child = clone(vm_child_main, top, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
        saved = errno;
    }
#if defined(__x86_64__)
done:
#endif
    (void)sigprocmask(SIG_SETMASK, &old, NULL); /* restoring a valid mask cannot fail */
    if (child == -1) {
        err->err = saved;
        errno = saved;
        return -1;
    }
    /* tend ran again only once the child exec'd or exited: its record is final. */
    *pid = child;
    if (c.failed) {
        err->stage = (enum spawn_stage)c.stage;
        err->err = c.err;
        return 1;
    }
    err->stage = STAGE_NONE;
    return 0;
}

int spawn_read_report(int report_fd, struct spawn_error *err)
{
    struct report r;
    ssize_t n;

    for (;;) {
        n = fd_read(report_fd, &r, sizeof(r));
        if (n == -1)
            return -1;
        if (n == 0)
            return 0;
        if ((size_t)n != sizeof(r)) {
            /* Records are written whole and atomically; a short one means a broken child. */
            err->stage = STAGE_NONE;
            err->err = EPROTO;
            return 1;
        }
        if (r.kind == REPORT_FAIL) {
            err->stage = (enum spawn_stage)r.stage;
            err->err = r.err;
            return 1;
        }
        /* A REPORT_PID record is only sent by spawn_daemon's grandchild; skip it here. */
    }
}

int spawn_daemon(const struct spawn_spec *spec, pid_t *daemon_pid, struct spawn_error *err)
{
    int p[2];
    sigset_t old;
    pid_t mid;
    int status;

    if (pipe2(p, O_CLOEXEC) == -1)
        return fail(err, STAGE_FORK);
    if (block_all(&old) == -1) {
        fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        return fail(err, STAGE_SIGNALS);
    }
    mid = fork();
    if (mid == 0) {
        struct spawn_error e = {STAGE_NONE, 0};
        struct spawn_spec grand = *spec;
        pid_t g;

        (void)close(p[0]);
        /* The first child is not a process-group leader, so setsid succeeds and drops the
         * controlling terminal. Its child will not lead the new session, so it can never
         * acquire a terminal again by opening one. */
        if (setsid() == -1) {
            e.stage = STAGE_SETSID;
            e.err = errno;
            child_fail(p[1], &e);
        }
        g = fork();
        if (g == -1) {
            e.stage = STAGE_FORK;
            e.err = errno;
            child_fail(p[1], &e);
        }
        if (g > 0)
            _exit(0); /* the daemon is reparented to init or the nearest subreaper */
        struct report r = {.kind = REPORT_PID, .pid = getpid()};
        if (fd_write_all(p[1], &r, sizeof(r)) == -1)
            _exit(127); /* the launcher is gone: nobody would learn this daemon's pid */
        grand.detach = SPAWN_DETACH_NONE;
        child_run(&grand, p[1], false);
    }
    int saved = errno;
    (void)sigprocmask(SIG_SETMASK, &old, NULL); /* restoring a valid mask cannot fail */
    (void)close(p[1]);
    if (mid == -1) {
        fd_close_quiet(p[0]);
        errno = saved;
        return fail(err, STAGE_FORK);
    }
    /* Reap the intermediate child first: it exits right after its fork, and leaving it
     * would make a zombie of the caller's. */
    while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
        ;

    *daemon_pid = 0;
    for (;;) {
        struct report r;
        ssize_t n = fd_read(p[0], &r, sizeof(r));
        if (n == 0)
            break;
        if (n != (ssize_t)sizeof(r)) {
            int e = n == -1 ? errno : EPROTO;
            fd_close_quiet(p[0]);
            errno = e;
            return fail(err, STAGE_NONE);
        }
        if (r.kind == REPORT_PID) {
            *daemon_pid = r.pid;
        } else {
            (void)close(p[0]);
            err->stage = (enum spawn_stage)r.stage;
            err->err = r.err;
            /* The failed grandchild has exited; it is reaped by whoever adopted it. */
            return -1;
        }
    }
    (void)close(p[0]);
    if (*daemon_pid == 0) {
        /* EOF with no pid: the intermediate child died before forking (killed?). */
        errno = WIFSIGNALED(status) ? EINTR : ECHILD;
        return fail(err, STAGE_FORK);
    }
    return 0;
}

int spawn_find_program(const char *name, const char *search_path, char *out, size_t out_len)
{
    const char *p;
    bool seen_eacces = false;

    if (strchr(name, '/') != NULL) {
        if (strlen(name) >= out_len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        strcpy(out, name);
        return 0;
    }
    if (*name == '\0') {
        errno = ENOENT;
        return -1;
    }
    if (search_path == NULL)
        search_path = "/usr/local/bin:/usr/bin:/bin";
    for (p = search_path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        struct stat st;
        /* An empty element means the current directory, as execvp treats it. */
        int n = dlen ? snprintf(out, out_len, "%.*s/%s", (int)dlen, p, name)
                     : snprintf(out, out_len, "%s", name);
        if (n >= 0 && (size_t)n < out_len && stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return 0;
            seen_eacces = true;
        }
        if (*end == '\0')
            break;
        p = end;
    }
    errno = seen_eacces ? EACCES : ENOENT;
    return -1;
}

static int parse_id(const char *s, unsigned long *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *out = strtoul(s, &end, 10);
    return (errno != 0 || *end != '\0' || *out > UINT32_MAX - 1) ? -1 : 0;
}

int spawn_resolve_user(const char *user_group, uid_t *uid, gid_t *gid, gid_t **groups,
                       size_t *ngroups, char *msg, size_t msg_len)
{
    char user[256];
    const char *colon = strchr(user_group, ':');
    size_t ulen = colon ? (size_t)(colon - user_group) : strlen(user_group);
    struct passwd *pw;
    unsigned long num;
    int n = 0;
    gid_t *list;

    if (ulen == 0 || ulen >= sizeof(user)) {
        snprintf(msg, msg_len, "invalid user '%s'", user_group);
        return -1;
    }
    memcpy(user, user_group, ulen);
    user[ulen] = '\0';
    errno = 0;
    pw = getpwnam(user);
    if (pw == NULL && parse_id(user, &num) == 0)
        pw = getpwuid((uid_t)num);
    if (pw == NULL) {
        snprintf(msg, msg_len, "unknown user '%s'", user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon != NULL) {
        struct group *gr = getgrnam(colon + 1);
        if (gr == NULL && parse_id(colon + 1, &num) == 0)
            gr = getgrgid((gid_t)num);
        if (gr == NULL) {
            snprintf(msg, msg_len, "unknown group '%s'", colon + 1);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    /* The user's supplementary groups, as login would set them, plus the chosen gid. */
    (void)getgrouplist(pw->pw_name, *gid, NULL, &n); /* sizes the list; -1 is expected */
    list = malloc(sizeof(gid_t) * (size_t)(n + 1));
    if (list == NULL) {
        snprintf(msg, msg_len, "out of memory");
        return -1;
    }
    if (getgrouplist(pw->pw_name, *gid, list, &n) == -1) {
        free(list);
        snprintf(msg, msg_len, "cannot list the groups of '%s'", user);
        return -1;
    }
    *groups = list;
    *ngroups = (size_t)n;
    return 0;
}

int spawn_detach_self(int *notify_fd)
{
    int p[2];
    pid_t mid;

    if (pipe2(p, O_CLOEXEC) == -1)
        return -1;
    mid = fork();
    if (mid == -1) {
        fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        return -1;
    }
    if (mid > 0) {
        /* The caller: wait for the daemon's verdict on the pipe. */
        char buf[1024];
        size_t len = 0;
        ssize_t n;
        int status;
        (void)close(p[1]);
        while ((n = fd_read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
            len += (size_t)n;
            if (len == sizeof(buf) - 1)
                break;
        }
        while (waitpid(mid, &status, 0) == -1 && errno == EINTR)
            ;
        if (len > 0 && buf[0] == '\0')
            _exit(0);
        buf[len] = '\0';
        if (len == 0)
            fputs("tend: the supervisor exited during start-up\n", stderr);
        else
            fputs(buf, stderr);
        _exit(1);
    }
    (void)close(p[0]);
    if (setsid() == -1)
        _exit(1); /* cannot happen: a fresh child is never a group leader */
    mid = fork();
    if (mid == -1) {
        spawn_detach_fail(p[1], "tend: cannot fork the daemon\n");
        _exit(1);
    }
    if (mid > 0)
        _exit(0);
    *notify_fd = p[1];
    return 0;
}

void spawn_detach_ready(int notify_fd)
{
    (void)fd_write_all(notify_fd, "", 1); /* if the caller is gone, nobody needs to know */
    fd_close_quiet(notify_fd);
}

void spawn_detach_fail(int notify_fd, const char *msg)
{
    (void)fd_write_all(notify_fd, msg, strlen(msg)); /* as above */
    fd_close_quiet(notify_fd);
}
