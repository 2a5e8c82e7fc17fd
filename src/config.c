/* Configuration loader: supervisord-dialect INI in, struct config out. Three passes: read every
 * file (following [include] recursively) into a flat list of sections holding raw key/value
 * entries; check section and key names against the table in keys.c; then build the structures,
 * expanding %(...)s per process instance and parsing every value. Each problem becomes a
 * diagnostic with FILE:LINE and the pass carries on, so one run reports all of them. A load
 * that found any error frees what it built and returns nothing. No state survives a call. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "confsnap.h"
#include "evtype.h"
#include "depgraph.h"
#include "keys.h"
#include "preflight.h"
#include "util/str.h"
#include "websock.h"

/* A config bigger than this is not a config; the cap also keeps an include glob that
 * matches something like /proc/kcore from reading forever. */
#define MAX_FILE_BYTES (16 * 1024 * 1024)
#define MAX_INCLUDE_DEPTH 32
/* Width and precision in %(name)05d are capped, and so is the text all expansions of one load
 * may produce (numprocs multiplies it), so a typo cannot ask for gigabytes. */
#define MAX_FORMAT_WIDTH 1024
#define MAX_EXPANDED_BYTES (256u * 1024 * 1024)
/* How much of a user's value is quoted back in a message. */
#define SHOW_MAX 60
#define NO_INDEX ((size_t)-1)

#define DEFAULT_MAXBYTES (50LL * 1024 * 1024)
#define DEFAULT_BACKUPS 10
#define DEFAULT_PRIORITY 999

enum section_kind {
    SEC_PROGRAM,
    SEC_GROUP,
    SEC_INCLUDE,
    SEC_TEND,
    SEC_UNIX_HTTP,
    SEC_ALERT,
    SEC_INET_HTTP,
    SEC_IGNORED,     /* client/RPC sections: accepted, never read */
    SEC_UNSUPPORTED, /* supervisord features tend lacks: warned about, never read */
    SEC_INVALID,     /* already reported */
};

/* One key = value, with continuation lines already joined. */
struct entry {
    char *key; /* lowercased */
    struct str value;
    int line;
    bool dup;                  /* a repeated key: reported, then ignored */
    const struct key_def *def; /* set by the check pass for supported keys */
};

struct section {
    char *name;      /* between the brackets, trimmed */
    const char *arg; /* after the first ':' (points into name), or NULL */
    size_t file;     /* index into loader.files */
    int line;
    enum section_kind kind;
    bool skip; /* duplicate or unusable: not built */
    struct entry *entries;
    size_t nentries;
    size_t cap;
    size_t group_sec; /* SEC_PROGRAM: the [group:x] that lists it, or NO_INDEX */
    enum proc_kind flavor; /* SEC_PROGRAM: [program:x], [eventlistener:x] or [fcgi-program:x] */
};

struct file {
    char *path; /* as given or as the include glob produced it */
    char *here; /* absolute directory, for %(here)s */
    dev_t dev;
    ino_t ino;
};

struct loader {
    struct config_diags *diags;
    size_t first_diag;   /* diags->items[first_diag..] are this load's */
    size_t *diag_file;   /* file index of each of this load's diagnostics */
    size_t diag_file_cap;
    size_t errors;       /* errors added by this load */
    struct file *files;
    size_t nfiles;
    size_t files_cap;
    struct section *secs;
    size_t nsecs;
    size_t secs_cap;
    size_t stack[MAX_INCLUDE_DEPTH + 1]; /* files being read, outermost first */
    size_t depth;
    char host[256];
    struct config *cfg;
    size_t procs_cap;
    size_t expanded_bytes; /* text produced by expand() so far, against MAX_EXPANDED_BYTES */
    int record_fd;         /* -1, or every file read goes there (confsnap.h) */
    int record_err;        /* errno of a failed recording, 0: none */
    const struct confsnap *replay; /* NULL, or files come from this record, not the disk */
    bool socket_only;      /* config_socket_path: other sections' keys are not checked */
};

/* Values that expansions can refer to, for one section (and one process instance). */
struct expand_ctx {
    const char *here;
    const char *host;
    const char *program; /* NULL outside [program:x] */
    const char *group;
    bool has_num; /* process_num and numprocs are known */
    int process_num;
    int numprocs;
};

/* Per-instance bookkeeping while a [program:x] is built. */
struct prog_state {
    bool grace_set;
    const struct entry *killasgroup; /* where killasgroup was set explicitly */
};

/* Parser state across the lines of one file. */
struct parse_state {
    size_t file;
    size_t sec;      /* section receiving keys, or NO_INDEX */
    bool broken;     /* after a bad header: swallow keys until the next header */
    bool in_value;   /* continuation lines may follow */
    size_t entry;    /* entry receiving continuations, or NO_INDEX to swallow them */
    size_t indent;   /* indentation of the line that opened the value */
    size_t blanks;   /* blank lines seen inside the value, kept if it continues */
    size_t include;  /* this file's [include] section, or NO_INDEX */
};

struct shown {
    char buf[SHOW_MAX * 4 + 8];
};

static const char *const event_names[CONFIG_EV_COUNT] = {
    [CONFIG_EV_STARTING] = "STARTING",
    [CONFIG_EV_RUNNING] = "RUNNING",
    [CONFIG_EV_BACKOFF] = "BACKOFF",
    [CONFIG_EV_STOPPING] = "STOPPING",
    [CONFIG_EV_EXITED] = "EXITED",
    [CONFIG_EV_FATAL] = "FATAL",
    [CONFIG_EV_STOPPED] = "STOPPED",
    [CONFIG_EV_HEALTH_FAILED] = "HEALTH_FAILED",
    [CONFIG_EV_PROCESS_UNEXPECTED_EXIT] = "PROCESS_UNEXPECTED_EXIT",
    [CONFIG_EV_CONFIG_RELOADED] = "CONFIG_RELOADED",
    [CONFIG_EV_CRASH_LOOP_ENTERED] = "CRASH_LOOP_ENTERED",
    [CONFIG_EV_CRASH_LOOP_EXITED] = "CRASH_LOOP_EXITED",
    [CONFIG_EV_OUT_OF_MEMORY] = "OUT_OF_MEMORY",
    [CONFIG_EV_SHORTAGE_ENTERED] = "SHORTAGE_ENTERED",
    [CONFIG_EV_SHORTAGE_EXITED] = "SHORTAGE_EXITED",
};

static const struct {
    const char *name;
    enum config_loglevel level;
} loglevels[] = {
    {"critical", CONFIG_LOG_CRITICAL}, {"error", CONFIG_LOG_ERROR}, {"warn", CONFIG_LOG_WARN},
    {"warning", CONFIG_LOG_WARN},      {"info", CONFIG_LOG_INFO},   {"debug", CONFIG_LOG_DEBUG},
    {"trace", CONFIG_LOG_TRACE},       {"blather", CONFIG_LOG_BLATHER},
};

/* Section names offered as "did you mean". Named kinds take ":NAME". */
static const char *const plain_sections[] = {
    "tend", "supervisord", "include", "unix_http_server", "alert", "supervisorctl",
    "inet_http_server",
};
static const char *const named_sections[] = {
    "program", "group", "alert", "eventlistener", "fcgi-program", "rpcinterface",
    "ctlplugin",
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* A user-supplied value made safe and short for a message: control bytes escaped, long values
 * cut with "...". */
static const char *show(struct shown *sh, const char *v)
{
    size_t o = 0, i = 0;
    for (; i < SHOW_MAX && v[i] != '\0'; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\n') {
            sh->buf[o++] = '\\';
            sh->buf[o++] = 'n';
        } else if (c == '\t') {
            sh->buf[o++] = '\\';
            sh->buf[o++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            sh->buf[o++] = '\\';
            sh->buf[o++] = 'x';
            sh->buf[o++] = hex[c >> 4];
            sh->buf[o++] = hex[c & 15];
        } else {
            sh->buf[o++] = (char)c;
        }
    }
    if (v[i] != '\0') {
        memcpy(sh->buf + o, "...", 3);
        o += 3;
    }
    sh->buf[o] = '\0';
    return sh->buf;
}

__attribute__((format(printf, 1, 0))) static char *xvasprintf_local(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0; /* Formats are literals; an encoding error only loses the message text. */
    char *msg = xmalloc((size_t)n + 1);
    (void)vsnprintf(msg, (size_t)n + 1, fmt, ap); /* Sized by the first pass. */
    return msg;
}

__attribute__((format(printf, 5, 6))) static void diag(struct loader *ld, size_t file, int line,
                                                      bool is_error, const char *fmt, ...)
{
    struct config_diags *d = ld->diags;
    if (d->count == d->cap) {
        d->cap = d->cap == 0 ? 16 : d->cap * 2;
        d->items = xrealloc(d->items, d->cap * sizeof *d->items);
    }
    size_t mine = d->count - ld->first_diag;
    if (mine == ld->diag_file_cap) {
        ld->diag_file_cap = ld->diag_file_cap == 0 ? 16 : ld->diag_file_cap * 2;
        ld->diag_file = xrealloc(ld->diag_file, ld->diag_file_cap * sizeof *ld->diag_file);
    }
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf_local(fmt, ap);
    va_end(ap);
    struct config_diag *g = &d->items[d->count++];
    g->file = xstrdup(ld->files[file].path);
    g->line = line;
    g->is_error = is_error;
    g->msg = msg;
    ld->diag_file[mine] = file;
    if (is_error) {
        d->errors++;
        ld->errors++;
    } else {
        d->warnings++;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r' || c == '\n';
}

/* supervisord's rule for program and group names: no spaces, ':' or '/'. */
static bool valid_name(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (is_blank(*s) || *s == ':' || *s == '/')
            return false;
    }
    return true;
}

/* The directory part of path: "" for a bare name, "/" for a file in the root. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup("");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

/* Absolute, normalised directory of path ("." and ".." resolved lexically, as Python's
 * os.path.abspath does; symlinks are left alone). */
static char *abs_dir_of(const char *path)
{
    struct str full = {0};
    char *dir = dir_of(path);
    if (dir[0] != '/') {
        char *cwd = getcwd(NULL, 0);
        /* Without a cwd the best we can offer is the relative directory. */
        str_append(&full, cwd != NULL ? cwd : ".");
        free(cwd);
        str_append_char(&full, '/');
    }
    str_append(&full, dir);
    free(dir);

    /* Split on '/', keep a stack of components. */
    char *work = str_release(&full);
    bool absolute = work[0] == '/';
    char **parts = xmalloc((strlen(work) / 2 + 2) * sizeof *parts);
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(work, "/", &save); tok != NULL; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (n > 0 && strcmp(parts[n - 1], "..") != 0)
                n--;
            else if (!absolute)
                parts[n++] = tok;
            continue;
        }
        parts[n++] = tok;
    }
    struct str out = {0};
    if (absolute)
        str_append_char(&out, '/');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            str_append_char(&out, '/');
        str_append(&out, parts[i]);
    }
    if (out.len == 0)
        str_append_char(&out, '.');
    free(parts);
    free(work);
    return str_release(&out);
}

/* "~" and "~/x" become $HOME and $HOME/x, as supervisord's expanduser; anything else is
 * copied. */
static char *expand_tilde(const char *v)
{
    const char *home = getenv("HOME");
    if (v[0] == '~' && (v[1] == '\0' || v[1] == '/') && home != NULL && home[0] != '\0')
        return xasprintf("%s%s", home, v + 1);
    return xstrdup(v);
}

static void vec_push(char ***vec, size_t *n, size_t *cap, char *s)
{
    if (*n + 2 > *cap) {
        *cap = *cap == 0 ? 8 : *cap * 2;
        *vec = xrealloc(*vec, *cap * sizeof **vec);
    }
    (*vec)[(*n)++] = s;
    (*vec)[*n] = NULL;
}

/* Splits on commas and whitespace, dropping empty words. */
static char **split_list(const char *v, size_t *count)
{
    char **vec = NULL;
    size_t n = 0, cap = 0;
    const char *p = v;
    while (*p != '\0') {
        while (*p == ',' || is_blank(*p))
            p++;
        size_t len = 0;
        while (p[len] != '\0' && p[len] != ',' && !is_blank(p[len]))
            len++;
        if (len > 0)
            vec_push(&vec, &n, &cap, xstrndup(p, len));
        p += len;
    }
    *count = n;
    return vec;
}

/* ---- reading files ---------------------------------------------------------------------- */

static void close_keep_errno(int fd)
{
    int saved = errno;
    /* Read-only descriptor: nothing to flush, so a failed close loses nothing. */
    (void)close(fd);
    errno = saved;
}

/* Reads a whole regular file into a NUL-terminated buffer. On failure returns -1 and sets
 * *why to a description (strerror text or our own). */
static int read_file(const char *path, char **text, size_t *len, struct stat *st,
                     const char **why)
{
    /* O_NONBLOCK: opening a FIFO must not hang the loader; the S_ISREG check below then
     * rejects it. Regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd == -1) {
        *why = strerror(errno);
        return -1;
    }
    if (fstat(fd, st) == -1) {
        *why = strerror(errno);
        close_keep_errno(fd);
        return -1;
    }
    if (S_ISDIR(st->st_mode)) {
        *why = strerror(EISDIR);
        close_keep_errno(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        *why = "not a regular file";
        close_keep_errno(fd);
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        if (n > MAX_FILE_BYTES) {
            *why = "file is larger than 16 MiB";
            free(buf);
            close_keep_errno(fd);
            return -1;
        }
        if (n == cap) {
            /* One byte past the limit is enough to tell "too large" from "exactly". */
            cap = cap * 2 > MAX_FILE_BYTES ? MAX_FILE_BYTES + 1 : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            *why = strerror(errno);
            free(buf);
            close_keep_errno(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    /* Read-only descriptor and the data is in hand: a failing close changes nothing. */
    (void)close(fd);
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static size_t add_file(struct loader *ld, const char *path, const struct stat *st)
{
    if (ld->nfiles == ld->files_cap) {
        ld->files_cap = ld->files_cap == 0 ? 8 : ld->files_cap * 2;
        ld->files = xrealloc(ld->files, ld->files_cap * sizeof *ld->files);
    }
    struct file *f = &ld->files[ld->nfiles];
    f->path = xstrdup(path);
    f->here = abs_dir_of(path);
    f->dev = st != NULL ? st->st_dev : 0;
    f->ino = st != NULL ? st->st_ino : 0;
    return ld->nfiles++;
}

static size_t add_section(struct loader *ld, const char *name, size_t file, int line)
{
    if (ld->nsecs == ld->secs_cap) {
        ld->secs_cap = ld->secs_cap == 0 ? 16 : ld->secs_cap * 2;
        ld->secs = xrealloc(ld->secs, ld->secs_cap * sizeof *ld->secs);
    }
    struct section *s = &ld->secs[ld->nsecs];
    memset(s, 0, sizeof *s);
    s->name = xstrdup(name);
    s->file = file;
    s->line = line;
    s->group_sec = NO_INDEX;
    return ld->nsecs++;
}

static size_t add_entry(struct section *s, const char *key, const char *value, int line)
{
    if (s->nentries == s->cap) {
        s->cap = s->cap == 0 ? 8 : s->cap * 2;
        s->entries = xrealloc(s->entries, s->cap * sizeof *s->entries);
    }
    struct entry *e = &s->entries[s->nentries];
    memset(e, 0, sizeof *e);
    e->key = xstrdup(key);
    str_lower(e->key);
    str_append(&e->value, value);
    e->line = line;
    return s->nentries++;
}

/* Where a comment starts: a line whose first non-blank is ';' or '#', or one of those
 * preceded by whitespace (Python 3 ConfigParser with inline_comment_prefixes=(';', '#'), which
 * is what supervisord 4 configures). "a;b" and "http://h/#x" keep their text. Returns the
 * offset, or strlen(line) when there is none. */
static size_t comment_start(const char *line)
{
    size_t i = 0;
    while (is_blank(line[i]))
        i++;
    if (line[i] == ';' || line[i] == '#')
        return 0;
    for (; line[i] != '\0'; i++) {
        if ((line[i] == ';' || line[i] == '#') && i > 0 && is_blank(line[i - 1]))
            return i;
    }
    return i;
}

/* A line that is not config syntax is never quoted in a message: the file may be anything
 * (an include or symlink that reaches a root-only file must not leak its first line), so the
 * message names FILE:LINE and what is wrong, and stops there. */
static void parse_header(struct loader *ld, struct parse_state *ps, char *value, int lineno)
{
    char *close = strchr(value, ']');
    ps->sec = NO_INDEX;
    ps->broken = true;
    if (close == NULL) {
        diag(ld, ps->file, lineno, true, "section header is missing its closing ']'");
        return;
    }
    if (close[1] != '\0') {
        diag(ld, ps->file, lineno, true, "unexpected text after the section header's ']'");
        return;
    }
    *close = '\0';
    char *name = str_trim(value + 1);
    if (*name == '\0') {
        diag(ld, ps->file, lineno, true, "empty section name '[]'");
        return;
    }
    ps->sec = add_section(ld, name, ps->file, lineno);
    ps->broken = false;
    if (strcmp(name, "include") == 0) {
        if (ps->include != NO_INDEX) {
            diag(ld, ps->file, lineno, true, "duplicate section [include] (first at %s:%d)",
                 ld->files[ps->file].path, ld->secs[ps->include].line);
            ld->secs[ps->sec].skip = true;
        } else {
            ps->include = ps->sec;
        }
    }
}

static void parse_key(struct loader *ld, struct parse_state *ps, char *value, int lineno)
{
    /* Until the next header (or the value's own continuation lines) nothing is stored. */
    ps->in_value = true;
    ps->entry = NO_INDEX;
    size_t k = strcspn(value, "=:");
    if (value[k] == '\0') {
        diag(ld, ps->file, lineno, true,
             "expected '[section]', 'key = value' or a comment (the line is not shown)");
        return;
    }
    if (ps->broken)
        return;
    char sep = value[k];
    value[k] = '\0';
    char *key = str_trim(value);
    char *val = str_trim(value + k + 1);
    if (*key == '\0') {
        diag(ld, ps->file, lineno, true, "missing key name before '%c'", sep);
        return;
    }
    if (ps->sec == NO_INDEX) {
        /* Not quoted either: before any section, this may not be a config at all. */
        diag(ld, ps->file, lineno, true, "a key ('key = value') before any [section] "
             "(the line is not shown)");
        return;
    }
    ps->entry = add_entry(&ld->secs[ps->sec], key, val, lineno);
}

static void parse_line(struct loader *ld, struct parse_state *ps, char *line, int lineno)
{
    size_t cs = comment_start(line);
    bool had_comment = line[cs] != '\0';
    line[cs] = '\0';
    size_t indent = 0;
    while (is_blank(line[indent]))
        indent++;
    char *value = str_trim(line);
    if (*value == '\0') {
        /* A blank line does not end a value: ConfigParser keeps it if the value continues.
         * A comment line is simply skipped. */
        if (!had_comment && ps->in_value)
            ps->blanks++;
        return;
    }
    if (ps->in_value && indent > ps->indent) {
        if (ps->entry != NO_INDEX) {
            struct str *v = &ld->secs[ps->sec].entries[ps->entry].value;
            for (size_t i = 0; i <= ps->blanks; i++)
                str_append_char(v, '\n');
            str_append(v, value);
        }
        ps->blanks = 0;
        return;
    }
    ps->in_value = false;
    ps->entry = NO_INDEX;
    ps->blanks = 0;
    ps->indent = indent;
    if (*value == '[')
        parse_header(ld, ps, value, lineno);
    else
        parse_key(ld, ps, value, lineno);
}

static void parse_text(struct loader *ld, size_t file, char *text, size_t len, size_t *include)
{
    struct parse_state ps = {.file = file, .sec = NO_INDEX, .entry = NO_INDEX,
                             .include = NO_INDEX};
    char *p = text, *end = text + len;
    int lineno = 0;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* A UTF-8 byte order mark, as some editors write. */
    while (p < end) {
        if (lineno == INT_MAX)
            break; /* Unreachable below MAX_FILE_BYTES; keeps the counter defined. */
        lineno++;
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *line_end = nl != NULL ? nl : end;
        char *next = nl != NULL ? nl + 1 : end;
        if (memchr(p, '\0', (size_t)(line_end - p)) != NULL) {
            diag(ld, file, lineno, true, "line contains a NUL byte");
            ps.in_value = false;
            p = next;
            continue;
        }
        if (line_end > p && line_end[-1] == '\r')
            line_end--;
        *line_end = '\0'; /* text has a spare byte at text[len] for the last line. */
        parse_line(ld, &ps, p, lineno);
        p = next;
    }
    *include = ps.include;
}

static void load_file(struct loader *ld, const char *path, size_t parent, int parent_line);

static void check_keys(struct loader *ld, struct section *sec, enum key_section ks);
static void check_duplicate_keys(struct loader *ld, struct section *sec);
static bool expand(struct loader *ld, const struct expand_ctx *cx, const struct section *sec,
                   const struct entry *e, char **out);

static void base_ctx(const struct loader *ld, const struct section *sec, struct expand_ctx *cx)
{
    memset(cx, 0, sizeof *cx);
    cx->here = ld->files[sec->file].here;
    cx->host = ld->host;
}

static bool has_glob_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* [include] files = globs, relative to the including file. Matches load in sorted order. */
static void process_include(struct loader *ld, size_t file, size_t sec_idx)
{
    struct section *sec = &ld->secs[sec_idx];
    sec->kind = SEC_INCLUDE;
    check_duplicate_keys(ld, sec);
    check_keys(ld, sec, KEYSEC_INCLUDE);
    const struct entry *files = NULL;
    for (size_t i = 0; i < sec->nentries; i++) {
        if (sec->entries[i].def != NULL && sec->entries[i].def->id == KEY_FILES)
            files = &sec->entries[i];
    }
    if (files == NULL) {
        diag(ld, file, sec->line, true, "[include] is missing required key 'files'");
        return;
    }
    struct expand_ctx cx;
    base_ctx(ld, sec, &cx);
    char *value;
    if (!expand(ld, &cx, sec, files, &value))
        return;
    int line = files->line;
    size_t npat;
    char **pats = split_list(value, &npat);
    free(value);
    char *dir = dir_of(ld->files[file].path);
    for (size_t i = 0; i < npat; i++) {
        char *pattern = pats[i][0] == '/' || dir[0] == '\0'
                            ? xstrdup(pats[i])
                            : xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
                                        pats[i]);
        if (ld->replay != NULL) {
            /* The recorded load matched these files (or nothing: then nothing was read). */
            size_t n;
            const char **paths = confsnap_glob(ld->replay, pattern, &n);
            if (paths == NULL) {
                (void)fputs("tend: out of memory\n", stderr); /* Aborting anyway. */
                abort();
            }
            for (size_t j = 0; j < n; j++)
                load_file(ld, paths[j], file, line);
            free(paths);
            free(pattern);
            continue;
        }
        /* Only files root or tend's user controls are read: a directory others may add a
         * file to, or a file another user can change, would let them run a program as
         * tend's user. */
        char why[PATH_MAX + 200];
        struct shown sh;
        char *listed = dir_of(pattern);
        bool magic = has_glob_magic(pats[i]);
        if (magic && !has_glob_magic(listed) &&
            preflight_include_dir(listed[0] ? listed : ".", why, sizeof(why))) {
            diag(ld, file, line, true, "files: refusing '%s': %s", show(&sh, pats[i]), why);
            free(listed);
            free(pattern);
            continue;
        }
        free(listed);
        glob_t g;
        int rc = glob(pattern, 0, NULL, &g);
        if (rc == GLOB_NOSPACE) {
            (void)fputs("tend: out of memory\n", stderr); /* Aborting anyway. */
            abort();
        }
        if (rc != 0) {
            /* supervisord: an include that matches nothing is not an error. A literal name
             * that is missing is probably a typo, though, so that one gets a warning. */
            if (!magic)
                diag(ld, file, line, false, "files: no such file '%s'", show(&sh, pattern));
        } else {
            for (size_t j = 0; j < g.gl_pathc; j++) {
                const char *match = g.gl_pathv[j];
                char *parent = dir_of(match);
                int bad = magic && preflight_include_dir(parent[0] ? parent : ".", why,
                                                         sizeof(why));
                free(parent);
                if (bad || preflight_include_file(match, why, sizeof(why)) == -1) {
                    diag(ld, file, line, true, "files: refusing included file '%s': %s",
                         show(&sh, match), why);
                    continue;
                }
                load_file(ld, match, file, line);
            }
        }
        /* glob initialises g on every outcome, so freeing is always safe. */
        globfree(&g);
        free(pattern);
    }
    free(dir);
    str_vec_free(pats);
}

/* read_file, or the recorded copy when the loader replays a record. */
static int ld_read_file(const struct loader *ld, const char *path, char **text, size_t *len,
                        struct stat *st, const char **why)
{
    if (ld->replay == NULL)
        return read_file(path, text, len, st, why);
    if (confsnap_read(ld->replay, path, text, len, st) == -1) {
        *why = errno == ENOENT ? "not in the configuration in force" : strerror(errno);
        return -1;
    }
    return 0;
}

static void load_file(struct loader *ld, const char *path, size_t parent, int parent_line)
{
    char *text;
    size_t len;
    struct stat st;
    const char *why;
    struct shown sh;
    size_t file;

    if (parent == NO_INDEX) {
        if (ld_read_file(ld, path, &text, &len, &st, &why) == -1) {
            file = add_file(ld, path, NULL);
            diag(ld, file, 0, true, "cannot open: %s", why);
            return;
        }
    } else {
        if (ld_read_file(ld, path, &text, &len, &st, &why) == -1) {
            diag(ld, parent, parent_line, true, "cannot open included file '%s': %s",
                 show(&sh, path), why);
            return;
        }
        for (size_t i = 0; i < ld->depth; i++) {
            struct file *f = &ld->files[ld->stack[i]];
            if (f->dev == st.st_dev && f->ino == st.st_ino) {
                struct str chain = {0};
                for (size_t j = i; j < ld->depth; j++)
                    str_appendf(&chain, "%s -> ", ld->files[ld->stack[j]].path);
                str_append(&chain, path);
                diag(ld, parent, parent_line, true, "include cycle: %s", str_cstr(&chain));
                str_free(&chain);
                free(text);
                return;
            }
        }
        /* Matched again (two patterns, or two files including a common one): the sections are
         * already in; reading them twice would only report them as duplicates. */
        for (size_t i = 0; i < ld->nfiles; i++) {
            if (ld->files[i].dev == st.st_dev && ld->files[i].ino == st.st_ino) {
                free(text);
                return;
            }
        }
        if (ld->depth >= MAX_INCLUDE_DEPTH) {
            diag(ld, parent, parent_line, true, "includes nested deeper than %d levels",
                 MAX_INCLUDE_DEPTH);
            free(text);
            return;
        }
    }
    file = add_file(ld, path, &st);
    if (ld->record_fd != -1 && ld->record_err == 0 &&
        confsnap_add(ld->record_fd, path, &st, text, len) == -1)
        ld->record_err = errno;
    ld->stack[ld->depth++] = file;
    size_t include;
    parse_text(ld, file, text, len, &include);
    free(text);
    if (include != NO_INDEX)
        process_include(ld, file, include);
    ld->depth--;
}

/* ---- expansion -------------------------------------------------------------------------- */

struct format_spec {
    bool left, zero, plus, space;
    size_t width;
    bool has_prec;
    size_t prec;
    char conv;
};

static void pad(struct str *out, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        str_append_char(out, c);
}

/* Python's %s with width and precision ('0' does not pad strings). */
static void format_text(struct str *out, const struct format_spec *f, const char *v)
{
    size_t len = strlen(v);
    if (f->has_prec && f->prec < len)
        len = f->prec;
    size_t fill = f->width > len ? f->width - len : 0;
    if (!f->left)
        pad(out, ' ', fill);
    str_append_len(out, v, len);
    if (f->left)
        pad(out, ' ', fill);
}

/* Python's %d: precision is a minimum digit count, '0' pads between sign and digits. */
static void format_number(struct str *out, const struct format_spec *f, long long v)
{
    char digits[32];
    unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int nd = snprintf(digits, sizeof digits, "%llu", mag);
    size_t ndigits = nd > 0 ? (size_t)nd : 0;
    const char *sign = v < 0 ? "-" : f->plus ? "+" : f->space ? " " : "";
    size_t prec_zeros = f->has_prec && f->prec > ndigits ? f->prec - ndigits : 0;
    size_t body = strlen(sign) + prec_zeros + ndigits;
    size_t fill = f->width > body ? f->width - body : 0;
    if (!f->left && !f->zero)
        pad(out, ' ', fill);
    str_append(out, sign);
    if (!f->left && f->zero)
        pad(out, '0', fill);
    pad(out, '0', prec_zeros);
    str_append_len(out, digits, ndigits);
    if (f->left)
        pad(out, ' ', fill);
}

static bool parse_width(const char **pp, size_t *out)
{
    const char *p = *pp;
    size_t v = 0;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (size_t)(*p - '0');
        if (v > MAX_FORMAT_WIDTH)
            return false;
        p++;
    }
    *out = v;
    *pp = p;
    return true;
}

static void known_names(const struct expand_ctx *cx, struct str *s)
{
    str_append(s, "ENV_*, here, host_node_name");
    if (cx->program != NULL)
        str_append(s, ", program_name, group_name");
    if (cx->has_num)
        str_append(s, ", process_num, numprocs");
}

/* Expands Python %-format references in e's value: %(NAME)[flags][width][.prec](s|d|i|u)
 * and %%. On any problem reports it against e and returns false. */
static bool expand(struct loader *ld, const struct expand_ctx *cx, const struct section *sec,
                   const struct entry *e, char **out)
{
    const char *in = str_cstr(&e->value);
    struct str s = {0};
    struct shown sh;
    const char *p = in;
    char *name = NULL;

    while (*p != '\0') {
        const char *pct = strchr(p, '%');
        if (pct == NULL) {
            str_append(&s, p);
            break;
        }
        str_append_len(&s, p, (size_t)(pct - p));
        if (pct[1] == '%') {
            str_append_char(&s, '%');
            p = pct + 2;
            continue;
        }
        if (pct[1] != '(') {
            diag(ld, sec->file, e->line, true,
                 "%s: bad '%%' in '%s' (write %%%% for a literal percent sign)", e->key,
                 show(&sh, in));
            goto fail;
        }
        const char *nm = pct + 2;
        const char *close = strchr(nm, ')');
        if (close == NULL) {
            diag(ld, sec->file, e->line, true, "%s: unterminated '%%(' in '%s'", e->key,
                 show(&sh, in));
            goto fail;
        }
        struct format_spec f = {0};
        const char *q = close + 1;
        for (; *q != '\0' && strchr("-+ #0", *q) != NULL; q++) {
            f.left |= *q == '-';
            f.zero |= *q == '0';
            f.plus |= *q == '+';
            f.space |= *q == ' ';
        }
        bool ok = parse_width(&q, &f.width);
        if (ok && *q == '.') {
            q++;
            f.has_prec = true;
            ok = parse_width(&q, &f.prec);
        }
        f.conv = *q;
        name = xstrndup(nm, (size_t)(close - nm));
        if (!ok) {
            diag(ld, sec->file, e->line, true, "%s: width or precision over %d in '%%(%s)'",
                 e->key, MAX_FORMAT_WIDTH, show(&sh, name));
            goto fail;
        }
        if (f.conv == '\0' || strchr("sdiu", f.conv) == NULL) {
            diag(ld, sec->file, e->line, true,
                 "%s: '%%(%s)' needs a conversion such as 's' or 'd' in '%s'", e->key,
                 name, show(&sh, in));
            goto fail;
        }
        q++;

        const char *text = NULL;
        long long number = 0;
        bool is_number = false;
        if (str_has_prefix(name, "ENV_")) {
            text = getenv(name + 4);
            if (text == NULL) {
                diag(ld, sec->file, e->line, true, "%s: environment variable '%s' is not set",
                     e->key, show(&sh, name + 4));
                goto fail;
            }
        } else if (strcmp(name, "here") == 0) {
            text = cx->here;
        } else if (strcmp(name, "host_node_name") == 0) {
            text = cx->host;
        } else if (cx->program != NULL && strcmp(name, "program_name") == 0) {
            text = cx->program;
        } else if (cx->program != NULL && strcmp(name, "group_name") == 0) {
            text = cx->group;
        } else if (cx->has_num && strcmp(name, "process_num") == 0) {
            number = cx->process_num;
            is_number = true;
        } else if (cx->has_num && strcmp(name, "numprocs") == 0) {
            number = cx->numprocs;
            is_number = true;
        } else {
            struct str known = {0};
            known_names(cx, &known);
            diag(ld, sec->file, e->line, true, "%s: unknown expansion '%%(%s)%c'; known: %s",
                 e->key, show(&sh, name), f.conv, str_cstr(&known));
            str_free(&known);
            goto fail;
        }
        if (f.conv == 's') {
            if (is_number) {
                char buf[32];
                (void)snprintf(buf, sizeof buf, "%lld", number); /* Always fits. */
                format_text(&s, &f, buf);
            } else {
                format_text(&s, &f, text);
            }
        } else {
            if (!is_number) {
                diag(ld, sec->file, e->line, true,
                     "%s: '%%(%s)%c' needs a number, but %s is text", e->key, name, f.conv,
                     name); /* A known name here: safe to print as is. */
                goto fail;
            }
            format_number(&s, &f, number);
        }
        free(name);
        name = NULL;
        p = q;
        if (s.len > MAX_EXPANDED_BYTES - ld->expanded_bytes) {
            diag(ld, sec->file, e->line, true,
                 "%s: expansions produce more than %u MiB of configuration text", e->key,
                 MAX_EXPANDED_BYTES >> 20);
            goto fail;
        }
    }
    ld->expanded_bytes += s.len < MAX_EXPANDED_BYTES ? s.len : MAX_EXPANDED_BYTES;
    if (ld->expanded_bytes > MAX_EXPANDED_BYTES)
        ld->expanded_bytes = MAX_EXPANDED_BYTES;
    *out = str_release(&s);
    return true;

fail:
    free(name);
    str_free(&s);
    return false;
}

/* ---- typed values -----------------------------------------------------------------------
 * Each value_* parser reports its own error against the entry and returns false; callers that
 * only store the result ignore that bool with (void), since the diagnostic already says all. */

/* Numbers per the key's type and range: KEYT_UINT, KEYT_INT, KEYT_OCTAL. */
static bool value_number(struct loader *ld, const struct section *sec, const struct entry *e,
                         const char *v, long long *out)
{
    const struct key_def *d = e->def;
    struct shown sh;
    int rc;
    if (d->type == KEYT_OCTAL) {
        unsigned u;
        rc = parse_octal(v, (unsigned)d->max, &u);
        if (rc == 0) {
            *out = u;
            return true;
        }
        if (errno == ERANGE)
            diag(ld, sec->file, e->line, true, "%s: '%s' is out of range (0..0%llo)", e->key,
                 show(&sh, v), (unsigned long long)d->max);
        else
            diag(ld, sec->file, e->line, true, "%s: '%s' is not an octal number", e->key,
                 show(&sh, v));
        return false;
    }
    if (d->type == KEYT_INT) {
        rc = parse_int(v, d->min, d->max, out);
        if (rc == 0)
            return true;
        if (errno == ERANGE)
            diag(ld, sec->file, e->line, true, "%s: '%s' is out of range (%lld..%lld)", e->key,
                 show(&sh, v), d->min, d->max);
        else
            diag(ld, sec->file, e->line, true, "%s: '%s' is not an integer", e->key,
                 show(&sh, v));
        return false;
    }
    unsigned long long u;
    rc = parse_uint(v, (unsigned long long)d->max, &u);
    if (rc == 0 && (long long)u >= d->min) {
        *out = (long long)u;
        return true;
    }
    if (rc == -1 && errno == ERANGE)
        diag(ld, sec->file, e->line, true, "%s: '%s' is out of range (%lld..%lld)", e->key,
             show(&sh, v), d->min, d->max);
    else
        diag(ld, sec->file, e->line, true, "%s: '%s' is not a %s integer", e->key,
             show(&sh, v), d->min > 0 ? "positive" : "non-negative");
    return false;
}

static bool value_int(struct loader *ld, const struct section *sec, const struct entry *e,
                      const char *v, int *out)
{
    long long n;
    if (!value_number(ld, sec, e, v, &n))
        return false;
    *out = (int)n; /* Every table range fits an int. */
    return true;
}

static bool value_bool(struct loader *ld, const struct section *sec, const struct entry *e,
                       const char *v, bool *out)
{
    struct shown sh;
    if (parse_bool(v, out) == 0)
        return true;
    diag(ld, sec->file, e->line, true,
         "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", e->key, show(&sh, v));
    return false;
}

static bool value_size(struct loader *ld, const struct section *sec, const struct entry *e,
                       const char *v, long long *out)
{
    struct shown sh;
    if (parse_size(v, out) == 0)
        return true;
    if (errno == ERANGE)
        diag(ld, sec->file, e->line, true, "%s: '%s' is too large", e->key, show(&sh, v));
    else
        diag(ld, sec->file, e->line, true,
             "%s: '%s' is not a size (bytes, or a number with KB, MB or GB)", e->key,
             show(&sh, v));
    return false;
}

static bool value_nonempty(struct loader *ld, const struct section *sec, const struct entry *e,
                           const char *v)
{
    if (*v != '\0')
        return true;
    diag(ld, sec->file, e->line, true, "%s: empty value", e->key);
    return false;
}

/* stdout_logfile and friends: NONE/OFF, AUTO, syslog, or a path. */
static bool value_logfile(struct loader *ld, const struct section *sec, const struct entry *e,
                          const char *v, uint8_t *kind, char **path)
{
    if (!value_nonempty(ld, sec, e, v))
        return false;
    free(*path);
    *path = NULL;
    if (str_ieq(v, "none") || str_ieq(v, "off")) {
        *kind = LOG_TARGET_NONE;
    } else if (str_ieq(v, "auto")) {
        *kind = LOG_TARGET_AUTO;
    } else if (str_ieq(v, "syslog")) {
        *kind = LOG_TARGET_SYSLOG;
    } else {
        *kind = LOG_TARGET_PATH;
        *path = expand_tilde(v);
    }
    return true;
}

/* KEY=VAL,KEY2="v,al",KEY3='x' (supervisord's dict_of_key_value_pairs). Quoted values keep
 * commas and spaces; unquoted ones run to the next comma and are trimmed; a trailing comma
 * is fine; a later duplicate key replaces the earlier one. */
static bool value_env(struct loader *ld, const struct section *sec, const struct entry *e,
                      const char *v, char ***out)
{
    struct shown sh;
    char **vec = NULL;
    size_t n = 0, cap = 0;
    const char *p = v;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0')
            break;
        const char *key = p;
        while (*p != '\0' && *p != '=' && *p != ',' && !is_blank(*p) && *p != '"' &&
               *p != '\'')
            p++;
        size_t klen = (size_t)(p - key);
        while (is_blank(*p))
            p++;
        if (klen == 0 || *p != '=') {
            diag(ld, sec->file, e->line, true, "%s: expected KEY=VALUE at '%s'", e->key,
                 show(&sh, key));
            goto fail;
        }
        p++;
        while (is_blank(*p))
            p++;
        struct str val = {0};
        if (*p == '"' || *p == '\'') {
            const char *endq = strchr(p + 1, *p);
            if (endq == NULL) {
                diag(ld, sec->file, e->line, true, "%s: unterminated %c quote in '%s'", e->key,
                     *p, show(&sh, v));
                goto fail;
            }
            str_append_len(&val, p + 1, (size_t)(endq - p - 1));
            p = endq + 1;
            while (is_blank(*p))
                p++;
            if (*p != '\0' && *p != ',') {
                diag(ld, sec->file, e->line, true,
                     "%s: unexpected text after a quoted value at '%s'", e->key, show(&sh, p));
                str_free(&val);
                goto fail;
            }
        } else {
            const char *start = p;
            while (*p != '\0' && *p != ',')
                p++;
            const char *stop = p;
            while (stop > start && is_blank(stop[-1]))
                stop--;
            str_append_len(&val, start, (size_t)(stop - start));
        }
        if (*p == ',')
            p++;
        char *pair = xasprintf("%.*s=%s", (int)klen, key, str_cstr(&val));
        str_free(&val);
        bool replaced = false;
        for (size_t i = 0; i < n && !replaced; i++) {
            if (strncmp(vec[i], pair, klen + 1) == 0) {
                free(vec[i]);
                vec[i] = pair;
                replaced = true;
            }
        }
        if (!replaced)
            vec_push(&vec, &n, &cap, pair);
    }
    str_vec_free(*out);
    *out = vec;
    return true;

fail:
    str_vec_free(vec);
    return false;
}

static bool value_command(struct loader *ld, const struct section *sec, const struct entry *e,
                          const char *v, char ***argv)
{
    struct shown sh;
    const char *why;
    char **words;
    size_t count;
    if (str_split_shell(v, &words, &count, &why) == -1) {
        diag(ld, sec->file, e->line, true, "%s: %s in '%s'", e->key, why, show(&sh, v));
        return false;
    }
    if (count == 0) {
        diag(ld, sec->file, e->line, true, "%s: empty command", e->key);
        str_vec_free(words);
        return false;
    }
    str_vec_free(*argv);
    *argv = words;
    return true;
}

/* HOST:PORT, HOST may be [IPv6]. Port required unless default_port > 0. */
static bool parse_host_port(const char *s, int default_port, char **host, int *port)
{
    const char *h, *hend, *rest;
    if (*s == '[') {
        h = s + 1;
        hend = strchr(h, ']');
        if (hend == NULL)
            return false;
        rest = hend + 1;
    } else {
        h = s;
        hend = strchr(s, ':');
        if (hend == NULL)
            hend = s + strlen(s);
        rest = hend;
    }
    if (hend == h)
        return false;
    unsigned long long p;
    if (*rest == '\0' && default_port > 0) {
        p = (unsigned long long)default_port;
    } else if (*rest != ':' || parse_uint(rest + 1, 65535, &p) == -1 || p == 0) {
        return false;
    }
    *host = xstrndup(h, (size_t)(hend - h));
    *port = (int)p;
    return true;
}

static bool value_healthcheck(struct loader *ld, const struct section *sec, const struct entry *e,
                              const char *v, struct proc_health *pc)
{
    struct shown sh;
    char *host = NULL, *path = NULL;
    int port = 0;
    free(pc->host);
    free(pc->path);
    free(pc->argv); /* packed, with command */
    pc->host = pc->path = pc->command = NULL;
    pc->argv = NULL;
    pc->kind = HEALTH_NONE;
    pc->line = e->line;

    if (strncasecmp(v, "tcp:", 4) == 0) {
        if (parse_host_port(v + 4, 0, &host, &port)) {
            pc->kind = HEALTH_TCP;
            pc->host = host;
            pc->port = port;
            return true;
        }
    } else if (strncasecmp(v, "http://", 7) == 0) {
        const char *auth = v + 7;
        size_t alen = strcspn(auth, "/?#");
        char *authority = xstrndup(auth, alen);
        bool ok = parse_host_port(authority, 80, &host, &port);
        free(authority);
        if (ok) {
            const char *rest = auth + alen;
            path = *rest == '/' ? xstrdup(rest) : xasprintf("/%s", rest);
            pc->kind = HEALTH_HTTP;
            pc->host = host;
            pc->port = port;
            pc->path = path;
            return true;
        }
    } else if (strncasecmp(v, "https://", 8) == 0) {
        diag(ld, sec->file, e->line, true, "%s: https is not supported; use http:// or tcp:",
             e->key);
        return false;
    } else if (strncasecmp(v, "exec:", 5) == 0) {
        char *cmd = xstrdup(v + 5);
        char *trimmed = str_trim(cmd);
        char **argv = NULL;
        const char *why;
        size_t count = 0;
        if (*trimmed != '\0' && str_split_shell(trimmed, &argv, &count, &why) == -1) {
            diag(ld, sec->file, e->line, true, "%s: %s in '%s'", e->key, why, show(&sh, v));
            free(cmd);
            return false;
        }
        if (count > 0) {
            pc->kind = HEALTH_EXEC;
            pc->argv = str_vec_pack(argv, trimmed, &pc->command);
            str_vec_free(argv);
            free(cmd);
            return true;
        }
        str_vec_free(argv);
        free(cmd);
    }
    diag(ld, sec->file, e->line, true,
         "%s: '%s' is not tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND", e->key,
         show(&sh, v));
    return false;
}

static bool value_exitcodes(struct loader *ld, const struct section *sec,
                            const struct entry *e, const char *v, uint64_t codes[4])
{
    struct shown sh;
    uint64_t seen[4] = {0};
    char *copy = xstrdup(v);
    bool ok = true, any = false;
    /* strtok would skip empty fields; walk commas by hand so "1,,2" is an error. */
    char *p = copy;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        char *item = str_trim(p);
        unsigned long long code;
        if (parse_uint(item, 255, &code) == -1) {
            if (errno == ERANGE)
                diag(ld, sec->file, e->line, true, "%s: '%s' is not an exit code (0..255)",
                     e->key, show(&sh, item));
            else
                diag(ld, sec->file, e->line, true,
                     "%s: '%s' is not a comma-separated list of exit codes (0..255)", e->key,
                     show(&sh, v));
            ok = false;
            break;
        }
        seen[code / 64] |= 1ULL << (code % 64);
        any = true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    free(copy);
    if (ok && any)
        memcpy(codes, seen, sizeof seen);
    return ok && any;
}

static bool value_signal(struct loader *ld, const struct section *sec, const struct entry *e,
                         const char *v, int *out)
{
    struct shown sh;
    int sig = sig_from_name(v);
    if (sig > 0) {
        *out = sig;
        return true;
    }
    diag(ld, sec->file, e->line, true, "%s: unknown signal '%s'", e->key, show(&sh, v));
    return false;
}

static bool value_autorestart(struct loader *ld, const struct section *sec, const struct entry *e,
                              const char *v, uint8_t *out)
{
    struct shown sh;
    bool b;
    if (str_ieq(v, "unexpected")) {
        *out = AUTORESTART_UNEXPECTED;
        return true;
    }
    if (parse_bool(v, &b) == 0) {
        *out = b ? AUTORESTART_TRUE : AUTORESTART_FALSE;
        return true;
    }
    diag(ld, sec->file, e->line, true, "%s: '%s' is not one of true, false, unexpected", e->key,
         show(&sh, v));
    return false;
}

/* ---- the check pass --------------------------------------------------------------------- */

/* Classifies [name]; on a problem reports it and returns SEC_INVALID. */
static enum section_kind classify(struct loader *ld, struct section *sec)
{
    struct shown sh;
    const char *name = sec->name;
    const char *colon = strchr(name, ':');
    size_t plen = colon != NULL ? (size_t)(colon - name) : strlen(name);
    sec->arg = colon != NULL ? colon + 1 : NULL;

    if (colon == NULL) {
        if (strcmp(name, "tend") == 0 || strcmp(name, "supervisord") == 0)
            return SEC_TEND;
        if (strcmp(name, "include") == 0)
            return SEC_INCLUDE;
        if (strcmp(name, "unix_http_server") == 0)
            return SEC_UNIX_HTTP;
        if (strcmp(name, "alert") == 0)
            return SEC_ALERT;
        if (strcmp(name, "supervisorctl") == 0)
            return SEC_IGNORED;
        if (strcmp(name, "inet_http_server") == 0)
            return SEC_INET_HTTP;
    }
    for (size_t i = 0; i < sizeof named_sections / sizeof named_sections[0]; i++) {
        const char *kind = named_sections[i];
        if (strlen(kind) != plen || strncmp(name, kind, plen) != 0)
            continue;
        if (sec->arg == NULL || *sec->arg == '\0') {
            diag(ld, sec->file, sec->line, true, "section [%s] needs a name: [%s:NAME]",
                 show(&sh, name), kind);
            return SEC_INVALID;
        }
        if (strcmp(kind, "rpcinterface") == 0 || strcmp(kind, "ctlplugin") == 0)
            return SEC_IGNORED; /* read by supervisord's RPC layer and by supervisorctl */
        if (is_blank(sec->arg[0]) || is_blank(sec->arg[strlen(sec->arg) - 1])) {
            /* supervisord strips the name: [program: web ] is [program:web]. */
            char *arg = xstrdup(sec->arg);
            char *name2 = xasprintf("%s:%s", kind, str_trim(arg));
            free(arg);
            free(sec->name);
            sec->name = name2;
            sec->arg = name2 + strlen(kind) + 1;
            if (*sec->arg == '\0') {
                diag(ld, sec->file, sec->line, true, "section [%s] needs a name: [%s:NAME]",
                     show(&sh, sec->name), kind);
                return SEC_INVALID;
            }
        }
        if (strcmp(kind, "alert") == 0)
            return SEC_ALERT; /* Any text names an alert. */
        if (!valid_name(sec->arg)) {
            diag(ld, sec->file, sec->line, true,
                 "invalid %s name '%s' (it may not contain spaces, ':' or '/')", kind,
                 show(&sh, sec->arg));
            return SEC_INVALID;
        }
        if (strcmp(kind, "eventlistener") == 0) {
            sec->flavor = PROC_KIND_LISTENER;
            return SEC_PROGRAM;
        }
        if (strcmp(kind, "fcgi-program") == 0) {
            sec->flavor = PROC_KIND_FCGI;
            return SEC_PROGRAM;
        }
        return strcmp(kind, "program") == 0 ? SEC_PROGRAM : SEC_GROUP;
    }

    /* Unknown: suggest the nearest valid header. */
    const char *best = NULL;
    bool best_named = false;
    size_t best_d = 0;
    char *prefix = xstrndup(name, plen);
    if (plen <= 64) {
        if (colon == NULL) {
            for (size_t i = 0; i < sizeof plain_sections / sizeof plain_sections[0]; i++) {
                size_t d = str_levenshtein(prefix, plain_sections[i]);
                if (best == NULL || d < best_d) {
                    best = plain_sections[i];
                    best_d = d;
                    best_named = false;
                }
            }
        }
        for (size_t i = 0; i < sizeof named_sections / sizeof named_sections[0]; i++) {
            size_t d = str_levenshtein(prefix, named_sections[i]);
            if (best == NULL || d < best_d) {
                best = named_sections[i];
                best_d = d;
                best_named = true;
            }
        }
    }
    if (best != NULL && keys_is_close(prefix, best_d)) {
        if (!best_named)
            diag(ld, sec->file, sec->line, true, "unknown section [%s]; did you mean [%s]?",
                 show(&sh, name), best);
        else if (colon != NULL)
            diag(ld, sec->file, sec->line, true, "unknown section [%s]; did you mean [%s:%s]?",
                 show(&sh, name), best, show(&(struct shown){{0}}, sec->arg));
        else
            diag(ld, sec->file, sec->line, true,
                 "unknown section [%s]; did you mean [%s:NAME]?", show(&sh, name), best);
    } else {
        diag(ld, sec->file, sec->line, true, "unknown section [%s]", show(&sh, name));
    }
    free(prefix);
    return SEC_INVALID;
}

static void check_keys(struct loader *ld, struct section *sec, enum key_section ks)
{
    struct shown sh, sh2;
    for (size_t i = 0; i < sec->nentries; i++) {
        struct entry *e = &sec->entries[i];
        if (e->dup)
            continue;
        const struct key_def *d = keys_find(ks, e->key);
        /* Event listeners and FastCGI programs are programs with a few keys more. */
        bool programish = ks == KEYSEC_LISTENER || ks == KEYSEC_FCGI;
        if (d == NULL && programish)
            d = keys_find(KEYSEC_PROGRAM, e->key);
        if (d == NULL) {
            /* supervisord ignores a key it does not know, and a config it runs must run
             * here: a warning (an error under `tend check --strict`), ignored. */
            const struct key_def *near = keys_nearest(ks, e->key);
            if (near == NULL && programish)
                near = keys_nearest(KEYSEC_PROGRAM, e->key);
            if (near != NULL)
                diag(ld, sec->file, e->line, false,
                     "unknown key '%s' in [%s]; did you mean '%s'? ignored", show(&sh, e->key),
                     show(&sh2, sec->name), near->name);
            else
                diag(ld, sec->file, e->line, false, "unknown key '%s' in [%s]; ignored",
                     show(&sh, e->key), show(&sh2, sec->name));
        } else if (!d->supported) {
            diag(ld, sec->file, e->line, false,
                 "[%s] key '%s' is not supported by tend yet; ignored", show(&sh2, sec->name),
                 e->key);
        } else {
            e->def = d;
        }
    }
}

struct name_ref {
    const char *name;
    size_t index;
};

static int cmp_name_ref(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Repeated keys in one section: the first counts, later ones are errors. */
static void check_duplicate_keys(struct loader *ld, struct section *sec)
{
    struct shown sh;
    if (sec->nentries < 2)
        return;
    struct name_ref *refs = xmalloc(sec->nentries * sizeof *refs);
    for (size_t i = 0; i < sec->nentries; i++)
        refs[i] = (struct name_ref){sec->entries[i].key, i};
    qsort(refs, sec->nentries, sizeof *refs, cmp_name_ref);
    for (size_t i = 1; i < sec->nentries; i++) {
        if (strcmp(refs[i].name, refs[i - 1].name) != 0)
            continue;
        size_t first = i - 1;
        while (first > 0 && strcmp(refs[first - 1].name, refs[i].name) == 0)
            first--;
        struct entry *e = &sec->entries[refs[i].index];
        e->dup = true;
        diag(ld, sec->file, e->line, true, "duplicate key '%s' in [%s] (first at line %d)",
             show(&sh, e->key), show(&(struct shown){{0}}, sec->name),
             sec->entries[refs[first].index].line);
    }
    free(refs);
}

static const char *canonical_section(const struct section *sec)
{
    return sec->kind == SEC_TEND ? "tend" : sec->name;
}

/* The same section twice, in one file or across includes ([tend] and [supervisord] count as
 * the same). The first one is used. */
static void check_duplicate_sections(struct loader *ld)
{
    struct shown sh, sh2;
    struct name_ref *refs = xmalloc((ld->nsecs + 1) * sizeof *refs);
    size_t n = 0;
    for (size_t i = 0; i < ld->nsecs; i++) {
        const struct section *s = &ld->secs[i];
        if (s->kind != SEC_INCLUDE && s->kind != SEC_INVALID)
            refs[n++] = (struct name_ref){canonical_section(s), i};
    }
    if (n > 1)
        qsort(refs, n, sizeof *refs, cmp_name_ref);
    size_t first = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(refs[i].name, refs[first].name) != 0) {
            first = i;
            continue;
        }
        struct section *dup = &ld->secs[refs[i].index];
        const struct section *orig = &ld->secs[refs[first].index];
        dup->skip = true;
        if (strcmp(dup->name, orig->name) == 0)
            diag(ld, dup->file, dup->line, true, "duplicate section [%s] (first at %s:%d)",
                 show(&sh, dup->name), ld->files[orig->file].path, orig->line);
        else
            diag(ld, dup->file, dup->line, true,
                 "duplicate section [%s]: same as [%s] at %s:%d", show(&sh, dup->name),
                 show(&sh2, orig->name), ld->files[orig->file].path, orig->line);
    }
    free(refs);
}

static void check_sections(struct loader *ld)
{
    struct shown sh;
    for (size_t i = 0; i < ld->nsecs; i++) {
        struct section *s = &ld->secs[i];
        if (s->kind == SEC_INCLUDE)
            continue; /* Set and checked while reading. */
        s->kind = classify(ld, s);
        if (s->kind == SEC_INCLUDE) {
            /* A second [include] in one file: the reader reported it already. */
            s->skip = true;
        }
    }
    check_duplicate_sections(ld);
    for (size_t i = 0; i < ld->nsecs; i++) {
        struct section *s = &ld->secs[i];
        enum key_section ks;
        switch (s->kind) {
        case SEC_PROGRAM:
            ks = s->flavor == PROC_KIND_LISTENER ? KEYSEC_LISTENER
                 : s->flavor == PROC_KIND_FCGI   ? KEYSEC_FCGI
                                                 : KEYSEC_PROGRAM;
            break;
        case SEC_GROUP:
            ks = KEYSEC_GROUP;
            break;
        case SEC_TEND:
            ks = KEYSEC_TEND;
            break;
        case SEC_UNIX_HTTP:
            ks = KEYSEC_UNIX_HTTP;
            break;
        case SEC_ALERT:
            ks = KEYSEC_ALERT;
            break;
        case SEC_INET_HTTP:
            ks = KEYSEC_INET_HTTP;
            break;
        case SEC_UNSUPPORTED:
            if (!s->skip) {
                const char *what = strncmp(s->name, "eventlistener", 13) == 0
                                       ? "event listeners are not supported by tend (see "
                                         "[alert])"
                                   : "FastCGI programs are not supported by tend";
                diag(ld, s->file, s->line, false, "[%s]: %s; section ignored",
                     show(&sh, s->name), what);
            }
            continue;
        case SEC_INCLUDE:
        case SEC_IGNORED:
        case SEC_INVALID:
        default:
            continue;
        }
        if (s->skip || (ld->socket_only && ks != KEYSEC_TEND && ks != KEYSEC_UNIX_HTTP))
            continue;
        check_duplicate_keys(ld, s);
        check_keys(ld, s, ks);
    }
}

/* ---- building: [tend] and [unix_http_server] -------------------------------------------- */

/* Where each socket setting was set, to catch [tend] and [unix_http_server] disagreeing. */
struct socket_origin {
    const struct section *sec;
    const struct entry *e;
    char *value;
};

static void set_socket_value(struct loader *ld, struct socket_origin *o,
                             const struct section *sec, const struct entry *e, const char *v,
                             const char *what)
{
    struct shown sh, sh2;
    if (o->sec != NULL && strcmp(o->value, v) != 0) {
        diag(ld, sec->file, e->line, true,
             "%s: '%s' conflicts with %s = '%s' in [%s] at %s:%d", e->key, show(&sh, v), what,
             show(&sh2, o->value), o->sec->name, ld->files[o->sec->file].path, o->e->line);
        return;
    }
    if (o->sec == NULL) {
        o->sec = sec;
        o->e = e;
        o->value = xstrdup(v);
    }
}

struct tend_build {
    struct socket_origin path, mode, owner, group;
};

static void apply_tend_key(struct loader *ld, struct tend_build *tb, const struct section *sec,
                           const struct entry *e, const char *v)
{
    struct tend_conf *t = &ld->cfg->tend;
    struct shown sh;
    long long n;
    int i;
    switch (e->def->id) {
    case KEY_LOGFILE: {
        uint8_t kind = (uint8_t)t->logfile_kind;
        if (value_logfile(ld, sec, e, v, &kind, &t->logfile))
            t->logfile_kind = (enum log_target)kind;
        break;
    }
    case KEY_LOGFILE_MAXBYTES:
        if (value_size(ld, sec, e, v, &n))
            t->logfile_maxbytes = n;
        break;
    case KEY_LOGFILE_BACKUPS:
        if (value_int(ld, sec, e, v, &i))
            t->logfile_backups = i;
        break;
    case KEY_LOGLEVEL: {
        bool found = false;
        for (size_t k = 0; k < sizeof loglevels / sizeof loglevels[0]; k++) {
            if (str_ieq(v, loglevels[k].name)) {
                t->loglevel = loglevels[k].level;
                found = true;
            }
        }
        if (!found)
            diag(ld, sec->file, e->line, true,
                 "%s: '%s' is not one of critical, error, warn, info, debug, trace, blather",
                 e->key, show(&sh, v));
        break;
    }
    case KEY_PIDFILE:
        if (value_nonempty(ld, sec, e, v)) {
            free(t->pidfile);
            t->pidfile = expand_tilde(v);
        }
        break;
    case KEY_USER:
        if (value_nonempty(ld, sec, e, v)) {
            free(t->user);
            t->user = xstrdup(v);
        }
        break;
    case KEY_UMASK:
        if (value_int(ld, sec, e, v, &i))
            t->umask = i;
        break;
    case KEY_DIRECTORY:
        if (value_nonempty(ld, sec, e, v)) {
            free(t->directory);
            t->directory = expand_tilde(v);
        }
        break;
    case KEY_MINFDS:
        if (value_int(ld, sec, e, v, &i))
            t->minfds = i;
        break;
    case KEY_MINPROCS:
        if (value_int(ld, sec, e, v, &i))
            t->minprocs = i;
        break;
    case KEY_ENVIRONMENT:
        (void)value_env(ld, sec, e, v, &t->env);
        break;
    case KEY_NODAEMON:
        (void)value_bool(ld, sec, e, v, &t->nodaemon);
        break;
    case KEY_CHILDLOGDIR:
        if (value_nonempty(ld, sec, e, v)) {
            free(t->childlogdir);
            t->childlogdir = expand_tilde(v);
        }
        break;
    case KEY_IDENTIFIER:
        if (value_nonempty(ld, sec, e, v)) {
            free(t->identifier);
            t->identifier = xstrdup(v);
        }
        break;
    case KEY_NOCLEANUP:
        (void)value_bool(ld, sec, e, v, &t->nocleanup);
        break;
    case KEY_SILENT:
        (void)value_bool(ld, sec, e, v, &t->silent);
        break;
    case KEY_STRIP_ANSI:
        (void)value_bool(ld, sec, e, v, &t->strip_ansi);
        break;
    case KEY_SOCKET:
        if (value_nonempty(ld, sec, e, v)) {
            char *path = expand_tilde(v);
            set_socket_value(ld, &tb->path, sec, e, path, "socket path");
            free(path);
        }
        break;
    case KEY_SOCKET_MODE:
        if (value_int(ld, sec, e, v, &i)) {
            char buf[16];
            (void)snprintf(buf, sizeof buf, "%o", (unsigned)i); /* Fits: at most 07777. */
            set_socket_value(ld, &tb->mode, sec, e, buf, "socket mode");
        }
        break;
    case KEY_SOCKET_OWNER: {
        const char *colon = strchr(v, ':');
        size_t ulen = colon != NULL ? (size_t)(colon - v) : strlen(v);
        if (ulen == 0 || (colon != NULL && colon[1] == '\0') ||
            (colon != NULL && strchr(colon + 1, ':') != NULL)) {
            diag(ld, sec->file, e->line, true, "%s: '%s' is not USER or USER:GROUP", e->key,
                 show(&sh, v));
            break;
        }
        char *user = xstrndup(v, ulen);
        set_socket_value(ld, &tb->owner, sec, e, user, "socket owner");
        free(user);
        if (colon != NULL)
            set_socket_value(ld, &tb->group, sec, e, colon + 1, "socket group");
        break;
    }
    case KEY_SOCKET_GROUP:
        if (value_nonempty(ld, sec, e, v))
            set_socket_value(ld, &tb->group, sec, e, v, "socket group");
        break;
    case KEY_CGROUPS:
        (void)value_bool(ld, sec, e, v, &t->cgroups);
        break;
    default:
        break; /* The table gives [tend] no other supported keys. */
    }
}

static void build_tend(struct loader *ld)
{
    struct tend_conf *t = &ld->cfg->tend;
    struct tend_build tb;
    memset(&tb, 0, sizeof tb);
    t->logfile_kind = LOG_TARGET_AUTO;
    t->logfile_maxbytes = DEFAULT_MAXBYTES;
    t->logfile_backups = DEFAULT_BACKUPS;
    t->loglevel = CONFIG_LOG_INFO;
    t->umask = -1;
    t->minfds = 1024;
    t->minprocs = 200;
    t->socket_mode = 0600;
    t->cgroups = true;

    /* [tend] first, so a [unix_http_server] that disagrees is the one reported. */
    for (int pass = 0; pass < 2; pass++) {
        enum section_kind want = pass == 0 ? SEC_TEND : SEC_UNIX_HTTP;
        for (size_t i = 0; i < ld->nsecs; i++) {
            const struct section *sec = &ld->secs[i];
            if (sec->kind != want || sec->skip)
                continue;
            if (want == SEC_TEND) {
                t->file = xstrdup(ld->files[sec->file].path);
                t->line = sec->line;
            }
            struct expand_ctx cx;
            base_ctx(ld, sec, &cx);
            for (size_t k = 0; k < sec->nentries; k++) {
                const struct entry *e = &sec->entries[k];
                char *v;
                if (e->def == NULL || e->dup || !expand(ld, &cx, sec, e, &v))
                    continue;
                apply_tend_key(ld, &tb, sec, e, v);
                free(v);
            }
        }
    }
    if (tb.path.value != NULL)
        t->socket = xstrdup(tb.path.value);
    if (tb.mode.value != NULL)
        t->socket_mode = (int)strtol(tb.mode.value, NULL, 8); /* Written by us in octal. */
    if (tb.owner.value != NULL)
        t->socket_owner = xstrdup(tb.owner.value);
    if (tb.group.value != NULL)
        t->socket_group = xstrdup(tb.group.value);
    free(tb.path.value);
    free(tb.mode.value);
    free(tb.owner.value);
    free(tb.group.value);
}

/* ---- building: groups ------------------------------------------------------------------- */

static int cmp_program_arg(const void *key, const void *elem)
{
    const struct name_ref *r = elem;
    return strcmp(key, r->name);
}

/* Usable [program:x] sections sorted by name, for lookups by groups. */
static struct name_ref *program_index(struct loader *ld, size_t *count)
{
    struct name_ref *refs = xmalloc((ld->nsecs + 1) * sizeof *refs);
    size_t n = 0;
    for (size_t i = 0; i < ld->nsecs; i++) {
        if (ld->secs[i].kind == SEC_PROGRAM && !ld->secs[i].skip)
            refs[n++] = (struct name_ref){ld->secs[i].arg, i};
    }
    if (n > 1)
        qsort(refs, n, sizeof *refs, cmp_name_ref);
    *count = n;
    return refs;
}

static const struct name_ref *find_program(const struct name_ref *idx, size_t n,
                                           const char *name)
{
    if (n == 0)
        return NULL;
    return bsearch(name, idx, n, sizeof *idx, cmp_program_arg);
}

static const char *nearest_program(const struct name_ref *idx, size_t n, const char *name)
{
    const char *best = NULL;
    size_t best_d = 0;
    if (strlen(name) > 64)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t d = str_levenshtein(name, idx[i].name);
        if (best == NULL || d < best_d) {
            best = idx[i].name;
            best_d = d;
        }
    }
    return best != NULL && keys_is_close(name, best_d) ? best : NULL;
}

static void build_group(struct loader *ld, size_t sec_idx, const struct name_ref *idx,
                        size_t nidx)
{
    struct section *sec = &ld->secs[sec_idx];
    struct shown sh, sh2;
    struct config *cfg = ld->cfg;
    size_t errors_before = ld->errors;
    struct group_conf g = {0};
    g.priority = DEFAULT_PRIORITY;
    const struct entry *programs = NULL;
    char **names = NULL;
    size_t nnames = 0;
    struct expand_ctx cx;
    base_ctx(ld, sec, &cx);

    for (size_t k = 0; k < sec->nentries; k++) {
        const struct entry *e = &sec->entries[k];
        char *v;
        if (e->def == NULL || e->dup || !expand(ld, &cx, sec, e, &v))
            continue;
        if (e->def->id == KEY_PRIORITY) {
            (void)value_int(ld, sec, e, v, &g.priority);
        } else if (e->def->id == KEY_PROGRAMS) {
            programs = e;
            names = split_list(v, &nnames);
            if (nnames == 0)
                diag(ld, sec->file, e->line, true, "%s: no program names", e->key);
        }
        free(v);
    }
    if (programs == NULL)
        diag(ld, sec->file, sec->line, true, "[%s] is missing required key 'programs'",
             show(&sh, sec->name));

    for (size_t i = 0; i < nnames; i++) {
        bool repeated = false;
        for (size_t j = 0; j < i && !repeated; j++)
            repeated = strcmp(names[i], names[j]) == 0;
        if (repeated) {
            diag(ld, sec->file, programs->line, true, "%s: '%s' is listed twice",
                 programs->key, show(&sh, names[i]));
            continue;
        }
        const struct name_ref *r = find_program(idx, nidx, names[i]);
        if (r == NULL) {
            const char *near = nearest_program(idx, nidx, names[i]);
            if (near != NULL)
                diag(ld, sec->file, programs->line, true,
                     "%s: no [program:%s] section; did you mean '%s'?", programs->key,
                     show(&sh, names[i]), near);
            else
                diag(ld, sec->file, programs->line, true, "%s: no [program:%s] section",
                     programs->key, show(&sh, names[i]));
            continue;
        }
        struct section *prog = &ld->secs[r->index];
        if (prog->group_sec != NO_INDEX) {
            const struct section *other = &ld->secs[prog->group_sec];
            diag(ld, sec->file, programs->line, true,
                 "%s: '%s' is already in [%s] at %s:%d", programs->key, show(&sh, names[i]),
                 show(&sh2, other->name), ld->files[other->file].path, other->line);
            continue;
        }
        prog->group_sec = sec_idx;
    }

    /* A group and a program outside it with the same name would make "NAME" ambiguous. */
    const struct name_ref *same = find_program(idx, nidx, sec->arg);
    if (same != NULL && ld->secs[same->index].group_sec != sec_idx) {
        const struct section *prog = &ld->secs[same->index];
        diag(ld, sec->file, sec->line, true,
             "group name '%s' is also the name of [%s] at %s:%d, which is not in it",
             sec->arg, prog->name, ld->files[prog->file].path, prog->line);
    }

    if (ld->errors != errors_before) {
        str_vec_free(names);
        return;
    }
    g.name = xstrdup(sec->arg);
    g.programs = names;
    g.nprograms = nnames;
    g.file = xstrdup(ld->files[sec->file].path);
    g.line = sec->line;
    cfg->groups = xrealloc(cfg->groups, (cfg->ngroups + 1) * sizeof *cfg->groups);
    cfg->groups[cfg->ngroups++] = g;
}

static void build_groups(struct loader *ld)
{
    size_t nidx;
    struct name_ref *idx = program_index(ld, &nidx);
    for (size_t i = 0; i < ld->nsecs; i++) {
        if (ld->secs[i].kind == SEC_GROUP && !ld->secs[i].skip)
            build_group(ld, i, idx, nidx);
    }
    free(idx);
}

/* ---- building: programs ----------------------------------------------------------------- */

static void proc_conf_defaults(struct proc_conf *p)
{
    memset(p, 0, sizeof *p);
    p->numprocs = 1;
    p->priority = DEFAULT_PRIORITY;
    p->autostart = true;
    p->stopleftovers = true;
    p->startsecs = 1;
    p->startretries = 3;
    p->autorestart = AUTORESTART_UNEXPECTED;
    p->stopsignal = SIGTERM;
    p->stopwaitsecs = 10;
    p->umask = -1;
    p->stdout_logfile_kind = LOG_TARGET_AUTO;
    p->stdout_logfile_maxbytes = DEFAULT_MAXBYTES;
    p->stdout_logfile_backups = DEFAULT_BACKUPS;
    p->stderr_logfile_kind = LOG_TARGET_AUTO;
    p->stderr_logfile_maxbytes = DEFAULT_MAXBYTES;
    p->stderr_logfile_backups = DEFAULT_BACKUPS;
    p->readiness = READY_STARTSECS;
}

/* The defaults of the side structures, which proc_conf_health() and friends also give for a
 * program that has none. */
static const struct proc_health default_health = {
    .kind = HEALTH_NONE, .interval = 10, .timeout = 5, .retries = 3};
static const struct proc_ready default_ready = {.startwaitsecs = 90};
static const struct proc_fcgi default_fcgi = {.socket_mode = 0700, .socket_backlog = SOMAXCONN};
static const struct proc_events default_events = {.buffer_size = 10};
static const struct proc_limits default_limits = {
    .rlimits = {PROC_RLIM_UNSET, PROC_RLIM_UNSET, PROC_RLIM_UNSET, PROC_RLIM_UNSET, PROC_RLIM_UNSET,
                PROC_RLIM_UNSET, PROC_RLIM_UNSET, PROC_RLIM_UNSET}};
static const uint64_t default_exitcodes[4] = {1, 0, 0, 0}; /* 0 only */
_Static_assert(PROC_RLIM_COUNT == 8, "default_limits lists every rlimit");

/* A malloc'd copy of size bytes at src: a side structure made from its defaults, or from
 * another config's (proc_conf_dup). */
static void *copy_of(const void *src, size_t size)
{
    return memcpy(xmalloc(size), src, size);
}

/* The side structure of p, made (with the defaults) on first use. */
static struct proc_health *health_of(struct proc_conf *p)
{
    if (p->health == NULL)
        p->health = copy_of(&default_health, sizeof default_health);
    return p->health;
}

static struct proc_ready *ready_of(struct proc_conf *p)
{
    if (p->ready == NULL)
        p->ready = copy_of(&default_ready, sizeof default_ready);
    return p->ready;
}

static struct proc_fcgi *fcgi_of(struct proc_conf *p)
{
    if (p->fcgi == NULL)
        p->fcgi = copy_of(&default_fcgi, sizeof default_fcgi);
    return p->fcgi;
}

static struct proc_events *events_of(struct proc_conf *p)
{
    if (p->events == NULL)
        p->events = copy_of(&default_events, sizeof default_events);
    return p->events;
}

static struct proc_limits *limits_of(struct proc_conf *p)
{
    if (p->limits == NULL)
        p->limits = copy_of(&default_limits, sizeof default_limits);
    return p->limits;
}

/* readiness=: startsecs | notify | healthcheck | tcp:[HOST:]PORT. */
static bool value_readiness(struct loader *ld, const struct section *sec, const struct entry *e,
                            const char *v, struct proc_conf *p)
{
    struct shown sh;
    if (p->ready != NULL) {
        free(p->ready->host);
        p->ready->host = NULL;
    }
    if (str_ieq(v, "startsecs")) {
        p->readiness = READY_STARTSECS;
        return true;
    }
    if (str_ieq(v, "notify")) {
        p->readiness = READY_NOTIFY;
        return true;
    }
    if (str_ieq(v, "healthcheck")) {
        p->readiness = READY_HEALTHCHECK;
        return true;
    }
    if (strncasecmp(v, "tcp:", 4) == 0) {
        const char *hp = v + 4, *colon = strrchr(hp, ':');
        const char *port = colon != NULL ? colon + 1 : hp;
        char *end;
        long n;
        errno = 0;
        n = strtol(port, &end, 10);
        if (*port != '\0' && *end == '\0' && errno == 0 && n >= 1 && n <= 65535 &&
            (colon == NULL || colon > hp)) {
            struct proc_ready *r = ready_of(p);
            p->readiness = READY_TCP;
            r->port = (int)n;
            if (colon == NULL)
                r->host = xstrdup("127.0.0.1");
            else if (hp[0] == '[' && colon[-1] == ']')
                r->host = xstrndup(hp + 1, (size_t)(colon - hp - 2));
            else
                r->host = xstrndup(hp, (size_t)(colon - hp));
            return true;
        }
        diag(ld, sec->file, e->line, true,
             "%s: '%s' is not tcp:PORT or tcp:HOST:PORT with a port from 1 to 65535", e->key,
             show(&sh, v));
        return false;
    }
    diag(ld, sec->file, e->line, true,
         "%s: '%s' is not one of startsecs, notify, healthcheck, tcp:[HOST:]PORT", e->key,
         show(&sh, v));
    return false;
}

static void set_string(char **field, char *value)
{
    free(*field);
    *field = value;
}

/* For the shared strings of a proc_conf (name, program, group, file). */
static void set_shared(char **field, char *value)
{
    str_shared_unref(*field);
    *field = value;
}

/* Replaces a packed vector of a proc_conf with vec, packed (vec is freed). */
static void set_packed(char ***field, char **vec)
{
    free(*field);
    *field = str_vec_pack_take(vec);
}

static void apply_program_key(struct loader *ld, const struct section *sec,
                              const struct entry *e, const char *v, struct proc_conf *p,
                              struct prog_state *ps)
{
    struct shown sh;
    long long n;
    switch (e->def->id) {
    case KEY_COMMAND: {
        char **words = NULL;
        if (value_command(ld, sec, e, v, &words)) {
            free(p->argv); /* packed, with command */
            p->argv = str_vec_pack(words, v, &p->command);
        }
        str_vec_free(words);
        break;
    }
    case KEY_PROCESS_NAME:
        if (!valid_name(v))
            diag(ld, sec->file, e->line, true,
                 "%s: '%s' is not a valid process name (it may not be empty or contain "
                 "spaces, ':' or '/')",
                 e->key, show(&sh, v));
        else
            set_shared(&p->name, str_shared_same(p->program, v));
        break;
    case KEY_NUMPROCS:
    case KEY_NUMPROCS_START:
        break; /* Read before the instances are made. */
    case KEY_PRIORITY:
        (void)value_int(ld, sec, e, v, &p->priority);
        break;
    case KEY_AUTOSTART:
        (void)value_bool(ld, sec, e, v, &p->autostart);
        break;
    case KEY_STARTSECS:
        (void)value_int(ld, sec, e, v, &p->startsecs);
        break;
    case KEY_STARTRETRIES:
        (void)value_int(ld, sec, e, v, &p->startretries);
        break;
    case KEY_AUTORESTART:
        (void)value_autorestart(ld, sec, e, v, &p->autorestart);
        break;
    case KEY_EXITCODES: {
        uint64_t codes[4];
        if (value_exitcodes(ld, sec, e, v, codes)) {
            free(p->exitcodes);
            p->exitcodes = NULL; /* the default, "0", costs nothing */
            if (memcmp(codes, default_exitcodes, sizeof codes) != 0)
                p->exitcodes = copy_of(codes, sizeof codes);
        }
        break;
    }
    case KEY_STOPSIGNAL:
        (void)value_signal(ld, sec, e, v, &p->stopsignal);
        break;
    case KEY_STOPWAITSECS:
        (void)value_int(ld, sec, e, v, &p->stopwaitsecs);
        break;
    case KEY_STOPASGROUP:
        (void)value_bool(ld, sec, e, v, &p->stopasgroup);
        break;
    case KEY_KILLASGROUP:
        if (value_bool(ld, sec, e, v, &p->killasgroup))
            ps->killasgroup = e;
        break;
    case KEY_USER:
        if (value_nonempty(ld, sec, e, v))
            set_string(&p->user, xstrdup(v));
        break;
    case KEY_DIRECTORY:
        if (value_nonempty(ld, sec, e, v))
            set_string(&p->directory, expand_tilde(v));
        break;
    case KEY_UMASK:
        (void)value_int(ld, sec, e, v, &p->umask);
        break;
    case KEY_ENVIRONMENT: {
        char **env = NULL;
        if (value_env(ld, sec, e, v, &env))
            set_packed(&p->env, env);
        break;
    }
    case KEY_REDIRECT_STDERR:
        (void)value_bool(ld, sec, e, v, &p->redirect_stderr);
        break;
    case KEY_STDOUT_LOGFILE:
        (void)value_logfile(ld, sec, e, v, &p->stdout_logfile_kind, &p->stdout_logfile);
        break;
    case KEY_STDOUT_LOGFILE_MAXBYTES:
        if (value_size(ld, sec, e, v, &n))
            p->stdout_logfile_maxbytes = n;
        break;
    case KEY_STDOUT_LOGFILE_BACKUPS:
        (void)value_int(ld, sec, e, v, &p->stdout_logfile_backups);
        break;
    case KEY_STDOUT_SYSLOG:
        (void)value_bool(ld, sec, e, v, &p->stdout_syslog);
        break;
    case KEY_STDERR_LOGFILE:
        (void)value_logfile(ld, sec, e, v, &p->stderr_logfile_kind, &p->stderr_logfile);
        break;
    case KEY_STDERR_LOGFILE_MAXBYTES:
        if (value_size(ld, sec, e, v, &n))
            p->stderr_logfile_maxbytes = n;
        break;
    case KEY_STDERR_LOGFILE_BACKUPS:
        (void)value_int(ld, sec, e, v, &p->stderr_logfile_backups);
        break;
    case KEY_STDERR_SYSLOG:
        (void)value_bool(ld, sec, e, v, &p->stderr_syslog);
        break;
    case KEY_STDOUT_TIMESTAMPS:
        (void)value_bool(ld, sec, e, v, &p->stdout_timestamps);
        break;
    case KEY_PIDFILE:
        if (value_nonempty(ld, sec, e, v))
            set_string(&p->pidfile, expand_tilde(v));
        break;
    case KEY_HEALTHCHECK:
        if (value_healthcheck(ld, sec, e, v, health_of(p)))
            set_string(&p->health->spec, xstrdup(v));
        break;
    case KEY_HEALTHCHECK_INTERVAL:
        (void)value_int(ld, sec, e, v, &health_of(p)->interval);
        break;
    case KEY_HEALTHCHECK_TIMEOUT:
        (void)value_int(ld, sec, e, v, &health_of(p)->timeout);
        break;
    case KEY_HEALTHCHECK_RETRIES:
        (void)value_int(ld, sec, e, v, &health_of(p)->retries);
        break;
    case KEY_HEALTHCHECK_GRACE:
        if (value_int(ld, sec, e, v, &health_of(p)->grace))
            ps->grace_set = true;
        break;
    case KEY_ON_EVENT:
        if (value_nonempty(ld, sec, e, v))
            set_string(&p->on_event, xstrdup(v));
        break;
    case KEY_STOPLEFTOVERS:
        (void)value_bool(ld, sec, e, v, &p->stopleftovers);
        break;
    case KEY_DEPENDS_ON: {
        size_t count;
        set_packed(&p->depends_on, split_list(v, &count));
        p->depends_on_line = e->line;
        break;
    }
    case KEY_READINESS:
        (void)value_readiness(ld, sec, e, v, p);
        break;
    case KEY_STARTWAITSECS:
        (void)value_int(ld, sec, e, v, &ready_of(p)->startwaitsecs);
        break;
    case KEY_WATCHDOGSECS:
        (void)value_int(ld, sec, e, v, &ready_of(p)->watchdogsecs);
        break;
    case KEY_MEMORY_MAX:
        if (value_size(ld, sec, e, v, &n))
            limits_of(p)->memory_max = n;
        break;
    case KEY_MEMORY_HIGH:
        if (value_size(ld, sec, e, v, &n))
            limits_of(p)->memory_high = n;
        break;
    case KEY_TASKS_MAX: {
        int i;
        if (value_int(ld, sec, e, v, &i))
            limits_of(p)->tasks_max = i;
        break;
    }
    case KEY_CPU_WEIGHT:
        (void)value_int(ld, sec, e, v, &limits_of(p)->cpu_weight);
        break;
    case KEY_CPU_MAX:
        (void)value_int(ld, sec, e, v, &limits_of(p)->cpu_max);
        break;
    case KEY_RLIMIT_NOFILE:
    case KEY_RLIMIT_CORE:
    case KEY_RLIMIT_NPROC:
    case KEY_RLIMIT_AS:
    case KEY_RLIMIT_MEMLOCK:
    case KEY_RLIMIT_STACK:
    case KEY_RLIMIT_FSIZE:
    case KEY_RLIMIT_CPU: {
        long long *slot = &limits_of(p)->rlimits[e->def->id - KEY_RLIMIT_NOFILE];
        if (str_ieq(v, "unlimited") || str_ieq(v, "infinity"))
            *slot = PROC_RLIM_INFINITY;
        else if (parse_size(v, &n) == 0 && n >= 0)
            *slot = n;
        else
            diag(ld, sec->file, e->line, true,
                 "%s: '%s' is not a number, a size (with KB, MB or GB) or unlimited", e->key,
                 show(&sh, v));
        break;
    }
    case KEY_LISTENER_EVENTS: {
        /* Comma-separated, as supervisord reads it; spaces around names are fine. */
        char *copy = xstrdup(v), *save = NULL;
        events_of(p)->listener_events = 0;
        for (char *w = strtok_r(copy, ", \t\n", &save); w != NULL;
             w = strtok_r(NULL, ", \t\n", &save)) {
            uint32_t m = evtype_mask(w);
            const char *near = m == 0 ? evtype_nearest(w) : NULL;
            if (m == 0 && near != NULL)
                diag(ld, sec->file, e->line, true,
                     "%s: unknown event type '%s'; did you mean '%s'?", e->key, show(&sh, w),
                     near);
            else if (m == 0)
                diag(ld, sec->file, e->line, true, "%s: unknown event type '%s'", e->key,
                     show(&sh, w));
            p->events->listener_events |= m;
        }
        free(copy);
        break;
    }
    case KEY_STDOUT_CAPTURE_MAXBYTES:
        if (value_size(ld, sec, e, v, &n))
            events_of(p)->stdout_capture_maxbytes = n;
        break;
    case KEY_STDERR_CAPTURE_MAXBYTES:
        if (value_size(ld, sec, e, v, &n))
            events_of(p)->stderr_capture_maxbytes = n;
        break;
    case KEY_STDOUT_EVENTS_ENABLED:
        (void)value_bool(ld, sec, e, v, &p->stdout_events);
        break;
    case KEY_STDERR_EVENTS_ENABLED:
        (void)value_bool(ld, sec, e, v, &p->stderr_events);
        break;
    case KEY_BUFFER_SIZE:
        (void)value_int(ld, sec, e, v, &events_of(p)->buffer_size);
        break;
    case KEY_FCGI_SOCKET:
        if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "unix://", 7) != 0)
            diag(ld, sec->file, e->line, true,
                 "%s: '%s' is not tcp://HOST:PORT or unix:///PATH", e->key, show(&sh, v));
        else if (strncmp(v, "unix://", 7) == 0 && v[7] != '/')
            diag(ld, sec->file, e->line, true, "%s: '%s' needs an absolute path (unix:///PATH)",
                 e->key, show(&sh, v));
        else if (strncmp(v, "tcp://", 6) == 0 && strrchr(v + 6, ':') == NULL)
            diag(ld, sec->file, e->line, true, "%s: '%s' needs a port (tcp://HOST:PORT)",
                 e->key, show(&sh, v));
        else
            set_string(&fcgi_of(p)->socket, xstrdup(v));
        break;
    case KEY_FCGI_SOCKET_OWNER:
        set_string(&fcgi_of(p)->socket_owner, xstrdup(v));
        break;
    case KEY_FCGI_SOCKET_MODE:
        (void)value_int(ld, sec, e, v, &fcgi_of(p)->socket_mode);
        break;
    case KEY_FCGI_SOCKET_BACKLOG:
        (void)value_int(ld, sec, e, v, &fcgi_of(p)->socket_backlog);
        break;
    default:
        break; /* The table gives [program:x] no other supported keys. */
    }
}

static const struct entry *find_entry(const struct section *sec, enum key_id id)
{
    for (size_t i = 0; i < sec->nentries; i++) {
        const struct entry *e = &sec->entries[i];
        if (e->def != NULL && !e->dup && e->def->id == id)
            return e;
    }
    return NULL;
}

/* numprocs and numprocs_start, which must be known before any instance exists. */
static int read_count(struct loader *ld, const struct section *sec, const struct expand_ctx *cx,
                      enum key_id id, int fallback)
{
    const struct entry *e = find_entry(sec, id);
    char *v;
    int n = fallback;
    if (e != NULL && expand(ld, cx, sec, e, &v)) {
        (void)value_int(ld, sec, e, v, &n);
        free(v);
    }
    return n;
}

static void push_proc(struct loader *ld, struct proc_conf *p)
{
    struct config *cfg = ld->cfg;
    if (cfg->nprocs == ld->procs_cap) {
        ld->procs_cap = ld->procs_cap == 0 ? 16 : ld->procs_cap * 2;
        cfg->procs = xrealloc(cfg->procs, ld->procs_cap * sizeof *cfg->procs);
    }
    cfg->procs[cfg->nprocs++] = p;
}

static void build_program(struct loader *ld, const struct section *sec)
{
    struct shown sh;
    size_t errors_before = ld->errors;
    const char *group = sec->group_sec != NO_INDEX ? ld->secs[sec->group_sec].arg : sec->arg;
    struct expand_ctx cx;
    base_ctx(ld, sec, &cx);
    cx.program = sec->arg;
    cx.group = group;

    int numprocs = read_count(ld, sec, &cx, KEY_NUMPROCS, 1);
    int start = read_count(ld, sec, &cx, KEY_NUMPROCS_START, 0);
    const struct entry *pname = find_entry(sec, KEY_PROCESS_NAME);
    const struct entry *command = find_entry(sec, KEY_COMMAND);
    if (numprocs > 1) {
        const char *raw = pname != NULL ? str_cstr(&pname->value) : "%(program_name)s";
        if (strstr(raw, "%(process_num)") == NULL) {
            const struct entry *at = pname != NULL ? pname : find_entry(sec, KEY_NUMPROCS);
            diag(ld, sec->file, at->line, true,
                 "process_name: '%s' must contain %%(process_num) when numprocs > 1",
                 show(&sh, raw));
        }
    }
    if (command == NULL)
        diag(ld, sec->file, sec->line, true, "[%s] is missing required key 'command'",
             show(&sh, sec->name));

    cx.has_num = true;
    cx.numprocs = numprocs;
    for (int i = 0; i < numprocs; i++) {
        struct proc_conf *p = xmalloc(sizeof *p);
        struct prog_state ps = {0};
        proc_conf_defaults(p);
        cx.process_num = start + i;
        p->numprocs = numprocs;
        p->process_num = start + i;
        /* The instances of a program, and the programs of a file or group, share these. */
        const struct proc_conf *prev = ld->cfg->nprocs > 0 ? ld->cfg->procs[ld->cfg->nprocs - 1]
                                                           : NULL;
        p->program = str_shared_same(prev != NULL ? prev->program : NULL, sec->arg);
        p->group = str_shared_same(p->program, group);
        if (prev != NULL && p->group != p->program)
            set_shared(&p->group, str_shared_same(prev->group, group));
        p->file = str_shared_same(prev != NULL ? prev->file : NULL, ld->files[sec->file].path);
        p->line = sec->line;
        p->kind = sec->flavor;
        for (size_t k = 0; k < sec->nentries; k++) {
            const struct entry *e = &sec->entries[k];
            char *v;
            if (e->def == NULL || e->dup || !expand(ld, &cx, sec, e, &v))
                continue;
            apply_program_key(ld, sec, e, v, p, &ps);
            free(v);
        }
        if (p->name == NULL && pname == NULL)
            p->name = str_shared_ref(p->program);
        if (i == 0 && p->kind == PROC_KIND_LISTENER && find_entry(sec, KEY_LISTENER_EVENTS) == NULL)
            diag(ld, sec->file, sec->line, true, "[%s] is missing required key 'events'",
                 show(&sh, sec->name));
        if (i == 0 && p->kind == PROC_KIND_FCGI && find_entry(sec, KEY_FCGI_SOCKET) == NULL)
            diag(ld, sec->file, sec->line, true, "[%s] is missing required key 'socket'",
                 show(&sh, sec->name));
        /* Without a health struct, proc_conf_health_grace gives startsecs itself. */
        if (p->health != NULL && !ps.grace_set)
            p->health->grace = p->startsecs;
        if (i == 0 && p->readiness == READY_HEALTHCHECK && proc_conf_health(p)->spec == NULL)
            diag(ld, sec->file, find_entry(sec, KEY_READINESS)->line, true,
                 "readiness: 'healthcheck' needs a healthcheck= to pass");
        if (p->health != NULL && p->readiness == READY_HEALTHCHECK && !ps.grace_set)
            p->health->grace = 0; /* readiness is asked at once, not after startsecs */
        if (p->stopasgroup && !p->killasgroup) {
            if (ps.killasgroup != NULL)
                diag(ld, sec->file, ps.killasgroup->line, true,
                     "killasgroup: cannot be false when stopasgroup is true");
            p->killasgroup = true;
        }
        if (i == 0 && p->redirect_stderr && p->stderr_logfile_kind != LOG_TARGET_AUTO) {
            const struct entry *e = find_entry(sec, KEY_STDERR_LOGFILE);
            diag(ld, sec->file, e->line, false,
                 "stderr_logfile: ignored because redirect_stderr is true");
        }
        if (ld->errors != errors_before) {
            /* One broken instance is enough to report; the rest would repeat it. */
            proc_conf_free(p);
            break;
        }
        push_proc(ld, p);
    }
}

static int cmp_proc_name(const void *a, const void *b)
{
    const struct proc_conf *x = *(struct proc_conf *const *)a;
    const struct proc_conf *y = *(struct proc_conf *const *)b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    /* Same name: keep file order, so the first defined is the one the others clash with. */
    c = strcmp(x->file, y->file);
    if (c != 0)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

long long proc_conf_order(const struct proc_conf *c)
{
    return (long long)c->group_priority * 4294967296LL + ((long long)c->priority - INT_MIN);
}

long long proc_conf_rlimit(const struct proc_conf *c, enum proc_rlimit r)
{
    return proc_conf_limits(c)->rlimits[r];
}

const struct proc_health *proc_conf_health(const struct proc_conf *c)
{
    return c->health != NULL ? c->health : &default_health;
}

const struct proc_ready *proc_conf_ready(const struct proc_conf *c)
{
    return c->ready != NULL ? c->ready : &default_ready;
}

const struct proc_fcgi *proc_conf_fcgi(const struct proc_conf *c)
{
    return c->fcgi != NULL ? c->fcgi : &default_fcgi;
}

const struct proc_events *proc_conf_events(const struct proc_conf *c)
{
    return c->events != NULL ? c->events : &default_events;
}

const struct proc_limits *proc_conf_limits(const struct proc_conf *c)
{
    return c->limits != NULL ? c->limits : &default_limits;
}

const uint64_t *proc_conf_exitcodes(const struct proc_conf *c)
{
    return c->exitcodes != NULL ? c->exitcodes : default_exitcodes;
}

int proc_conf_health_grace(const struct proc_conf *c)
{
    if (c->health != NULL)
        return c->health->grace;
    return c->readiness == READY_HEALTHCHECK ? 0 : c->startsecs;
}

bool proc_conf_stdout_captured(const struct proc_conf *c)
{
    return c->kind != PROC_KIND_LISTENER || c->redirect_stderr;
}

bool proc_conf_expected(const struct proc_conf *c, int code)
{
    const uint64_t *codes = proc_conf_exitcodes(c);
    return code >= 0 && code < 256 && (codes[code / 64] >> (code % 64) & 1) != 0;
}

static int cmp_proc_order(const void *a, const void *b)
{
    const struct proc_conf *x = *(struct proc_conf *const *)a;
    const struct proc_conf *y = *(struct proc_conf *const *)b;
    long long ox = proc_conf_order(x), oy = proc_conf_order(y);
    if (ox != oy)
        return ox < oy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Each process's group_priority, from its [group:x] or its own, then the table in order. */
static void order_procs(struct loader *ld)
{
    struct config *cfg = ld->cfg;

    for (size_t i = 0; i < cfg->nprocs; i++) {
        struct proc_conf *p = cfg->procs[i];
        p->group_priority = p->priority;
        for (size_t g = 0; g < cfg->ngroups; g++) {
            if (strcmp(cfg->groups[g].name, p->group) == 0)
                p->group_priority = cfg->groups[g].priority;
        }
    }
    if (cfg->nprocs > 1)
        qsort(cfg->procs, cfg->nprocs, sizeof *cfg->procs, cmp_proc_order);
}

/* Process names must be unique: they are how the CLI names a process. */
static void check_proc_names(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    struct shown sh;
    if (cfg->nprocs < 2)
        return;
    struct proc_conf **sorted = xmalloc(cfg->nprocs * sizeof *sorted);
    memcpy(sorted, cfg->procs, cfg->nprocs * sizeof *sorted);
    qsort(sorted, cfg->nprocs, sizeof *sorted, cmp_proc_name);
    size_t first = 0;
    for (size_t i = 1; i < cfg->nprocs; i++) {
        if (strcmp(sorted[i]->name, sorted[first]->name) != 0) {
            first = i;
            continue;
        }
        /* Find the section to point at: the proc's own [program:x] line. */
        const struct proc_conf *p = sorted[i], *q = sorted[first];
        if (i > first + 1 && strcmp(p->program, sorted[i - 1]->program) == 0)
            continue; /* Same clash from another instance of the same program: said already. */
        size_t file = 0;
        for (size_t f = 0; f < ld->nfiles; f++) {
            if (strcmp(ld->files[f].path, p->file) == 0)
                file = f;
        }
        if (strcmp(p->program, q->program) == 0)
            diag(ld, file, p->line, true, "process name '%s' is used twice by [program:%s]",
                 show(&sh, p->name), p->program);
        else
            diag(ld, file, p->line, true,
                 "process name '%s' is already used by [program:%s] at %s:%d",
                 show(&sh, p->name), q->program, q->file, q->line);
    }
    free(sorted);
}

/* The file index of a path that was read, for a diagnostic about a built process. */
static size_t file_index(const struct loader *ld, const char *path)
{
    for (size_t f = 0; f < ld->nfiles; f++) {
        if (strcmp(ld->files[f].path, path) == 0)
            return f;
    }
    return 0;
}

/* depends_on=: every name is a process, a program or a group, and nothing needs itself,
 * directly or through others. A cycle is reported once, at the depends_on= of its first
 * member, with every member's place. */
static void check_dependencies(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    struct depgraph g;
    struct shown sh;
    bool any = false;

    for (size_t i = 0; i < cfg->nprocs && !any; i++)
        any = cfg->procs[i]->depends_on != NULL;
    if (!any)
        return;
    depgraph_init(&g, cfg->nprocs);
    for (size_t i = 0; i < cfg->nprocs; i++) {
        const struct proc_conf *p = cfg->procs[i];
        for (char **d = p->depends_on; d != NULL && *d != NULL; d++) {
            bool found = false;
            for (size_t j = 0; j < cfg->nprocs; j++) {
                const struct proc_conf *q = cfg->procs[j];
                if (strcmp(q->name, *d) == 0 || strcmp(q->program, *d) == 0 ||
                    strcmp(q->group, *d) == 0) {
                    depgraph_add(&g, i, j);
                    found = true;
                }
            }
            /* Said once per program, not once per instance of it. */
            if (!found && (i == 0 || strcmp(cfg->procs[i - 1]->program, p->program) != 0))
                diag(ld, file_index(ld, p->file), p->depends_on_line, true,
                     "depends_on: no program, group or process is named '%s'",
                     show(&sh, *d));
        }
    }
    size_t *cycle = xmalloc(cfg->nprocs * sizeof(*cycle));
    size_t k = ld->errors == 0 ? depgraph_find_cycle(&g, cycle) : 0;
    if (k > 0) {
        struct str msg = {0};
        const struct proc_conf *first = cfg->procs[cycle[0]];
        str_appendf(&msg, "depends_on: dependency cycle: ");
        for (size_t i = 0; i < k; i++)
            str_appendf(&msg, "%s (%s:%d) -> ", cfg->procs[cycle[i]]->name,
                        cfg->procs[cycle[i]]->file, cfg->procs[cycle[i]]->depends_on_line);
        str_appendf(&msg, "%s", first->name);
        diag(ld, file_index(ld, first->file), first->depends_on_line, true, "%s",
             str_cstr(&msg));
        str_free(&msg);
    }
    free(cycle);
    depgraph_free(&g);
}

static void build_programs(struct loader *ld)
{
    for (size_t i = 0; i < ld->nsecs; i++) {
        if (ld->secs[i].kind == SEC_PROGRAM && !ld->secs[i].skip)
            build_program(ld, &ld->secs[i]);
    }
    check_proc_names(ld);
    if (ld->errors == 0)
        check_dependencies(ld);
    order_procs(ld);
}

/* ---- building: [inet_http_server] ------------------------------------------------------- */

static bool is_loopback_host(const char *h)
{
    return strcmp(h, "localhost") == 0 || strcmp(h, "::1") == 0 || strncmp(h, "127.", 4) == 0;
}

/* port= as supervisord writes it: PORT, :PORT, HOST:PORT, [V6]:PORT or *:PORT. Port 0 asks
 * for any free port. */
static bool parse_web_port(const char *v, char **host, int *port)
{
    unsigned long long p;
    const char *colon = strrchr(v, ':');
    const char *num = colon != NULL ? colon + 1 : v;

    if (parse_uint(num, 65535, &p) == -1)
        return false;
    *port = (int)p;
    if (colon == NULL || colon == v) {
        *host = xstrdup("127.0.0.1");
        return true;
    }
    if (v[0] == '[') {
        if (colon < v + 3 || colon[-1] != ']')
            return false;
        *host = xstrndup(v + 1, (size_t)(colon - v - 2));
    } else {
        *host = xstrndup(v, (size_t)(colon - v));
        if (strchr(*host, ':') != NULL) { /* a bare IPv6 address needs brackets */
            free(*host);
            return false;
        }
    }
    return true;
}

static bool is_sha_password(const char *p)
{
    if (strncmp(p, "{SHA}", 5) != 0)
        return false;
    for (int i = 0; i < 40; i++) {
        if (!isxdigit((unsigned char)p[5 + i]))
            return false;
    }
    return p[45] == '\0';
}

/* tend-web lives next to the tend executable (build/ in the tree, PREFIX/bin installed). */
static char *web_program_path(void)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return xstrdup("tend-web"); /* no /proc: found on PATH at spawn time */
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    return xasprintf("%.*s/tend-web", slash != NULL ? (int)(slash - self) : 0, self);
}

static void build_web(struct loader *ld)
{
    struct web_conf *w = &ld->cfg->web;
    struct shown sh;
    const struct section *sec = NULL, *unix_sec = NULL;
    const struct entry *port_e = NULL;
    bool rpc = false;

    for (size_t i = 0; i < ld->nsecs; i++) {
        if (ld->secs[i].kind == SEC_INET_HTTP && !ld->secs[i].skip)
            sec = &ld->secs[i];
        if (ld->secs[i].kind == SEC_UNIX_HTTP && !ld->secs[i].skip)
            unix_sec = &ld->secs[i];
        if (strcmp(ld->secs[i].name, "rpcinterface:supervisor") == 0)
            rpc = true;
    }
    /* supervisord serves XML-RPC on its unix socket when [rpcinterface:supervisor] is
     * there: so does tend, through tend-web, on the control socket (control.c hands it the
     * HTTP connections). */
    w->unix_rpc = unix_sec != NULL && rpc;
    if (sec == NULL && !w->unix_rpc)
        return;
    if (sec == NULL) {
        w->file = xstrdup(ld->files[unix_sec->file].path);
        w->line = unix_sec->line;
        goto web_process;
    }
    w->file = xstrdup(ld->files[sec->file].path);
    w->line = sec->line;
    struct expand_ctx cx;
    base_ctx(ld, sec, &cx);
    for (size_t k = 0; k < sec->nentries; k++) {
        const struct entry *e = &sec->entries[k];
        char *v;
        if (e->def == NULL || e->dup || !expand(ld, &cx, sec, e, &v))
            continue;
        switch (e->def->id) {
        case KEY_PORT:
            port_e = e;
            if (!parse_web_port(v, &w->host, &w->port))
                diag(ld, sec->file, e->line, true,
                     "port: '%s' is not PORT, HOST:PORT, [IPV6]:PORT or *:PORT (0 to 65535)",
                     show(&sh, v));
            break;
        case KEY_USERNAME:
            if (value_nonempty(ld, sec, e, v)) {
                set_string(&w->username, v);
                v = NULL;
            }
            break;
        case KEY_PASSWORD:
            if (strncmp(v, "{SHA}", 5) == 0 && !is_sha_password(v))
                diag(ld, sec->file, e->line, true,
                     "password: '{SHA}' must be followed by 40 hex digits (the SHA-1 of the "
                     "password)");
            set_string(&w->password, v);
            v = NULL;
            break;
        case KEY_USER:
            if (value_nonempty(ld, sec, e, v)) {
                set_string(&w->user, v);
                v = NULL;
            }
            break;
        default:
            break;
        }
        free(v);
    }
    if (port_e == NULL) {
        diag(ld, sec->file, sec->line, true, "[inet_http_server] is missing required key 'port'");
        return;
    }
    if (w->host == NULL)
        return; /* port= was reported */
    if ((w->username == NULL) != (w->password == NULL || w->password[0] == '\0')) {
        diag(ld, sec->file, sec->line, true,
             "[inet_http_server]: username= and password= go together (set both or neither)");
        return;
    }
    if (w->username == NULL && !is_loopback_host(w->host)) {
        diag(ld, sec->file, port_e->line, true,
             "port: '%s' listens beyond loopback: set username= and password= to allow that",
             show(&sh, str_cstr(&port_e->value)));
        return;
    }
web_process:
    if (w->user == NULL)
        w->user = xstrdup("nobody");
    for (size_t i = 0; i < ld->cfg->nprocs; i++) {
        const struct proc_conf *q = ld->cfg->procs[i];
        if (strcmp(q->name, CONFIG_WEB_NAME) == 0 || strcmp(q->group, CONFIG_WEB_NAME) == 0) {
            if (sec == NULL) {
                /* Only the unix socket's XML-RPC wanted it: the config runs as it did
                 * before, without that. */
                diag(ld, unix_sec->file, unix_sec->line, false,
                     "[rpcinterface:supervisor]: supervisorctl is not served on this socket: "
                     "[program:%s] at %s:%d takes the name '%s' that its server runs as",
                     q->program, q->file, q->line, CONFIG_WEB_NAME);
                w->unix_rpc = false;
                return;
            }
            diag(ld, sec->file, sec->line, true,
                 "[inet_http_server] runs a process named '%s'; [program:%s] at %s:%d uses "
                 "that name", CONFIG_WEB_NAME, q->program, q->file, q->line);
            return;
        }
    }
    w->enabled = true;

    /* The front: a program like any other, so the supervisor starts, restarts and stops it
     * without knowing what it is. Only root can switch users; a tend run by someone else
     * starts it as that same user. */
    struct proc_conf *p = xmalloc(sizeof *p);
    proc_conf_defaults(p);
    p->program = str_shared_new(CONFIG_WEB_NAME);
    p->name = str_shared_ref(p->program);
    p->group = str_shared_ref(p->program);
    char *path = web_program_path();
    char *words[] = {path, NULL};
    p->argv = str_vec_pack(words, path, &p->command);
    free(path);
    p->autorestart = AUTORESTART_TRUE;
    p->priority = -1; /* up before the programs it shows, down after them */
    p->redirect_stderr = true;
    p->stdout_logfile_maxbytes = 1024 * 1024;
    p->stdout_logfile_backups = 1;
    if (geteuid() == 0)
        p->user = xstrdup(w->user);
    size_t nenv = 0;
    p->env = xcalloc(6, sizeof *p->env);
    if (w->host != NULL) {
        bool v6 = strchr(w->host, ':') != NULL;
        p->env[nenv++] = xasprintf("TEND_WEB_LISTEN=%s%s%s:%d", v6 ? "[" : "", w->host,
                                   v6 ? "]" : "", w->port);
    }
    if (w->unix_rpc)
        p->env[nenv++] = xstrdup("TEND_WEB_UNIX=1");
    p->env[nenv++] = xasprintf("TEND_WEB_SOCKET=%s", websock_address());
    if (w->username != NULL) {
        p->env[nenv++] = xasprintf("TEND_WEB_USERNAME=%s", w->username);
        p->env[nenv++] = xasprintf("TEND_WEB_PASSWORD=%s", w->password);
    }
    p->env = str_vec_pack_take(p->env);
    p->file = str_shared_new(w->file);
    p->line = w->line;
    push_proc(ld, p);
    order_procs(ld);
}

/* ---- building: alerts ------------------------------------------------------------------- */

static bool value_events(struct loader *ld, const struct section *sec, const struct entry *e,
                         const char *v, unsigned *mask)
{
    struct shown sh;
    size_t n;
    char **names = split_list(v, &n);
    unsigned m = 0;
    bool ok = true;
    if (n == 0) {
        diag(ld, sec->file, e->line, true, "%s: no events listed", e->key);
        ok = false;
    }
    for (size_t i = 0; i < n; i++) {
        int ev = config_event_from_name(names[i]);
        if (ev >= 0) {
            m |= CONFIG_EV_MASK(ev);
            continue;
        }
        ok = false;
        const char *best = NULL;
        size_t best_d = 0;
        char *upper = xstrdup(names[i]);
        for (char *c = upper; *c != '\0'; c++)
            *c = (char)toupper((unsigned char)*c);
        for (int k = 0; k < CONFIG_EV_COUNT && strlen(upper) <= 64; k++) {
            size_t d = str_levenshtein(upper, event_names[k]);
            if (best == NULL || d < best_d) {
                best = event_names[k];
                best_d = d;
            }
        }
        if (best != NULL && keys_is_close(upper, best_d))
            diag(ld, sec->file, e->line, true, "%s: unknown event '%s'; did you mean '%s'?",
                 e->key, show(&sh, names[i]), best);
        else
            diag(ld, sec->file, e->line, true, "%s: unknown event '%s'", e->key,
                 show(&sh, names[i]));
        free(upper);
    }
    str_vec_free(names);
    if (ok)
        *mask = m;
    return ok;
}

static bool value_rate(struct loader *ld, const struct section *sec, const struct entry *e,
                       const char *v, int *count, int *secs)
{
    struct shown sh;
    char *copy = xstrdup(v);
    char *slash = strchr(copy, '/');
    unsigned long long c, s = 60;
    bool ok;
    if (slash != NULL)
        *slash = '\0';
    ok = parse_uint(str_trim(copy), INT_MAX, &c) == 0 && c > 0;
    if (ok && slash != NULL)
        ok = parse_uint(str_trim(slash + 1), INT_MAX, &s) == 0 && s > 0;
    free(copy);
    if (!ok) {
        diag(ld, sec->file, e->line, true,
             "%s: '%s' is not COUNT or COUNT/SECONDS (positive integers, e.g. 5/60)", e->key,
             show(&sh, v));
        return false;
    }
    *count = (int)c;
    *secs = (int)s;
    return true;
}

static bool pattern_matches_anything(const struct config *cfg, const char *pattern)
{
    for (size_t i = 0; i < cfg->nprocs; i++) {
        const struct proc_conf *p = cfg->procs[i];
        if (fnmatch(pattern, p->name, 0) == 0 || fnmatch(pattern, p->program, 0) == 0 ||
            fnmatch(pattern, p->group, 0) == 0)
            return true;
    }
    return false;
}

static void build_alert(struct loader *ld, const struct section *sec)
{
    struct shown sh;
    struct config *cfg = ld->cfg;
    size_t errors_before = ld->errors;
    struct alert_conf a = {0};
    const struct entry *programs = NULL;
    bool has_command = false;
    a.events = CONFIG_EV_DEFAULT;
    a.rate_count = 10;
    a.rate_interval_secs = 60;
    a.timeout_secs = 30;
    struct expand_ctx cx;
    base_ctx(ld, sec, &cx);

    for (size_t k = 0; k < sec->nentries; k++) {
        const struct entry *e = &sec->entries[k];
        char *v;
        if (e->def == NULL || e->dup || !expand(ld, &cx, sec, e, &v))
            continue;
        switch (e->def->id) {
        case KEY_COMMAND:
            has_command = true;
            if (value_nonempty(ld, sec, e, v))
                set_string(&a.command, xstrdup(v));
            break;
        case KEY_EVENTS:
            (void)value_events(ld, sec, e, v, &a.events);
            break;
        case KEY_PROGRAMS:
            programs = e;
            str_vec_free(a.programs);
            a.programs = split_list(v, &a.nprograms);
            if (a.nprograms == 0)
                diag(ld, sec->file, e->line, true, "%s: no program names or patterns",
                     e->key);
            break;
        case KEY_RATE:
            (void)value_rate(ld, sec, e, v, &a.rate_count, &a.rate_interval_secs);
            break;
        case KEY_TIMEOUT:
            (void)value_int(ld, sec, e, v, &a.timeout_secs);
            break;
        default:
            break; /* The table gives [alert] no other supported keys. */
        }
        free(v);
    }
    if (!has_command)
        diag(ld, sec->file, sec->line, true, "[%s] is missing required key 'command'",
             show(&sh, sec->name));
    if (a.programs == NULL) {
        a.programs = xcalloc(2, sizeof *a.programs);
        a.programs[0] = xstrdup("*");
        a.nprograms = 1;
    } else if (programs != NULL) {
        for (size_t i = 0; i < a.nprograms; i++) {
            if (!pattern_matches_anything(cfg, a.programs[i]))
                diag(ld, sec->file, programs->line, false,
                     "%s: '%s' matches no program, group or process", programs->key,
                     show(&sh, a.programs[i]));
        }
    }
    if (ld->errors != errors_before) {
        free(a.command);
        str_vec_free(a.programs);
        return;
    }
    a.name = xstrdup(sec->name);
    a.file = xstrdup(ld->files[sec->file].path);
    a.line = sec->line;
    cfg->alerts = xrealloc(cfg->alerts, (cfg->nalerts + 1) * sizeof *cfg->alerts);
    cfg->alerts[cfg->nalerts++] = a;
}

static void build_alerts(struct loader *ld)
{
    for (size_t i = 0; i < ld->nsecs; i++) {
        if (ld->secs[i].kind == SEC_ALERT && !ld->secs[i].skip)
            build_alert(ld, &ld->secs[i]);
    }
}

/* ---- diagnostics order and cleanup ------------------------------------------------------ */

struct diag_order {
    size_t file;
    int line;
    size_t seq;
};

static int cmp_diag_order(const void *a, const void *b)
{
    const struct diag_order *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* This load's diagnostics in file order, then line order; equal lines keep the order found. */
static void sort_diags(struct loader *ld)
{
    struct config_diags *d = ld->diags;
    size_t n = d->count - ld->first_diag;
    if (n < 2)
        return;
    struct diag_order *order = xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (struct diag_order){ld->diag_file[i], d->items[ld->first_diag + i].line, i};
    qsort(order, n, sizeof *order, cmp_diag_order);
    struct config_diag *copy = xmalloc(n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = d->items[ld->first_diag + order[i].seq];
    memcpy(d->items + ld->first_diag, copy, n * sizeof *copy);
    free(copy);
    free(order);
}

static void loader_free(struct loader *ld)
{
    for (size_t i = 0; i < ld->nsecs; i++) {
        struct section *s = &ld->secs[i];
        for (size_t k = 0; k < s->nentries; k++) {
            free(s->entries[k].key);
            str_free(&s->entries[k].value);
        }
        free(s->entries);
        free(s->name);
    }
    free(ld->secs);
    for (size_t i = 0; i < ld->nfiles; i++) {
        free(ld->files[i].path);
        free(ld->files[i].here);
    }
    free(ld->files);
    free(ld->diag_file);
}

/* ---- public ----------------------------------------------------------------------------- */

const char *config_event_name(enum config_event ev)
{
    return (unsigned)ev < CONFIG_EV_COUNT ? event_names[ev] : NULL;
}

int config_event_from_name(const char *name)
{
    for (int i = 0; i < CONFIG_EV_COUNT; i++) {
        if (str_ieq(name, event_names[i]))
            return i;
    }
    return -1;
}

void proc_conf_free(struct proc_conf *p)
{
    if (p == NULL)
        return;
    str_shared_unref(p->name);
    str_shared_unref(p->program);
    str_shared_unref(p->group);
    free(p->argv); /* packed, with command */
    free(p->user);
    free(p->directory);
    free(p->env);
    free(p->stdout_logfile);
    free(p->stderr_logfile);
    free(p->pidfile);
    if (p->health != NULL) {
        free(p->health->spec);
        free(p->health->host);
        free(p->health->path);
        free(p->health->argv); /* packed, with command */
        free(p->health);
    }
    free(p->on_event);
    str_shared_unref(p->file);
    if (p->fcgi != NULL) {
        free(p->fcgi->socket);
        free(p->fcgi->socket_owner);
        free(p->fcgi);
    }
    free(p->depends_on);
    if (p->ready != NULL) {
        free(p->ready->host);
        free(p->ready);
    }
    free(p->events);
    free(p->limits);
    free(p->exitcodes);
    free(p);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

struct proc_conf *proc_conf_dup(const struct proc_conf *p)
{
    struct proc_conf *c = xmalloc(sizeof *c);
    *c = *p;
    c->name = str_shared_ref(p->name);
    c->program = str_shared_ref(p->program);
    c->group = str_shared_ref(p->group);
    c->argv = str_vec_pack(p->argv, p->command, &c->command);
    c->user = dup_or_null(p->user);
    c->directory = dup_or_null(p->directory);
    c->env = str_vec_pack(p->env, NULL, NULL);
    c->stdout_logfile = dup_or_null(p->stdout_logfile);
    c->stderr_logfile = dup_or_null(p->stderr_logfile);
    c->pidfile = dup_or_null(p->pidfile);
    if (p->health != NULL) {
        c->health = copy_of(p->health, sizeof *p->health);
        c->health->spec = dup_or_null(p->health->spec);
        c->health->host = dup_or_null(p->health->host);
        c->health->path = dup_or_null(p->health->path);
        c->health->argv = str_vec_pack(p->health->argv, p->health->command, &c->health->command);
    }
    c->on_event = dup_or_null(p->on_event);
    c->file = str_shared_ref(p->file);
    if (p->fcgi != NULL) {
        c->fcgi = copy_of(p->fcgi, sizeof *p->fcgi);
        c->fcgi->socket = dup_or_null(p->fcgi->socket);
        c->fcgi->socket_owner = dup_or_null(p->fcgi->socket_owner);
    }
    c->depends_on = str_vec_pack(p->depends_on, NULL, NULL);
    if (p->ready != NULL) {
        c->ready = copy_of(p->ready, sizeof *p->ready);
        c->ready->host = dup_or_null(p->ready->host);
    }
    if (p->events != NULL)
        c->events = copy_of(p->events, sizeof *p->events);
    if (p->limits != NULL)
        c->limits = copy_of(p->limits, sizeof *p->limits);
    if (p->exitcodes != NULL)
        c->exitcodes = copy_of(p->exitcodes, 4 * sizeof *c->exitcodes);
    return c;
}

static bool same_string(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

bool proc_conf_equal(const struct proc_conf *a, const struct proc_conf *b)
{
    const struct proc_fcgi *fa = proc_conf_fcgi(a), *fb = proc_conf_fcgi(b);
    const struct proc_events *ea = proc_conf_events(a), *eb = proc_conf_events(b);
    return same_string(a->name, b->name) && same_string(a->program, b->program) &&
           same_string(a->group, b->group) && a->process_num == b->process_num &&
           a->numprocs == b->numprocs && same_string(a->command, b->command) &&
           str_vec_equal(a->argv, b->argv) && same_string(a->user, b->user) &&
           same_string(a->directory, b->directory) && a->umask == b->umask &&
           str_vec_equal(a->env, b->env) && same_string(a->pidfile, b->pidfile) &&
           a->redirect_stderr == b->redirect_stderr &&
           a->stdout_logfile_kind == b->stdout_logfile_kind &&
           same_string(a->stdout_logfile, b->stdout_logfile) &&
           a->stdout_logfile_maxbytes == b->stdout_logfile_maxbytes &&
           a->stdout_logfile_backups == b->stdout_logfile_backups &&
           a->stdout_syslog == b->stdout_syslog &&
           a->stderr_logfile_kind == b->stderr_logfile_kind &&
           same_string(a->stderr_logfile, b->stderr_logfile) &&
           a->stderr_logfile_maxbytes == b->stderr_logfile_maxbytes &&
           a->stderr_logfile_backups == b->stderr_logfile_backups &&
           a->stderr_syslog == b->stderr_syslog && a->stdout_timestamps == b->stdout_timestamps &&
           a->kind == b->kind && same_string(fa->socket, fb->socket) &&
           a->stdout_events == b->stdout_events && a->stderr_events == b->stderr_events &&
           ea->stdout_capture_maxbytes == eb->stdout_capture_maxbytes &&
           ea->stderr_capture_maxbytes == eb->stderr_capture_maxbytes &&
           same_string(fa->socket_owner, fb->socket_owner) && fa->socket_mode == fb->socket_mode &&
           fa->socket_backlog == fb->socket_backlog &&
           /* $NOTIFY_SOCKET and $WATCHDOG_USEC are in its environment */
           (a->readiness == READY_NOTIFY) == (b->readiness == READY_NOTIFY) &&
           proc_conf_ready(a)->watchdogsecs == proc_conf_ready(b)->watchdogsecs;
}

const struct proc_conf *config_find_proc(const struct config *config, const char *name)
{
    for (size_t i = 0; i < config->nprocs; i++) {
        if (config->procs[i] != NULL && strcmp(config->procs[i]->name, name) == 0)
            return config->procs[i];
    }
    return NULL;
}

void config_free(struct config *config)
{
    if (config == NULL)
        return;
    free(config->path);
    struct tend_conf *t = &config->tend;
    free(t->logfile);
    free(t->pidfile);
    free(t->user);
    free(t->directory);
    str_vec_free(t->env);
    free(t->childlogdir);
    free(t->identifier);
    free(t->socket);
    free(t->socket_owner);
    free(t->socket_group);
    free(t->file);
    free(config->web.host);
    free(config->web.username);
    free(config->web.password);
    free(config->web.user);
    free(config->web.file);
    for (size_t i = 0; i < config->nprocs; i++)
        proc_conf_free(config->procs[i]);
    free(config->procs);
    for (size_t i = 0; i < config->ngroups; i++) {
        free(config->groups[i].name);
        str_vec_free(config->groups[i].programs);
        free(config->groups[i].file);
    }
    free(config->groups);
    for (size_t i = 0; i < config->nalerts; i++) {
        struct alert_conf *a = &config->alerts[i];
        free(a->name);
        free(a->command);
        str_vec_free(a->programs);
        free(a->file);
    }
    free(config->alerts);
    free(config);
}

void config_diags_free(struct config_diags *diags)
{
    if (diags == NULL)
        return;
    for (size_t i = 0; i < diags->count; i++) {
        free(diags->items[i].file);
        free(diags->items[i].msg);
    }
    free(diags->items);
    memset(diags, 0, sizeof *diags);
}

void config_diag_format(const struct config_diag *diag, char *buf, size_t len)
{
    if (len == 0)
        return;
    const char *level = diag->is_error ? "error" : "warning";
    if (diag->line > 0)
        (void)snprintf(buf, len, "%s:%d: %s: %s", diag->file, diag->line, level, diag->msg);
    else
        (void)snprintf(buf, len, "%s: %s: %s", diag->file, level, diag->msg);
    /* Truncation is the documented behaviour for a short buffer. */
}

const char *config_default_path(void)
{
    static const char *const candidates[] = {
        "./tend.conf",
        "/etc/tend/tend.conf", /* the Debian package's */
        "/etc/tend.conf",
        "/etc/supervisor/supervisord.conf",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (access(candidates[i], F_OK) == 0)
            return candidates[i];
    }
    return NULL;
}

int config_load(const char *path, struct config **out, struct config_diags *diags)
{
    return config_load_ex(path, out, diags, -1, NULL);
}

/* The loader's first steps, common to a whole load and to a socket lookup: path and its
 * includes read, sections classified and checked, [tend] built. */
static void load_start(struct loader *ld, const char *path, struct config_diags *diags)
{
    ld->diags = diags;
    ld->first_diag = diags->count;
    ld->cfg = xcalloc(1, sizeof *ld->cfg);
    ld->cfg->path = xstrdup(path);

    struct utsname u;
    if (uname(&u) == 0)
        (void)snprintf(ld->host, sizeof ld->host, "%s", u.nodename); /* Truncation harmless. */

    load_file(ld, path, NO_INDEX, 0);
    check_sections(ld);
    build_tend(ld);
}

int config_socket_path(const char *path, char **socket, struct config_diags *diags)
{
    struct loader ld;
    memset(&ld, 0, sizeof ld);
    ld.record_fd = -1;
    ld.socket_only = true;
    *socket = NULL;
    load_start(&ld, path, diags);
    int rc = ld.errors > 0 ? -1 : 0;
    if (rc == 0 && ld.cfg->tend.socket != NULL)
        *socket = xstrdup(ld.cfg->tend.socket);
    config_free(ld.cfg);
    loader_free(&ld);
    return rc;
}

int config_load_ex(const char *path, struct config **out, struct config_diags *diags,
                   int record_fd, const struct confsnap *replay)
{
    struct loader ld;
    memset(&ld, 0, sizeof ld);
    ld.record_fd = record_fd;
    ld.replay = replay;
    *out = NULL;
    load_start(&ld, path, diags);
    build_groups(&ld);
    build_programs(&ld);
    build_web(&ld);
    build_alerts(&ld);
    if (ld.record_err != 0)
        diag(&ld, 0, 0, true, "cannot record the configuration for a supervisor restart: %s",
             strerror(ld.record_err));
    sort_diags(&ld);

    int rc = 0;
    if (ld.errors > 0) {
        config_free(ld.cfg);
        rc = -1;
    } else {
        *out = ld.cfg;
    }
    loader_free(&ld);
    return rc;
}
