/* ident: a process's identity is its pid plus its start time (/proc/PID/stat field 22, in
 * clock ticks since boot). A pid alone is never acted on: the pid may have been reused. */
#ifndef TEND_IDENT_H
#define TEND_IDENT_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct ident {
    pid_t pid;
    unsigned long long start_ticks;
};

/* Reads pid's identity; *state gets the one-letter state (R, S, Z, ...) if not NULL.
 * 0, or -1 with errno ESRCH when there is no such process. */
int ident_read(pid_t pid, struct ident *out, char *state);

/* True when a live (non-zombie) process still has this identity. */
bool ident_alive(const struct ident *id);

/* The process's start as a CLOCK_REALTIME instant (tick resolution, rounded down). */
struct timespec ident_start_realtime(const struct ident *id);

/* ppid, pgid, sid of pid from /proc/PID/stat; -1/ESRCH if gone. */
int ident_parents(pid_t pid, pid_t *ppid, pid_t *pgid, pid_t *sid);

/* pid's thread count and resident set in pages (/proc/PID/stat fields 20 and 24), in one
 * read. 0, or -1/ESRCH when it is gone. */
int ident_usage(pid_t pid, long long *threads, long long *rss_pages);

#endif
