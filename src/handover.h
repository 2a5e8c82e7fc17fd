/* handover: the supervisor's side of the keeper (keeper.h). Everything a new supervisor needs
 * to continue where a dead one stopped lives in two places the keeper holds:
 *
 * - the deposited descriptors (each capture pipe's two ends, the listening control socket),
 *   held by the keeper at the numbers the supervisor uses, and inherited by the next one;
 * - the state: a memfd mapped shared, one fixed-size slot per service (its name's hash,
 *   state, pid and the window its start time must fall in, launcher, restarts, crash
 *   counters, deadline, descriptor numbers). A slot is double-buffered: the spare copy is
 *   written whole, then one aligned store flips it in, so a supervisor killed at any
 *   instruction leaves every slot consistent. Saving is a memory copy: no system call.
 *
 * A new supervisor restores each service from its slot: a process whose start time still
 * falls in the recorded window is the same process and is watched again (through a pidfd;
 * its exit status comes from the keeper, which is now its parent); one that is gone is
 * given the exit status the keeper reaped, or an unknown status if there is none.
 * Descriptors nobody claims are closed and released. Without a keeper (fd -1) every call
 * is a no-op, so the supervisor runs the same way. */
#ifndef TEND_HANDOVER_H
#define TEND_HANDOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct loop;
struct supervisor;
struct service;
struct handover;

/* At start-up, before any service: connects to the keeper (keeper_fd, or -1 for none) and
 * maps the state inherited from a previous supervisor (state_fd), or creates and deposits a
 * new one (state_fd -1). -1/errno when the state cannot be created or is unusable. */
struct handover *handover_open(struct supervisor *sup, int keeper_fd, int state_fd);
/* Whether this supervisor continues a previous one's state. */
bool handover_restoring(const struct handover *h);
/* The listening control socket inherited from the previous supervisor, or -1. */
int handover_control_fd(const struct handover *h);
/* Deposits the listening control socket and records its number. */
void handover_set_control_fd(struct handover *h, int fd);
/* Tell the keeper: start-up is done / an orderly stop began / I exit for an upgrade
 * (returns once the keeper has stopped reaping, with every exit before that applied). */
void handover_ready(struct handover *h);
/* The config in force (confsnap.h): the record a previous supervisor left in the state at
 * state_fd, or -1. Before handover_open, so that the config can be loaded from it. */
int handover_peek_config_fd(int state_fd);
/* tend-web's listening socket (websock.h) a previous supervisor left, or -1: peeked before
 * the config is loaded (tend-web's environment names its address), then taken back. */
int handover_peek_web_fd(int state_fd);
/* Deposits tend-web's listening socket (-1: none) and records its number. */
void handover_set_web_fd(struct handover *h, int fd);
/* The ring holding capture pipes past the descriptor limit (fdring.h): deposited with the
 * keeper, and named in the state, so that the next supervisor adopts it. */
void handover_set_ring(struct handover *h, int fd, unsigned slots);
/* Restoring: adopts the ring the previous supervisor left, before the programs are attached
 * (their pipes in it are claimed then). 0 (also when there is none), or -1/errno when it is
 * there but cannot be used (then it is closed, and logged). */
int handover_adopt_ring(struct handover *h, struct loop *loop);
/* Makes fd (a confsnap record, ours) the config in force: the keeper holds it, the previous
 * record is released and closed. Without a handover, fd is closed. 0 or -1/errno. */
int handover_set_config_fd(struct handover *h, int fd);
void handover_stopping(struct handover *h);
int handover_upgrade(struct handover *h);
/* Whether the supervisor before this one left for an upgrade (it marks the state once the
 * keeper has agreed); clears the mark. False after a crash, and after a supervisor of a
 * version that does not mark. */
bool handover_take_upgrade_mark(struct handover *h);
/* The keeper's pid, 0 when there is none or it is gone. */
pid_t handover_keeper_pid(const struct handover *h);
/* Whether the keeper died under this supervisor (the safety net is gone). */
bool handover_keeper_lost(const struct handover *h);
/* Supervisors started by this keeper so far (1: the first). */
unsigned handover_generation(const struct handover *h);
void handover_set_generation(struct handover *h, unsigned generation);
void handover_close(struct handover *h);

/* The state file beside the control socket (SOCKET.state): for a cold start, when keeper and
 * supervisor were both killed, a new tend adopts the programs they left running instead of
 * starting duplicates (identity: pid, start time, command name). Reads it (a fresh start
 * only), then keeps it up to date. Call before any service is attached. */
void handover_state_file(struct handover *h, const char *socket_path);
/* An orderly stop: nothing is left running, so the file goes. */
void handover_remove_state_file(struct handover *h);

/* Per service: gives it a slot (its previous one, when restoring). Restoring also takes
 * back the process, the policy counters and the capture pipes. 0, or -1/ENOMEM. */
int handover_attach(struct service *svc);
/* Writes the service's slot again after a change, depositing new capture pipes first. */
void handover_save(struct service *svc);
/* Around a spawn: the window in which the child's start time must fall. note[] gets where
 * the child stores its own pid (spawn_spec.note_pid): the slot's pid, and its launcher's in
 * pidfile mode; NULL without a slot. */
void handover_spawn_begin(struct service *svc, volatile int32_t *note[2]);
void handover_spawn_end(struct service *svc);
/* The service is going away: its slot is freed and its pipes released. */
void handover_forget(struct service *svc);
/* After every service is attached: services that were restored without their process get
 * its exit (from the keeper's records), slots of programs no longer in the config have
 * their process stopped, and unclaimed descriptors are released. */
void handover_restore_done(struct supervisor *sup);

/* A descriptor that is no service slot's (fcgi.c's listening sockets): deposited, the keeper
 * holds it at its number, and a supervisor that restarts inherits it there without
 * close-on-exec; it claims it (sets FD_CLOEXEC) before handover_restore_done, which closes
 * whatever nobody claimed. Released when it is closed for good. No-ops without a keeper. */
void handover_deposit(struct handover *h, int fd);
void handover_release(struct handover *h, int fd);

#endif
