/* proto: the codec of the control protocol between the tend CLI and the supervisor, version 1
 * (doc/protocol.md is its specification). One request line goes up, zero or more record lines
 * and exactly one final line (ok or err) come back. Every word on the wire is percent-encoded,
 * so a word never holds a space, a control byte or a newline, and a line is always one line.
 *
 * Guarantees: the parsers accept exactly the grammar of doc/protocol.md and never read past
 * the length they are given; a malformed request yields a precise error code and a message
 * fit for the `err` reply; reply lines the builders produce never exceed PROTO_MAX_LINE, so a
 * well-behaved peer never trips the splitter's limit. Nothing here does I/O except
 * proto_splitter_read. Memory: the builders abort on out-of-memory like util/str.h does. */
#ifndef TEND_PROTO_H
#define TEND_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROTO_VERSION "tend/1"
/* Longest valid request, in bytes, counting its newline. */
#define PROTO_MAX_REQUEST 65536
/* Longest reply line, in bytes, counting its newline. */
#define PROTO_MAX_LINE 65536
/* Builders cut longer text (msg, err, data) to this many bytes before encoding, at a UTF-8
 * character boundary, and proc string values to PROTO_MAX_VALUE, so that a line always fits
 * in PROTO_MAX_LINE even when every byte needs an escape. */
#define PROTO_MAX_TEXT 16384
#define PROTO_MAX_VALUE 2048
/* Upper bound of logs -n N. */
#define PROTO_MAX_LOG_LINES 1000000
/* Most bytes one logread answers with (a longer LENGTH, or 0 for "to the end", is cut). */
#define PROTO_MAX_LOG_READ (4 << 20)

/* Codes of an `err` final line. PROTO_OK is no error (never sent as such). */
enum proto_err {
    PROTO_OK,
    PROTO_ERR_VERSION,         /* version: not "tend/1" */
    PROTO_ERR_SYNTAX,          /* syntax: the line breaks the word grammar */
    PROTO_ERR_TOOLONG,         /* toolong: over PROTO_MAX_REQUEST */
    PROTO_ERR_UNKNOWN_VERB,    /* unknown-verb */
    PROTO_ERR_NO_SUCH_PROCESS, /* no-such-process */
    PROTO_ERR_BAD_SIGNAL,      /* bad-signal */
    PROTO_ERR_BAD_ARGUMENT,    /* bad-argument: wrong count or unknown option for the verb */
    PROTO_ERR_FAILED,          /* failed: the operation failed for some process */
    PROTO_ERR_DENIED,          /* denied: the peer's uid may not do this */
    PROTO_ERR_BUSY,            /* busy: the supervisor cannot take it now (e.g. shutting down) */
    PROTO_ERR_COUNT
};

enum proto_verb {
    PROTO_VERB_STATUS,
    PROTO_VERB_START,
    PROTO_VERB_STOP,
    PROTO_VERB_RESTART,
    PROTO_VERB_SIGNAL,
    PROTO_VERB_RELOAD,
    PROTO_VERB_SHUTDOWN,
    PROTO_VERB_PID,
    PROTO_VERB_LOGROTATE,
    PROTO_VERB_LOGS,
    PROTO_VERB_UPGRADE,
    PROTO_VERB_INFO, /* the supervisor's own facts: one info line (added with tend-web) */
    PROTO_VERB_VERSION, /* the supervisor's version (a newer verb: old supervisors refuse it) */
    /* Added for supervisorctl through tend-web's XML-RPC (still tend/1; older supervisors
     * answer unknown-verb): */
    PROTO_VERB_LOGREAD,  /* bytes of a log at an offset: supervisord's readLog semantics */
    PROTO_VERB_CLEARLOG, /* empty a service's log files, or tend's own */
    PROTO_VERB_REREAD,   /* which groups a reload would add, change, remove; changes nothing */
    PROTO_VERB_HTTPFD,   /* tend-web only: this connection receives HTTP clients' sockets */
    PROTO_VERB_COUNT
};

/* The wire word of a code or verb ("no-such-process", "restart"); NULL if out of range. */
const char *proto_err_name(enum proto_err code);
const char *proto_verb_name(enum proto_verb verb);
/* The code or verb for a wire word, or -1 if unknown. */
int proto_err_from_name(const char *name);
int proto_verb_from_name(const char *name);

/* ---- Percent encoding ---------------------------------------------------------------- */

/* Encodes s[0..len): bytes <= 0x20, 0x7f and '%' become %XX (uppercase hex), every other
 * byte (UTF-8 included) passes. Returns a malloc'd NUL-terminated string. Empty in, empty
 * out. */
char *proto_encode(const char *s, size_t len);

/* Decodes word[0..len) into a malloc'd NUL-terminated string. Accepts %XX with upper- or
 * lowercase hex. Returns NULL with errno EINVAL on a '%' not followed by two hex digits, on
 * %00 or a raw NUL (a decoded string never holds a NUL), and on a raw byte that must have
 * been encoded (<= 0x20 or 0x7f). */
char *proto_decode(const char *word, size_t len);

/* ---- Output buffer --------------------------------------------------------------------- */

/* A growable byte buffer holding whole lines to send. Zero-initialise or proto_buf_init. A
 * sender with a non-blocking socket writes from data and drops what went out with
 * proto_buf_consume. */
struct proto_buf {
    char *data; /* NULL until the first append; not NUL-terminated */
    size_t len;
    size_t cap;
};

/* One process record. Strings may be NULL (sent as empty) when building; after parsing they
 * are never NULL. */
/* A string added here must be added to the ones the client keeps (handle_line, client.c):
 * it frees the line each string points into. */
struct proto_proc {
    const char *name;   /* "group:process", or "process" when the group has its name */
    const char *group;
    const char *state;  /* STOPPED STARTING RUNNING BACKOFF STOPPING EXITED FATAL UNKNOWN */
    pid_t pid;          /* 0: none */
    unsigned long long uptime_s;      /* 0 when not running */
    unsigned long long restarts;
    const char *exit;   /* last exit, "exit 1" or "signal 9 (SIGKILL)", or "" */
    const char *reason; /* FATAL or other reason, or "" */
    const char *health; /* "", "ok" or "failing" */
    unsigned long long dropped_bytes; /* log bytes dropped */
    unsigned long long written_bytes; /* log bytes written (key "written"; 0 from old servers) */
    unsigned long long started_s;     /* wall-clock start, seconds since the epoch; 0 if none */
    pid_t supervisor_pid;  /* the supervisor answering (key "sup"; 0 from old servers) */
    pid_t keeper_pid;      /* its keeper, 0 when gone or none (key "keeper") */
    /* From its cgroup, read on request; each only when its has_ flag is set (no cgroups,
     * never started: unknown). */
    bool has_memory, has_cpu, has_tasks;
    unsigned long long memory_bytes;
    unsigned long long cpu_usec;
    unsigned long long tasks;
    /* "" when none. */
    const char *waiting;     /* what a start waits for: "waiting for db: not ready (FATAL)",
                              * or a resource in BACKOFF (proc_shortage_name) */
    const char *status;      /* the program's last sd_notify STATUS= */
    /* Sent for `status --detail` only (has_detail): what supervisord's getProcessInfo and
     * getAllConfigInfo tell. Wall-clock seconds since the epoch, 0 when never. */
    bool has_detail;
    unsigned long long laststart_s; /* start of the last (or current) run */
    unsigned long long laststop_s;  /* end of the last run; 0 while it runs or never ran */
    bool autostart;
    long long priority;
    long long group_priority;
    const char *stdout_log;         /* the capture files, "" when none */
    const char *stderr_log;
};

/* The supervisor's own facts: the `info` reply line. Strings may be NULL when building; after
 * parsing they are never NULL. A key missing from the line reads as 0 or "". */
struct proto_info {
    const char *version;             /* tend's version, "0.1.0" */
    pid_t pid;                       /* the supervisor's pid */
    unsigned long long uptime_s;     /* seconds since it started */
    unsigned long long started_s;    /* its wall-clock start, seconds since the epoch */
    unsigned long long reloads;      /* successful config reloads */
    unsigned long long alert_runs;   /* alert commands started */
    unsigned long long alert_failures; /* alert commands that failed or timed out */
    unsigned long long cpu_us;       /* user + system CPU time, microseconds */
    unsigned long long rss_bytes;    /* resident memory */
    unsigned long long nprocs;       /* processes supervised */
    unsigned long long keeper_pid;   /* the keeper's pid; 0: none (gone) */
    unsigned long long supervisor_restarts; /* supervisors the keeper started after the first */
};

void proto_buf_init(struct proto_buf *b);
void proto_buf_free(struct proto_buf *b);
/* Drops the first n bytes (n <= len), e.g. those a write sent. */
void proto_buf_consume(struct proto_buf *b, size_t n);
/* Raw bytes, unencoded: for callers composing their own lines. */
void proto_buf_append(struct proto_buf *b, const void *data, size_t len);
/* The percent-encoded form of s[0..len) as one word (no separator added). */
void proto_buf_append_encoded(struct proto_buf *b, const char *s, size_t len);

/* Whole reply lines, newline included. Text is cut to PROTO_MAX_TEXT bytes. */
void proto_buf_append_proc(struct proto_buf *b, const struct proto_proc *p);
void proto_buf_append_msg(struct proto_buf *b, const char *text);
void proto_buf_append_msgf(struct proto_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void proto_buf_append_data(struct proto_buf *b, const char *text);
/* A data line of any bytes (NUL included: it travels as %00). */
void proto_buf_append_data_len(struct proto_buf *b, const char *text, size_t len);
void proto_buf_append_info(struct proto_buf *b, const struct proto_info *info);
void proto_buf_append_ok(struct proto_buf *b);
/* text may be NULL or "" (the line is then "err CODE"). */
void proto_buf_append_err(struct proto_buf *b, enum proto_err code, const char *text);
void proto_buf_append_errf(struct proto_buf *b, enum proto_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a request line "tend/1 VERB ARG...\n" (verb is taken as is, args are encoded).
 * Returns 0; or -1 with b untouched and errno EINVAL (a NULL or empty verb or argument:
 * the protocol has no empty words) or EMSGSIZE (the line would exceed PROTO_MAX_REQUEST). */
int proto_build_request(struct proto_buf *b, const char *verb, char *const *argv, size_t argc);

/* ---- Requests -------------------------------------------------------------------------- */

/* A parsed request. argv holds every word after the verb, decoded, exactly as sent; the
 * other fields are what the verb's grammar made of them. */
struct proto_request {
    enum proto_verb verb;
    size_t argc;
    char **argv;       /* argc words + NULL; owned */
    char **names;      /* points into argv: the process names/patterns after the options
                        * (and after SIG for signal); nnames of them, then NULL */
    size_t nnames;
    bool no_wait;      /* start/stop/restart --no-wait */
    int signo;         /* signal: the signal number; 0 otherwise */
    long lines;        /* logs -n N; -1 when not given */
    bool use_stderr;   /* logs --stderr */
    bool follow;       /* logs -f */
    bool detail;       /* status --detail */
    long long offset;  /* logread OFFSET (negative: from the end) */
    long long length;  /* logread LENGTH (0: to the end) */
    char *storage_;    /* private: the decoded words live here */
};

/* Parses one request line: line[0..len), with or without its trailing newline. Returns
 * PROTO_OK with *req filled (release with proto_request_free), or an error code with a
 * message for the `err` reply in why (e.g. "unknown verb 'stat'") and *req empty (freeing it
 * is still safe). Checks, in this order: toolong (over PROTO_MAX_REQUEST counting the
 * newline); syntax (empty line, NUL or newline inside); version (first word is not tend/1);
 * syntax (an empty word: a leading, trailing or doubled space; a bad escape); syntax (no
 * verb); unknown-verb; then the verb's own grammar: bad-argument (unknown option, missing or
 * extra argument, bad -n count) and bad-signal. */
enum proto_err proto_parse_request(const char *line, size_t len, struct proto_request *req,
                                   char *why, size_t why_len);
void proto_request_free(struct proto_request *req);

/* ---- Replies --------------------------------------------------------------------------- */

enum proto_reply_kind {
    PROTO_REPLY_PROC,
    PROTO_REPLY_MSG,
    PROTO_REPLY_DATA,
    PROTO_REPLY_INFO,
    PROTO_REPLY_OK,    /* final */
    PROTO_REPLY_ERR,   /* final */
    PROTO_REPLY_OTHER, /* a kind this client does not know: a newer server's; ignore it */
};

struct proto_reply {
    enum proto_reply_kind kind;
    struct proto_proc proc; /* PROC */
    struct proto_info info; /* INFO */
    const char *text;       /* MSG, DATA, ERR: decoded text, "" if none; "" otherwise */
    size_t text_len;        /* its length: a DATA text may hold NUL bytes (sent as %00), so
                             * read it as text[0..text_len), not as a C string */
    const char *code;       /* ERR: the code word as sent; "" otherwise */
    enum proto_err err;     /* ERR: the code; an unknown code word reads as PROTO_ERR_FAILED */
    char *storage_;         /* private: the decoded words live here */
};

/* Parses one reply line: line[0..len), with or without its newline. Returns 0 with *r filled
 * (release with proto_reply_free), or -1 with errno EINVAL and *r empty. A proc line needs
 * name and state, known numeric keys must be decimal, and a known key may appear once;
 * unknown keys and extra words after a line's known fields are ignored. */
int proto_parse_reply(const char *line, size_t len, struct proto_reply *r);
void proto_reply_free(struct proto_reply *r);

/* ---- Line splitter --------------------------------------------------------------------- */

/* Splits a byte stream into lines for a non-blocking reader: feed what arrived (or let
 * proto_splitter_read read it), then take complete lines with proto_splitter_next until it
 * returns 0. Memory stays within max_line plus one feed when lines are drained that way. */
struct proto_splitter {
    char *data;
    size_t start;    /* first byte not yet returned */
    size_t scanned;  /* data[start..scanned) is known to hold no newline */
    size_t len;
    size_t cap;
    size_t max_line; /* longest line accepted, counting its newline */
    bool failed;
};

void proto_splitter_init(struct proto_splitter *s, size_t max_line);
void proto_splitter_free(struct proto_splitter *s);
/* Appends bytes. Invalidates lines returned before. Returns 0, or -1/EMSGSIZE once the
 * splitter has failed (the bytes are then dropped). */
int proto_splitter_feed(struct proto_splitter *s, const void *data, size_t len);
/* One read(2) (retried on EINTR) into the splitter. Returns what read returned: bytes read,
 * 0 at end of file, -1 with errno (EAGAIN on an empty non-blocking fd). Invalidates lines
 * returned before. */
ssize_t proto_splitter_read(struct proto_splitter *s, int fd);
/* Takes the next complete line. Returns 1 with *line (NUL-terminated in place, newline
 * removed, valid until the next feed or read) and *len; 0 when no complete line is buffered;
 * -1 with errno EMSGSIZE when a line is longer than max_line (with or without its newline
 * yet), after which the splitter stays failed. */
int proto_splitter_next(struct proto_splitter *s, const char **line, size_t *len);
/* Bytes buffered but not returned: non-zero at end of file means a truncated last line. */
size_t proto_splitter_pending(const struct proto_splitter *s);

#endif
