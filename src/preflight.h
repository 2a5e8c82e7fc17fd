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

/* [include]: judges a file an include is about to read. Who but root and tend's own user
 * (its effective uid and gid) could change what it says is refused: the file owned by
 * another user, or writable by every user or by a group other than root's or tend's; a
 * directory on its real path owned by another user or in which others may replace entries
 * (writable by them and not sticky); a symlink on the way (as for the socket's directory)
 * owned by another user or in such a directory. Returns 0 when acceptable or when the file
 * cannot be reached (the reader reports that), -1 with a one-line message in err. */
int preflight_include_file(const char *path, char *err, size_t err_len);
/* The same for a directory an include pattern lists (conf.d of conf.d/ *.conf), and stricter:
 * anyone who may add a file to it (o+w, or g+w for another group) could add a program, so a
 * sticky bit does not make it acceptable. A missing directory is acceptable (0). */
int preflight_include_dir(const char *dir, char *err, size_t err_len);

/* Checks the [tend] settings of cfg as start-up would use them: the socket's directory and
 * path length, socket_group, socket_owner, user, directory, and the directories of the
 * pidfile and the log file. Appends an error per problem to diags (at the [tend] section's
 * line) and returns -1 if there was any, else 0. Creates nothing. */
int preflight_tend(const struct config *cfg, struct config_diags *diags);

#endif
