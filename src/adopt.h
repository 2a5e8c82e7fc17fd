/* adopt: programs that daemonize themselves (pidfile=). After the launcher is spawned, the
 * pidfile's directory is watched (inotify, plus a deadline) until a valid pidfile names the
 * daemon. A pid is adopted only when the process is alive and started no earlier than the
 * launcher (a stale pidfile's reused pid is refused). A daemon that is tend's child is
 * watched through SIGCHLD; anything else through a pidfd, which is also how it is signalled.
 * Every failure is kept as the reason for the FATAL that follows if the wait runs out. */
#ifndef TEND_ADOPT_H
#define TEND_ADOPT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "timer.h"

struct service;
struct watcher;

/* What a pidfile program needs besides what every service has: only those get one
 * (svc->adopt, made at the first need and kept until the service is freed; NULL: none). */
struct adoption {
    struct timer timer;        /* how long we wait for a valid pidfile */
    struct watcher *ino_w;     /* inotify on the pidfile's directory while waiting (its fd
                                * is the watcher's), NULL otherwise */
    unsigned long long launcher_ticks; /* the launcher's start time: the daemon cannot be
                                        * older */
    uint64_t lid_lo_ns, lid_hi_ns; /* CLOCK_BOOTTIME window of launcher_pid's start
                                    * (handover.c) */
};

/* Sets the service's adoption descriptors to "none"; call once at creation. */
void adopt_init(struct service *svc);
/* The service's adoption state, made now if it has none (out of memory aborts, as everywhere
 * in tend). */
struct adoption *adopt_state(struct service *svc);
/* Records the CLOCK_BOOTTIME window in which launcher_pid started (handover.c). */
void adopt_launcher_window(struct service *svc, uint64_t lo_ns, uint64_t hi_ns);
/* Frees it (svc_free, after svc_release ended the wait). */
void adopt_free(struct service *svc);

/* Whether the service is a pidfile program. */
bool adopt_pidfile_mode(const struct service *svc);

/* After spawning a pidfile program's launcher: watch for its pidfile, for at most
 * max(startsecs, 5) seconds. */
void adopt_wait_begin(struct service *svc);
/* Stops waiting for the pidfile (inotify and deadline). */
void adopt_wait_end(struct service *svc);
/* Whether it waits for its pidfile (between adopt_wait_begin and adopt_wait_end). */
bool adopt_waiting(const struct service *svc);
/* Reads the pidfile once and adopts the daemon it names if it is valid. */
void adopt_try_pidfile(struct service *svc);

/* Opens a pidfd on pid (which becomes the service's process), checking once the pidfd pins
 * it that its start time is still start_ticks. With `watch`, its exit is then fed to the
 * state machine (with its real status if tend can reap it); without, the pidfd only serves
 * to signal it (the keeper reports its exit). 0, or -1/errno (ESRCH: it is gone). */
int adopt_pidfd_open(struct service *svc, pid_t pid, unsigned long long start_ticks, bool watch);
/* Starts watching a pidfd opened without `watch`. 0 or -1/errno. */
int adopt_pidfd_watch(struct service *svc);
/* Stops watching the pidfd and closes it, if open. */
void adopt_pidfd_end(struct service *svc);

#endif
