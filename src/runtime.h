/* runtime: tend's runtime directory and the advertisements of running supervisors in it.
 *
 * The runtime directory is $TEND_RUNTIME_DIR when set to an absolute path; otherwise
 * /run/tend for root, $XDG_RUNTIME_DIR/tend when that is absolute, else /tmp/tend-UID. The
 * default control socket lives there (tend.sock), and every running supervisor writes
 * supervisors/PID there (PID: its keeper's): "socket=PATH\nconfig=PATH\n", so that a client
 * run from any directory can find the supervisor its user means (the lookup order is in
 * tend(1)). */
#ifndef TEND_RUNTIME_H
#define TEND_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

/* The runtime directory into buf; NULL with errno ENAMETOOLONG if it does not fit. */
const char *runtime_dir(char *buf, size_t len);

/* Writes this supervisor's advertisement under pid (the keeper's, which outlives the
 * supervisors it restarts) atomically (PID.new, then rename), creating the
 * directories (0700) if missing. The advertisement's path goes into path (len bytes), for
 * runtime_withdraw. 0, or -1 with errno (the caller warns: nothing depends on it). */
int runtime_advertise(const char *socket, const char *config, pid_t pid, char *path,
                      size_t len);
/* Removes an advertisement written by runtime_advertise (path may be empty: nothing). */
void runtime_withdraw(const char *path);

struct runtime_entry {
    pid_t pid;
    char *socket;
    char *config; /* may be NULL */
};

/* The advertisements of supervisors whose pid is alive, in the runtime directory given (or the
 * default one for dir NULL), sorted by pid. Fills *out (malloc'd; free with
 * runtime_entries_free) and returns the count; 0 when there is none or the directory is
 * missing or not safe (not ours or root's, or writable by others). */
size_t runtime_list(const char *dir, struct runtime_entry **out);
void runtime_entries_free(struct runtime_entry *entries, size_t n);

#endif
