/* notify: the sd_notify protocol spoken by supervised programs (readiness=notify, or
 * watchdogsecs=). Each such service has its own datagram socket, named in its environment as
 * NOTIFY_SOCKET (with WATCHDOG_USEC when watchdogsecs= is set), on which it sends newline-
 * separated KEY=VALUE lines: READY=1, STATUS=, MAINPID=, RELOADING=1, STOPPING=1,
 * EXTEND_TIMEOUT_USEC=, WATCHDOG=1 (and WATCHDOG=trigger, WATCHDOG_USEC=).
 *
 * Trust: a datagram is believed only when the kernel's credentials (SO_PASSCRED) name the
 * service's main process or a process of its tree (its cgroup, else its process group or
 * descendants) that is not another service's main process. A datagram over NOTIFY_MAX_BYTES,
 * one with a NUL or control byte or a line without '=', or beyond NOTIFY_RATE per second,
 * is dropped whole and changes nothing. Descriptors passed along are closed unread.
 *
 * The socket has an abstract name, "@tend/notify/KEEPERPID/NAME": no file to clean up, no
 * permission to grant to a program that runs as another user (the credentials check is the
 * gate), and stable across supervisor restarts, so a restarted supervisor binds the same
 * name again and programs keep talking to it (a datagram sent while no supervisor listened
 * is lost: the sender got ECONNREFUSED). */
#ifndef TEND_NOTIFY_H
#define TEND_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct service;
struct proc_effects;
struct notify;

#define NOTIFY_MAX_BYTES 4096
#define NOTIFY_RATE 100

/* Whether svc's config asks for a notify socket. */
bool notify_wanted(const struct service *svc);
/* Makes svc->notify match the config: binds the socket when wanted and missing, closes it
 * when no longer wanted, and (re)arms the watchdog of a RUNNING process. Before a spawn and
 * after a supervisor restart. Failure is logged: the program then starts without
 * NOTIFY_SOCKET and a readiness=notify start times out. */
void notify_sync(struct service *svc);
/* Environment entries for a child ("NOTIFY_SOCKET=@...", "WATCHDOG_USEC=..."): stores up
 * to 2 pointers (valid while n lives) into out and returns how many. n may be NULL. */
size_t notify_env(const struct notify *n, char **out);
/* After each state-machine step: arms the watchdog when the process becomes RUNNING,
 * disarms it when it stops; forgets STATUS= when an instance ends. */
void notify_after_apply(struct service *svc, const struct proc_effects *fx);
/* The last STATUS= of the current instance, "" if none; and the protocol flags. */
const char *notify_status(const struct notify *n);
void notify_free(struct notify *n);

#endif
