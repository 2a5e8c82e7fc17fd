/* client: the CLI side of the control protocol. Order of work: parse and validate the command
 * line (usage errors exit 2 before any connection), find the socket, connect with a timeout,
 * send one request line, read reply lines until the final ok/err, print, map to an exit
 * code. Messages of the supervisor are printed as they arrive, so a long start shows its
 * progress. The client keeps its end of the socket open until the final line: the supervisor
 * may take a hangup as "the client is gone" and stop reporting. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "exitcode.h"
#include "proto.h"
#include "runtime.h"
#include "util/fd.h"
#include "util/str.h"

/* Which options a verb takes and how many positional words. */
struct verb_spec {
    const char *name;
    int min_args;        /* positional words, SIG included for signal */
    int max_args;        /* -1: no limit */
    bool json;           /* --json */
    bool no_wait;        /* --no-wait */
    bool quick;          /* the reply is bounded by CLIENT_REPLY_TIMEOUT_MS */
    const char *usage;
};

static const struct verb_spec verbs[] = {
    {"status", 0, -1, true, false, true,
     "Usage: tend status [--json] [NAME|GROUP:*]...\n"
     "Show each process (all of them without NAME): name, state, pid, uptime, restarts,\n"
     "and the health check result and last exit or failure reason when there is one.\n"
     "  --json   print a JSON array of objects instead of a table\n"
     "Exit status: 0 every listed process is RUNNING, 3 one is not, 1 error, 4 no supervisor.\n"},
    {"start", 1, -1, false, true, false,
     "Usage: tend start [--no-wait] NAME...|GROUP:*|all\n"
     "Start processes and wait until each is RUNNING or has failed.\n"
     "  --no-wait   return once the starts are requested\n"
     "Exit status: 0 all started, 1 one failed, 4 no supervisor.\n"},
    {"stop", 1, -1, false, true, false,
     "Usage: tend stop [--no-wait] NAME...|GROUP:*|all\n"
     "Stop processes and wait until each is STOPPED.\n"
     "  --no-wait   return once the stops are requested\n"
     "Exit status: 0 all stopped, 1 one failed, 4 no supervisor.\n"},
    {"restart", 1, -1, false, true, false,
     "Usage: tend restart [--no-wait] NAME...|GROUP:*|all\n"
     "Stop, then start processes, and wait until each is RUNNING or has failed.\n"
     "  --no-wait   return once the restarts are requested\n"
     "Exit status: 0 all restarted, 1 one failed, 4 no supervisor.\n"},
    {"signal", 2, -1, false, false, true,
     "Usage: tend signal SIGNAL NAME...|GROUP:*|all\n"
     "Send SIGNAL (a name as in kill -l, with or without SIG, or a number) to processes.\n"
     "Exit status: 0 sent, 1 failed, 2 bad signal, 4 no supervisor.\n"},
    {"reload", 0, 0, true, false, false,
     "Usage: tend reload [--json]\n"
     "Reread the configuration and apply only what changed; prints what was added, changed\n"
     "(restarted), updated (policy only: the process keeps running) and removed. A broken\n"
     "configuration is rejected with its errors and nothing changes.\n"
     "  --json   print the result as one JSON object (doc/json.md)\n"
     "Exit status: 0 applied, 1 rejected, 4 no supervisor.\n"},
    {"shutdown", 0, 0, false, false, false,
     "Usage: tend shutdown\n"
     "Stop every process, then the supervisor.\n"
     "Exit status: 0 done, 1 failed, 4 no supervisor.\n"},
    {"pid", 0, 1, true, false, true,
     "Usage: tend pid [--json] [NAME]\n"
     "Print the pid of process NAME, or of the supervisor itself without NAME.\n"
     "  --json   print {\"pid\": N} (with \"name\" for a process)\n"
     "Exit status: 0 printed, 1 error, 4 no supervisor.\n"},
    {"logs", 1, -1, false, false, false,
     "Usage: tend logs [-n N] [--stderr] [-f] [--raw] NAME...|GROUP:|all\n"
     "Print the last N lines (default 10) of a process's captured stdout (or stderr).\n"
     "With several processes (several names, a group, all) every line is prefixed by its\n"
     "process's name, and with -f the processes' lines interleave as they are written.\n"
     "Every byte is shown: on a terminal, control bytes, NUL and bytes that are not UTF-8\n"
     "are escaped (\\0, \\r, \\x1b; a backslash as \\\\); elsewhere they are written as is.\n"
     "  -n N       how many lines\n"
     "  --stderr   the stderr log instead of stdout\n"
     "  -f         keep following, across rotations, until interrupted\n"
     "  --raw      write the bytes exactly, even on a terminal\n"
     "Exit status: 0 ok, 1 error, 4 no supervisor.\n"},
    {"version", 0, 0, true, false, true,
     "Usage: tend version [--json]\n"
     "Print the version of this client and of the running supervisor (tend -V does too).\n"
     "  --json   print {\"client\": V, \"supervisor\": V or null}\n"
     "Exit status: 0 both printed, 4 no supervisor (the client's version is printed).\n"},
    {"upgrade", 0, 0, false, false, false,
     "Usage: tend upgrade\n"
     "Replace the running tend by the binary installed now, in place: the keeper re-executes\n"
     "itself and the supervisor, which takes every program back (same pids, nothing lost from\n"
     "their logs). Waits for the new supervisor and prints its pid.\n"
     "Exit status: 0 upgraded, 1 failed, 4 no supervisor.\n"},
    {"logrotate", 0, 0, false, false, true,
     "Usage: tend logrotate\n"
     "Rotate every log file now (the supervisor's and the processes').\n"
     "Exit status: 0 done, 1 failed, 4 no supervisor.\n"},
};

static const char general_usage[] =
    "Usage: tend [-c FILE] [-s PATH] COMMAND [ARGS...]\n"
    "Commands talking to the running supervisor: status start stop restart signal reload\n"
    "shutdown pid logs logrotate upgrade version (tend COMMAND --help for each).\n";

static const char global_help[] =
    "Global options (before or after the command):\n"
    "  -c, --config FILE   find the control socket through FILE\n"
    "  -s, --socket PATH   control socket (default: $TEND_SOCKET, ./tend.conf's, the one\n"
    "                      running supervisor advertised in the runtime directory, the\n"
    "                      system config's, RUNTIME/tend.sock; see tend(1))\n"
    "  -h, --help          this help\n";

struct client_opts {
    const struct verb_spec *verb;
    const char *config;
    const char *socket;
    bool help;
    bool json;
    bool no_wait;
    const char *lines;  /* logs -n */
    bool use_stderr;    /* logs --stderr */
    bool follow;        /* logs -f */
    bool raw;           /* logs --raw: bytes as they are, even on a terminal */
    char **args; /* positional words after the verb */
    size_t nargs;
    const char *path;   /* the socket reached, for a second connection (waiting display) */
    bool show_waiting;  /* start/stop/restart on a terminal: say what is still awaited */
};

/* ---- Small helpers ------------------------------------------------------------------------- */

/* Log lines are a program's bytes: escaped only for a terminal (unless --raw), where a
 * control byte would act on the terminal instead of showing. */
static bool escape_log(const struct client_opts *o, FILE *out)
{
    return !o->raw && isatty(fileno(out));
}

/* The length of the valid UTF-8 sequence at s[0..len) that is not a C1 control (U+0080 to
 * U+009F act on terminals too), or 0. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

    if (s[0] >= 0xf5 || n == 0 || n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    if ((n == 2 && s[0] == 0xc2 && s[1] < 0xa0) ||      /* C1 controls */
        (n == 3 && s[0] == 0xe0 && s[1] < 0xa0) ||      /* overlong */
        (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||     /* surrogates */
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) ||      /* overlong */
        (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))       /* above U+10FFFF */
        return 0;
    return n;
}

/* Writes one log line's bytes: as they are, or escaped so that every byte shows: NUL as \0,
 * CR as \r, other control bytes and bytes that are not UTF-8 as \xNN, a backslash as \\.
 * A tab and printable UTF-8 pass. */
static void put_log_line(FILE *out, const char *text, size_t len, bool escape)
{
    const unsigned char *s = (const unsigned char *)text;

    if (!escape) {
        (void)fwrite(text, 1, len, out); /* like every printf here: stdout's errors are its */
        return;
    }
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n;
        if (c == '\\') {
            fputs("\\\\", out);
        } else if (c == '\t' || (c >= 0x20 && c < 0x7f)) {
            fputc(c, out);
        } else if (c == 0) {
            fputs("\\0", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c >= 0x80 && (n = utf8_printable(s + i, len - i)) > 0) {
            (void)fwrite(s + i, 1, n, out);
            i += n;
            continue;
        } else {
            fprintf(out, "\\x%02x", c);
        }
        i++;
    }
}

static const struct verb_spec *find_verb(const char *word)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(word, verbs[i].name) == 0)
            return &verbs[i];
    }
    return NULL;
}

static int __attribute__((format(printf, 2, 3))) usage_error(FILE *err, const char *fmt, ...)
{
    va_list ap;

    fputs("tend: ", err);
    va_start(ap, fmt);
    vfprintf(err, fmt, ap);
    va_end(ap);
    fputs(" (see tend --help)\n", err);
    return EXIT_USAGE;
}

static unsigned long long now_ms(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* Copies s into buf with control bytes shown as '?', cut to fit: for echoing untrusted text
 * (a malformed reply) in one terminal line. */
static const char *shown(const char *s, size_t len, char *buf, size_t buf_len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < buf_len; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- Socket path --------------------------------------------------------------------------- */

const char *client_default_socket(char *buf, size_t len)
{
    char dir[PATH_MAX];
    int n;

    if (runtime_dir(dir, sizeof dir) == NULL)
        return NULL;
    n = snprintf(buf, len, "%s/tend.sock", dir);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return buf;
}

/* Expands %(here)s, %(ENV_X)s and %% in a config value, as supervisord does for these
 * keys; any other %(...)s is left as written. */
static char *expand_value(const char *value, const char *config_file)
{
    struct str out = {0};

    for (const char *p = value; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == '%') {
            str_append_char(&out, '%');
            p++;
            continue;
        }
        const char *end = p[0] == '%' && p[1] == '(' ? strstr(p, ")s") : NULL;
        if (end == NULL) {
            str_append_char(&out, *p);
            continue;
        }
        const char *name = p + 2;
        size_t name_len = (size_t)(end - name);
        if (name_len == 4 && memcmp(name, "here", 4) == 0) {
            /* supervisord's %(here)s is the config file's directory, made absolute. */
            char *abs = realpath(config_file, NULL);
            const char *file = abs != NULL ? abs : config_file;
            const char *slash = strrchr(file, '/');
            if (slash == NULL)
                str_append(&out, ".");
            else
                str_append_len(&out, file, slash == file ? 1 : (size_t)(slash - file));
            free(abs);
        } else if (name_len > 4 && memcmp(name, "ENV_", 4) == 0) {
            char *var = xstrndup(name + 4, name_len - 4);
            const char *v = getenv(var);
            free(var);
            str_append(&out, v != NULL ? v : "");
        } else {
            str_append_len(&out, p, (size_t)(end + 2 - p));
        }
        p = end + 1;
    }
    return str_release(&out);
}

/* The tiny stand-in for the config module: scans an INI file for the socket keys only.
 * Returns the expanded value (malloc'd) or NULL when the file names none; -1 on a read
 * error. TODO(config): replace with the real config loader once it is wired. */
static int scan_config_socket(const char *config_file, char **out)
{
    /* Priority of the places a socket may be named, best first. */
    static const struct {
        const char *section, *key;
    } places[] = {
        {"tend", "socket"}, {"supervisord", "socket"}, {"unix_http_server", "file"},
    };
    char *found[3] = {NULL, NULL, NULL};
    char *line = NULL;
    size_t cap = 0;
    char section[128] = "";
    FILE *f = fopen(config_file, "re");

    *out = NULL;
    if (f == NULL)
        return -1;
    while (getline(&line, &cap, f) != -1) {
        if (line[0] == ' ' || line[0] == '\t')
            continue; /* a continuation line of a multi-line value: not ours */
        char *s = str_trim(line);
        if (s[0] == '\0' || s[0] == ';' || s[0] == '#')
            continue;
        if (s[0] == '[') {
            char *close = strchr(s, ']');
            size_t n = close != NULL ? (size_t)(close - s - 1) : 0;
            if (n >= sizeof section)
                n = 0;
            memcpy(section, s + 1, n);
            section[n] = '\0';
            continue;
        }
        size_t klen = strcspn(s, "=:");
        if (s[klen] == '\0')
            continue;
        char *value = s + klen + 1;
        s[klen] = '\0';
        char *key = str_trim(s);
        /* An inline comment needs whitespace before its ';', as in supervisord. */
        for (char *c = value; *c != '\0'; c++) {
            if (*c == ';' && c > value && (c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                break;
            }
        }
        value = str_trim(value);
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(section, places[i].section) == 0 && str_ieq(key, places[i].key)) {
                free(found[i]);
                found[i] = value[0] != '\0' ? expand_value(value, config_file) : NULL;
            }
        }
    }
    int read_errno = ferror(f) ? EIO : 0;
    free(line);
    (void)fclose(f); /* read-only stream: nothing to lose on close */
    for (size_t i = 0; i < 3; i++) {
        if (*out == NULL)
            *out = found[i];
        else
            free(found[i]);
    }
    if (read_errno != 0) {
        free(*out);
        *out = NULL;
        errno = read_errno;
        return -1;
    }
    return 0;
}

const char *client_socket_path(const char *socket_opt, const char *config_file, char *buf,
                               size_t len, char *why, size_t why_len)
{
    const char *env = getenv("TEND_SOCKET");
    const char *path = NULL;
    char *from_config = NULL;

    if (socket_opt != NULL) {
        path = socket_opt;
    } else if (env != NULL && env[0] != '\0') {
        path = env;
    } else {
        /* The socket the supervisor of this config listens on: read with the supervisor's
         * own parser (includes, expansions; not the programs, which would cost a client
         * 8 ms at 1,000 of them), or, for a config it would reject, with a plain scan.
         * Without -c, the config the supervisor would find by default. */
        const char *cf = config_file != NULL ? config_file : config_default_path();
        struct config_diags diags = {0};
        bool parsed = cf != NULL && config_socket_path(cf, &from_config, &diags) == 0;
        if (!parsed && config_file != NULL &&
            scan_config_socket(config_file, &from_config) == -1) {
            snprintf(why, why_len, "cannot read %s: %s", config_file, strerror(errno));
            config_diags_free(&diags);
            return NULL;
        }
        config_diags_free(&diags);
        path = from_config;
    }
    if (path == NULL) {
        if (client_default_socket(buf, len) == NULL) {
            snprintf(why, why_len, "default socket path too long");
            return NULL;
        }
        return buf;
    }
    if (strlen(path) >= len) {
        snprintf(why, why_len, "socket path too long: %s", path);
        free(from_config);
        return NULL;
    }
    strcpy(buf, path);
    free(from_config);
    return buf;
}

/* ---- Formatting ---------------------------------------------------------------------------- */

/* The decimal digits of v, written backwards to end; returns where they start. */
static char *put_decimal(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return end;
}

/* v in decimal at the end of buf (size bytes, 21 at least), NUL-terminated; returns it. */
static const char *decimal(char *buf, size_t size, unsigned long long v)
{
    buf[size - 1] = '\0';
    return put_decimal(buf + size - 1, v);
}

const char *client_format_uptime(unsigned long long seconds, char *buf, size_t len)
{
    unsigned long long days = seconds / 86400;
    unsigned rest = (unsigned)(seconds % 86400);
    char tmp[48], *end = tmp + sizeof tmp - 1, *p;

    /* "[Dd ]H:MM:SS", built backwards without printf (the table has a cell a row). */
    *end = '\0';
    p = end;
    for (int i = 0; i < 2; i++) {
        unsigned v = i == 0 ? rest % 60 : rest / 60 % 60;
        *--p = (char)('0' + v % 10);
        *--p = (char)('0' + v / 10);
        *--p = ':';
    }
    p = put_decimal(p, rest / 3600);
    if (days > 0) {
        *--p = ' ';
        *--p = 'd';
        p = put_decimal(p, days);
    }
    if (len > 0) {
        size_t n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
    }
    return buf;
}

/* Length of a valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, nothing
 * above U+10FFFF), or 0 if the bytes there are not one. */
static size_t utf8_seq_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static void json_put_string(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', out);
    while (*p != '\0') {
        unsigned char c = *p;
        switch (c) {
        case '"': fputs("\\\"", out); p++; continue;
        case '\\': fputs("\\\\", out); p++; continue;
        case '\b': fputs("\\b", out); p++; continue;
        case '\f': fputs("\\f", out); p++; continue;
        case '\n': fputs("\\n", out); p++; continue;
        case '\r': fputs("\\r", out); p++; continue;
        case '\t': fputs("\\t", out); p++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\u%04x", c);
            p++;
            continue;
        }
        /* utf8_seq_len stops at the string's NUL: a NUL is never a continuation byte. */
        size_t n = utf8_seq_len(p);
        if (n == 0) {
            fputs("\\ufffd", out);
            p++;
            continue;
        }
        fwrite(p, 1, n, out);
        p += n;
    }
    fputc('"', out);
}

static void format_json(FILE *out, const struct proto_proc *procs, size_t n)
{
    if (n == 0) {
        fputs("[]\n", out);
        return;
    }
    fputs("[\n", out);
    for (size_t i = 0; i < n; i++) {
        const struct proto_proc *p = &procs[i];
        fputs("  {\"name\": ", out);
        json_put_string(out, p->name ? p->name : "");
        fputs(", \"group\": ", out);
        json_put_string(out, p->group ? p->group : "");
        fputs(", \"state\": ", out);
        json_put_string(out, p->state ? p->state : "");
        fprintf(out, ", \"pid\": %ld, \"uptime\": %llu, \"restarts\": %llu, \"exit\": ",
                (long)p->pid, p->uptime_s, p->restarts);
        json_put_string(out, p->exit ? p->exit : "");
        fputs(", \"reason\": ", out);
        json_put_string(out, p->reason ? p->reason : "");
        fputs(", \"health\": ", out);
        json_put_string(out, p->health ? p->health : "");
        fprintf(out, ", \"dropped\": %llu", p->dropped_bytes);
        if (p->supervisor_pid > 0)
            fprintf(out, ", \"supervisor_pid\": %ld, \"keeper_pid\": %ld",
                    (long)p->supervisor_pid, (long)p->keeper_pid);
        /* Only when there is something to say, like the usage figures. */
        if (p->waiting != NULL && p->waiting[0] != '\0') {
            fputs(", \"waiting\": ", out);
            json_put_string(out, p->waiting);
        }
        if (p->status != NULL && p->status[0] != '\0') {
            fputs(", \"status\": ", out);
            json_put_string(out, p->status);
        }
        if (p->has_memory)
            fprintf(out, ", \"memory\": %llu", p->memory_bytes);
        if (p->has_cpu)
            fprintf(out, ", \"cpu\": %llu", p->cpu_usec);
        if (p->has_tasks)
            fprintf(out, ", \"tasks\": %llu", p->tasks);
        fprintf(out, "}%s\n", i + 1 < n ? "," : "");
    }
    fputs("]\n", out);
}

/* Set by client_run for the status table it prints on a terminal. */
static bool colour;

/* The SGR colour of a state: green running, yellow on the way, red failed. */
static const char *state_colour(const char *state)
{
    if (strcmp(state, "RUNNING") == 0)
        return "\033[32m";
    if (strcmp(state, "STARTING") == 0 || strcmp(state, "STOPPING") == 0 ||
        strcmp(state, "BACKOFF") == 0 || strcmp(state, "UNKNOWN") == 0)
        return "\033[33m";
    if (strcmp(state, "FATAL") == 0 || strcmp(state, "EXITED") == 0)
        return "\033[31m";
    return NULL;
}

enum { COL_NAME, COL_STATE, COL_PID, COL_UPTIME, COL_RESTARTS, COL_MEM, COL_CPU, COL_TASKS,
       COL_HEALTH, COL_EXIT, NCOLS };

static const char *const col_titles[NCOLS] = {
    "NAME", "STATE", "PID", "UPTIME", "RESTARTS", "MEM", "CPU", "TASKS", "HEALTH", "EXIT/REASON",
};

/* 1536 bytes as "1.5K", and so on: the table's memory column, in buf (at least 24 bytes).
 * In integers, rounded half to even like printf's "%.1f" of the exact quotient, and without
 * printf: the table formats thousands of cells. */
static const char *format_bytes(unsigned long long n, char *buf)
{
    static const char units[] = "BKMGTP";
    char *end = buf + 23;
    int u = 0;

    *end = '\0';
    while (u < 5 && n >> (10 * (u + 1)) != 0)
        u++;
    if (u == 0) {
        *--end = 'B';
        return put_decimal(end, n);
    }
    unsigned shift = 10 * (unsigned)u;
    unsigned long long mask = (1ULL << shift) - 1, half = 1ULL << (shift - 1);
    unsigned long long frac = (n & mask) * 10; /* < 10 * 2^50: no overflow */
    unsigned long long tenths = (n >> shift) * 10 + (frac >> shift), rest = frac & mask;
    if (rest > half || (rest == half && tenths % 2 == 1))
        tenths++;
    *--end = units[u];
    *--end = (char)('0' + tenths % 10);
    *--end = '.';
    return put_decimal(end, tenths / 10);
}

/* CPU microseconds as seconds with two decimals, "1.25s", in buf (at least 32 bytes). */
static const char *format_cpu(unsigned long long usec, char *buf)
{
    unsigned long long centis = usec / 10000 + (usec % 10000 >= 5000);
    char *end = buf + 31;

    *end = '\0';
    *--end = 's';
    *--end = (char)('0' + centis % 10);
    *--end = (char)('0' + centis / 10 % 10);
    *--end = '.';
    return put_decimal(end, centis / 100);
}

/* Terminal columns a cell takes: code points, which is right for everything but wide
 * (East Asian) and combining characters. */
static size_t display_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* str_append_len, without its call while the line has room: a table of thousands of rows
 * appends about fifteen pieces to each. */
static inline void line_put(struct str *line, const char *s, size_t n)
{
    if (line->cap - line->len > n) {
        memcpy(line->buf + line->len, s, n);
        line->len += n;
        line->buf[line->len] = '\0';
    } else {
        str_append_len(line, s, n);
    }
}

/* Appends s with its control bytes as '?' (a name or a reason could hold escapes). Returns
 * the columns it takes (display_width). */
static size_t put_clean(struct str *line, const char *s)
{
    size_t w = 0;

    for (;;) {
        const char *p = s;
        for (; (unsigned char)*p >= 0x20 && *p != 0x7f; p++)
            w += ((unsigned char)*p & 0xC0) != 0x80;
        if (p > s)
            line_put(line, s, (size_t)(p - s));
        if (*p == '\0')
            return w;
        line_put(line, "?", 1);
        w++;
        s = p + 1;
    }
}

static void put_spaces(struct str *line, size_t n)
{
    static const char spaces[] = "                                ";

    while (n > 0) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        line_put(line, spaces, k);
        n -= k;
    }
}

/* A table cell: text, or "text (more)" when more is set (a reason and the exit it ended
 * with). Numbers are formatted into the row's own buffers. */
struct cell {
    const char *text, *more;
};

struct row {
    struct cell c[NCOLS];
    char pid[24], uptime[48], restarts[24], mem[24], cpu[32], tasks[24];
};

static size_t cell_width(const struct cell *c)
{
    return display_width(c->text) + (c->more != NULL ? display_width(c->more) + 3 : 0);
}

/* Appends the cell; returns the columns it takes (cell_width). */
static size_t put_cell(struct str *line, const struct cell *c)
{
    size_t w = put_clean(line, c->text);

    if (c->more != NULL) {
        line_put(line, " (", 2);
        w += put_clean(line, c->more) + 3;
        line_put(line, ")", 1);
    }
    return w;
}

/* The cells of one row; "" for a usage figure the row lacks. */
static void table_cells(const struct proto_proc *p, struct row *r)
{
    const char *exit = p->exit ? p->exit : "";
    const char *reason = p->reason ? p->reason : "";
    /* What it waits for says more than an old failure; then what it says of itself. In
     * BACKOFF for a resource, the reason already names it in words. */
    bool backoff = p->state != NULL && strcmp(p->state, "BACKOFF") == 0;
    if (p->waiting != NULL && p->waiting[0] != '\0' && !backoff)
        reason = p->waiting;
    else if (reason[0] == '\0' && p->status != NULL)
        reason = p->status;

    for (int c = 0; c < NCOLS; c++)
        r->c[c] = (struct cell){"", NULL};
    r->c[COL_NAME].text = p->name ? p->name : "";
    r->c[COL_STATE].text = p->state ? p->state : "";
    if (p->pid > 0) {
        r->c[COL_PID].text = decimal(r->pid, sizeof r->pid, (unsigned long long)p->pid);
        r->c[COL_UPTIME].text = client_format_uptime(p->uptime_s, r->uptime, sizeof r->uptime);
    } else {
        r->c[COL_PID].text = "-";
        r->c[COL_UPTIME].text = "-";
    }
    r->c[COL_RESTARTS].text = decimal(r->restarts, sizeof r->restarts, p->restarts);
    if (p->has_memory)
        r->c[COL_MEM].text = format_bytes(p->memory_bytes, r->mem);
    if (p->has_cpu)
        r->c[COL_CPU].text = format_cpu(p->cpu_usec, r->cpu);
    if (p->has_tasks)
        r->c[COL_TASKS].text = decimal(r->tasks, sizeof r->tasks, p->tasks);
    r->c[COL_HEALTH].text = p->health ? p->health : "";
    if (reason[0] != '\0' && exit[0] != '\0')
        r->c[COL_EXIT] = (struct cell){reason, exit};
    else
        r->c[COL_EXIT].text = reason[0] != '\0' ? reason : exit;
}

/* Two passes over the rows, each formatting them again into one row on the stack: widths,
 * then lines, each built whole and written at once. A table of thousands of rows costs
 * little more than its bytes. */
static void format_table(FILE *out, const struct proto_proc *procs, size_t n)
{
    size_t width[NCOLS];
    bool shown_col[NCOLS] = {true, true, true, true, true, false, false, false, false, false};
    struct row r;
    struct str line = {0};

    for (int c = 0; c < NCOLS; c++)
        width[c] = strlen(col_titles[c]);
    for (size_t i = 0; i < n; i++) {
        table_cells(&procs[i], &r);
        for (int c = 0; c < NCOLS; c++) {
            size_t w = cell_width(&r.c[c]);
            if (w > width[c])
                width[c] = w;
            if (c >= COL_MEM && r.c[c].text[0] != '\0')
                shown_col[c] = true;
        }
    }
    int last = NCOLS - 1;
    while (!shown_col[last])
        last--;
    /* Row -1 is the header. A cell is padded only when a non-empty one follows it, so that
     * no line ends in blanks. */
    for (long i = -1; i < (long)n; i++) {
        if (i < 0) {
            for (int c = 0; c < NCOLS; c++)
                r.c[c] = (struct cell){col_titles[c], NULL};
        } else {
            table_cells(&procs[i], &r);
            /* A usage column shown for some rows reads "-" in the others, like PID. */
            for (int c = COL_MEM; c <= COL_TASKS; c++) {
                if (shown_col[c] && r.c[c].text[0] == '\0')
                    r.c[c].text = "-";
            }
        }
        int row_last = last;
        while (i >= 0 && row_last > 0 && (!shown_col[row_last] || r.c[row_last].text[0] == '\0'))
            row_last--;
        str_clear(&line);
        for (int c = 0; c <= row_last; c++) {
            if (!shown_col[c])
                continue;
            const char *sgr = colour && i >= 0 && c == COL_STATE ? state_colour(r.c[c].text)
                                                                 : NULL;
            if (sgr != NULL)
                line_put(&line, sgr, strlen(sgr));
            size_t w = put_cell(&line, &r.c[c]);
            if (sgr != NULL)
                line_put(&line, "\033[0m", 4);
            if (c < row_last)
                put_spaces(&line, width[c] - w + 2);
        }
        line_put(&line, "\n", 1);
        fwrite(line.buf, 1, line.len, out);
    }
    str_free(&line);
}

void client_format_status(FILE *out, const struct proto_proc *procs, size_t n, bool json)
{
    if (json)
        format_json(out, procs, n);
    else if (n > 0)
        format_table(out, procs, n);
}

/* ---- Connection ---------------------------------------------------------------------------- */

/* Connects to the socket at path. Returns the fd, or -1 with errno (EAGAIN: the supervisor
 * did not accept within CLIENT_CONNECT_TIMEOUT_MS). */
static int connect_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct timeval tv = {.tv_sec = CLIENT_CONNECT_TIMEOUT_MS / 1000,
                         .tv_usec = CLIENT_CONNECT_TIMEOUT_MS % 1000 * 1000};

    if (strlen(path) >= sizeof addr.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    /* A unix-socket connect completes at once unless the listener's backlog is full. In
     * that case a non-blocking connect fails with EAGAIN and cannot be waited for with poll,
     * while a blocking one waits for room for at most SO_SNDTIMEO and then fails with EAGAIN:
     * that is the connect timeout. The same bound then applies to sending the request. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        /* MSG_NOSIGNAL: a supervisor that went away must give EPIPE, not kill the CLI. */
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n == -1) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* What came back, collected for printing once the final line is in. */
/* Where the kept proc lines' strings live: filled chunk after chunk, freed together. A
 * line's words take about 190 bytes, its non-empty strings about 30; at 1,000 programs that
 * spares 40 pages, and a fresh page costs a status call more than parsing a line. */
#define STRINGS_CHUNK 16384

struct strings {
    char **chunks;
    size_t n;
    char *at;
    size_t left;
};

static const char *strings_keep(struct strings *a, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return "";
    size_t len = strlen(s) + 1;
    if (len > a->left) {
        size_t size = len > STRINGS_CHUNK ? len : STRINGS_CHUNK;
        a->chunks = xrealloc(a->chunks, (a->n + 1) * sizeof *a->chunks);
        a->at = a->chunks[a->n++] = xmalloc(size);
        a->left = size;
    }
    char *kept = memcpy(a->at, s, len);
    a->at += len;
    a->left -= len;
    return kept;
}

struct reply_state {
    struct proto_proc *procs;  /* the proc lines, their strings in strings */
    struct strings strings;
    size_t nprocs, cap;
    char **msgs;               /* msg lines kept for a JSON result (pid, version, reload) */
    size_t nmsgs;
    bool final;
    int exit_code;
};

static void reply_state_free(struct reply_state *st)
{
    for (size_t i = 0; i < st->strings.n; i++)
        free(st->strings.chunks[i]);
    free(st->strings.chunks);
    free(st->procs);
    for (size_t i = 0; i < st->nmsgs; i++)
        free(st->msgs[i]);
    free(st->msgs);
    memset(st, 0, sizeof *st);
}

/* ---- What start/stop/restart wait for, on a terminal ------------------------------------- */

static bool waiting_shown; /* a waiting line is on the terminal, to be erased */

static void clear_waiting(FILE *err)
{
    if (!waiting_shown)
        return;
    fputs("\r\033[K", err);
    fflush(err);
    waiting_shown = false;
}

static int send_all(int fd, const char *data, size_t len);
static int connect_socket(const char *path);

/* Asks the supervisor (on a second connection) for the state of the processes the request
 * named, and shows those not yet where the request takes them, on one line of the terminal
 * that the next output replaces: "waiting 3s for web (STOPPING, pid 123), db (STARTING)". */
static void show_waiting(const struct client_opts *o, unsigned long long started, FILE *err)
{
    struct proto_buf req = {0};
    struct proto_splitter sp;
    struct str line = {0};
    int fd = -1;
    bool stop = strcmp(o->verb->name, "stop") == 0;
    size_t shown_n = 0;

    if (o->path == NULL || proto_build_request(&req, "status", o->args, o->nargs) == -1 ||
        (fd = connect_socket(o->path)) == -1 || send_all(fd, req.data, req.len) == -1) {
        fd_close_quiet(fd);
        proto_buf_free(&req);
        return; /* the display is a courtesy: the request itself goes on */
    }
    proto_splitter_init(&sp, PROTO_MAX_LINE);
    str_appendf(&line, "waiting %llus for", (now_ms() - started + 500) / 1000);
    for (bool done = false; !done;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 1000) <= 0 || proto_splitter_read(&sp, fd) <= 0)
            break;
        const char *l;
        size_t len;
        while (!done && proto_splitter_next(&sp, &l, &len) == 1) {
            struct proto_reply r;
            if (proto_parse_reply(l, len, &r) == -1)
                continue;
            if (r.kind == PROTO_REPLY_OK || r.kind == PROTO_REPLY_ERR) {
                done = true;
            } else if (r.kind == PROTO_REPLY_PROC) {
                const char *state = r.proc.state;
                bool settled = stop ? strcmp(state, "STOPPED") == 0 ||
                                          strcmp(state, "EXITED") == 0 ||
                                          strcmp(state, "FATAL") == 0
                                    : strcmp(state, "RUNNING") == 0 ||
                                          strcmp(state, "FATAL") == 0;
                if (!settled && shown_n < 8) {
                    if (r.proc.pid > 0)
                        str_appendf(&line, "%s %s (%s, pid %ld)", shown_n ? "," : "",
                                    r.proc.name, state, (long)r.proc.pid);
                    else
                        str_appendf(&line, "%s %s (%s)", shown_n ? "," : "", r.proc.name, state);
                    shown_n++;
                }
            }
            proto_reply_free(&r);
        }
    }
    proto_splitter_free(&sp);
    fd_close_quiet(fd);
    proto_buf_free(&req);
    if (shown_n > 0) {
        /* One terminal line: cut to 200 bytes (the name list is a hint, not a report). */
        fprintf(err, "\r\033[K%.200s", str_cstr(&line));
        fflush(err);
        waiting_shown = true;
    }
    str_free(&line);
}

/* Handles one reply line. Returns -1 on a malformed line (reported). */
static int handle_line(const struct client_opts *o, struct reply_state *st, const char *line,
                       size_t len, FILE *out, FILE *err)
{
    struct proto_reply r;
    char show[120];

    if (proto_parse_reply(line, len, &r) == -1) {
        fprintf(err, "tend: malformed reply from the supervisor: '%s'\n",
                shown(line, len, show, sizeof show));
        return -1;
    }
    switch (r.kind) {
    case PROTO_REPLY_PROC:
        if (st->nprocs == st->cap) {
            /* Large from the start: glibc maps a block this size on its own, untouched pages
             * cost nothing, and growing a mapped block moves no bytes (a status of 1,000
             * programs spent a tenth of its page faults on copies while the array grew). */
            st->cap = st->cap ? 2 * st->cap : 1024;
            st->procs = xrealloc(st->procs, st->cap * sizeof *st->procs);
        }
        struct proto_proc *p = &st->procs[st->nprocs++];
        *p = r.proc;
        const char **strs[] = {&p->name, &p->group, &p->state, &p->exit, &p->reason,
                               &p->health, &p->waiting, &p->status, &p->stdout_log,
                               &p->stderr_log};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
            *strs[i] = strings_keep(&st->strings, *strs[i]);
        break; /* r's storage is freed: the next line reuses it */
    case PROTO_REPLY_MSG:
        if (o->json && strcmp(o->verb->name, "status") != 0) {
            /* Kept for the JSON result, printed once the reply is complete. */
            st->msgs = xrealloc(st->msgs, (st->nmsgs + 1) * sizeof(*st->msgs));
            st->msgs[st->nmsgs++] = xstrdup(r.text);
            break;
        }
        if (strcmp(o->verb->name, "version") == 0) {
            fprintf(out, "supervisor: tend %s\n", r.text);
            break;
        }
        clear_waiting(err);
        /* With --json, stdout must stay one JSON document. */
        fprintf(o->json ? err : out, "%s\n", r.text);
        fflush(o->json ? err : out);
        break;
    case PROTO_REPLY_DATA:
        put_log_line(out, r.text, r.text_len, escape_log(o, out));
        fputc('\n', out);
        if (o->follow)
            fflush(out); /* followed lines show as they come, like tail -f */
        break;
    case PROTO_REPLY_OK:
        clear_waiting(err);
        st->final = true;
        st->exit_code = EXIT_OK;
        break;
    case PROTO_REPLY_ERR:
        clear_waiting(err);
        st->final = true;
        st->exit_code = EXIT_FAIL;
        fprintf(err, "tend: %s\n", r.text[0] != '\0' ? r.text : r.code);
        break;
    case PROTO_REPLY_INFO:  /* the CLI asks for no info */
    case PROTO_REPLY_OTHER:
        break; /* a newer supervisor's line kind: not for this client */
    }
    proto_reply_free(&r);
    return 0;
}

/* Sends the request and reads the reply. Returns the exit code. */
static int converse(const struct client_opts *o, int fd, const struct proto_buf *req,
                    struct reply_state *st, FILE *out, FILE *err)
{
    struct proto_splitter sp;
    unsigned long long deadline = o->verb->quick ? now_ms() + CLIENT_REPLY_TIMEOUT_MS : 0;
    unsigned long long started = now_ms();
    int rc = EXIT_FAIL;

    /* A supervisor that refuses the connection (denied, busy) answers at once and closes
     * without reading: the send then fails with EPIPE or ECONNRESET, but its err line is
     * waiting to be read, and it says more than the send error would. */
    if (send_all(fd, req->data, req->len) == -1 && errno != EPIPE && errno != ECONNRESET) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            fprintf(err, "tend: the supervisor does not read its socket (gave up after %d s)\n",
                    CLIENT_CONNECT_TIMEOUT_MS / 1000);
        else
            fprintf(err, "tend: cannot send the request: %s\n", strerror(errno));
        return EXIT_FAIL;
    }
    proto_splitter_init(&sp, PROTO_MAX_LINE);
    for (;;) {
        const char *line;
        size_t len;
        int got;
        while ((got = proto_splitter_next(&sp, &line, &len)) == 1) {
            if (handle_line(o, st, line, len, out, err) == -1)
                goto out;
            if (st->final) {
                rc = st->exit_code;
                goto out;
            }
        }
        if (got == -1) {
            fprintf(err, "tend: reply line from the supervisor longer than %d bytes\n",
                    PROTO_MAX_LINE);
            goto out;
        }
        int timeout = -1;
        if (deadline != 0) {
            unsigned long long now = now_ms();
            timeout = now >= deadline ? 0 : (int)(deadline - now);
        } else if (o->show_waiting) {
            timeout = 1000; /* the waiting line is refreshed every second */
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ready = poll(&pfd, 1, timeout);
        if (ready == -1 && errno == EINTR)
            continue;
        if (ready == 0 && deadline == 0 && o->show_waiting) {
            show_waiting(o, started, err);
            continue;
        }
        if (ready == -1) {
            fprintf(err, "tend: cannot wait for the reply: %s\n", strerror(errno));
            goto out;
        }
        if (ready == 0) {
            fprintf(err, "tend: no reply from the supervisor within %d s\n",
                    CLIENT_REPLY_TIMEOUT_MS / 1000);
            goto out;
        }
        ssize_t n = proto_splitter_read(&sp, fd);
        if (n == 0 || (n == -1 && errno == ECONNRESET)) {
            fprintf(err, "tend: the supervisor closed the connection before the reply ended\n");
            goto out;
        }
        if (n == -1) {
            fprintf(err, "tend: cannot read the reply: %s\n", strerror(errno));
            goto out;
        }
    }
out:
    proto_splitter_free(&sp);
    return rc;
}

/* ---- Command line -------------------------------------------------------------------------- */

/* Takes the value of -c/-s style options: "-c FILE", "-cFILE", "--config FILE",
 * "--config=FILE". Returns 1 if argv[*i] was that option (value in *value, *i advanced past
 * it), 0 if not, -1 if its value is missing. */
static int take_valued(int argc, char **argv, int *i, const char *shortopt, const char *longopt,
                       const char **value)
{
    const char *a = argv[*i];
    size_t llen = strlen(longopt);

    if (strcmp(a, shortopt) == 0 || strcmp(a, longopt) == 0) {
        if (*i + 1 >= argc)
            return -1;
        *value = argv[++*i];
        return 1;
    }
    if (strncmp(a, shortopt, 2) == 0 && a[1] != '-' && a[2] != '\0') {
        *value = a + 2;
        return 1;
    }
    if (strncmp(a, longopt, llen) == 0 && a[llen] == '=') {
        *value = a + llen + 1;
        return 1;
    }
    return 0;
}

static int parse_command_line(int argc, char **argv, struct client_opts *o, FILE *err)
{
    bool options_done = false;
    const char *verb_word = NULL;

    o->args = xcalloc((size_t)argc + 1, sizeof *o->args);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        /* kill's "-SIGNAL" form, for the signal verb's first word only. */
        if (!options_done && a[0] == '-' && verb_word != NULL && o->nargs == 0 &&
            strcmp(verb_word, "signal") == 0 && sig_from_name(a + 1) > 0) {
            o->args[o->nargs++] = argv[i] + 1;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1] != '\0') {
            int r;
            if (strcmp(a, "--") == 0) {
                options_done = true;
                continue;
            }
            if ((r = take_valued(argc, argv, &i, "-c", "--config", &o->config)) != 0 ||
                (r = take_valued(argc, argv, &i, "-s", "--socket", &o->socket)) != 0 ||
                (r = take_valued(argc, argv, &i, "-n", "--lines", &o->lines)) != 0) {
                if (r == -1)
                    return usage_error(err, "option '%s' needs a value", a);
                continue;
            }
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
                o->help = true;
            else if (strcmp(a, "--json") == 0)
                o->json = true;
            else if (strcmp(a, "--no-wait") == 0)
                o->no_wait = true;
            else if (strcmp(a, "--stderr") == 0)
                o->use_stderr = true;
            else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)
                o->follow = true;
            else if (strcmp(a, "--raw") == 0)
                o->raw = true;
            else
                return usage_error(err, "unknown option '%s'", a);
            continue;
        }
        if (verb_word == NULL)
            verb_word = a;
        else
            o->args[o->nargs++] = argv[i];
    }
    if (verb_word == NULL) {
        if (o->help)
            return 0; /* general help: o->verb stays NULL */
        return usage_error(err, "%s", "missing command");
    }
    o->verb = find_verb(verb_word);
    if (o->verb == NULL) {
        const char *near = NULL;
        size_t best = (size_t)-1;
        for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
            size_t d = str_levenshtein(verb_word, verbs[i].name);
            if (d < best) {
                best = d;
                near = verbs[i].name;
            }
        }
        if (strcmp(verb_word, "tail") == 0)
            near = "logs", best = 0;
        else if (strcmp(verb_word, "update") == 0)
            near = "reload", best = 0;
        if (near != NULL && (best <= 2 || best <= strlen(verb_word) / 3))
            return usage_error(err, "unknown command '%s'; did you mean '%s'?", verb_word, near);
        return usage_error(err, "unknown command '%s'", verb_word);
    }
    return 0;
}

/* Checks everything the supervisor would reject that can be known here. */
static int validate(struct client_opts *o, FILE *err)
{
    const struct verb_spec *v = o->verb;

    if (o->json && !v->json)
        return usage_error(err, "%s: unknown option '--json'", v->name);
    if (o->no_wait && !v->no_wait)
        return usage_error(err, "%s: unknown option '--no-wait'", v->name);
    if ((o->lines || o->use_stderr || o->follow || o->raw) && strcmp(v->name, "logs") != 0)
        return usage_error(err, "%s: -n, --stderr, -f and --raw are options of logs", v->name);
    if (o->lines != NULL) {
        unsigned long long n;
        if (parse_uint(o->lines, PROTO_MAX_LOG_LINES, &n) == -1)
            return usage_error(err, "logs: -n wants a number of lines up to %d, not '%s'",
                               PROTO_MAX_LOG_LINES, o->lines);
    }
    if ((int)o->nargs < v->min_args) {
        if (strcmp(v->name, "signal") == 0)
            return usage_error(err, "signal needs a %s", o->nargs == 0 ? "SIGNAL and a NAME"
                                                                          : "NAME");
        return usage_error(err, "%s needs a NAME, GROUP:* or all", v->name);
    }
    if (v->max_args >= 0 && (int)o->nargs > v->max_args) {
        /* Name the first word too many: that is the one at fault. */
        if (v->max_args == 0)
            return usage_error(err, "%s takes no argument, not '%s'", v->name, o->args[0]);
        return usage_error(err, "%s takes at most one NAME: '%s' is one too many", v->name,
                           o->args[v->max_args]);
    }
    for (size_t i = 0; i < o->nargs; i++) {
        if (o->args[i][0] == '\0')
            return usage_error(err, "%s: empty argument", v->name);
    }
    if (strcmp(v->name, "signal") == 0 && sig_from_name(o->args[0]) <= 0) {
        fprintf(err, "tend: unknown signal '%s' (a name as in kill -l, or a number)\n",
                o->args[0]);
        return EXIT_USAGE;
    }
    return 0;
}

/* The request's words after the verb: options, "--" when a positional word starts with '-',
 * then the positional words (the signal in its canonical name). */
static int build_request(const struct client_opts *o, struct proto_buf *req, FILE *err)
{
    char **words = xcalloc(o->nargs + 8, sizeof *words);
    char signame[16];
    size_t n = 0;
    bool dash = false;

    if (o->no_wait)
        words[n++] = "--no-wait";
    if (o->lines != NULL) {
        words[n++] = "-n";
        words[n++] = (char *)o->lines;
    }
    if (o->use_stderr)
        words[n++] = "--stderr";
    if (o->follow)
        words[n++] = "-f";
    for (size_t i = 0; i < o->nargs; i++)
        dash = dash || o->args[i][0] == '-';
    if (dash)
        words[n++] = "--";
    for (size_t i = 0; i < o->nargs; i++)
        words[n++] = o->args[i];
    if (strcmp(o->verb->name, "signal") == 0) {
        int signo = sig_from_name(o->args[0]);
        const char *name = sig_name(signo);
        if (name != NULL)
            snprintf(signame, sizeof signame, "%s", name);
        else
            snprintf(signame, sizeof signame, "%d", signo);
        words[n - o->nargs] = signame;
    }
    int rc = proto_build_request(req, o->verb->name, words, n);
    free(words);
    if (rc == -1) {
        fprintf(err, "tend: request too long (the protocol's limit is %d bytes)\n",
                PROTO_MAX_REQUEST);
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- Finding the supervisor --------------------------------------------------------------- */

/* One place the client tried, for the "cannot reach" message. */
struct attempts {
    struct str text; /* "; "-separated descriptions */
    int worst_errno;  /* EACCES beats everything: the supervisor is there but not for us */
};

static void attempt_note(struct attempts *a, const char *what, const char *path, int e)
{
    if (a->text.len > 0)
        str_append(&a->text, "; ");
    str_appendf(&a->text, "%s %s: %s", what, path,
                e == EAGAIN ? "not accepting connections" : strerror(e));
    if (e == EACCES || (a->worst_errno != EACCES && e != ENOENT && e != ECONNREFUSED))
        a->worst_errno = e;
}

/* Connects to the socket named by config (or by the default socket when the config names
 * none). -1 with errno, and the path tried in path. */
static int connect_config(const char *config, char *path, size_t len, char *why, size_t why_len)
{
    if (client_socket_path(NULL, config, path, len, why, why_len) == NULL) {
        errno = EINVAL;
        return -1;
    }
    return connect_socket(path);
}

/* The live advertised supervisors (their connected fds in fds, n of them, at most cap).
 * Returns how many there are; the entries stay in *list for the caller to free. */
static size_t live_advertised(struct runtime_entry **list, size_t *nlist, int *fds, size_t cap,
                              size_t *live_idx)
{
    size_t live = 0;

    *nlist = runtime_list(NULL, list);
    for (size_t i = 0; i < *nlist; i++) {
        int fd = connect_socket((*list)[i].socket);
        if (fd == -1)
            continue; /* a pid reused after its supervisor died, or a socket removed */
        if (live < cap) {
            fds[live] = fd;
            live_idx[live] = i;
        } else {
            fd_close_quiet(fd);
        }
        live++;
    }
    return live;
}

/* Finds the supervisor the user means and connects to it (the order is in tend(1)): -s, then
 * $TEND_SOCKET, then -c FILE; without them ./tend.conf when there is one; else the one
 * running supervisor advertised in the runtime directory; else the system config
 * (/etc/tend.conf, /etc/supervisor/supervisord.conf); else the default socket. Returns the
 * connected fd (and the socket's path in used), or -1 with the message printed and the exit
 * code in *rc. */
static int reach_supervisor(const struct client_opts *o, FILE *err, int *rc, char *used,
                            size_t used_len)
{
    const char *env = getenv("TEND_SOCKET");
    char path[PATH_MAX], why[PATH_MAX + 64], dir[PATH_MAX];
    struct attempts a = {0};
    int fd;

    *rc = EXIT_FAIL;
    if (o->socket != NULL || (env != NULL && env[0] != '\0') || o->config != NULL ||
        access("tend.conf", F_OK) == 0) {
        const char *config = o->config;
        const char *from;
        if (o->socket != NULL)
            from = "socket (-s)";
        else if (env != NULL && env[0] != '\0')
            from = "socket ($TEND_SOCKET)";
        else
            from = NULL;
        if (from == NULL && config == NULL)
            config = "./tend.conf"; /* here: the supervisor of this directory is the one meant */
        if (client_socket_path(o->socket, config, path, sizeof path, why, sizeof why) == NULL) {
            fprintf(err, "tend: cannot reach the supervisor: %s\n", why);
            return -1;
        }
        fd = connect_socket(path);
        if (fd != -1) {
            snprintf(used, used_len, "%s", path);
            return fd;
        }
        char *what = from != NULL ? xstrdup(from) : xasprintf("socket of %s", config);
        attempt_note(&a, what, path, errno);
        free(what);
    } else {
        /* 1. The supervisors advertised in the runtime directory. */
        struct runtime_entry *list = NULL;
        size_t nlist = 0, idx[8];
        int fds[8];
        size_t live = live_advertised(&list, &nlist, fds, 8, idx);
        const char *sys = config_default_path(); /* ./tend.conf is absent here */
        if (live > 1 && sys != NULL) {
            /* Several: the one serving the system config is the default one. */
            char *real = realpath(sys, NULL);
            size_t pick = live;
            for (size_t i = 0; real != NULL && i < live && i < 8; i++) {
                const char *c = list[idx[i]].config;
                if (c != NULL && strcmp(c, real) == 0)
                    pick = pick == live ? i : live + 1;
            }
            free(real);
            if (pick < live) {
                for (size_t i = 0; i < live && i < 8; i++) {
                    if (i != pick)
                        fd_close_quiet(fds[i]);
                }
                fds[0] = fds[pick];
                idx[0] = idx[pick];
                live = 1;
            }
        }
        if (live == 1) {
            snprintf(used, used_len, "%s", list[idx[0]].socket);
            runtime_entries_free(list, nlist);
            str_free(&a.text);
            return fds[0];
        }
        if (live > 1) {
            fprintf(err, "tend: %zu supervisors are running; say which with -c CONFIG or "
                         "-s SOCKET:\n", live);
            for (size_t i = 0; i < live && i < 8; i++) {
                const struct runtime_entry *e = &list[idx[i]];
                fprintf(err, "  pid %ld: -c %s  -s %s\n", (long)e->pid,
                        e->config != NULL ? e->config : "?", e->socket);
                fd_close_quiet(fds[i]);
            }
            runtime_entries_free(list, nlist);
            *rc = EXIT_USAGE;
            return -1;
        }
        runtime_entries_free(list, nlist);
        if (runtime_dir(dir, sizeof dir) != NULL) {
            if (a.text.len > 0)
                str_append(&a.text, "; ");
            str_appendf(&a.text, "no running supervisor advertised in %s/supervisors", dir);
        }
        /* 2. The system config's socket. */
        if (sys != NULL) {
            fd = connect_config(sys, path, sizeof path, why, sizeof why);
            if (fd != -1) {
                str_free(&a.text);
                snprintf(used, used_len, "%s", path);
                return fd;
            }
            if (errno == EINVAL) {
                if (a.text.len > 0)
                    str_append(&a.text, "; ");
                str_appendf(&a.text, "%s: %s", sys, why);
            } else {
                char *what = xasprintf("socket of %s", sys);
                attempt_note(&a, what, path, errno);
                free(what);
            }
        }
        /* 3. The default socket, when the system config did not name it already. */
        char def[PATH_MAX];
        if (client_default_socket(def, sizeof def) != NULL && (sys == NULL ||
                                                               strcmp(def, path) != 0)) {
            fd = connect_socket(def);
            if (fd != -1) {
                str_free(&a.text);
                snprintf(used, used_len, "%s", def);
                return fd;
            }
            attempt_note(&a, "default socket", def, errno);
        }
    }
    if (a.worst_errno == EACCES) {
        fprintf(err, "tend: cannot reach the supervisor: permission denied (%s)\n", str_cstr(&a.text));
    } else if (a.worst_errno != 0) {
        fprintf(err, "tend: cannot reach the supervisor (%s)\n", str_cstr(&a.text));
    } else {
        fprintf(err, "tend: no supervisor running (%s)\n", str_cstr(&a.text));
        *rc = EXIT_NO_SUPERVISOR;
    }
    str_free(&a.text);
    return -1;
}

void client_each_verb(void (*fn)(const char *verb, const char *option, void *ctx), void *ctx)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        const struct verb_spec *v = &verbs[i];
        fn(v->name, NULL, ctx);
        if (v->json)
            fn(v->name, "--json", ctx);
        if (v->no_wait)
            fn(v->name, "--no-wait", ctx);
        if (strcmp(v->name, "logs") == 0) {
            /* parse_command_line's options of logs. */
            fn(v->name, "-n", ctx);
            fn(v->name, "--stderr", ctx);
            fn(v->name, "-f", ctx);
            fn(v->name, "--raw", ctx);
        }
    }
}

bool client_is_verb(const char *word)
{
    return find_verb(word) != NULL;
}

/* ---- Results printed after the reply ------------------------------------------------------ */

static bool is_number(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
    }
    return true;
}

/* The JSON document of pid, version and reload (doc/json.md), from the kept msg lines. */
static void print_json_result(const struct client_opts *o, const struct reply_state *st,
                              int rc, FILE *out)
{
    const char *verb = o->verb->name;

    if (strcmp(verb, "pid") == 0) {
        if (rc != EXIT_OK || st->nmsgs == 0 || !is_number(st->msgs[0]))
            return;
        fputs("{", out);
        if (o->nargs > 0) {
            fputs("\"name\": ", out);
            json_put_string(out, o->args[0]);
            fputs(", ", out);
        }
        fprintf(out, "\"pid\": %s}\n", st->msgs[0]);
    } else if (strcmp(verb, "version") == 0) {
        fputs("{\"client\": ", out);
        json_put_string(out, TEND_VERSION);
        fputs(", \"supervisor\": ", out);
        if (rc == EXIT_OK && st->nmsgs > 0)
            json_put_string(out, st->msgs[0]);
        else
            fputs("null", out);
        fputs("}\n", out);
    } else if (strcmp(verb, "reload") == 0) {
        static const char *const kinds[] = {"added", "changed", "updated", "removed"};
        bool first = true;
        fprintf(out, "{\"applied\": %s, \"changes\": [", rc == EXIT_OK ? "true" : "false");
        for (size_t i = 0; i < st->nmsgs; i++) {
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                size_t n = strlen(kinds[k]);
                const char *m = st->msgs[i];
                if (strncmp(m, kinds[k], n) != 0 || m[n] != ' ')
                    continue;
                const char *name = m + n + 1, *detail = strstr(name, " (");
                char *nm = xstrndup(name, detail != NULL ? (size_t)(detail - name) : strlen(name));
                fprintf(out, "%s{\"change\": \"%s\", \"name\": ", first ? "" : ", ", kinds[k]);
                json_put_string(out, nm);
                free(nm);
                if (detail != NULL) {
                    char *d = xstrndup(detail + 2, strlen(detail + 2) - (detail[strlen(detail) - 1]
                                                                             == ')'));
                    fputs(", \"detail\": ", out);
                    json_put_string(out, d);
                    free(d);
                }
                fputs("}", out);
                first = false;
            }
        }
        fputs("], \"diagnostics\": [", out);
        first = true;
        for (size_t i = 0; i < st->nmsgs; i++) {
            bool change = strcmp(st->msgs[i], "no changes") == 0;
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && !change; k++) {
                size_t n = strlen(kinds[k]);
                change = strncmp(st->msgs[i], kinds[k], n) == 0 && st->msgs[i][n] == ' ';
            }
            if (change)
                continue;
            fputs(first ? "" : ", ", out);
            json_put_string(out, st->msgs[i]);
            first = false;
        }
        fputs("]}\n", out);
    }
}

/* ---- logs of several processes -------------------------------------------------------------- */

struct log_stream {
    int fd;
    char *name;
    struct proto_splitter sp;
    bool done;
};

/* One `logs` connection per process, read together: each data line is printed as it comes,
 * after its process's name, so that with -f the processes' lines interleave as they are
 * written (as `docker compose logs -f` does). Returns the exit code. */
static int logs_multi(const struct client_opts *o, const char *path, char **names, size_t n,
                      FILE *out, FILE *err)
{
    struct log_stream *ls = xcalloc(n, sizeof(*ls));
    struct pollfd *pfd = xcalloc(n, sizeof(*pfd));
    size_t width = 0, open_n = 0;
    int rc = EXIT_OK;

    for (size_t i = 0; i < n; i++) {
        size_t w = display_width(names[i]);
        width = w > width ? w : width;
    }
    for (size_t i = 0; i < n; i++) {
        struct proto_buf req = {0};
        const char *words[6];
        size_t nw = 0;
        ls[i].fd = -1;
        ls[i].name = names[i];
        proto_splitter_init(&ls[i].sp, PROTO_MAX_LINE);
        if (o->lines != NULL) {
            words[nw++] = "-n";
            words[nw++] = o->lines;
        }
        if (o->use_stderr)
            words[nw++] = "--stderr";
        if (o->follow)
            words[nw++] = "-f";
        if (names[i][0] == '-')
            words[nw++] = "--";
        words[nw++] = names[i];
        if (proto_build_request(&req, "logs", (char **)words, nw) == -1 ||
            (ls[i].fd = connect_socket(path)) == -1 ||
            send_all(ls[i].fd, req.data, req.len) == -1) {
            fprintf(err, "tend: %s: cannot ask for its log: %s\n", names[i], strerror(errno));
            rc = EXIT_FAIL;
            ls[i].done = true;
        } else {
            open_n++;
        }
        proto_buf_free(&req);
    }
    while (open_n > 0) {
        for (size_t i = 0; i < n; i++) {
            pfd[i].fd = ls[i].done ? -1 : ls[i].fd;
            pfd[i].events = POLLIN;
        }
        if (poll(pfd, n, -1) == -1) {
            if (errno == EINTR)
                continue;
            fprintf(err, "tend: cannot wait for the logs: %s\n", strerror(errno));
            rc = EXIT_FAIL;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (ls[i].done || pfd[i].revents == 0)
                continue;
            ssize_t got = proto_splitter_read(&ls[i].sp, ls[i].fd);
            const char *line;
            size_t len;
            while (proto_splitter_next(&ls[i].sp, &line, &len) == 1) {
                struct proto_reply r;
                if (proto_parse_reply(line, len, &r) == -1)
                    continue;
                if (r.kind == PROTO_REPLY_DATA) {
                    fprintf(out, "%-*s | ", (int)width, ls[i].name);
                    put_log_line(out, r.text, r.text_len, escape_log(o, out));
                    fputc('\n', out);
                } else if (r.kind == PROTO_REPLY_ERR) {
                    fprintf(err, "tend: %s: %s\n", ls[i].name, r.text);
                    rc = EXIT_FAIL;
                    ls[i].done = true;
                } else if (r.kind == PROTO_REPLY_OK) {
                    ls[i].done = true;
                }
                proto_reply_free(&r);
                if (ls[i].done)
                    break;
            }
            if (o->follow)
                fflush(out);
            if (!ls[i].done && (got == 0 || (got == -1 && errno != EINTR && errno != EAGAIN))) {
                fprintf(err, "tend: %s: the supervisor closed the connection\n", ls[i].name);
                rc = EXIT_FAIL;
                ls[i].done = true;
            }
            if (ls[i].done)
                open_n--;
        }
    }
    for (size_t i = 0; i < n; i++) {
        fd_close_quiet(ls[i].fd);
        proto_splitter_free(&ls[i].sp);
    }
    free(ls);
    free(pfd);
    return rc;
}

/* The processes that the words of a logs command select, asked of the supervisor with a
 * status request on fd (which it consumes). Returns their names (n of them) or NULL with the
 * exit code in *rc. */
static char **select_names(const struct client_opts *o, int fd, size_t *n, int *rc, FILE *err)
{
    struct client_opts so = *o;
    struct proto_buf req = {0};
    struct reply_state st = {0};
    char **names = NULL;
    static const struct verb_spec status_spec = {"status", 0, -1, false, false, true, ""};

    so.verb = &status_spec;
    so.json = false;
    so.follow = false;
    *n = 0;
    if (proto_build_request(&req, "status", o->args, o->nargs) == -1) {
        fprintf(err, "tend: request too long\n");
        *rc = EXIT_USAGE;
        return NULL;
    }
    *rc = converse(&so, fd, &req, &st, stdout, err);
    if (*rc == EXIT_OK) {
        names = xcalloc(st.nprocs + 1, sizeof(*names));
        for (size_t i = 0; i < st.nprocs; i++)
            names[(*n)++] = xstrdup(st.procs[i].name);
    }
    reply_state_free(&st);
    proto_buf_free(&req);
    return names;
}

/* ---- Colours ------------------------------------------------------------------------------ */

/* State colours on a terminal, as https://no-color.org asks: off when NO_COLOR is set (to
 * anything but ""), when TERM is dumb, or when the output is not a terminal. */
static bool use_colour(FILE *out)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

    return isatty(fileno(out)) && (no == NULL || no[0] == '\0') &&
           (term == NULL || strcmp(term, "dumb") != 0);
}

int client_run(int argc, char **argv, FILE *out, FILE *err)
{
    struct client_opts o = {0};
    struct proto_buf req = {0};
    struct reply_state st = {0};
    char path[PATH_MAX];
    int fd = -1;
    int rc = parse_command_line(argc, argv, &o, err);

    if (rc != 0)
        goto done;
    if (o.help || o.verb == NULL) { /* parse_command_line leaves verb NULL only for help */
        fputs(o.verb != NULL ? o.verb->usage : general_usage, out);
        fputs(global_help, out);
        rc = EXIT_OK;
        goto done;
    }
    if ((rc = validate(&o, err)) != 0 || (rc = build_request(&o, &req, err)) != 0)
        goto done;
    bool version = strcmp(o.verb->name, "version") == 0;
    if (version && !o.json)
        fprintf(out, "client: tend %s\n", TEND_VERSION);
    if ((fd = reach_supervisor(&o, err, &rc, path, sizeof path)) == -1) {
        if (version && o.json)
            print_json_result(&o, &st, rc, out);
        goto done;
    }
    o.path = path;
    o.show_waiting = !o.no_wait && isatty(fileno(err)) &&
                     (strcmp(o.verb->name, "start") == 0 || strcmp(o.verb->name, "stop") == 0 ||
                      strcmp(o.verb->name, "restart") == 0);
    if (strcmp(o.verb->name, "logs") == 0) {
        /* One process asked for by its own name: its log as it is. Anything else (several,
         * a group, all): each line after its process's name. */
        size_t n = 0;
        char **names = select_names(&o, fd, &n, &rc, err);
        fd = -1; /* select_names used it up */
        if (names != NULL && n == 1 && o.nargs == 1 && strcmp(names[0], o.args[0]) == 0) {
            if ((fd = connect_socket(path)) == -1) {
                fprintf(err, "tend: cannot connect to %s: %s\n", path, strerror(errno));
                rc = EXIT_FAIL;
            } else {
                rc = converse(&o, fd, &req, &st, out, err);
            }
        } else if (names != NULL && n > 0) {
            rc = logs_multi(&o, path, names, n, out, err);
        }
        for (size_t i = 0; names != NULL && i < n; i++)
            free(names[i]);
        free(names);
        goto done;
    }
    rc = converse(&o, fd, &req, &st, out, err);
    if (rc == EXIT_OK && strcmp(o.verb->name, "upgrade") == 0) {
        /* The socket stays open across the upgrade: this waits for the new supervisor. */
        char *again[] = {"-s", path, "pid", NULL};
        fflush(out);
        fd_close_quiet(fd);
        fd = -1;
        fputs("new supervisor pid: ", out);
        rc = client_run(3, again, out, err);
    }
    if (version && rc != EXIT_OK && st.nmsgs == 0 && !o.json)
        fprintf(out, "supervisor: unknown (it does not answer 'version': older than 0.1.0)\n");
    if (o.json && strcmp(o.verb->name, "status") != 0)
        print_json_result(&o, &st, rc, out);
    if (rc == EXIT_OK && strcmp(o.verb->name, "status") == 0) {
        for (size_t i = 0; i < st.nprocs; i++) {
            if (strcmp(st.procs[i].state, "RUNNING") != 0)
                rc = EXIT_NOT_RUNNING;
        }
        colour = !o.json && use_colour(out);
        client_format_status(out, st.procs, st.nprocs, o.json);
        colour = false;
    }
done:
    fd_close_quiet(fd);
    reply_state_free(&st);
    proto_buf_free(&req);
    free(o.args);
    fflush(out);
    return rc;
}

int client_main(int argc, char **argv)
{
    return client_run(argc, argv, stdout, stderr);
}
