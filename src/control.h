/* control: the supervisor's side of the control socket (protocol: doc/protocol.md). A unix
 * stream socket, created with a restrictive umask around bind; every peer's uid is checked
 * with SO_PEERCRED (root, tend's own uid, or a member of the configured group). Each
 * connection carries one request; it is read without blocking into a bounded buffer, with a
 * deadline, so a client that sends garbage, too much, or nothing cannot stall the loop.
 * start/stop/restart answer when every named process reached its state or failed. */
#ifndef TEND_CONTROL_H
#define TEND_CONTROL_H

#include <stddef.h>

struct supervisor;
struct control;

/* Seconds a client has to send its request line, and to take a reply that is stuck. */
#define CONTROL_REQUEST_TIMEOUT_S 10
#define CONTROL_WRITE_TIMEOUT_S 30
/* Connections served at once; further ones are told `err busy` and closed. */
#define CONTROL_MAX_CONNS 512

/* Creates the socket at the path from [tend] socket= (or the default), listens, and
 * registers with the supervisor's loop; or, with inherited_fd != -1, takes over the
 * listening socket a previous supervisor made. The same for tend-web's socket (websock.h)
 * and inherited_web_fd. NULL with a one-line message in err. */
struct control *control_open(struct supervisor *sup, int inherited_fd, int inherited_web_fd,
                             char *err, size_t err_len);
/* The listening sockets (to hand over to the keeper); tend-web's: -1 if there is none. */
int control_fd(const struct control *c);
int control_web_fd(const struct control *c);
/* control_close will leave the socket file in place (an upgrade: the next supervisor
 * listens on the same socket). */
void control_keep_socket(struct control *c);
/* Closes every connection and the socket, and removes the socket file. */
void control_close(struct control *c);
const char *control_path(const struct control *c);

#endif
