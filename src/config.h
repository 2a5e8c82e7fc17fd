/* Configuration: reads a supervisord-dialect INI file (and everything it includes) into the
 * structures the supervisor runs from. Loading either succeeds completely or yields nothing:
 * every problem found becomes a diagnostic with FILE:LINE, and all of them are reported, not
 * just the first. A loaded config is immutable and owns all of its memory.
 * As in supervisord, every value tend reads is %-expanded (%(ENV_X)s, %(here)s, ... and, in
 * [program:x], %(program_name)s, %(process_num)d ...), so a literal percent sign is "%%". */
#ifndef TEND_CONFIG_H
#define TEND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum autorestart {
    AUTORESTART_FALSE,
    AUTORESTART_TRUE,
    AUTORESTART_UNEXPECTED,
};

/* Where a stream goes. AUTO is supervisord's default: a file tend names itself under
 * childlogdir. PATH uses the accompanying path. NONE discards. SYSLOG is what
 * stdout_logfile=syslog (or [tend] logfile=syslog) asks for. */
enum log_target {
    LOG_TARGET_AUTO,
    LOG_TARGET_NONE,
    LOG_TARGET_PATH,
    LOG_TARGET_SYSLOG,
};

enum health_kind {
    HEALTH_NONE,
    HEALTH_TCP,  /* tcp:HOST:PORT */
    HEALTH_HTTP, /* http://HOST[:PORT][/PATH], port 80 and path "/" when omitted */
    HEALTH_EXEC, /* exec:COMMAND */
};

/* How a started process shows it is ready (readiness=); until then it is STARTING. */
enum ready_kind {
    READY_STARTSECS,   /* startsecs elapsed (supervisord's meaning, the default) */
    READY_NOTIFY,      /* READY=1 on its $NOTIFY_SOCKET (sd_notify protocol) */
    READY_HEALTHCHECK, /* its healthcheck= passed once */
    READY_TCP,         /* a connection to tcp:[HOST:]PORT was accepted */
};

enum config_loglevel {
    CONFIG_LOG_CRITICAL,
    CONFIG_LOG_ERROR,
    CONFIG_LOG_WARN,
    CONFIG_LOG_INFO,
    CONFIG_LOG_DEBUG,
    CONFIG_LOG_TRACE,
    CONFIG_LOG_BLATHER,
};

/* Events an [alert] can subscribe to; the mask bit of E is (1u << E). */
enum config_event {
    CONFIG_EV_STARTING,
    CONFIG_EV_RUNNING,
    CONFIG_EV_BACKOFF,
    CONFIG_EV_STOPPING,
    CONFIG_EV_EXITED,
    CONFIG_EV_FATAL,
    CONFIG_EV_STOPPED,
    CONFIG_EV_HEALTH_FAILED,
    CONFIG_EV_PROCESS_UNEXPECTED_EXIT,
    CONFIG_EV_CONFIG_RELOADED,
    CONFIG_EV_CRASH_LOOP_ENTERED,
    CONFIG_EV_CRASH_LOOP_EXITED,
    CONFIG_EV_OUT_OF_MEMORY, /* the OOM killer killed in the program's cgroup */
    CONFIG_EV_SHORTAGE_ENTERED, /* a spawn failed for want of a resource: it waits */
    CONFIG_EV_SHORTAGE_EXITED,  /* ... and the resource is back */
    CONFIG_EV_COUNT
};

#define CONFIG_EV_MASK(ev) (1u << (ev))
#define CONFIG_EV_ALL ((1u << CONFIG_EV_COUNT) - 1)
/* events= left out: the ones worth waking someone for. */
#define CONFIG_EV_DEFAULT                                                                   \
    (CONFIG_EV_MASK(CONFIG_EV_FATAL) | CONFIG_EV_MASK(CONFIG_EV_PROCESS_UNEXPECTED_EXIT) |  \
     CONFIG_EV_MASK(CONFIG_EV_HEALTH_FAILED) | CONFIG_EV_MASK(CONFIG_EV_CRASH_LOOP_ENTERED) | \
     CONFIG_EV_MASK(CONFIG_EV_OUT_OF_MEMORY) | CONFIG_EV_MASK(CONFIG_EV_SHORTAGE_ENTERED))

/* Resource limits a program may set (rlimit_nofile= ...), in key order. */
enum proc_rlimit {
    PROC_RLIM_NOFILE,
    PROC_RLIM_CORE,
    PROC_RLIM_NPROC,
    PROC_RLIM_AS,
    PROC_RLIM_MEMLOCK,
    PROC_RLIM_STACK,
    PROC_RLIM_FSIZE,
    PROC_RLIM_CPU,
    PROC_RLIM_COUNT
};
#define PROC_RLIM_UNSET (-1LL)
#define PROC_RLIM_INFINITY (-2LL) /* "unlimited" */

/* What a process section is: [program:x], [eventlistener:x] (speaks supervisord's event
 * listener protocol on its stdin and stdout, events.c) or [fcgi-program:x] (gets the socket
 * tend binds as its stdin, fcgi.c). */
enum proc_kind {
    PROC_KIND_PROGRAM,
    PROC_KIND_LISTENER,
    PROC_KIND_FCGI,
};

/* The parts of a program that most programs leave at their defaults live in side structures,
 * allocated only when one of their keys is set; proc_conf_health(), _ready(), _fcgi(),
 * _events(), _limits() and _exitcodes() read them, giving the defaults when they are absent. */

/* healthcheck= and its settings. */
struct proc_health {
    char *spec;    /* healthcheck= as written after expansion; NULL: no health check */
    char *host;    /* TCP, HTTP; IPv6 without brackets */
    char *path;    /* HTTP: starts with '/' */
    char *command; /* EXEC: the command text, in argv's allocation */
    char **argv;   /* EXEC: split like command; packed (str_vec_pack) */
    enum health_kind kind;
    int port;     /* TCP, HTTP */
    int interval; /* seconds; default 10 */
    int timeout;  /* seconds; default 5 */
    int retries;  /* consecutive failures before a restart; default 3 */
    int grace;    /* seconds after start before checks count: proc_conf_health_grace */
    int line;     /* the line of healthcheck=, for messages about its value */
};

/* How long readiness may take, and readiness=tcp:'s target. */
struct proc_ready {
    char *host;        /* READY_TCP: the host, "127.0.0.1" when omitted */
    int port;          /* READY_TCP */
    int startwaitsecs; /* how long a readiness other than startsecs may take; 90 */
    int watchdogsecs;  /* restart when WATCHDOG=1 is this late (notify socket); 0: off */
};

/* PROC_KIND_FCGI: socket= as written ("tcp://HOST:PORT" or "unix:///PATH"), and for a unix
 * socket its owner ("USER[:GROUP]", NULL: tend's) and mode (default 0700). */
struct proc_fcgi {
    char *socket;
    char *socket_owner;
    int socket_mode;
    int socket_backlog; /* listen(2) backlog, default SOMAXCONN */
};

/* Supervisord's event machinery: an [eventlistener:x]'s subscription and pool, and capture
 * mode (PROCESS_COMMUNICATION) of any program. */
struct proc_events {
    long long stdout_capture_maxbytes; /* capture mode; 0: off */
    long long stderr_capture_maxbytes;
    /* PROC_KIND_LISTENER: the event types it subscribes to (evtype.h EVT_MASK bits) and how
     * many events its pool buffers (default 10). */
    uint32_t listener_events;
    int buffer_size;
};

/* The process tree and its limits (cgroup.c; 0 = no limit), and its rlimits: PROC_RLIM_COUNT
 * entries, soft = hard: PROC_RLIM_UNSET, _INFINITY or the value (proc_conf_rlimit). */
struct proc_limits {
    long long memory_max;  /* bytes */
    long long memory_high; /* bytes */
    long long tasks_max;
    int cpu_weight; /* 1..10000 */
    int cpu_max;    /* percent of one CPU */
    long long rlimits[PROC_RLIM_COUNT];
};

/* One process instance: a [program:x] with numprocs=N yields N of these. Every string is
 * owned by the struct and already expanded (%(program_name)s and friends). To keep a
 * program's cost low, name, program, group and file are shared strings (util/str.h
 * str_shared_*: the instances of a program and the programs of a file hold one copy), and
 * each string vector is packed into one allocation (str_vec_pack: free it whole), command
 * inside argv's. Tend keeps one per program for as long as it runs, so the fields are
 * ordered to leave no padding (pointers, then 64-bit, then 32-bit, then bytes): mind the
 * alignment when adding one. */
struct proc_conf {
    char *name;    /* process name: process_name after expansion; unique in a config */
    char *program; /* the x of [program:x] */
    char *group;   /* the [group:g] listing the program, else the program name */
    char *command; /* as written, after expansion; in argv's allocation (NULL when it is) */
    char **argv;   /* command split like a shell; NULL-terminated, at least one word */
    char *user;           /* NULL: unset */
    char *directory;      /* NULL: unset */
    char **env;           /* "K=V" additions from environment=, NULL-terminated; NULL: none */
    char *stdout_logfile; /* the path when kind is LOG_TARGET_PATH, else NULL */
    char *stderr_logfile;
    char *pidfile;     /* NULL: tend's own child; else the program daemonizes and writes this */
    char *on_event;    /* command run on this process's events; NULL: none */
    char *file;        /* where its [program:x] header is */
    char **depends_on; /* names of programs, groups or processes; NULL: none */
    /* Side structures (see above); NULL: all defaults. */
    struct proc_health *health;
    struct proc_ready *ready;
    struct proc_fcgi *fcgi;
    struct proc_events *events;
    struct proc_limits *limits;
    uint64_t *exitcodes; /* 4 words, bit s: exit status s is "expected"; NULL: 0 only */
    long long stdout_logfile_maxbytes;
    long long stderr_logfile_maxbytes;
    int numprocs;
    int process_num;
    int priority;
    /* Its [group:x]'s priority (999 when the section sets none), or its own priority when it
     * is a group of its own. With priority it orders starts and stops: proc_conf_order. */
    int group_priority;
    int startsecs;
    int startretries;
    int stopsignal;
    int stopwaitsecs;
    int umask; /* -1: unset */
    int stdout_logfile_backups;
    int stderr_logfile_backups;
    int line;
    int depends_on_line; /* the line of depends_on=, for messages */
    /* Enums held in a byte each (every value is below 256). */
    uint8_t autorestart;         /* enum autorestart */
    uint8_t stdout_logfile_kind; /* enum log_target */
    uint8_t stderr_logfile_kind; /* enum log_target */
    uint8_t kind;                /* enum proc_kind */
    uint8_t readiness;           /* enum ready_kind */
    /* The switches. */
    bool autostart;
    bool stopasgroup;
    bool killasgroup; /* true whenever stopasgroup is */
    bool redirect_stderr;
    bool stdout_syslog;
    bool stderr_syslog;
    bool stdout_timestamps;
    bool stopleftovers; /* stop what is left of the tree when the main process exits */
    bool stdout_events; /* stdout_events_enabled: output lines are PROCESS_LOG_STDOUT events */
    bool stderr_events; /* stderr_events_enabled: ... PROCESS_LOG_STDERR */
};

/* [tend] (or [supervisord]) plus the socket settings of [unix_http_server]. */
struct tend_conf {
    enum log_target logfile_kind; /* AUTO when unset */
    char *logfile;                /* path for LOG_TARGET_PATH, else NULL */
    long long logfile_maxbytes;   /* default 50 MB */
    int logfile_backups;          /* default 10 */
    enum config_loglevel loglevel; /* default info */
    char *pidfile;
    char *user;
    int umask; /* -1: unset */
    char *directory;
    int minfds;   /* default 1024 */
    int minprocs; /* default 200 */
    char **env;   /* "K=V" for every child; NULL: none */
    bool nodaemon;
    char *childlogdir;
    char *identifier;   /* names this supervisor's AUTO log directory; NULL: from the config */
    bool nocleanup;     /* keep the AUTO log files of a previous run at start-up */
    char *socket;       /* control socket path; NULL: tend's default */
    int socket_mode;    /* default 0600 */
    char *socket_owner; /* user; NULL: unset */
    char *socket_group; /* group; NULL: unset */
    bool cgroups;       /* put every program in its own cgroup (default true) */
    bool silent;        /* foreground: no log on stderr (the file AUTO names instead) */
    bool strip_ansi;    /* take ANSI escape sequences out of captured output */
    char *file; /* where the [tend]/[supervisord] header is; NULL when absent */
    int line;
};

struct group_conf {
    char *name;
    int priority; /* default 999 */
    char **programs; /* NULL-terminated, in the order written */
    size_t nprograms;
    char *file;
    int line;
};

struct alert_conf {
    char *name;            /* "alert" or "alert:NAME", as the header reads */
    char *command;         /* run with the event in its environment */
    unsigned events;       /* CONFIG_EV_MASK bits; CONFIG_EV_DEFAULT when events= is unset */
    char **programs;       /* fnmatch patterns on program, group and process names; {"*"} */
    size_t nprograms;
    int rate_count;        /* at most rate_count alerts ... */
    int rate_interval_secs; /* ... per this many seconds; default 10 per 60 */
    int timeout_secs;      /* default 30 */
    char *file;
    int line;
};

/* [inet_http_server]: the HTTP front. When enabled, the config also holds a synthesized
 * process CONFIG_WEB_NAME that runs tend-web (next to the tend executable) as `user`, with
 * its settings in the environment (TEND_WEB_LISTEN, TEND_WEB_USERNAME, TEND_WEB_PASSWORD,
 * TEND_WEB_SOCKET): the supervisor starts and restarts it like any program. */
#define CONFIG_WEB_NAME "tend-web"
struct web_conf {
    bool enabled;
    char *host;     /* "127.0.0.1" unless port= names a host; "*" means every address */
    int port;       /* 0: a free port, which tend-web prints in its log */
    char *username; /* NULL: no authentication (only allowed on loopback) */
    char *password; /* plain text or "{SHA}" + 40 hex digits of its SHA-1 */
    char *user;     /* the account tend-web runs as when tend is root; default nobody */
    /* [unix_http_server] with [rpcinterface:supervisor]: tend-web also serves supervisord's
     * XML-RPC to the HTTP clients of the control socket (TEND_WEB_UNIX=1). With it alone
     * (no [inet_http_server]) host is NULL: tend-web listens on no TCP port. */
    bool unix_rpc;
    char *file;
    int line;
};

struct config {
    char *path; /* the main file, as given */
    struct tend_conf tend;
    struct web_conf web;
    /* Sorted by priority ascending, then name. config_free skips NULL entries, so a caller may
     * take ownership of one by moving the pointer out and storing NULL in its place. */
    struct proc_conf **procs;
    size_t nprocs;
    struct group_conf *groups; /* explicit [group:x] sections, in file order */
    size_t ngroups;
    struct alert_conf *alerts; /* in file order */
    size_t nalerts;
};

struct config_diag {
    char *file;
    int line; /* 0: about the file as a whole */
    bool is_error;
    char *msg;
};

/* Zero-initialise before the first config_load; loads append to it. */
struct config_diags {
    struct config_diag *items;
    size_t count;
    size_t cap;
    size_t errors;
    size_t warnings;
};

/* Loads path and its includes. Returns 0 and a config in *out when there is no error (there
 * may be warnings in diags), else -1 with *out NULL. Diagnostics are appended to diags in
 * file order (included files after the file including them), by line within a file. */
int config_load(const char *path, struct config **out, struct config_diags *diags);
/* config_load, recording every file read into record_fd (-1: none), or reading them from
 * replay (NULL: the disk). See confsnap.h. */
struct confsnap;
int config_load_ex(const char *path, struct config **out, struct config_diags *diags,
                   int record_fd, const struct confsnap *replay);
/* Only the control socket of the config at path (includes and expansions applied, the
 * programs neither built nor checked): what a client needs, at a fraction of the cost of a
 * whole load. Returns 0 with *socket malloc'd, or NULL when the config names none; -1 when
 * the config has errors before its programs (*socket NULL, diags say which). */
int config_socket_path(const char *path, char **socket, struct config_diags *diags);
void config_free(struct config *config);
void config_diags_free(struct config_diags *diags);

/* "FILE:LINE: error: msg" or "FILE:LINE: warning: msg" ("FILE: error: msg" for line 0),
 * truncated to fit len (always NUL-terminated when len > 0). */
void config_diag_format(const struct config_diag *diag, char *buf, size_t len);

/* True when nothing that affects the running process differs: identity (name, program, group,
 * process_num, numprocs), what is executed and how (command, argv, user, directory, umask,
 * env, pidfile) and where its output goes (redirect_stderr, log targets, paths, sizes,
 * backups, syslog, timestamps). Policy fields (priority, autostart, startsecs, startretries,
 * autorestart, exitcodes, stop*, killasgroup, healthcheck*, on_event) and file/line are not
 * compared: reload can apply them to a running process without restarting it. */
bool proc_conf_equal(const struct proc_conf *a, const struct proc_conf *b);

/* Deep copy, and free of a copy (or of a pointer taken out of config->procs). */
struct proc_conf *proc_conf_dup(const struct proc_conf *p);
void proc_conf_free(struct proc_conf *p);

/* Where it comes in starts (ascending) and stops (descending): its group's priority first,
 * then its own, as supervisord orders its process groups and the processes of each. The two
 * ints fit one 64-bit key exactly (the group's times 2^32, plus the own one's offset from
 * INT_MIN), so comparisons and levels stay plain integers. */
long long proc_conf_order(const struct proc_conf *c);
/* Its limit r: PROC_RLIM_UNSET, PROC_RLIM_INFINITY or the value. */
long long proc_conf_rlimit(const struct proc_conf *c, enum proc_rlimit r);
/* Its side structures, or (absent) a static one holding the defaults: no health check,
 * readiness defaults (startwaitsecs 90), no fcgi socket, no events subscribed (buffer_size
 * 10) nor captured, no limits. Never NULL. */
const struct proc_health *proc_conf_health(const struct proc_conf *c);
const struct proc_ready *proc_conf_ready(const struct proc_conf *c);
const struct proc_fcgi *proc_conf_fcgi(const struct proc_conf *c);
const struct proc_events *proc_conf_events(const struct proc_conf *c);
const struct proc_limits *proc_conf_limits(const struct proc_conf *c);
/* Its exitcodes: 4 words, bit s set when exit status s is expected. */
const uint64_t *proc_conf_exitcodes(const struct proc_conf *c);
/* Its healthcheck_grace: as set, else startsecs (0 with readiness=healthcheck, which is
 * asked at once). */
int proc_conf_health_grace(const struct proc_conf *c);
/* Whether exit status code (0..255) is in c's exitcodes. */
bool proc_conf_expected(const struct proc_conf *c, int code);
/* Whether tend gives its stdout a capture pipe (stdout_logfile= and the other stdout_
 * settings apply): not an event listener's, whose stdout speaks the protocol (events.c),
 * unless redirect_stderr sends its stderr there. */
bool proc_conf_stdout_captured(const struct proc_conf *c);

/* The process with this name, or NULL. */
const struct proc_conf *config_find_proc(const struct config *config, const char *name);

/* The first of ./tend.conf, /etc/tend/tend.conf, /etc/tend.conf,
 * /etc/supervisor/supervisord.conf that exists, or NULL. The string is static. */
const char *config_default_path(void);

/* Event names as written in events= ("FATAL"); config_event_from_name returns -1 when the
 * name (case-insensitive) is not one. */
const char *config_event_name(enum config_event ev);
int config_event_from_name(const char *name);

#endif
