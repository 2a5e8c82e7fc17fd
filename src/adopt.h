/* adopt: programs that daemonize themselves (pidfile=). After the launcher is spawned, the
 * pidfile's directory is watched (inotify, plus a deadline) until a valid pidfile names the
 * daemon. A pid is adopted only when the process is alive and started no earlier than the
 * launcher (a stale pidfile's reused pid is refused). A daemon that is tend's child is
 * watched through SIGCHLD; anything else through a pidfd, which is also how it is signalled.
 * Every failure is kept as the reason for the FATAL that follows if the wait runs out. */
#ifndef TEND_ADOPT_H
#define TEND_ADOPT_H

#include <stdbool.h>
#include <sys/types.h>

struct service;

/* Sets the service's adoption descriptors and timer to "none"; call once at creation. */
void adopt_init(struct service *svc);

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
