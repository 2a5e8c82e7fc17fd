/* launch: starting one instance of a service. Prepares everything the child needs in the
 * supervisor (environment, program path, user and groups, the capture pipes), starts it
 * through spawn_run (clone with CLONE_VM|CLONE_VFORK: the outcome is known when it returns),
 * and turns that outcome into the state machine's EXEC_OK or EXEC_FAILED (with the stage and
 * errno). A failure before the clone (program not found, unknown user) is an EXEC_FAILED
 * too, so it becomes a clear FATAL reason rather than a crash loop. No process could be
 * made at all: EV_FORK_FAILED with the clone's errno (EAGAIN: a process or pids limit;
 * ENOMEM), logged as "PROGRAM: cannot create a process: ...".
 *
 * Spawns are queued and served in bounded slices between the loop's other events (see
 * launch.c), so that thousands of spawns never keep tend from answering. */
#ifndef TEND_LAUNCH_H
#define TEND_LAUNCH_H

#include <stddef.h>

#include "loop.h"

struct service;
struct supervisor;

/* The services waiting for their spawn, in order (embedded in struct supervisor). */
struct launch_queue {
    struct service *head, *tail;
    size_t len;
    struct loop_wake wake; /* set while more than LAUNCH_SOON_MAX are queued */
    struct loop_wake soon; /* urgent: set while 1 to LAUNCH_SOON_MAX are queued */
};

/* A queue this short (a restart or a few) is served as urgently as the reap: before the
 * next ordinary event, not after a whole batch of them (64 status requests of polling
 * clients took 120 ms). A longer one, a mass restart, is served a slice a turn in batch
 * order, so that the control socket keeps answering. */
#define LAUNCH_SOON_MAX 4

/* Sets up the queue (after loop_init). 0 or -1/errno. */
int launch_init(struct supervisor *sup);
void launch_fini(struct supervisor *sup);

/* Queues the spawn of the service's next instance (the state machine asked for it; it stays
 * STARTING without a deadline until then). Every outcome goes through sup_apply when its
 * turn comes. During shutdown nothing is spawned. */
void launch_spawn(struct service *svc);

/* The service goes away, or no longer wants its queued spawn: takes it off the queue. */
void launch_forget(struct service *svc);

#endif
