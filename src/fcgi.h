/* fcgi: the listening socket of an [fcgi-program:x], as supervisord provides it. tend binds
 * socket= (tcp://HOST:PORT, or unix:///PATH with socket_owner and socket_mode) once, before
 * the program's first instance starts, and every one of its numprocs instances gets it as
 * its stdin (fd 0). The socket stays bound while instances die and restart, so a client is
 * never refused meanwhile: connections wait in the backlog for the next accept().
 *
 * It also outlives the supervisor: it is deposited with the keeper, and a supervisor that
 * restarts (kill -9, tend upgrade) finds it again among the descriptors it inherits, by its
 * address. It is closed (and a unix socket's file removed) only when the program is removed
 * or tend stops. */
#ifndef TEND_FCGI_H
#define TEND_FCGI_H

#include <stddef.h>

struct service;

/* For svc_new: a supervisor continuing a previous one takes back the program's inherited
 * socket, before handover_restore_done closes what nobody claimed. */
void fcgi_attach(struct service *svc);
/* For launch.c: an [fcgi-program:x] instance's stdin, binding the socket if it is not yet.
 * *in_fd is left alone for other programs. 0, or -1 with the reason in err (the instance
 * cannot start: FATAL with that reason). */
int fcgi_child_fd(struct service *svc, int *in_fd, char *err, size_t err_len);
/* For svc_release: the service goes; the last one of its program closes the socket (but
 * keeps it with the keeper when the supervisor leaves for an upgrade). */
void fcgi_detach(struct service *svc);

#endif
