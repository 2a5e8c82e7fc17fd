/* preflight: what `tend daemon` checks about its own settings before it creates anything,
 * shared with `tend check`, so that check reports every start-up problem that can be found
 * without privilege and without side effects. */
#ifndef TEND_PREFLIGHT_H
#define TEND_PREFLIGHT_H

#include <stddef.h>

struct config;
struct config_diags;

/* Judges an existing directory meant to hold the control socket (or the runtime directory).
 * Symlinks on the way are followed, but each one must be owned by root or by us and sit in a
 * directory others cannot write into (unless it is sticky): then only root or we can turn
 * it elsewhere. The directory reached must be ours or root's and not writable by others
 * (unless sticky, like /tmp). Returns 0 when it is acceptable, 1 when it does not exist
 * (ENOENT), -1 with a one-line message in err otherwise. */
int preflight_socket_dir(const char *dir, char *err, size_t err_len);

/* Checks the [tend] settings of cfg as start-up would use them: the socket's directory and
 * path length, socket_group, socket_owner, user, directory, and the directories of the
 * pidfile and the log file. Appends an error per problem to diags (at the [tend] section's
 * line) and returns -1 if there was any, else 0. Creates nothing. */
int preflight_tend(const struct config *cfg, struct config_diags *diags);

#endif
