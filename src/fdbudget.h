/* fdbudget: tend's descriptor budget, designed rather than discovered. What a config needs
 * is counted from the config, checked against RLIMIT_NOFILE at start-up and at every reload,
 * and what is left after the programs, the fixed part and a reserve for spawning is what
 * the control server may use for its connections.
 *
 * The cost of one program (tend's side; the program's own descriptors are its own):
 * - each captured stream is a pipe whose read end tend keeps for the program's life (the
 *   pipe outlives each instance; a write end is only lent to each instance while it is
 *   spawned, see logcap.h): 1; stdout and stderr are one stream under redirect_stderr=true,
 *   and a stream that goes nowhere (NONE) costs nothing;
 * - pidfile= programs: 2 (the inotify watch while waiting, then the daemon's pidfd); any
 *   other: 1, the pidfd that pins its process once a restarted supervisor has taken it back
 *   (kept until that process exits: its next instance is the supervisor's own child);
 * - a health check: 3 while it runs (a socket, or a command's report and output pipes);
 * - an event listener: 2 more (the protocol's pipes, its stdin and stdout);
 * - readiness=notify or watchdogsecs: 1 (its notify socket); readiness=tcp: 1 (the probe).
 * Log files are a pool: one descriptor each while open (an AUTO file from the first line),
 * as many as the limit leaves room for after everything else, but at least FDBUDGET_FILES_MIN
 * (logcap closes the least recently written to stay within it, see logcap_set_file_cap).
 * So a program on default settings (stdout and stderr AUTO files) costs 3, and 2 more while
 * the limit leaves room for both of its files to stay open.
 *
 * The keeper holds every capture pipe's read end at the same number as the supervisor does,
 * so its limit is raised with the supervisor's.
 *
 * When the limit cannot be raised enough, the read ends that do not fit are held in an
 * io_uring's table of registered files instead (fdring.h), which holds up to the limit again
 * without taking descriptors: b->ring says how many, and logcap keeps only b->pipe_cap of
 * them as descriptors. The keeper then holds the ring's one descriptor for all of them. */
#ifndef TEND_FDBUDGET_H
#define TEND_FDBUDGET_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

#define FDBUDGET_FIXED 64        /* loop, signals, timers, log, keeper, state, sockets, ... */
#define FDBUDGET_SPAWN 16        /* transient descriptors of a spawn or an alert in flight */
#define FDBUDGET_CONNS_MIN 16    /* the control server always has room for this many */
#define FDBUDGET_CONNS_MAX 512   /* and never takes more (control.h's CONTROL_MAX_CONNS) */
#define FDBUDGET_FILES_MIN 16    /* log files that can always be open at once */

struct fdbudget {
    unsigned long programs; /* what the programs need, at most, log files aside */
    unsigned long streams;  /* ... of which capture pipes' read ends */
    unsigned long files;    /* the programs' log files (streams written to a file) */
    unsigned long need;     /* programs + fixed + spawn reserve + FDBUDGET_CONNS_MIN + the
                             * files, at most FDBUDGET_FILES_MIN of them: the least to fit */
    unsigned long limit;    /* the soft RLIMIT_NOFILE in force after fdbudget_fit */
    unsigned long file_cap; /* log files open at once within it (all of them if room) */
    unsigned long conns;    /* control connections allowed within it */
    unsigned long ring;     /* read ends to hold in fdring past the limit (0: none) */
    unsigned long ring_slots; /* the ring's table when ring > 0: the limit's worth */
    unsigned long pipe_cap; /* read ends kept as descriptors (all of them when ring is 0) */
};

/* The descriptors one program of this config costs tend, its log files aside (see the top). */
unsigned long fdbudget_program(const struct proc_conf *c);
/* Its log files: streams written to a file. */
unsigned long fdbudget_files(const struct proc_conf *c);

/* Counts what cfg needs into b (limit and conns still 0). */
void fdbudget_count(const struct config *cfg, struct fdbudget *b);

/* Makes the descriptor limit fit b->need: the soft limit goes to the hard one, and when that
 * is not enough and tend may (CAP_SYS_RESOURCE, as root), the hard limit goes up to what
 * keeps every file open plus a margin, within fs.nr_open. When it still does not fit and
 * fdring is available, the read ends over the limit go to the ring (b->ring). keeper: the
 * keeper's pid, whose limit follows (0: none). What is left after the need goes to the log
 * files first (up to one each), then to control connections. Returns 0 with b->limit,
 * b->file_cap, b->conns, b->ring and b->pipe_cap set (and the connection cap in force
 * updated; the caller applies file_cap and pipe_cap and opens the ring), or -1 with a
 * message naming the resource and the numbers in msg when the config does not fit. */
int fdbudget_fit(struct fdbudget *b, pid_t keeper, char *msg, size_t len);

/* The control server's connection cap now in force (FDBUDGET_CONNS_MAX until a fit). */
unsigned long fdbudget_conn_cap(void);

#endif
