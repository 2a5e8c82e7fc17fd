/* proc: the per-process state machine, as supervisord documents it. Pure policy: it takes
 * an event (start/stop request, exec succeeded, exec failed at a stage, fork failed, exited
 * with a wait status, deadline reached) and the monotonic time, updates the process record
 * and says what to do (spawn, send a signal, the new deadline, a line to log). It makes no
 * system call, which is what lets unit tests drive it with synthetic events and a fake clock.
 *
 *   STOPPED/EXITED/FATAL --start--> STARTING --startsecs, exec ok--> RUNNING
 *   STARTING --exit--> BACKOFF --delay--> STARTING ... after startretries: FATAL
 *   STARTING --exec failed--> FATAL (the reason names the failing stage and errno)
 *   STARTING --shortage--> BACKOFF --delay--> STARTING ... as long as it lasts, uncounted
 *   RUNNING --exit--> EXITED, then STARTING at once per autorestart/exitcodes
 *   STARTING/RUNNING --stop--> STOPPING --exit--> STOPPED; --stopwaitsecs--> SIGKILL */
#ifndef TEND_PROC_H
#define TEND_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum proc_state {
    PROC_STOPPED,
    PROC_STARTING,
    PROC_RUNNING,
    PROC_BACKOFF,
    PROC_STOPPING,
    PROC_EXITED,
    PROC_FATAL,
    PROC_UNKNOWN,
};

enum proc_event_kind {
    EV_START,        /* autostart or a user's start */
    EV_STOP,         /* a user's stop, reload removal, shutdown */
    EV_EXEC_OK,      /* the report pipe closed without a record */
    EV_EXEC_FAILED,  /* the child reported {stage, err}: permanent until the config changes */
    EV_FORK_FAILED,  /* fork/pipe failed in tend (err): transient, retried with backoff */
    EV_EXITED,       /* the process was reaped with wait status `status` */
    EV_TIMER,        /* the process's deadline was reached */
    EV_HEALTH_FAILED,/* its health check failed healthcheck_retries times: restart it as if
                      * it had crashed (counted, backed off in a crash loop) */
    EV_READY,        /* readiness= other than startsecs: the process said or showed it is
                      * ready (READY=1, its first passing health check, its port accepting) */
    EV_EXTEND_TIMEOUT, /* EXTEND_TIMEOUT_USEC=: the start (or stop) may take extend_ns more */
    EV_SHORTAGE,     /* the spawn failed for want of a resource (err: EAGAIN, ENOMEM,
                      * EMFILE, ENFILE; what: the step that failed): wait and retry, without
                      * counting against startretries (see PROC_SHORTAGE_*) */
};

/* The wait status of a process whose status tend could not have: one watched through a
 * pidfd only (a daemon adopted from its pidfile: its status went to its own parent), or one
 * whose status a killed supervisor took with it. Never a valid wait status (those fit in 16
 * bits). */
#define PROC_STATUS_UNKNOWN (-2)

struct proc_event {
    enum proc_event_kind kind;
    int status;       /* EV_EXITED: wait status, or PROC_STATUS_UNKNOWN */
    int stage;        /* EV_EXEC_FAILED: enum spawn_stage */
    int err;          /* EV_EXEC_FAILED, EV_FORK_FAILED: errno */
    const char *what; /* EV_EXEC_FAILED: human words for the stage; with err 0, the whole
                       * reason (e.g. a pidfile that never appeared). EV_SHORTAGE: the step
                       * that failed ("fork", "create its output pipes") */
    bool oom;         /* EV_EXITED: the OOM killer killed in its cgroup meanwhile */
    uint64_t extend_ns; /* EV_EXTEND_TIMEOUT: from now */
};

/* What the supervisor must do after an event, in this order: signal, then spawn. */
struct proc_effects {
    bool spawn;
    int signal;          /* 0: none */
    bool signal_group;   /* to the process group rather than the process */
    enum proc_state from, to;
    bool exited;          /* a RUNNING process exited (it passed through EXITED) */
    bool unexpected_exit; /* ... with a status not in exitcodes */
    bool crash_loop_entered;
    bool crash_loop_exited;
    bool oom;             /* the exit was the OOM killer's doing */
    bool shortage_entered; /* it began waiting for a resource (EV_SHORTAGE) */
    bool shortage_exited;  /* ... and a spawn got past the shortage: the resource is back */
    char msg[256];       /* one line for tend's log, "" when nothing worth saying */
};

/* Crash loops: a RUNNING process that dies within PROC_CRASH_RUN_S of its start counts as a
 * crash. From the PROC_CRASH_LOOP_AFTER-th crash in a row on, restarts wait in BACKOFF for
 * 1 s, 2 s, 4 s ... up to PROC_CRASH_BACKOFF_MAX_S. Staying up PROC_CRASH_RUN_S ends it. */
#define PROC_CRASH_RUN_S 10
#define PROC_CRASH_LOOP_AFTER 3
#define PROC_CRASH_BACKOFF_MAX_S 60

/* Resource shortages (EV_SHORTAGE): a fork that fails with EAGAIN (a pids cgroup limit,
 * RLIMIT_NPROC) or ENOMEM, or a descriptor table that is full (EMFILE, ENFILE), is not the
 * program's fault. The process waits in BACKOFF, its reason saying for what, and retries
 * after PROC_SHORTAGE_FIRST_MS, doubling up to PROC_SHORTAGE_MAX_MS, for as long as it takes;
 * startretries, the crash count and the restart count are left alone. The first spawn that
 * gets past the failing step (exec confirmed, or a failure of another kind) ends it. */
#define PROC_SHORTAGE_FIRST_MS 500
#define PROC_SHORTAGE_MAX_MS 30000

/* A reason is at most PROC_REASON_MAX - 1 bytes (longer ones are cut). */
#define PROC_REASON_MAX 200

/* The fields are ordered by size, so that the record has no padding between them, and the
 * flags take a bit each: tend keeps one per program (80 bytes on LP64, checked in proc.c). */
struct proc {
    struct proc_conf *conf;   /* owned; replaced on reload */
    char *reason;             /* why FATAL / the last failure (proc_set_reason, proc_reason):
                               * malloc'd, NULL for none, or a static message when memory ran
                               * out (proc_release knows it) */
    uint64_t start_ns;        /* monotonic time of the last spawn */
    uint64_t deadline_ns;     /* 0: no deadline; the supervisor mirrors it into a timer */
    uint64_t last_run_ns;     /* how long the last instance ran */
    enum proc_state state;
    pid_t pid;                /* 0 when none */
    int backoff;              /* failed starts in a row */
    unsigned restarts;        /* automatic restarts since tend started it */
    pid_t last_pid;           /* the pid of the last instance, kept after it exited */
    int crashes;              /* RUNNING runs in a row shorter than PROC_CRASH_RUN_S */
    int last_status;          /* wait status of the last exit; -1: none yet */
    int shortage_err;         /* the errno of the shortage it waits out (EV_SHORTAGE), 0: none */
    int shortage_tries;       /* spawns that failed for it in a row */
    bool exec_ok : 1;         /* the current instance's exec succeeded */
    bool start_elapsed : 1;   /* startsecs have passed for the current instance */
    bool pending_start : 1;   /* start again once STOPPING ends (restart) */
    bool pending_auto_restart : 1; /* ... as an automatic restart (health), not a user's */
    bool crash_loop : 1;      /* crashes >= PROC_CRASH_LOOP_AFTER: restarts back off */
    bool last_oom : 1;        /* the last exit was for want of memory */
    /* readiness= other than startsecs: STARTING lasts until the process is ready (and its
     * exec confirmed), for at most startwaitsecs; then RUNNING means "ready". */
    bool ready_seen : 1;      /* EV_READY came for the current instance */
    bool pending_start_failed : 1; /* stopping an instance that was not ready in time: its
                                    * exit is a failed start (backoff, then FATAL) */
};

void proc_init(struct proc *p, struct proc_conf *conf);
/* Frees what the record holds besides its conf (its reason). */
void proc_release(struct proc *p);
void proc_handle(struct proc *p, const struct proc_event *ev, uint64_t now_ns,
                 struct proc_effects *fx);

/* A start made at now: startsecs (or startwaitsecs, with a readiness other than startsecs)
 * count from now, and the deadline follows (0 when there is none). Called at the decision
 * and again at the real spawn when that came later (queued, or deferred for leftovers). */
void proc_start_clock(struct proc *p, uint64_t now);
/* The reason (printf format), cut at PROC_REASON_MAX - 1 bytes. */
void proc_set_reason(struct proc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Why FATAL / the last failure, "" if none. */
const char *proc_reason(const struct proc *p);
/* Whether the process waits for a readiness signal rather than startsecs. */
bool proc_waits_ready(const struct proc *p);

const char *proc_state_name(enum proc_state s);
/* "exit 3" or "signal 9 (SIGKILL)"; writes into buf and returns it. */
const char *proc_describe_status(int status, char *buf, size_t len);
/* Whether a process in this state counts as alive for `tend status`, stop waits etc. */
bool proc_has_process(const struct proc *p);
/* Whether errno err is a shortage of a resource (EAGAIN, ENOMEM, EMFILE, ENFILE). */
bool proc_err_is_shortage(int err);
/* What ran out, in words, for an errno of proc_err_is_shortage: "free process slots",
 * "memory", "file descriptors (tend's RLIMIT_NOFILE)" ...; NULL for any other errno. */
const char *proc_shortage_resource(int err);
/* The same as one word, for status --json: "processes", "memory", "nofile", "file-max". */
const char *proc_shortage_name(int err);

#endif
