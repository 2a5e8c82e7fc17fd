/* sdnotify: tend's own readiness notifications to the service manager that started it
 * (systemd's Type=notify protocol: datagrams of KEY=VALUE lines to $NOTIFY_SOCKET).
 *
 * Without $NOTIFY_SOCKET every function does nothing. Sending never blocks and a failure is
 * ignored: the manager being gone, or slow, must never hold the supervisor up. The
 * variables are removed from tend's environment at start-up so that no supervised program
 * inherits them and speaks in tend's name. */
#ifndef TEND_SDNOTIFY_H
#define TEND_SDNOTIFY_H

struct supervisor;

/* Start-up is done: reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, sends
 * READY=1 with a STATUS= line once every autostart program reached its first steady state
 * (RUNNING, i.e. ready; EXITED; FATAL; or waiting for a dependency that cannot come), arms the watchdog pings (WATCHDOG=1 at half of
 * WATCHDOG_USEC, from the event loop's timers, when WATCHDOG_PID is unset or ours) and keeps
 * STATUS= up to date as processes change state (at most every SDNOTIFY_STATUS_MS). Call it
 * before the first program is spawned. */
void sdnotify_ready(struct supervisor *sup);
/* Around a reload: RELOADING=1 with MONOTONIC_USEC=, then READY=1 with a fresh STATUS=. */
void sdnotify_reloading(void);
void sdnotify_reloaded(void);
/* The shutdown has begun: STOPPING=1. */
void sdnotify_stopping(void);

#define SDNOTIFY_STATUS_MS 200
/* READY=1 at the latest this long after start-up, steady or not (below systemd's default
 * TimeoutStartSec of 90 s), with a warning in tend's log. */
#define SDNOTIFY_READY_MAX_S 60

#endif
