/* launch: starting one instance of a service. Prepares everything the child needs in the
 * supervisor (environment, program path, user and groups, the capture pipes), forks through
 * spawn.c, and turns the child's report pipe into the state machine's EXEC_OK or EXEC_FAILED
 * (with the stage and errno). A failure before the fork (program not found, unknown user) is
 * an EXEC_FAILED too, so it becomes a clear FATAL reason rather than a crash loop. */
#ifndef TEND_LAUNCH_H
#define TEND_LAUNCH_H

struct service;

/* Spawns the service's next instance (the state machine asked for it). Every outcome goes
 * through sup_apply, possibly before this returns. During shutdown nothing is spawned. */
void launch_spawn(struct service *svc);

/* Reads the report pipe of an instance whose exec is unconfirmed: EOF means the exec
 * happened, a record means it failed at a stage. Nothing yet (EAGAIN): nothing changes. */
void launch_read_report(struct service *svc);

/* Stops watching and closes the report pipe, if open. */
void launch_close_report(struct service *svc);

#endif
