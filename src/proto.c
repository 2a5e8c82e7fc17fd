/* proto: codec of control protocol v1 (doc/protocol.md): percent-encoded words, the request
 * parser with its error codes, the reply builders and parser, and a line splitter for
 * non-blocking readers. Parsers copy the line once and decode every word in place inside
 * that copy, so a parsed request or reply costs two allocations and frees in one call. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util/fd.h"
#include "util/str.h"

/* Smallest free space proto_splitter_read offers read(2). */
#define SPLITTER_READ_CHUNK 16384

static const char *const err_names[PROTO_ERR_COUNT] = {
    [PROTO_OK] = NULL,
    [PROTO_ERR_VERSION] = "version",
    [PROTO_ERR_SYNTAX] = "syntax",
    [PROTO_ERR_TOOLONG] = "toolong",
    [PROTO_ERR_UNKNOWN_VERB] = "unknown-verb",
    [PROTO_ERR_NO_SUCH_PROCESS] = "no-such-process",
    [PROTO_ERR_BAD_SIGNAL] = "bad-signal",
    [PROTO_ERR_BAD_ARGUMENT] = "bad-argument",
    [PROTO_ERR_FAILED] = "failed",
    [PROTO_ERR_DENIED] = "denied",
    [PROTO_ERR_BUSY] = "busy",
};

static const char *const verb_names[PROTO_VERB_COUNT] = {
    [PROTO_VERB_STATUS] = "status",
    [PROTO_VERB_START] = "start",
    [PROTO_VERB_STOP] = "stop",
    [PROTO_VERB_RESTART] = "restart",
    [PROTO_VERB_SIGNAL] = "signal",
    [PROTO_VERB_RELOAD] = "reload",
    [PROTO_VERB_SHUTDOWN] = "shutdown",
    [PROTO_VERB_PID] = "pid",
    [PROTO_VERB_LOGROTATE] = "logrotate",
    [PROTO_VERB_LOGS] = "logs",
    [PROTO_VERB_UPGRADE] = "upgrade",
    [PROTO_VERB_INFO] = "info",
    [PROTO_VERB_VERSION] = "version",
    [PROTO_VERB_LOGREAD] = "logread",
    [PROTO_VERB_CLEARLOG] = "clearlog",
    [PROTO_VERB_REREAD] = "reread",
    [PROTO_VERB_HTTPFD] = "httpfd",
};

static const char hex_digits[] = "0123456789ABCDEF";
static const char empty[] = "";

/* ---- Small helpers ----------------------------------------------------------------------- */

static bool must_encode(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == '%';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes w[0..len) in place and NUL-terminates the result. Returns 0, or -1 with a static
 * description of the problem in *why. The output is never longer than the input. With
 * allow_nul (a data line's text: a program's output, any bytes), %00 decodes to a NUL byte
 * and *out_len says where the text ends; everywhere else a NUL is refused, so that the
 * result is a C string. */
static int decode_bytes(char *w, size_t len, bool allow_nul, size_t *out_len, const char **why)
{
    size_t out = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c == '%') {
            if (i + 2 >= len) {
                *why = "'%' not followed by two hex digits";
                return -1;
            }
            int hi = hex_value(w[i + 1]);
            int lo = hex_value(w[i + 2]);
            if (hi < 0 || lo < 0) {
                *why = "'%' not followed by two hex digits";
                return -1;
            }
            c = (unsigned char)(hi * 16 + lo);
            if (c == 0 && !allow_nul) {
                *why = "an encoded NUL byte (%00)";
                return -1;
            }
            i += 2;
        } else if (c == 0) {
            *why = "a NUL byte";
            return -1;
        } else if (must_encode(c)) {
            *why = "a control byte that must be percent-encoded";
            return -1;
        }
        w[out++] = (char)c;
    }
    w[out] = '\0';
    if (out_len != NULL)
        *out_len = out;
    return 0;
}

static int decode_inplace(char *w, size_t len, const char **why)
{
    return decode_bytes(w, len, false, NULL, why);
}

/* Length of s[0..len) cut to at most max bytes without splitting a UTF-8 sequence (looking
 * back at most 3 continuation bytes; input that is not UTF-8 is cut at max). */
static size_t cut_text(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    for (int back = 0; back < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; back++)
        n--;
    if (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n = max;
    return n;
}

static void buf_reserve(struct proto_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void buf_puts(struct proto_buf *b, const char *s)
{
    proto_buf_append(b, s, strlen(s));
}

/* Without printf: a status reply of 1,000 programs holds 11,000 of these numbers. */
static void buf_put_uint(struct proto_buf *b, unsigned long long v)
{
    char num[20]; /* ULLONG_MAX has 20 digits */
    char *p = num + sizeof num;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    proto_buf_append(b, p, (size_t)(num + sizeof num - p));
}

/* Appends " " and the encoded text, cut to max bytes; nothing when text is NULL or empty. */
static void buf_put_text_word(struct proto_buf *b, const char *text, size_t max)
{
    if (text == NULL || text[0] == '\0')
        return;
    size_t len = strlen(text);
    proto_buf_append(b, " ", 1);
    proto_buf_append_encoded(b, text, cut_text(text, len, max));
}

static void buf_put_kv(struct proto_buf *b, const char *key, const char *value)
{
    proto_buf_append(b, " ", 1);
    buf_puts(b, key);
    proto_buf_append(b, "=", 1);
    if (value != NULL)
        proto_buf_append_encoded(b, value, cut_text(value, strlen(value), PROTO_MAX_VALUE));
}

static void buf_put_kv_uint(struct proto_buf *b, const char *key, unsigned long long v)
{
    proto_buf_append(b, " ", 1);
    buf_puts(b, key);
    proto_buf_append(b, "=", 1);
    buf_put_uint(b, v);
}

/* A signed decimal, for priorities. */
static void buf_put_kv_int(struct proto_buf *b, const char *key, long long v)
{
    proto_buf_append(b, " ", 1);
    buf_puts(b, key);
    proto_buf_append(b, v < 0 ? "=-" : "=", v < 0 ? 2 : 1);
    /* The magnitude in unsigned arithmetic: -LLONG_MIN does not fit a long long. */
    buf_put_uint(b, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
}

static void set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    (void)vsnprintf(why, why_len, fmt, ap); /* truncation is fine for a message */
    va_end(ap);
}

/* Splits storage[0..len) (no NUL or newline inside) at single spaces, in place. Returns the
 * word count and fills words (malloc'd), or -1 with *bad the 0-based index of the first
 * empty word. */
static long split_words(char *storage, size_t len, char ***words, size_t *bad)
{
    char *end = storage + len;
    size_t n = 1;

    /* memchr, not a byte loop: a status reply is thousands of these lines. */
    for (char *q = storage; (q = memchr(q, ' ', (size_t)(end - q))) != NULL; q++)
        n++;
    char **w = xmalloc((n + 1) * sizeof *w);
    size_t k = 0;
    for (char *p = storage;;) {
        char *sp = memchr(p, ' ', (size_t)(end - p));
        char *stop = sp != NULL ? sp : end;
        if (stop == p) { /* an empty word: two spaces, or one at either end */
            free(w);
            *bad = k;
            return -1;
        }
        *stop = '\0';
        w[k++] = p;
        if (sp == NULL)
            break;
        p = sp + 1;
    }
    w[k] = NULL;
    *words = w;
    return (long)k;
}

/* ---- Names --------------------------------------------------------------------------------- */

const char *proto_err_name(enum proto_err code)
{
    if ((int)code < 0 || code >= PROTO_ERR_COUNT)
        return NULL;
    return err_names[code];
}

const char *proto_verb_name(enum proto_verb verb)
{
    if ((int)verb < 0 || verb >= PROTO_VERB_COUNT)
        return NULL;
    return verb_names[verb];
}

int proto_err_from_name(const char *name)
{
    for (int i = PROTO_OK + 1; i < PROTO_ERR_COUNT; i++) {
        if (strcmp(name, err_names[i]) == 0)
            return i;
    }
    return -1;
}

int proto_verb_from_name(const char *name)
{
    for (int i = 0; i < PROTO_VERB_COUNT; i++) {
        if (strcmp(name, verb_names[i]) == 0)
            return i;
    }
    return -1;
}

/* ---- Encoding ------------------------------------------------------------------------------ */

char *proto_encode(const char *s, size_t len)
{
    struct proto_buf b = {0};

    proto_buf_append_encoded(&b, s, len);
    proto_buf_append(&b, "", 1);
    return b.data;
}

char *proto_decode(const char *word, size_t len)
{
    const char *why;
    char *out = xmalloc(len + 1);

    memcpy(out, word, len);
    if (decode_inplace(out, len, &why) == -1) {
        free(out);
        errno = EINVAL;
        return NULL;
    }
    return out;
}

/* ---- Output buffer -------------------------------------------------------------------------- */

void proto_buf_init(struct proto_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void proto_buf_free(struct proto_buf *b)
{
    free(b->data);
    proto_buf_init(b);
}

void proto_buf_consume(struct proto_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void proto_buf_append(struct proto_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void proto_buf_append_encoded(struct proto_buf *b, const char *s, size_t len)
{
    buf_reserve(b, 3 * len + 1);
    char *out = b->data + b->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (must_encode(c)) {
            *out++ = '%';
            *out++ = hex_digits[c >> 4];
            *out++ = hex_digits[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    b->len = (size_t)(out - b->data);
}

/* The keys go in the order of proc_keys, which the parser tries first. */
void proto_buf_append_proc(struct proto_buf *b, const struct proto_proc *p)
{
    buf_puts(b, "proc");
    buf_put_kv(b, "name", p->name);
    buf_put_kv(b, "group", p->group);
    buf_put_kv(b, "state", p->state);
    buf_put_kv_uint(b, "pid", p->pid > 0 ? (unsigned long long)p->pid : 0);
    buf_put_kv_uint(b, "uptime", p->uptime_s);
    buf_put_kv_uint(b, "restarts", p->restarts);
    buf_put_kv(b, "exit", p->exit);
    buf_put_kv(b, "reason", p->reason);
    buf_put_kv(b, "health", p->health);
    buf_put_kv_uint(b, "dropped", p->dropped_bytes);
    buf_put_kv_uint(b, "written", p->written_bytes);
    buf_put_kv_uint(b, "started", p->started_s);
    if (p->supervisor_pid > 0) { /* the answering tend's pids: keeper=0 means it is gone */
        buf_put_kv_uint(b, "sup", (unsigned long long)p->supervisor_pid);
        buf_put_kv_uint(b, "keeper", p->keeper_pid > 0 ? (unsigned long long)p->keeper_pid : 0);
    }
    if (p->waiting != NULL && p->waiting[0] != '\0')
        buf_put_kv(b, "waiting", p->waiting);
    if (p->status != NULL && p->status[0] != '\0')
        buf_put_kv(b, "status", p->status);
    /* Usage only when known: an older client ignores keys it does not know. */
    if (p->has_memory)
        buf_put_kv_uint(b, "memory", p->memory_bytes);
    if (p->has_cpu)
        buf_put_kv_uint(b, "cpu", p->cpu_usec);
    if (p->has_tasks)
        buf_put_kv_uint(b, "tasks", p->tasks);
    if (p->has_detail) {
        buf_put_kv_uint(b, "laststart", p->laststart_s);
        buf_put_kv_uint(b, "laststop", p->laststop_s);
        buf_put_kv_uint(b, "autostart", p->autostart);
        buf_put_kv_int(b, "priority", p->priority);
        buf_put_kv_int(b, "group_priority", p->group_priority);
        buf_put_kv(b, "stdout_log", p->stdout_log);
        buf_put_kv(b, "stderr_log", p->stderr_log);
    }
    proto_buf_append(b, "\n", 1);
}

void proto_buf_append_info(struct proto_buf *b, const struct proto_info *i)
{
    buf_puts(b, "info");
    buf_put_kv(b, "version", i->version);
    buf_put_kv_uint(b, "pid", i->pid > 0 ? (unsigned long long)i->pid : 0);
    buf_put_kv_uint(b, "uptime", i->uptime_s);
    buf_put_kv_uint(b, "started", i->started_s);
    buf_put_kv_uint(b, "reloads", i->reloads);
    buf_put_kv_uint(b, "alert_runs", i->alert_runs);
    buf_put_kv_uint(b, "alert_failures", i->alert_failures);
    buf_put_kv_uint(b, "cpu_us", i->cpu_us);
    buf_put_kv_uint(b, "rss", i->rss_bytes);
    buf_put_kv_uint(b, "procs", i->nprocs);
    buf_put_kv_uint(b, "keeper", i->keeper_pid);
    buf_put_kv_uint(b, "sup_restarts", i->supervisor_restarts);
    proto_buf_append(b, "\n", 1);
}

void proto_buf_append_msg(struct proto_buf *b, const char *text)
{
    buf_puts(b, "msg");
    buf_put_text_word(b, text, PROTO_MAX_TEXT);
    proto_buf_append(b, "\n", 1);
}

void proto_buf_append_msgf(struct proto_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n == -1) {
        /* vasprintf fails only for want of memory: treat it as every allocation here does. */
        text = xasprintf("%s", "");
    }
    proto_buf_append_msg(b, text);
    free(text);
}

void proto_buf_append_data(struct proto_buf *b, const char *text)
{
    proto_buf_append_data_len(b, text, text != NULL ? strlen(text) : 0);
}

void proto_buf_append_data_len(struct proto_buf *b, const char *text, size_t len)
{
    buf_puts(b, "data");
    if (len > 0) {
        proto_buf_append(b, " ", 1);
        proto_buf_append_encoded(b, text, cut_text(text, len, PROTO_MAX_TEXT));
    }
    proto_buf_append(b, "\n", 1);
}

void proto_buf_append_ok(struct proto_buf *b)
{
    buf_puts(b, "ok\n");
}

void proto_buf_append_err(struct proto_buf *b, enum proto_err code, const char *text)
{
    const char *name = proto_err_name(code);

    /* PROTO_OK or a value out of range is a caller bug; "failed" keeps the reply valid. */
    buf_puts(b, "err ");
    buf_puts(b, name != NULL ? name : "failed");
    buf_put_text_word(b, text, PROTO_MAX_TEXT);
    proto_buf_append(b, "\n", 1);
}

void proto_buf_append_errf(struct proto_buf *b, enum proto_err code, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n == -1)
        text = xasprintf("%s", "");
    proto_buf_append_err(b, code, text);
    free(text);
}

int proto_build_request(struct proto_buf *b, const char *verb, char *const *argv, size_t argc)
{
    size_t old_len = b->len;

    if (verb == NULL || verb[0] == '\0') {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < argc; i++) {
        if (argv[i] == NULL || argv[i][0] == '\0') {
            errno = EINVAL;
            return -1;
        }
    }
    buf_puts(b, PROTO_VERSION " ");
    proto_buf_append_encoded(b, verb, strlen(verb));
    for (size_t i = 0; i < argc; i++) {
        proto_buf_append(b, " ", 1);
        proto_buf_append_encoded(b, argv[i], strlen(argv[i]));
        if (b->len - old_len >= PROTO_MAX_REQUEST)
            break; /* already too long (the newline is still to come): stop early */
    }
    proto_buf_append(b, "\n", 1);
    if (b->len - old_len > PROTO_MAX_REQUEST) {
        b->len = old_len;
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}

/* ---- Requests ------------------------------------------------------------------------------ */

void proto_request_free(struct proto_request *req)
{
    free(req->argv);
    free(req->storage_);
    memset(req, 0, sizeof *req);
    req->lines = -1;
}

/* The verb's grammar: options first ("--" ends them), then positional words. Fills the
 * request's parsed fields; on error returns the code with why set. */
static enum proto_err parse_verb_args(struct proto_request *req, char *why, size_t why_len)
{
    const char *verb = verb_names[req->verb];
    size_t i = 0;

    for (; i < req->argc; i++) {
        const char *a = req->argv[i];
        if (a[0] != '-')
            break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        bool ok = false;
        switch (req->verb) {
        case PROTO_VERB_START:
        case PROTO_VERB_STOP:
        case PROTO_VERB_RESTART:
            if (strcmp(a, "--no-wait") == 0) {
                req->no_wait = true;
                ok = true;
            }
            break;
        case PROTO_VERB_LOGS:
            if (strcmp(a, "--stderr") == 0) {
                req->use_stderr = true;
                ok = true;
            } else if (strcmp(a, "-f") == 0) {
                req->follow = true;
                ok = true;
            } else if (strcmp(a, "-n") == 0) {
                unsigned long long n;
                if (i + 1 >= req->argc) {
                    set_why(why, why_len, "logs: -n needs a line count");
                    return PROTO_ERR_BAD_ARGUMENT;
                }
                if (parse_uint(req->argv[i + 1], PROTO_MAX_LOG_LINES, &n) == -1) {
                    set_why(why, why_len, "logs: -n wants a line count from 0 to %d, not '%.40s'",
                            PROTO_MAX_LOG_LINES, req->argv[i + 1]);
                    return PROTO_ERR_BAD_ARGUMENT;
                }
                req->lines = (long)n;
                i++;
                ok = true;
            }
            break;
        case PROTO_VERB_STATUS:
            if (strcmp(a, "--detail") == 0) {
                req->detail = true;
                ok = true;
            }
            break;
        case PROTO_VERB_LOGREAD:
            if (strcmp(a, "--stderr") == 0) {
                req->use_stderr = true;
                ok = true;
            }
            break;
        case PROTO_VERB_SIGNAL:
        case PROTO_VERB_RELOAD:
        case PROTO_VERB_SHUTDOWN:
        case PROTO_VERB_PID:
        case PROTO_VERB_LOGROTATE:
        case PROTO_VERB_UPGRADE:
        case PROTO_VERB_INFO:
        case PROTO_VERB_VERSION:
        case PROTO_VERB_CLEARLOG:
        case PROTO_VERB_REREAD:
        case PROTO_VERB_HTTPFD:
        case PROTO_VERB_COUNT:
            break; /* no options */
        }
        if (!ok) {
            set_why(why, why_len, "%s: unknown option '%.40s'", verb, a);
            return PROTO_ERR_BAD_ARGUMENT;
        }
    }

    size_t npos = req->argc - i;
    switch (req->verb) {
    case PROTO_VERB_STATUS:
        break;
    case PROTO_VERB_START:
    case PROTO_VERB_STOP:
    case PROTO_VERB_RESTART:
        if (npos == 0) {
            set_why(why, why_len, "%s needs a NAME, GROUP:* or all", verb);
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_SIGNAL:
        if (npos == 0) {
            set_why(why, why_len, "signal needs a SIGNAL and a NAME");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        req->signo = sig_from_name(req->argv[i]);
        if (req->signo <= 0) {
            req->signo = 0;
            set_why(why, why_len, "unknown signal '%.40s'", req->argv[i]);
            return PROTO_ERR_BAD_SIGNAL;
        }
        i++;
        if (--npos == 0) {
            set_why(why, why_len, "signal needs a NAME after the signal");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_RELOAD:
    case PROTO_VERB_SHUTDOWN:
    case PROTO_VERB_LOGROTATE:
    case PROTO_VERB_UPGRADE:
    case PROTO_VERB_INFO:
    case PROTO_VERB_VERSION:
    case PROTO_VERB_REREAD:
    case PROTO_VERB_HTTPFD:
        if (npos != 0) {
            set_why(why, why_len, "%s takes no argument", verb);
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_PID:
        if (npos > 1) {
            set_why(why, why_len, "pid takes at most one NAME");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_LOGS:
        if (npos != 1) {
            set_why(why, why_len, "logs takes exactly one NAME");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_CLEARLOG:
        if (npos > 1) {
            set_why(why, why_len, "clearlog takes at most one NAME");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        break;
    case PROTO_VERB_LOGREAD: {
        /* OFFSET LENGTH [NAME]; a negative OFFSET (after "--") counts from the end. */
        unsigned long long v;
        const char *off = i < req->argc ? req->argv[i] : NULL;
        if (npos < 2 || npos > 3) {
            set_why(why, why_len, "logread takes OFFSET LENGTH [NAME]");
            return PROTO_ERR_BAD_ARGUMENT;
        }
        bool neg = off[0] == '-';
        if (parse_uint(off + neg, LLONG_MAX, &v) == -1) {
            set_why(why, why_len, "logread: OFFSET '%.40s' is not a whole number", off);
            return PROTO_ERR_BAD_ARGUMENT;
        }
        req->offset = neg ? -(long long)v : (long long)v;
        if (parse_uint(req->argv[i + 1], LLONG_MAX, &v) == -1) {
            set_why(why, why_len, "logread: LENGTH '%.40s' is not a whole number >= 0",
                    req->argv[i + 1]);
            return PROTO_ERR_BAD_ARGUMENT;
        }
        req->length = (long long)v;
        i += 2;
        npos -= 2;
        break;
    }
    case PROTO_VERB_COUNT:
        break;
    }
    req->names = req->argv + i;
    req->nnames = npos;
    return PROTO_OK;
}

enum proto_err proto_parse_request(const char *line, size_t len, struct proto_request *req,
                                   char *why, size_t why_len)
{
    static const size_t version_len = sizeof PROTO_VERSION - 1;
    char **words = NULL;
    size_t bad;
    const char *decode_why;
    enum proto_err rc;

    memset(req, 0, sizeof *req);
    req->lines = -1;
    set_why(why, why_len, "%s", "");

    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len + 1 > PROTO_MAX_REQUEST) {
        set_why(why, why_len, "request longer than %d bytes", PROTO_MAX_REQUEST);
        return PROTO_ERR_TOOLONG;
    }
    if (len == 0) {
        set_why(why, why_len, "empty request");
        return PROTO_ERR_SYNTAX;
    }
    if (memchr(line, '\0', len) != NULL) {
        set_why(why, why_len, "NUL byte in the request");
        return PROTO_ERR_SYNTAX;
    }
    if (memchr(line, '\n', len) != NULL) {
        set_why(why, why_len, "newline inside the request");
        return PROTO_ERR_SYNTAX;
    }
    /* The version word comes first so that any other version, whatever its grammar, gets a
     * version error rather than a confusing syntax one. */
    const char *space = memchr(line, ' ', len);
    size_t vlen = space != NULL ? (size_t)(space - line) : len;
    if (vlen != version_len || memcmp(line, PROTO_VERSION, version_len) != 0) {
        char shown[48];
        size_t n = 0;
        for (size_t i = 0; i < vlen && n + 1 < sizeof shown; i++) {
            unsigned char c = (unsigned char)line[i];
            shown[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
        shown[n] = '\0';
        set_why(why, why_len, "unsupported protocol version '%s' (this supervisor speaks %s)",
                shown, PROTO_VERSION);
        return PROTO_ERR_VERSION;
    }

    req->storage_ = xmalloc(len + 1);
    memcpy(req->storage_, line, len);
    req->storage_[len] = '\0';
    long nwords = split_words(req->storage_, len, &words, &bad);
    if (nwords == -1) {
        set_why(why, why_len, "empty word %zu (words are separated by exactly one space)",
                bad + 1);
        rc = PROTO_ERR_SYNTAX;
        goto fail;
    }
    for (long i = 1; i < nwords; i++) {
        if (decode_inplace(words[i], strlen(words[i]), &decode_why) == -1) {
            set_why(why, why_len, "word %ld: %s", i + 1, decode_why);
            rc = PROTO_ERR_SYNTAX;
            goto fail;
        }
    }
    if (nwords < 2) {
        set_why(why, why_len, "missing verb");
        rc = PROTO_ERR_SYNTAX;
        goto fail;
    }
    int verb = proto_verb_from_name(words[1]);
    if (verb == -1) {
        set_why(why, why_len, "unknown verb '%.40s'", words[1]);
        rc = PROTO_ERR_UNKNOWN_VERB;
        goto fail;
    }
    req->verb = (enum proto_verb)verb;
    /* argv is the word array shifted past the version and the verb, reusing its memory. */
    req->argc = (size_t)nwords - 2;
    memmove(words, words + 2, (req->argc + 1) * sizeof *words);
    req->argv = words;
    words = NULL;
    rc = parse_verb_args(req, why, why_len);
    if (rc != PROTO_OK)
        goto fail;
    return PROTO_OK;

fail:
    free(words);
    proto_request_free(req);
    return rc;
}

/* ---- Replies ------------------------------------------------------------------------------- */

void proto_reply_free(struct proto_reply *r)
{
    free(r->storage_);
    memset(r, 0, sizeof *r);
    r->text = empty;
    r->code = empty;
}

static bool is_kind_word(const char *w)
{
    for (const char *p = w; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    }
    return w[0] != '\0';
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_key(const char *w, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!is_key_char(w[i]))
            return false;
    }
    return true;
}

/* In the order proto_buf_append_proc writes them (see key_index). */
enum proc_key { K_NAME, K_GROUP, K_STATE, K_PID, K_UPTIME, K_RESTARTS, K_EXIT, K_REASON,
                K_HEALTH, K_DROPPED, K_WRITTEN, K_STARTED, K_SUP, K_KEEPER, K_WAITING,
                K_STATUS, K_MEMORY, K_CPU, K_TASKS,
                K_LASTSTART, K_LASTSTOP, K_AUTOSTART, K_PRIORITY, K_GROUP_PRIORITY,
                K_STDOUT_LOG, K_STDERR_LOG, K_COUNT };

static const char *const proc_keys[K_COUNT] = {
    "name", "group", "state", "pid", "uptime", "restarts", "exit", "reason", "health",
    "dropped", "written", "started", "sup", "keeper", "waiting", "status", "memory", "cpu",
    "tasks",
    "laststart", "laststop", "autostart", "priority", "group_priority", "stdout_log",
    "stderr_log",
};

/* The index of key in keys[0..n), or n. Servers send keys in the table's order, leaving out
 * the ones that are empty, so the search starts after the last match (*next) and goes on
 * from the start only then: a line costs about one comparison a key, not n/2. */
static int key_index(const char *key, const char *const keys[], int n, int *next)
{
    int k = *next < n ? *next : 0;

    for (int i = 0; i < n; i++, k = k + 1 < n ? k + 1 : 0) {
        if (key[0] == keys[k][0] && strcmp(key, keys[k]) == 0) {
            *next = k + 1;
            return k;
        }
    }
    return n;
}

/* The fields of a proc line, in place: s[0..end) is what follows "proc " (end is the line's
 * NUL). One pass over the bytes, without splitting the line into words first: a status
 * reply is thousands of these lines, and the client's cost is mostly theirs. The rules are
 * the other lines' (split_words, then KEY=VALUE words): an empty word, a word without '='
 * or a key with other bytes than [a-z0-9_-] makes the line malformed. */
static int parse_proc_fields(char *s, char *end, struct proto_proc *p)
{
    bool seen[K_COUNT] = {false};
    int next = 0;
    const char *why;

    for (char *word = s; word != NULL;) {
        /* The key: most often the one after the last (servers keep the table's order), and
         * then its bytes need no other check. */
        int k = next < K_COUNT ? next : 0;
        const char *want = proc_keys[k];
        char *eq = word;
        while (*want != '\0' && *eq == *want) {
            eq++;
            want++;
        }
        if (*want == '\0' && *eq == '=') {
            next = k + 1;
        } else {
            for (eq = word; is_key_char(*eq); eq++)
                ; /* the line's NUL ends it at the latest */
            if (eq == word || *eq != '=')
                return -1; /* an empty word, a word without '=', a key with other bytes */
            *eq = '\0';
            k = key_index(word, proc_keys, K_COUNT, &next);
        }
        /* The value runs to the next space. Most values hold nothing to decode: the quick
         * scan stops at a space or the end, else at a byte that decode_inplace judges. */
        char *value = eq + 1, *v = value;
        unsigned char c;
        while ((c = (unsigned char)*v) > 0x20 && c != 0x7f && c != '%')
            v++;
        bool plain = c == ' ' || c == '\0'; /* the line holds no NUL before its end */
        char *sp = plain ? (c == ' ' ? v : NULL) : memchr(v, ' ', (size_t)(end - v));
        char *wend = sp != NULL ? sp : end;
        word = sp != NULL ? sp + 1 : NULL; /* a space at the end: an empty word after it */
        if (k == K_COUNT)
            continue; /* a newer server's key: ignored, its value not even decoded */
        if (seen[k])
            return -1;
        seen[k] = true;
        if (plain)
            *wend = '\0';
        else if (decode_inplace(value, (size_t)(wend - value), &why) == -1)
            return -1;
        unsigned long long num = 0;
        if ((k == K_PID || k == K_UPTIME || k == K_RESTARTS || k == K_DROPPED ||
             k == K_WRITTEN || k == K_STARTED || k == K_MEMORY || k == K_CPU ||
             k == K_TASKS || k == K_SUP || k == K_KEEPER || k == K_LASTSTART ||
             k == K_LASTSTOP || k == K_AUTOSTART) &&
            parse_uint(value,
                       k == K_PID || k == K_SUP || k == K_KEEPER ? INT_MAX
                       : k == K_AUTOSTART                        ? 1
                                                                 : ULLONG_MAX,
                       &num) == -1)
            return -1;
        long long snum = 0;
        if (k == K_PRIORITY || k == K_GROUP_PRIORITY) {
            bool neg = value[0] == '-';
            if (parse_uint(value + neg, INT_MAX, &num) == -1)
                return -1;
            snum = neg ? -(long long)num : (long long)num;
        }
        if (k >= K_LASTSTART)
            p->has_detail = true;
        switch (k) {
        case K_NAME: p->name = value; break;
        case K_GROUP: p->group = value; break;
        case K_STATE: p->state = value; break;
        case K_PID: p->pid = (pid_t)num; break;
        case K_UPTIME: p->uptime_s = num; break;
        case K_RESTARTS: p->restarts = num; break;
        case K_EXIT: p->exit = value; break;
        case K_REASON: p->reason = value; break;
        case K_HEALTH: p->health = value; break;
        case K_DROPPED: p->dropped_bytes = num; break;
        case K_WRITTEN: p->written_bytes = num; break;
        case K_STARTED: p->started_s = num; break;
        case K_MEMORY: p->memory_bytes = num; p->has_memory = true; break;
        case K_CPU: p->cpu_usec = num; p->has_cpu = true; break;
        case K_TASKS: p->tasks = num; p->has_tasks = true; break;
        case K_SUP: p->supervisor_pid = (pid_t)num; break;
        case K_KEEPER: p->keeper_pid = (pid_t)num; break;
        case K_WAITING: p->waiting = value; break;
        case K_STATUS: p->status = value; break;
        case K_LASTSTART: p->laststart_s = num; break;
        case K_LASTSTOP: p->laststop_s = num; break;
        case K_AUTOSTART: p->autostart = num != 0; break;
        case K_PRIORITY: p->priority = snum; break;
        case K_GROUP_PRIORITY: p->group_priority = snum; break;
        case K_STDOUT_LOG: p->stdout_log = value; break;
        case K_STDERR_LOG: p->stderr_log = value; break;
        default: break;
        }
    }
    if (!seen[K_NAME] || !seen[K_STATE] || p->name[0] == '\0' || p->state[0] == '\0')
        return -1;
    return 0;
}

enum info_key { I_VERSION, I_PID, I_UPTIME, I_STARTED, I_RELOADS, I_ALERT_RUNS,
                I_ALERT_FAILURES, I_CPU_US, I_RSS, I_PROCS, I_KEEPER, I_SUP_RESTARTS, I_COUNT };

static const char *const info_keys[I_COUNT] = {
    "version", "pid", "uptime", "started", "reloads", "alert_runs", "alert_failures", "cpu_us",
    "rss", "procs", "keeper", "sup_restarts",
};

/* Same rules as a proc line: unknown keys ignored, a known key once, numbers decimal. Every
 * key is optional (a missing one reads as 0 or ""), so a server may add or drop facts. */
static int parse_info_words(char **words, long nwords, struct proto_info *info)
{
    bool seen[I_COUNT] = {false};
    unsigned long long *nums[I_COUNT] = {
        [I_UPTIME] = &info->uptime_s, [I_STARTED] = &info->started_s,
        [I_RELOADS] = &info->reloads, [I_ALERT_RUNS] = &info->alert_runs,
        [I_ALERT_FAILURES] = &info->alert_failures, [I_CPU_US] = &info->cpu_us,
        [I_RSS] = &info->rss_bytes, [I_PROCS] = &info->nprocs,
        [I_KEEPER] = &info->keeper_pid, [I_SUP_RESTARTS] = &info->supervisor_restarts,
    };
    int next = 0;
    const char *why;

    for (long i = 1; i < nwords; i++) {
        char *eq = strchr(words[i], '=');
        if (eq == NULL || !is_key(words[i], (size_t)(eq - words[i])))
            return -1;
        *eq = '\0';
        char *value = eq + 1;
        int k = key_index(words[i], info_keys, I_COUNT, &next);
        if (k == I_COUNT)
            continue;
        if (seen[k])
            return -1;
        seen[k] = true;
        if (decode_inplace(value, strlen(value), &why) == -1)
            return -1;
        if (k == I_VERSION) {
            info->version = value;
            continue;
        }
        unsigned long long num;
        if (parse_uint(value, k == I_PID ? INT_MAX : ULLONG_MAX, &num) == -1)
            return -1;
        if (k == I_PID)
            info->pid = (pid_t)num;
        else
            *nums[k] = num;
    }
    return 0;
}

int proto_parse_reply(const char *line, size_t len, struct proto_reply *r)
{
    char **words = NULL;
    size_t bad;
    const char *why;

    memset(r, 0, sizeof *r);
    r->text = empty;
    r->code = empty;
    r->proc = (struct proto_proc){.name = empty, .group = empty, .state = empty,
                                  .exit = empty, .reason = empty, .health = empty,
                                  .waiting = empty, .status = empty,
                                  .stdout_log = empty, .stderr_log = empty};
    r->info = (struct proto_info){.version = empty};

    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len == 0 || len + 1 > PROTO_MAX_LINE || memchr(line, '\0', len) != NULL ||
        memchr(line, '\n', len) != NULL)
        goto fail;
    r->storage_ = xmalloc(len + 1);
    memcpy(r->storage_, line, len);
    r->storage_[len] = '\0';
    if (len > 5 && memcmp(r->storage_, "proc ", 5) == 0) {
        r->kind = PROTO_REPLY_PROC;
        if (parse_proc_fields(r->storage_ + 5, r->storage_ + len, &r->proc) == -1)
            goto fail;
        return 0;
    }
    long nwords = split_words(r->storage_, len, &words, &bad);
    if (nwords == -1 || !is_kind_word(words[0]))
        goto fail;

    const char *kind = words[0];
    if (strcmp(kind, "proc") == 0) {
        goto fail; /* "proc" and nothing else: no name, no state */
    } else if (strcmp(kind, "msg") == 0 || strcmp(kind, "data") == 0) {
        r->kind = kind[0] == 'm' ? PROTO_REPLY_MSG : PROTO_REPLY_DATA;
        if (nwords > 1) {
            if (decode_bytes(words[1], strlen(words[1]), r->kind == PROTO_REPLY_DATA,
                             &r->text_len, &why) == -1)
                goto fail;
            r->text = words[1];
        }
    } else if (strcmp(kind, "info") == 0) {
        r->kind = PROTO_REPLY_INFO;
        if (parse_info_words(words, nwords, &r->info) == -1)
            goto fail;
    } else if (strcmp(kind, "ok") == 0) {
        r->kind = PROTO_REPLY_OK;
    } else if (strcmp(kind, "err") == 0) {
        r->kind = PROTO_REPLY_ERR;
        if (nwords < 2 || !is_kind_word(words[1]))
            goto fail;
        r->code = words[1];
        int code = proto_err_from_name(words[1]);
        r->err = code == -1 ? PROTO_ERR_FAILED : (enum proto_err)code;
        if (nwords > 2) {
            if (decode_inplace(words[2], strlen(words[2]), &why) == -1)
                goto fail;
            r->text = words[2];
            r->text_len = strlen(r->text);
        }
    } else {
        r->kind = PROTO_REPLY_OTHER;
    }
    free(words);
    return 0;

fail:
    free(words);
    proto_reply_free(r);
    errno = EINVAL;
    return -1;
}

/* ---- Line splitter ------------------------------------------------------------------------- */

void proto_splitter_init(struct proto_splitter *s, size_t max_line)
{
    memset(s, 0, sizeof *s);
    s->max_line = max_line > 0 ? max_line : 1;
}

void proto_splitter_free(struct proto_splitter *s)
{
    free(s->data);
    proto_splitter_init(s, s->max_line);
}

/* Moves the unreturned bytes to the front and makes room for extra more. */
static void splitter_make_room(struct proto_splitter *s, size_t extra)
{
    if (s->start > 0) {
        memmove(s->data, s->data + s->start, s->len - s->start);
        s->len -= s->start;
        s->scanned -= s->start;
        s->start = 0;
    }
    if (s->cap - s->len >= extra)
        return;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap - s->len < extra)
        cap *= 2;
    s->data = xrealloc(s->data, cap);
    s->cap = cap;
}

int proto_splitter_feed(struct proto_splitter *s, const void *data, size_t len)
{
    if (s->failed) {
        errno = EMSGSIZE;
        return -1;
    }
    if (len == 0)
        return 0;
    splitter_make_room(s, len);
    memcpy(s->data + s->len, data, len);
    s->len += len;
    return 0;
}

ssize_t proto_splitter_read(struct proto_splitter *s, int fd)
{
    if (s->failed) {
        errno = EMSGSIZE;
        return -1;
    }
    splitter_make_room(s, SPLITTER_READ_CHUNK);
    ssize_t n = fd_read(fd, s->data + s->len, s->cap - s->len);
    if (n > 0)
        s->len += (size_t)n;
    return n;
}

int proto_splitter_next(struct proto_splitter *s, const char **line, size_t *len)
{
    if (s->failed) {
        errno = EMSGSIZE;
        return -1;
    }
    size_t from = s->scanned > s->start ? s->scanned : s->start;
    char *nl = from < s->len ? memchr(s->data + from, '\n', s->len - from) : NULL;
    if (nl == NULL) {
        s->scanned = s->len;
        /* max_line counts the newline, so max_line bytes without one are already too many. */
        if (s->len - s->start >= s->max_line) {
            s->failed = true;
            errno = EMSGSIZE;
            return -1;
        }
        return 0;
    }
    size_t n = (size_t)(nl - (s->data + s->start));
    if (n + 1 > s->max_line) {
        s->failed = true;
        errno = EMSGSIZE;
        return -1;
    }
    *nl = '\0';
    *line = s->data + s->start;
    *len = n;
    s->start += n + 1;
    s->scanned = s->start;
    return 1;
}

size_t proto_splitter_pending(const struct proto_splitter *s)
{
    return s->len - s->start;
}
