/* log: tend's own messages, one timestamped line per event, to stderr, a file, or syslog.
 * This is the article's restart.log done properly: every exit, restart, FATAL and reload
 * is one line with local time to the millisecond. */
#ifndef TEND_LOG_H
#define TEND_LOG_H

enum log_level {
    LOG_LVL_ERROR,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

/* Where lines go. Default: stderr. log_open_file appends to path (created 0640) and
 * returns 0 or -1/errno, leaving the previous destination in place on failure. */
int log_open_file(const char *path);
void log_use_syslog(const char *ident);
void log_use_stderr(void);
/* Size rotation of the log file ([tend] logfile_maxbytes, logfile_backups): before a line
 * would take the file past max_bytes (0: never), FILE.1..FILE.backups shift up by one and
 * FILE becomes FILE.1 (with backups 0, FILE is emptied). */
void log_set_rotation(long long max_bytes, int backups);
/* Reopens the log file (after logrotate moved it). 0 or -1/errno. */
int log_reopen(void);
void log_set_level(enum log_level level);
/* Parses supervisord's loglevel names (critical error warn info debug trace blather). */
int log_parse_level(const char *name, enum log_level *out);
void log_close(void);
/* True while lines go to stderr (no file, no syslog). */
int log_to_stderr(void);

/* The file lines go to, or NULL (stderr, syslog): supervisord's readLog reads it. */
const char *log_file_path(void);
/* Empties that file in place (supervisord's clearLog). 0, or -1 with errno; 0 without one. */
int log_clear(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
