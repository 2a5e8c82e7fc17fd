/* pidfile: write pidfiles atomically (FILE.new, then rename) and decide whether an existing
 * one names a live owner. Ownership is decided by identity, not kill(pid, 0): the process
 * must be alive, not a zombie, and have started no later than the file was written, so a
 * pid reused by a process started afterwards is recognised as stale. */
#ifndef TEND_PIDFILE_H
#define TEND_PIDFILE_H

#include <sys/stat.h>
#include <sys/types.h>

/* Reads the pid in path. 0; -1 with errno ENOENT (no file), EINVAL (not a pid), ELOOP
 * (a symlink: never followed), or the open/read error. */
int pidfile_read(const char *path, pid_t *pid);
/* The same, also filling st with the file's metadata (owner, mtime); ENODATA: empty. */
int pidfile_read_stat(const char *path, pid_t *pid, struct stat *st);

/* 1 when path names a live owner (its pid in *pid), 0 when there is no file or it is stale,
 * -1/errno when it cannot be read. */
int pidfile_owner(const char *path, pid_t *pid);

/* Starts an atomic write: creates and locks path.new (never following a symlink). Call it
 * before launching, so an unwritable location is an error before anything runs. Returns
 * the descriptor, or -1/errno (EWOULDBLOCK: another launcher holds it right now). */
int pidfile_begin(const char *path);

/* Writes pid into the descriptor from pidfile_begin and renames path.new over path.
 * Closes fd either way. 0 or -1/errno. */
int pidfile_commit(int fd, const char *path, pid_t pid);

/* Abandons a pidfile_begin: removes path.new and closes fd. Keeps errno. */
void pidfile_abort(int fd, const char *path);

#endif
