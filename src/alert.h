/* alert: runs the user's alert commands ([alert] sections and per-program on_event=) on the
 * events they subscribe to — the article's SMS hook, done so that it can never hurt
 * supervision. Commands run asynchronously as tend's children (/bin/sh -c), with the event's
 * facts in their environment (TEND_EVENT, TEND_PROGRAM, TEND_GROUP, TEND_PROCESS, TEND_PID,
 * TEND_EXIT_STATUS, TEND_SIGNAL, TEND_RESTARTS, TEND_UPTIME, TEND_HOST, TEND_TIME,
 * TEND_REASON, TEND_SUPPRESSED) and a one-line summary on stdin. A command that hangs is
 * killed at its timeout; a failing one is logged and never retried. A command is its whole
 * process tree: with cgroups (alerts_use_cgroups) each runs in a cgroup of its own, and what
 * it leaves behind when it exits or is killed at its timeout, even a child that left its
 * process group (setsid), is killed with SIGKILL; without cgroups, what is left in its
 * process group. Each alert is
 * rate-limited per program: past `rate`, events are counted and the count goes out with the
 * next alert that is sent. */
#ifndef TEND_ALERT_H
#define TEND_ALERT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "loop.h"

/* At most this many alert commands run at once; further events are dropped and counted. */
#define ALERT_MAX_RUNNING 64

struct alerts;

struct alert_event {
    enum config_event event;
    const char *program;
    const char *group;
    const char *process;   /* the display name, "group:name" or "name" */
    const char *on_event;  /* the program's own on_event= command, or NULL */
    pid_t pid;             /* 0 if none */
    int wait_status;       /* -1 if the event is not about an exit */
    unsigned restarts;
    unsigned long long uptime_s;
    const char *reason;    /* "" if none */
};

struct alerts *alerts_new(struct loop *loop);
/* Where commands get their cgroups (cgroup.c); NULL or never called: none. */
void alerts_use_cgroups(struct alerts *a, struct cgroup_tree *t);
/* Points at the alert sections of cfg, which must outlive the next alerts_configure. Rate
 * counters start afresh. */
void alerts_configure(struct alerts *a, const struct config *cfg);
/* Runs every alert that subscribes to e. */
void alerts_fire(struct alerts *a, const struct alert_event *e);
/* If pid is a running alert command, accounts for its exit and returns true. */
bool alerts_reaped(struct alerts *a, pid_t pid, int wait_status);
/* Counters for status and tests. */
unsigned long alerts_sent(const struct alerts *a);
unsigned long alerts_suppressed(const struct alerts *a);
/* Alert commands that failed: a non-zero exit, a signal, or killed at their timeout. */
unsigned long alerts_failed(const struct alerts *a);
/* Frees. Commands still running are left to finish (a STOPPED alert sent during shutdown
 * must not be cut off); they are reparented when tend exits. */
void alerts_free(struct alerts *a);

#endif
