/* health: a process's health check (healthcheck= tcp:HOST:PORT | http://HOST:PORT/PATH |
 * exec:COMMAND), run inside the event loop without ever blocking it. Every step is
 * non-blocking and every check in flight has a loop timer for its timeout, so a hanging
 * endpoint or a stuck command delays nothing else. The module only observes and reports:
 * after each completed check it calls the owner's callback with the verdict and the number
 * of consecutive failures; deciding to restart (after healthcheck_retries) is the
 * supervisor's job (health_should_restart makes it a one-liner).
 *
 * Schedule: health_start (the process was started) -> first check healthcheck_grace seconds
 * later (at once when the grace is 0) -> each following check healthcheck_interval seconds
 * after the previous one completed, so checks never overlap even when timeout > interval.
 *
 * Hosts are never looked up by name: a DNS query can take many seconds and tend has one
 * thread. TCP and HTTP checks accept a numeric IPv4 or IPv6 address, or "localhost" (taken as
 * 127.0.0.1). Any other name disables the check (no callbacks, health_last_error says why)
 * rather than wrongly failing and restarting a healthy service; health_validate lets config
 * checking turn it into a FILE:LINE error instead.
 *
 * Exec checks run argv directly (no shell) in a new process group, with tend's environment
 * plus the program's environment=, in the program's directory=, as tend's user; stdin is
 * /dev/null and stdout+stderr go to a pipe whose first line becomes part of a failure reason.
 * At the timeout the whole group is killed with SIGKILL. With cgroups (health_use_cgroups)
 * each check runs in a cgroup of its own, and whatever the check leaves behind when it exits
 * or is killed, even a child that left its process group (setsid), is killed with SIGKILL;
 * without cgroups, what is left in its process group. The supervisor reaps every child
 * with waitpid(-1), so this module never waits: the supervisor hands each reaped pid to
 * health_reaped. (A pidfd would tell us of the exit without reaping, but the exit status
 * would then be racing the supervisor's waitpid(-1); one reaper and one path are simpler.)
 * The child stays unreaped until then, so its pid and process group id cannot be reused and
 * killing the group by number is safe.
 *
 * Reentrancy: the callback is only ever called from the loop's own dispatch (a timer or an
 * fd event), never from inside a health_* call, and it may call any health_* function,
 * including health_free, on the object that called it. */
#ifndef TEND_HEALTH_H
#define TEND_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "loop.h"

struct health;

/* After each completed check. reason is a short text valid during the call only: for a
 * failure "connection refused", "timeout after 5s", "HTTP 500", "malformed response",
 * "connection closed before a status line", "exit status 1: <first output line>",
 * "killed by signal 15 (TERM)", "cannot execute X: No such file or directory"...; for a
 * success "connected", "HTTP 200" or "exit status 0". consecutive_failures is 0 after a
 * success. */
typedef void health_result_fn(void *ctx, bool ok, int consecutive_failures, const char *reason);

/* A stopped health check for conf's healthcheck* fields (HEALTH_NONE gives an inert object).
 * conf is copied: it need not outlive the call. Never NULL (allocation failure aborts). */
struct health *health_new(struct loop *loop, const struct proc_conf *conf, health_result_fn *cb,
                          void *ctx);

/* 0 when conf's health check can run, else -1 with a one-line explanation in msg (for
 * `tend check` and reload diagnostics). Never blocks: no name lookup. */
int health_validate(const struct proc_conf *conf, char *msg, size_t msg_len);

/* The process started: forget the previous verdict and failure count and schedule the first
 * check after the grace period. Restarts the schedule if already started. */
void health_start(struct health *h);

/* The process stopped (or is stopping): cancel the schedule, abort a check in flight (its fd
 * is closed at once, an exec check's process group is killed with SIGKILL), and forget the
 * verdict. No callback follows. A killed exec child still belongs to h until health_reaped
 * accounts for it. */
void health_stop(struct health *h);

/* Applies a new config (copied). When the target (kind, host, port, path, command,
 * environment, directory) changed, the check in flight is aborted and the verdict and count
 * are forgotten; interval, timeout, retries and grace apply from the next scheduled check
 * either way. */
void health_reconfigure(struct health *h, const struct proc_conf *conf);

/* For the supervisor's waitpid(-1) loop: returns true when pid is an exec check child of h
 * (running or killed) and accounts for its exit; false, doing nothing, otherwise. The
 * verdict is delivered from the loop right after, not from inside this call (unless arming
 * that zero-delay timer fails for lack of memory). */
bool health_reaped(struct health *h, pid_t pid, int wait_status);

/* The unreaped exec check child of h (the running one first, else one killed by
 * health_stop or health_reconfigure), or 0: for a supervisor that maps pids to owners. */
pid_t health_child_pid(const struct health *h);

/* "" (no check configured, or not started), "starting" (started, and no check has passed
 * yet while the failures, if any, are fewer than healthcheck_retries: the grace period and
 * a slow start), "ok", or "failing" (the last completed check failed). */
const char *health_state(const struct health *h);
/* The reason of the most recent failed check, or why the check is disabled; "" if none.
 * Survives health_stop/health_start, so a status line can say why a process was restarted. */
const char *health_last_error(const struct health *h);
/* Consecutive failed checks since the last success or health_start. */
int health_failures(const struct health *h);
/* True once the consecutive failures reach healthcheck_retries (at least 1). */
bool health_should_restart(const struct health *h);

/* Stops (as health_stop) and frees h. Safe inside any loop callback, including h's own: the
 * memory is released after the current batch of events. An exec child that is still running
 * is killed and forgotten: the supervisor's waitpid(-1) then reaps it as an unknown pid.
 * NULL is fine. */
void health_free(struct health *h);

/* Where exec checks get their cgroups (cgroup.c); NULL or never called: none, only the
 * process group. Applies to checks started after the call. */
void health_use_cgroups(struct cgroup_tree *t);

#endif
