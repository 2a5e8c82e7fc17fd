/* events: supervisord's event listener protocol, for [eventlistener:x] pools.
 *
 * Each [eventlistener:x] is a pool of numprocs listener processes supervised like programs.
 * tend writes events to a listener's stdin and reads the protocol from its stdout (its stderr
 * is captured like any program's):
 *   listener -> tend   "READY\n"                         (ready for one event)
 *   tend -> listener   "ver:3.0 server:supervisor serial:N pool:NAME poolserial:N
 *                       eventname:TYPE len:N\n" then N bytes of payload
 *   listener -> tend   "RESULT 2\nOK" (done) or "RESULT 4\nFAIL" (send it again later)
 * Events are the ones supervisord raises, with its names and payload fields:
 * PROCESS_STATE_* (processname, groupname, from_state, and tries, pid or expected as
 * supervisord gives them), TICK_5/60/3600 (when), SUPERVISOR_STATE_CHANGE_RUNNING/STOPPING.
 *
 * Guarantees: a slow, stuck or dead listener never blocks tend. Writes are non-blocking;
 * each pool buffers at most buffer_size events, and past that the oldest is dropped and the
 * drop logged (supervisord's overflow rule). An event a listener FAILs, or that it held when
 * it died, goes back to the head of its pool's buffer. Nothing wakes tend for events unless
 * a pool subscribes to TICK_*.
 *
 * A supervisor restart (kill -9, crash, upgrade) does not restart a listener: its two
 * protocol pipes are deposited with the keeper and named, with where the protocol stands,
 * in its handover slot (handover.c), which is written at every step of the protocol. The
 * next supervisor takes the listener back where it was. What it cannot know is lost with
 * the old one: the events still buffered in the pools, and the event a listener is working
 * on (its RESULT, or a READY that comes instead, is then taken as the end of it). Only a
 * supervisor that died while an event was being written (a step of a few microseconds, or
 * longer while a listener does not read its stdin) leaves the listener in a state no one
 * can tell: that listener is restarted (daemon.c). */
#ifndef TEND_EVENTS_H
#define TEND_EVENTS_H

#include <stdbool.h>
#include <sys/types.h>

struct supervisor;
struct service;
struct events;

/* Sets up event dispatch for sup (registers its state-change listener). NULL when out of
 * memory or out of listener slots (then no events are sent; logged). */
struct events *events_new(struct supervisor *sup);
void events_free(struct events *ev);

/* tend is up (SUPERVISOR_STATE_CHANGE_RUNNING) / stopping (..._STOPPING). events_stopping
 * also notes whether a program has failed, for tend's exit status. */
void events_running(struct events *ev);
void events_stopping(struct events *ev);

/* A stop signal arrived from sender (signalfd's ssi_pid): note whether one of tend's own
 * programs sent it (a descendant of the supervisor, such as an event listener). */
void events_stop_signal(struct events *ev, pid_t sender);

/* Whether a program asked tend to stop (events_stop_signal) and, when the shutdown began,
 * a program had failed: it was FATAL, or its last exit was unexpected (not in exitcodes,
 * or a signal) and it had not been RUNNING since. tend then exits with status 5. A stop
 * from outside (tend shutdown, SIGTERM from an operator or init) exits 0 as before. */
bool events_program_failed(const struct events *ev);

/* For launch.c, just before spawning svc: a listener gets pipes for its stdin and stdout
 * (any from its previous instance are closed first). *in_fd and *out_fd are replaced by the
 * child's ends and left alone for any other kind. 0, or -1/errno when a pipe cannot be made
 * (the listener then runs without events; logged). */
int events_child_fds(struct service *svc, int *in_fd, int *out_fd);
/* ... and just after: the child's ends are closed here; spawned false drops the pipes. */
void events_after_spawn(struct service *svc, bool spawned);
/* The service is being released: its pipes are closed, an event it held is rebuffered. */
void events_release(struct service *svc);

/* Where a listener's protocol stands, as its handover slot records it. */
enum events_step {
    EVS_NONE = 0, /* no protocol pipes (not a listener, or between instances) */
    EVS_ACK,      /* waiting for READY */
    EVS_READY,    /* may be sent an event */
    EVS_BUSY,     /* an event was written whole: waiting for its RESULT */
    EVS_SENDING,  /* an event is being written: how much of it arrived is unknown */
};
/* For handover.c: the listener's pipes (fds[0] the read end of its stdout, fds[1] the
 * write end of its stdin; -1 when none) and its step. */
enum events_step events_handover(const struct service *svc, int fds[2]);
/* For handover.c, restoring a listener whose process was taken back: its pipes (ours now)
 * and step. 0, or -1 (EVS_SENDING, an unknown step, or no memory): the caller closes the
 * pipes, and the listener is restarted. */
int events_take_back(struct service *svc, const int fds[2], int step);

#endif
