/* The key table, one array per section kind. Supported keys come first in each array (they are
 * the better suggestion on a tie), then supervisord's keys that tend only warns about. Names
 * are unique within an array and lowercase, matching the lowercased keys the parser produces. */
#include <limits.h>
#include <string.h>

#include "keys.h"
#include "util/str.h"

#define NONNEG 0, INT_MAX
#define POSITIVE 1, INT_MAX
#define NORANGE 0, 0
#define UNSUP(name) {name, KEY_UNSUPPORTED, KEYT_STRING, false, NORANGE}

static const struct key_def program_keys[] = {
    {"command", KEY_COMMAND, KEYT_COMMAND, true, NORANGE},
    {"process_name", KEY_PROCESS_NAME, KEYT_NAME, true, NORANGE},
    /* Capped so a typo cannot ask for millions of process slots. */
    {"numprocs", KEY_NUMPROCS, KEYT_UINT, true, 1, 65536},
    {"numprocs_start", KEY_NUMPROCS_START, KEYT_UINT, true, 0, INT_MAX - 65536},
    /* supervisord accepts any integer here, and "-1 starts first" configs exist. */
    {"priority", KEY_PRIORITY, KEYT_INT, true, INT_MIN, INT_MAX},
    {"autostart", KEY_AUTOSTART, KEYT_BOOL, true, NORANGE},
    {"startsecs", KEY_STARTSECS, KEYT_UINT, true, NONNEG},
    {"startretries", KEY_STARTRETRIES, KEYT_UINT, true, NONNEG},
    {"autorestart", KEY_AUTORESTART, KEYT_AUTORESTART, true, NORANGE},
    {"exitcodes", KEY_EXITCODES, KEYT_EXITCODES, true, NORANGE},
    {"stopsignal", KEY_STOPSIGNAL, KEYT_SIGNAL, true, NORANGE},
    {"stopwaitsecs", KEY_STOPWAITSECS, KEYT_UINT, true, NONNEG},
    {"stopasgroup", KEY_STOPASGROUP, KEYT_BOOL, true, NORANGE},
    {"killasgroup", KEY_KILLASGROUP, KEYT_BOOL, true, NORANGE},
    {"user", KEY_USER, KEYT_STRING, true, NORANGE},
    {"directory", KEY_DIRECTORY, KEYT_PATH, true, NORANGE},
    {"umask", KEY_UMASK, KEYT_OCTAL, true, 0, 0777},
    {"environment", KEY_ENVIRONMENT, KEYT_ENV, true, NORANGE},
    {"redirect_stderr", KEY_REDIRECT_STDERR, KEYT_BOOL, true, NORANGE},
    {"stdout_logfile", KEY_STDOUT_LOGFILE, KEYT_LOGFILE, true, NORANGE},
    {"stdout_logfile_maxbytes", KEY_STDOUT_LOGFILE_MAXBYTES, KEYT_SIZE, true, NORANGE},
    {"stdout_logfile_backups", KEY_STDOUT_LOGFILE_BACKUPS, KEYT_UINT, true, NONNEG},
    {"stdout_syslog", KEY_STDOUT_SYSLOG, KEYT_BOOL, true, NORANGE},
    {"stderr_logfile", KEY_STDERR_LOGFILE, KEYT_LOGFILE, true, NORANGE},
    {"stderr_logfile_maxbytes", KEY_STDERR_LOGFILE_MAXBYTES, KEYT_SIZE, true, NORANGE},
    {"stderr_logfile_backups", KEY_STDERR_LOGFILE_BACKUPS, KEYT_UINT, true, NONNEG},
    {"stderr_syslog", KEY_STDERR_SYSLOG, KEYT_BOOL, true, NORANGE},
    {"stdout_timestamps", KEY_STDOUT_TIMESTAMPS, KEYT_BOOL, true, NORANGE},
    {"pidfile", KEY_PIDFILE, KEYT_PATH, true, NORANGE},
    {"healthcheck", KEY_HEALTHCHECK, KEYT_HEALTHCHECK, true, NORANGE},
    {"healthcheck_interval", KEY_HEALTHCHECK_INTERVAL, KEYT_UINT, true, POSITIVE},
    {"healthcheck_timeout", KEY_HEALTHCHECK_TIMEOUT, KEYT_UINT, true, POSITIVE},
    {"healthcheck_retries", KEY_HEALTHCHECK_RETRIES, KEYT_UINT, true, POSITIVE},
    {"healthcheck_grace", KEY_HEALTHCHECK_GRACE, KEYT_UINT, true, NONNEG},
    {"on_event", KEY_ON_EVENT, KEYT_STRING, true, NORANGE},
    {"stopleftovers", KEY_STOPLEFTOVERS, KEYT_BOOL, true, NORANGE},
    {"memory_max", KEY_MEMORY_MAX, KEYT_SIZE, true, NORANGE},
    {"memory_high", KEY_MEMORY_HIGH, KEYT_SIZE, true, NORANGE},
    {"tasks_max", KEY_TASKS_MAX, KEYT_UINT, true, POSITIVE},
    {"cpu_weight", KEY_CPU_WEIGHT, KEYT_UINT, true, 1, 10000},
    /* Percent of one CPU: 50 is half a CPU, 200 two whole ones. */
    {"cpu_max", KEY_CPU_MAX, KEYT_UINT, true, 1, 100000},
    /* setrlimit(2) for the program, soft and hard: a number, a size, or unlimited. */
    {"rlimit_nofile", KEY_RLIMIT_NOFILE, KEYT_STRING, true, NORANGE},
    {"rlimit_core", KEY_RLIMIT_CORE, KEYT_STRING, true, NORANGE},
    {"rlimit_nproc", KEY_RLIMIT_NPROC, KEYT_STRING, true, NORANGE},
    {"rlimit_as", KEY_RLIMIT_AS, KEYT_STRING, true, NORANGE},
    {"rlimit_memlock", KEY_RLIMIT_MEMLOCK, KEYT_STRING, true, NORANGE},
    {"rlimit_stack", KEY_RLIMIT_STACK, KEYT_STRING, true, NORANGE},
    {"rlimit_fsize", KEY_RLIMIT_FSIZE, KEYT_STRING, true, NORANGE},
    {"rlimit_cpu", KEY_RLIMIT_CPU, KEYT_STRING, true, NORANGE},
    /* Each line of output is also a PROCESS_LOG_STDOUT/STDERR event ([eventlistener:x]). */
    {"stdout_events_enabled", KEY_STDOUT_EVENTS_ENABLED, KEYT_BOOL, true, NORANGE},
    {"stderr_events_enabled", KEY_STDERR_EVENTS_ENABLED, KEYT_BOOL, true, NORANGE},
    /* supervisord's capture mode: output between <!--XSUPERVISOR:BEGIN--> and
     * <!--XSUPERVISOR:END--> is a PROCESS_COMMUNICATION event, at most this many bytes. */
    {"stdout_capture_maxbytes", KEY_STDOUT_CAPTURE_MAXBYTES, KEYT_SIZE, true, NORANGE},
    {"stderr_capture_maxbytes", KEY_STDERR_CAPTURE_MAXBYTES, KEYT_SIZE, true, NORANGE},
    /* Readiness and dependencies: what must be ready before it starts, how it says it is. */
    {"depends_on", KEY_DEPENDS_ON, KEYT_LIST, true, NORANGE},
    {"readiness", KEY_READINESS, KEYT_STRING, true, NORANGE},
    {"startwaitsecs", KEY_STARTWAITSECS, KEYT_UINT, true, POSITIVE},
    {"watchdogsecs", KEY_WATCHDOGSECS, KEYT_UINT, true, NONNEG},
    UNSUP("serverurl"),
};

static const struct key_def group_keys[] = {
    {"programs", KEY_PROGRAMS, KEYT_LIST, true, NORANGE},
    {"priority", KEY_PRIORITY, KEYT_INT, true, INT_MIN, INT_MAX},
};

static const struct key_def include_keys[] = {
    {"files", KEY_FILES, KEYT_LIST, true, NORANGE},
};

static const struct key_def tend_keys[] = {
    {"logfile", KEY_LOGFILE, KEYT_LOGFILE, true, NORANGE},
    {"logfile_maxbytes", KEY_LOGFILE_MAXBYTES, KEYT_SIZE, true, NORANGE},
    {"logfile_backups", KEY_LOGFILE_BACKUPS, KEYT_UINT, true, NONNEG},
    {"loglevel", KEY_LOGLEVEL, KEYT_LOGLEVEL, true, NORANGE},
    {"pidfile", KEY_PIDFILE, KEYT_PATH, true, NORANGE},
    {"user", KEY_USER, KEYT_STRING, true, NORANGE},
    {"umask", KEY_UMASK, KEYT_OCTAL, true, 0, 0777},
    {"directory", KEY_DIRECTORY, KEYT_PATH, true, NORANGE},
    {"minfds", KEY_MINFDS, KEYT_UINT, true, NONNEG},
    {"minprocs", KEY_MINPROCS, KEYT_UINT, true, NONNEG},
    {"environment", KEY_ENVIRONMENT, KEYT_ENV, true, NORANGE},
    {"nodaemon", KEY_NODAEMON, KEYT_BOOL, true, NORANGE},
    {"childlogdir", KEY_CHILDLOGDIR, KEYT_PATH, true, NORANGE},
    {"socket", KEY_SOCKET, KEYT_PATH, true, NORANGE},
    {"socket_mode", KEY_SOCKET_MODE, KEYT_OCTAL, true, 0, 07777},
    {"socket_owner", KEY_SOCKET_OWNER, KEYT_OWNER, true, NORANGE},
    {"socket_group", KEY_SOCKET_GROUP, KEYT_STRING, true, NORANGE},
    {"cgroups", KEY_CGROUPS, KEYT_BOOL, true, NORANGE},
    {"identifier", KEY_IDENTIFIER, KEYT_NAME, true, NORANGE},
    {"nocleanup", KEY_NOCLEANUP, KEYT_BOOL, true, NORANGE},
    /* supervisord's: ANSI escape sequences taken out of the programs' captured output. */
    {"strip_ansi", KEY_STRIP_ANSI, KEYT_BOOL, true, NORANGE},
    /* supervisord -s: in the foreground, tend's log does not go to standard error. */
    {"silent", KEY_SILENT, KEYT_BOOL, true, NORANGE},
};

/* [unix_http_server] spells the socket settings its own way; they land in the same fields. */
static const struct key_def unix_http_keys[] = {
    {"file", KEY_SOCKET, KEYT_PATH, true, NORANGE},
    {"chmod", KEY_SOCKET_MODE, KEYT_OCTAL, true, 0, 07777},
    {"chown", KEY_SOCKET_OWNER, KEYT_OWNER, true, NORANGE},
    /* tend authenticates control clients by SO_PEERCRED, not by password. */
    UNSUP("username"),
    UNSUP("password"),
};

static const struct key_def alert_keys[] = {
    {"command", KEY_COMMAND, KEYT_STRING, true, NORANGE},
    {"events", KEY_EVENTS, KEYT_EVENTS, true, NORANGE},
    {"programs", KEY_PROGRAMS, KEYT_LIST, true, NORANGE},
    {"rate", KEY_RATE, KEYT_RATE, true, NORANGE},
    {"timeout", KEY_TIMEOUT, KEYT_UINT, true, POSITIVE},
};

/* The HTTP front: supervisord's keys, plus the account it runs as. */
static const struct key_def inet_http_keys[] = {
    {"port", KEY_PORT, KEYT_STRING, true, NORANGE},
    {"username", KEY_USERNAME, KEYT_STRING, true, NORANGE},
    {"password", KEY_PASSWORD, KEYT_STRING, true, NORANGE},
    {"user", KEY_USER, KEYT_STRING, true, NORANGE},
};

/* Keys an [eventlistener:x] has beyond a program's (keys_find falls back to program_keys). */
static const struct key_def listener_keys[] = {
    {"events", KEY_LISTENER_EVENTS, KEYT_LIST, true, NORANGE},
    /* Events waiting for a READY listener; past it the oldest is dropped (logged). */
    {"buffer_size", KEY_BUFFER_SIZE, KEYT_UINT, true, 1, 65536},
    UNSUP("result_handler"),
};

/* Keys an [fcgi-program:x] has beyond a program's. */
static const struct key_def fcgi_keys[] = {
    {"socket", KEY_FCGI_SOCKET, KEYT_STRING, true, NORANGE},
    {"socket_owner", KEY_FCGI_SOCKET_OWNER, KEYT_OWNER, true, NORANGE},
    {"socket_mode", KEY_FCGI_SOCKET_MODE, KEYT_OCTAL, true, 0, 07777},
    {"socket_backlog", KEY_FCGI_SOCKET_BACKLOG, KEYT_UINT, true, 1, 65535},
};

struct key_table {
    const struct key_def *defs;
    size_t count;
};

#define TABLE(a) {a, sizeof a / sizeof a[0]}

static const struct key_table tables[KEYSEC_COUNT] = {
    [KEYSEC_PROGRAM] = TABLE(program_keys),
    [KEYSEC_GROUP] = TABLE(group_keys),
    [KEYSEC_INCLUDE] = TABLE(include_keys),
    [KEYSEC_TEND] = TABLE(tend_keys),
    [KEYSEC_UNIX_HTTP] = TABLE(unix_http_keys),
    [KEYSEC_ALERT] = TABLE(alert_keys),
    [KEYSEC_INET_HTTP] = TABLE(inet_http_keys),
    [KEYSEC_LISTENER] = TABLE(listener_keys),
    [KEYSEC_FCGI] = TABLE(fcgi_keys),
};

const struct key_def *keys_list(enum key_section section, size_t *count)
{
    *count = tables[section].count;
    return tables[section].defs;
}

const struct key_def *keys_find(enum key_section section, const char *name)
{
    const struct key_table *t = &tables[section];
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->defs[i].name, name) == 0)
            return &t->defs[i];
    }
    return NULL;
}

bool keys_is_close(const char *input, size_t distance)
{
    size_t len = strlen(input);
    /* A third of the typed length, at least 2, but never so much that a short word matches
     * anything ("a" is not "close" to "user"). */
    size_t limit = len / 3 < 2 ? 2 : len / 3;
    if (len <= 3)
        limit = 1;
    return distance <= limit && distance < len;
}

const struct key_def *keys_nearest(enum key_section section, const char *name)
{
    const struct key_table *t = &tables[section];
    const struct key_def *best = NULL;
    size_t best_d = 0;
    for (size_t i = 0; i < t->count; i++) {
        size_t d = str_levenshtein(name, t->defs[i].name);
        if (best == NULL || d < best_d) {
            best = &t->defs[i];
            best_d = d;
        }
    }
    if (best == NULL || !keys_is_close(name, best_d))
        return NULL;
    return best;
}
