/* The table of configuration keys: for each kind of section, every key tend reads and every
 * supervisord key it knows but does not implement yet, with its value type and, for numbers,
 * the accepted range. config.c consults it to tell an unsupported key (warning) from an
 * unknown one (error, with the nearest valid name), and to parse plain values generically. */
#ifndef TEND_KEYS_H
#define TEND_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* Section kinds whose keys are checked. Ignored sections ([supervisorctl], [rpcinterface:x])
 * and unsupported ones ([eventlistener:x], ...) have no table. */
enum key_section {
    KEYSEC_PROGRAM,
    KEYSEC_GROUP,
    KEYSEC_INCLUDE,
    KEYSEC_TEND,        /* [tend], alias [supervisord] */
    KEYSEC_UNIX_HTTP,   /* [unix_http_server] */
    KEYSEC_ALERT,       /* [alert], [alert:NAME] */
    KEYSEC_INET_HTTP,   /* [inet_http_server]: the HTTP front, tend-web */
    KEYSEC_LISTENER,    /* [eventlistener:x]: its own keys; the rest are [program:x]'s */
    KEYSEC_FCGI,        /* [fcgi-program:x]: its own keys; the rest are [program:x]'s */
    KEYSEC_COUNT
};

/* How a value is read. Number types use key_def.min/max. */
enum key_type {
    KEYT_STRING,      /* any text, kept as written (after expansion) */
    KEYT_COMMAND,     /* a command line, split like a shell */
    KEYT_PATH,        /* a path; "~" means $HOME */
    KEYT_UINT,        /* decimal, min..max, min >= 0 */
    KEYT_INT,         /* decimal, may be negative, min..max */
    KEYT_BOOL,        /* true/false yes/no on/off 1/0 */
    KEYT_OCTAL,       /* octal digits, 0..max */
    KEYT_SIZE,        /* bytes, optional KB/MB/GB */
    KEYT_SIGNAL,      /* a signal name or number */
    KEYT_EXITCODES,   /* comma list of 0..255 */
    KEYT_AUTORESTART, /* true|false|unexpected */
    KEYT_ENV,         /* KEY=VAL,KEY2="v,al" */
    KEYT_LOGFILE,     /* path | AUTO | NONE | syslog */
    KEYT_LOGLEVEL,    /* critical error warn info debug trace blather */
    KEYT_HEALTHCHECK, /* tcp:HOST:PORT | http://HOST:PORT/PATH | exec:COMMAND */
    KEYT_EVENTS,      /* list of event names */
    KEYT_RATE,        /* N or N/SECONDS */
    KEYT_LIST,        /* names separated by spaces or commas */
    KEYT_OWNER,       /* user[:group] */
    KEYT_NAME,        /* a process name template (must expand to a valid name) */
};

enum key_id {
    KEY_UNSUPPORTED, /* a supervisord key tend does not implement yet */
    /* [program:x] */
    KEY_COMMAND,
    KEY_PROCESS_NAME,
    KEY_NUMPROCS,
    KEY_NUMPROCS_START,
    KEY_PRIORITY,
    KEY_AUTOSTART,
    KEY_STARTSECS,
    KEY_STARTRETRIES,
    KEY_AUTORESTART,
    KEY_EXITCODES,
    KEY_STOPSIGNAL,
    KEY_STOPWAITSECS,
    KEY_STOPASGROUP,
    KEY_KILLASGROUP,
    KEY_USER,
    KEY_DIRECTORY,
    KEY_UMASK,
    KEY_ENVIRONMENT,
    KEY_REDIRECT_STDERR,
    KEY_STDOUT_LOGFILE,
    KEY_STDOUT_LOGFILE_MAXBYTES,
    KEY_STDOUT_LOGFILE_BACKUPS,
    KEY_STDOUT_SYSLOG,
    KEY_STDERR_LOGFILE,
    KEY_STDERR_LOGFILE_MAXBYTES,
    KEY_STDERR_LOGFILE_BACKUPS,
    KEY_STDERR_SYSLOG,
    KEY_STDOUT_TIMESTAMPS,
    KEY_PIDFILE,
    KEY_HEALTHCHECK,
    KEY_HEALTHCHECK_INTERVAL,
    KEY_HEALTHCHECK_TIMEOUT,
    KEY_HEALTHCHECK_RETRIES,
    KEY_HEALTHCHECK_GRACE,
    KEY_ON_EVENT,
    KEY_STOPLEFTOVERS,
    KEY_MEMORY_MAX,
    KEY_MEMORY_HIGH,
    KEY_TASKS_MAX,
    KEY_CPU_WEIGHT,
    KEY_CPU_MAX,
    KEY_RLIMIT_NOFILE, /* ... up to KEY_RLIMIT_NOFILE + PROC_RLIM_COUNT - 1, in that order */
    KEY_RLIMIT_CORE,
    KEY_RLIMIT_NPROC,
    KEY_RLIMIT_AS,
    KEY_RLIMIT_MEMLOCK,
    KEY_RLIMIT_STACK,
    KEY_RLIMIT_FSIZE,
    KEY_RLIMIT_CPU,
    /* [group:x] (also KEY_PRIORITY) */
    KEY_PROGRAMS,
    /* [include] */
    KEY_FILES,
    /* [tend] (also KEY_PIDFILE, KEY_USER, KEY_UMASK, KEY_DIRECTORY, KEY_ENVIRONMENT) */
    KEY_LOGFILE,
    KEY_LOGFILE_MAXBYTES,
    KEY_LOGFILE_BACKUPS,
    KEY_LOGLEVEL,
    KEY_MINFDS,
    KEY_MINPROCS,
    KEY_NODAEMON,
    KEY_CHILDLOGDIR,
    KEY_IDENTIFIER,
    KEY_NOCLEANUP,
    KEY_SOCKET,
    KEY_SOCKET_MODE,
    KEY_SOCKET_OWNER,
    KEY_SOCKET_GROUP,
    KEY_CGROUPS,
    /* [alert] (also KEY_COMMAND, KEY_PROGRAMS) */
    KEY_EVENTS,
    KEY_RATE,
    KEY_TIMEOUT,
    /* [inet_http_server] (also KEY_USER) */
    KEY_PORT,
    KEY_USERNAME,
    KEY_PASSWORD,
    /* [eventlistener:x] (and every [program:x] key) */
    KEY_LISTENER_EVENTS,
    KEY_BUFFER_SIZE,
    /* [fcgi-program:x] (and every [program:x] key) */
    KEY_FCGI_SOCKET,
    KEY_FCGI_SOCKET_OWNER,
    KEY_FCGI_SOCKET_MODE,
    KEY_FCGI_SOCKET_BACKLOG,
    /* [tend] */
    KEY_SILENT,
    KEY_STRIP_ANSI,
    /* [program:x] */
    KEY_STDOUT_EVENTS_ENABLED,
    KEY_STDERR_EVENTS_ENABLED,
    KEY_STDOUT_CAPTURE_MAXBYTES,
    KEY_STDERR_CAPTURE_MAXBYTES,
    /* [program:x]: readiness and dependencies (issue 15) */
    KEY_DEPENDS_ON,
    KEY_READINESS,
    KEY_STARTWAITSECS,
    KEY_WATCHDOGSECS,
};

struct key_def {
    const char *name;   /* lowercase, as written in the file */
    enum key_id id;
    enum key_type type;
    bool supported;     /* false: warn "not supported by tend yet; ignored" */
    long long min, max; /* KEYT_UINT, KEYT_INT, KEYT_OCTAL (max only) */
};

/* The entry for a lowercase key name in a section kind, or NULL when nobody knows it. */
const struct key_def *keys_find(enum key_section section, const char *name);

/* The known key (supported or not) closest to name by edit distance, or NULL when nothing is
 * reasonably close. Ties go to the earlier entry in the table. */
const struct key_def *keys_nearest(enum key_section section, const char *name);

/* Every entry for a section kind, in table order; *count receives the length. */
const struct key_def *keys_list(enum key_section section, size_t *count);

/* True when a candidate at this edit distance from input is close enough to be offered as
 * "did you mean". Shared with config.c (section and event names): one rule everywhere. */
bool keys_is_close(const char *input, size_t distance);

#endif
