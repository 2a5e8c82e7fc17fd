/* logcap: capture of one service's stdout and stderr. Each captured stream is a pipe whose
 * read end is non-blocking and read in the event loop; whole lines are appended to a file
 * (rotated at a size, with N numbered backups) and/or sent to syslog. The program's end of
 * the pipe stays blocking, so it can only ever wait for a full pipe, and tend reads promptly.
 *
 * Guarantees:
 * - The pipes outlive the service's processes: one pipe per stream for the life of the
 *   logcap, read ends never closed while it exists, so nothing a dying instance wrote is lost
 *   and no instance ever gets SIGPIPE. Only the read end is kept (one descriptor a stream):
 *   each instance gets a write end of the same pipe, opened from the read end through
 *   /proc/self/fd and closed in tend once lent. When the last writer is gone the read end is
 *   drained and no longer watched (a hang-up would be reported for ever) until the next
 *   instance. Without /proc, each instance gets a new pipe instead.
 * - Never blocks tend, never blocks the program on tend's behalf: when the file cannot be
 *   written (full disk, EFBIG, EIO, a deleted directory...) the stream is "retrying" with a
 *   deadline (1 s doubling to 30 s); meanwhile what the program writes is read and dropped,
 *   counted in lines and bytes. The first successful write afterwards is the line
 *   "[tend: dropped N lines (M bytes) while the log could not be written: REASON]", and the
 *   same is logged in tend's own log.
 * - Lines are whole in the file: a write is cut at line boundaries, a line longer than the
 *   64 KiB line buffer is written in pieces (never lost), rotation happens only between lines.
 * - Rotation renames X.(N-1) -> X.N ... X -> X.1 and opens a new X, keeping exactly N backups
 *   (backups=0: X is truncated in place, as supervisord does). A rename that fails leaves the
 *   sequence where it stopped; it resumes from that step later, writing on to the current file
 *   meanwhile. Every file stays within maxbytes unless one line alone is longer.
 * - Log files open at once can be capped (logcap_set_file_cap, from the descriptor budget):
 *   beyond the cap, the least recently written file is closed, and opened again by its path,
 *   at its end, when its stream is next written; what it would have got is not lost.
 * - Files are opened with tend's rights: O_APPEND|O_CREAT|O_NOFOLLOW|O_CLOEXEC, mode 0640. A
 *   path whose last component is a symlink is refused, and so is a directory that is a
 *   symlink, belongs to another user, or can be written by others without the sticky bit
 *   (by anyone, or by a group other than root's and tend's). The paths /dev/stdout and
 *   /dev/stderr are tend's own stdout/stderr (reopened, never rotated).
 *
 * Limits: a write(2) to a regular file can still wait for the disk (page-cache throttling);
 * only pipes, terminals and sockets are truly non-blocking. Two streams naming the same file
 * each rotate it on their own count. */
#ifndef TEND_LOGCAP_H
#define TEND_LOGCAP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "loop.h"

/* Streams, numbered as the descriptors they capture. */
enum logcap_stream {
    LOGCAP_STDOUT = 1,
    LOGCAP_STDERR = 2,
};

struct logcap;

/* A capture for the process described by conf (only its name, group, redirect_stderr and
 * stdout_* / stderr_* keys are used; conf is copied, not kept). childlogdir: [tend]
 * childlogdir, or NULL for logcap_default_childlogdir(); only AUTO streams use it. Nothing
 * is opened yet. NULL only when out of memory; every function below accepts NULL and then
 * behaves as if both streams were NONE. */
struct logcap *logcap_new(struct loop *loop, const struct proc_conf *conf,
                          const char *childlogdir);

/* Whether conf captures anything (a file, syslog, events, capture mode on either stream): a
 * program that does not needs no logcap (NULL serves, see logcap_new). */
bool logcap_wanted(const struct proc_conf *conf);

/* The descriptors to install as the child's stdout and stderr (-1: /dev/null). With
 * redirect_stderr both are the stdout pipe. Call just before spawning each instance: it
 * also writes out what the previous instance left in the pipes (ending its unterminated last
 * line) and opens the log files, so that a bad path is reported when the program starts.
 * The descriptors stay owned by logcap and are valid until logcap_after_spawn. Returns 0, or
 * -1/errno when a pipe could not be created: that stream then gives -1 (the program runs with
 * it on /dev/null, which is logged) and the next spawn tries again. */
int logcap_child_fds(struct logcap *lc, int *out_fd, int *err_fd);

/* Ends the lending of the descriptors from logcap_child_fds; call after the spawn attempt,
 * whether or not it succeeded. Never close those descriptors yourself. */
void logcap_after_spawn(struct logcap *lc);

/* The four pipe ends (stdout read, write; stderr read, write), -1 where none is open: what
 * must outlive this process for the capture to go on without a loss (handover.c). No write
 * end is kept (only lent, see the top): the write end's place holds LOGCAP_SLOT_FD(slot)
 * instead when the read end is held in fdring's slot (its read end's place is then -1). */
void logcap_fds(const struct logcap *lc, int fds[4]);
/* A ring slot in a write end's place: a value no descriptor has (below -1). */
#define LOGCAP_SLOT_FD(slot) (-2 - (slot))
#define LOGCAP_FD_SLOT(v) (-2 - (v))

/* Takes over pipes made by an earlier supervisor (same layout as logcap_fds), and reads on
 * from where it stopped: read ends at their descriptors, and those held in the ring (it must
 * have been adopted before, fdring_adopt; the slots are claimed here). Write ends (an older
 * supervisor kept them) are closed, and so is a read end that no longer captures. 0, or
 * -1/errno (that stream is then closed; the next spawn makes a new pipe). */
int logcap_attach(struct logcap *lc, const int fds[4]);

/* At most cap read ends kept as descriptors, all logcaps together (the budget's share,
 * fdbudget.h): a pipe made beyond it has its read end held in fdring when a ring is up
 * (fdring_open), and as a descriptor otherwise. Default: no cap. */
void logcap_set_pipe_cap(size_t cap);
/* Read ends kept as descriptors now. */
size_t logcap_pipes_open(void);

/* New settings after a reload (path, maxbytes, backups, syslog, timestamps, childlogdir;
 * redirect_stderr and NONE-ness take effect at the next spawn). What the pipes hold is
 * written under the old settings first. A stream whose path changed is reopened. */
void logcap_reconfigure(struct logcap *lc, const struct proc_conf *conf, const char *childlogdir);

/* Reads what the pipes hold right now (bounded) and writes it out. */
void logcap_flush(struct logcap *lc);

/* `tend logrotate` / SIGUSR2. For each file: if its path no longer names the open file
 * (logrotate(8) moved or removed it), just reopen the path; otherwise rotate now (rename
 * chain, new file), even below maxbytes. A stream that is retrying tries again at once.
 * 0, or -1/errno of the first stream that failed (it keeps retrying on its own). */
int logcap_rotate(struct logcap *lc);

/* At most cap log files open at once, all logcaps together (the descriptor budget's share for
 * them, fdbudget.h): beyond it the least recently written file is closed, now and whenever
 * another must open, and opened again by its path when its program writes next. Default:
 * no cap. */
void logcap_set_file_cap(size_t cap);
/* Log files open now, and files closed to keep within the cap so far (tests, metrics). */
size_t logcap_files_open(void);
unsigned long long logcap_files_evicted(void);

/* Bytes read from the program and thrown away (file or syslog could not take them), since
 * logcap_new, both streams together. */
unsigned long long logcap_dropped(const struct logcap *lc);
/* Bytes written to the log files (both streams) since tend started, for /metrics. */
unsigned long long logcap_written(const struct logcap *lc);

/* The file a stream is written to (for `tend logs`), or NULL: NONE, syslog only, or stderr
 * under redirect_stderr (its lines are in stdout's file). */
const char *logcap_path(const struct logcap *lc, int stream);

/* supervisord's clearProcessLogs: empties both capture files in place (the open files, not
 * their rotated backups). 0, or -1 with errno from the first file that could not be. */
int logcap_clear(struct logcap *lc);

/* Set when the supervisor leaves for an upgrade: logcap_free then leaves what the pipes hold
 * for the next supervisor and writes a partial line as it is, without ending it. */
extern bool logcap_handing_over;
/* [tend] strip_ansi=true: ANSI escape sequences (ESC [ ... final byte, and two-byte ESC X)
 * are taken out of captured output before it is written (files and syslog). The zero-copy
 * splice path is off meanwhile: the bytes must pass through tend to be filtered. */
extern bool logcap_strip_ansi;
/* stdout_events_enabled / stderr_events_enabled: every piece of output delivered (whole
 * lines, or a piece of a long one) is also passed here (events.c sets it). The stream is
 * read even when it goes to no file. */
extern void (*logcap_event_hook)(const char *name, bool is_stderr, const char *buf,
                                 size_t len);
/* *_capture_maxbytes (supervisord's capture mode): what a program writes between
 * <!--XSUPERVISOR:BEGIN--> and <!--XSUPERVISOR:END--> goes here, not to its log (the newest
 * capture_maxbytes of it when there is more). Tokens are found within what one read
 * delivers (a token split across two reads is not seen). */
extern void (*logcap_comm_hook)(const char *name, bool is_stderr, const char *buf,
                                size_t len);

/* Writes out what can still be read and the last unterminated line, logs any output that had
 * to be dropped and was not yet reported, closes every descriptor. Safe inside a loop
 * callback (the memory goes after the current batch of events). */
void logcap_free(struct logcap *lc);

/* The childlogdir used when [tend] has none: /var/log/tend for root, else
 * $XDG_STATE_HOME/tend, else $HOME/.local/state/tend (home from the password database when
 * HOME is unset). Writes it to buf; 0, or -1/ENAMETOOLONG or ENOENT (no home). */
int logcap_default_childlogdir(char *buf, size_t len);

/* This supervisor's own AUTO directory: childlogdir (or the default above) / INSTANCE, where
 * INSTANCE is identifier when set ('/' turned into '_'), else the config file's base name
 * and a hash of its absolute path ("supervisord-8c2f1a07"), so that two supervisors sharing
 * a childlogdir never write one file, and a restarted one finds its own again. Returns a
 * malloc'd path, or NULL with errno. */
char *logcap_instance_dir(const char *childlogdir, const char *identifier,
                          const char *config_path);

/* Removes the AUTO capture files (NAME-stdout.log, NAME-stderr.log and their numbered
 * backups) that a previous run left in dir, as supervisord does at start-up; anything else
 * in dir is left alone. Returns how many were removed (0 when dir does not exist). */
size_t logcap_clean_auto(const char *dir);

/* Test hook: the datagram socket that syslog lines are sent to (default "/dev/log"). */
extern const char *logcap_syslog_socket;

#endif
