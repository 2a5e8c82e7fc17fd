/* Small string helpers: aborting allocators, the str builder, strict parsers for numbers,
 * booleans, sizes and signal names, edit distance, and a shlex-compatible word splitter.
 * The parsers never accept trailing junk and never modify their input. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

struct sig_entry {
    const char *name;
    int signo;
};

/* Canonical names first: sig_name returns the first entry that matches a number. */
static const struct sig_entry sig_table[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
#ifdef SIGSTKFLT
    {"STKFLT", SIGSTKFLT},
#endif
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
    {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
    {"IO", SIGIO},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
    {"SYS", SIGSYS},
    /* Aliases, after every canonical name. */
    {"IOT", SIGABRT},  {"CLD", SIGCHLD},      {"POLL", SIGIO},
};

static void oom(void)
{
    static const char msg[] = "tend: out of memory\n";
    /* Nothing sensible can be done if even this write fails; we abort either way. */
    (void)!fwrite(msg, 1, sizeof msg - 1, stderr);
    abort();
}

void *xmalloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);
    if (p == NULL)
        oom();
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
    if (p == NULL)
        oom();
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size == 0 ? 1 : size);
    if (p == NULL)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(); /* Only an invalid format can fail here, and formats are literals. */
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf(p, (size_t)n + 1, fmt, ap); /* Sized by the first pass. */
    va_end(ap);
    return p;
}

void str_init(struct str *s)
{
    s->buf = NULL;
    s->len = 0;
    s->cap = 0;
}

void str_free(struct str *s)
{
    free(s->buf);
    str_init(s);
}

void str_clear(struct str *s)
{
    s->len = 0;
    if (s->buf != NULL)
        s->buf[0] = '\0';
}

static void str_reserve(struct str *s, size_t extra)
{
    if (extra > SIZE_MAX - s->len - 1)
        oom();
    size_t need = s->len + extra + 1;
    if (need <= s->cap)
        return;
    size_t cap = s->cap < 32 ? 32 : s->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    s->buf = xrealloc(s->buf, cap);
    s->cap = cap;
}

void str_append_len(struct str *s, const char *text, size_t len)
{
    str_reserve(s, len);
    memcpy(s->buf + s->len, text, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

void str_append(struct str *s, const char *text)
{
    str_append_len(s, text, strlen(text));
}

void str_append_char(struct str *s, char c)
{
    str_append_len(s, &c, 1);
}

void str_appendf(struct str *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(); /* Formats are literals; this cannot happen with a valid one. */
    str_reserve(s, (size_t)n);
    va_start(ap, fmt);
    (void)vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap); /* Sized by the first pass. */
    va_end(ap);
    s->len += (size_t)n;
}

const char *str_cstr(const struct str *s)
{
    return s->buf != NULL ? s->buf : "";
}

char *str_release(struct str *s)
{
    char *p = s->buf != NULL ? s->buf : xstrdup("");
    str_init(s);
    return p;
}

char *str_trim(char *s)
{
    while (*s != '\0' && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    s[len] = '\0';
    return s;
}

void str_lower(char *s)
{
    for (; *s != '\0'; s++)
        *s = (char)tolower((unsigned char)*s);
}

bool str_ieq(const char *a, const char *b)
{
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    }
    return *a == *b;
}

bool str_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

size_t str_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    /* One row of the classic table, plus the diagonal kept in a scalar. */
    size_t *row = xmalloc((lb + 1) * sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

int parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;
    bool overflow = false;
    const char *p = s;

    /* A status reply's client parses 11,000 of these: no division, and no overflow test for
     * the first 19 digits (every 19-digit number is below 10^19 < ULLONG_MAX). */
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned digit = (unsigned)(*p - '0');
        if (p - s >= 19 &&
            (v > ULLONG_MAX / 10 || (v == ULLONG_MAX / 10 && digit > ULLONG_MAX % 10)))
            overflow = true;
        else
            v = v * 10 + digit;
    }
    if (p == s || *p != '\0') {
        errno = EINVAL;
        return -1;
    }
    if (overflow || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int parse_int(const char *s, long long min, long long max, long long *out)
{
    bool negative = false;
    if (*s == '-' || *s == '+') {
        negative = *s == '-';
        s++;
    }
    unsigned long long mag;
    /* The magnitude of LLONG_MIN is LLONG_MAX + 1; accept up to that and range-check below. */
    if (parse_uint(s, (unsigned long long)LLONG_MAX + 1, &mag) == -1)
        return -1;
    if (!negative && mag > (unsigned long long)LLONG_MAX) {
        errno = ERANGE;
        return -1;
    }
    long long v;
    if (!negative)
        v = (long long)mag;
    else if (mag == (unsigned long long)LLONG_MAX + 1)
        v = LLONG_MIN;
    else
        v = -(long long)mag;
    if (v < min || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = v;
    return 0;
}

int parse_octal(const char *s, unsigned max, unsigned *out)
{
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
        s += 2;
    if (*s == '\0') {
        errno = EINVAL;
        return -1;
    }
    unsigned long v = 0;
    bool overflow = false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '7') {
            errno = EINVAL;
            return -1;
        }
        if (v > (unsigned long)UINT_MAX / 8)
            overflow = true;
        else
            v = v * 8 + (unsigned long)(*p - '0');
    }
    if (overflow || v > max) {
        errno = ERANGE;
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (str_ieq(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (str_ieq(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

int parse_size(const char *s, long long *out)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0) {
        errno = EINVAL;
        return -1;
    }
    const char *p = s + digits;
    while (*p == ' ' || *p == '\t')
        p++;
    long long mult = 1;
    if (*p != '\0') {
        if (str_ieq(p, "kb"))
            mult = 1024LL;
        else if (str_ieq(p, "mb"))
            mult = 1024LL * 1024;
        else if (str_ieq(p, "gb"))
            mult = 1024LL * 1024 * 1024;
        else {
            errno = EINVAL;
            return -1;
        }
    } else if (p != s + digits) {
        errno = EINVAL; /* Trailing blanks without a suffix: the caller trimmed, so junk. */
        return -1;
    }
    char *num = xstrndup(s, digits);
    unsigned long long v;
    int rc = parse_uint(num, (unsigned long long)(LLONG_MAX / mult), &v);
    int saved = errno;
    free(num);
    if (rc == -1) {
        errno = saved;
        return -1;
    }
    *out = (long long)v * mult;
    return 0;
}

/* The real-time signals are numbered at run time in glibc (SIGRTMIN is a function call). */
static int sig_from_rt(const char *name)
{
    int base, dir;
    const char *rest;
    if (str_has_prefix(name, "RTMIN")) {
        base = SIGRTMIN;
        dir = 1;
        rest = name + 5;
    } else if (str_has_prefix(name, "RTMAX")) {
        base = SIGRTMAX;
        dir = -1;
        rest = name + 5;
    } else {
        return -1;
    }
    if (*rest == '\0')
        return base;
    if ((dir > 0 && *rest != '+') || (dir < 0 && *rest != '-'))
        return -1;
    unsigned long long off;
    if (parse_uint(rest + 1, (unsigned long long)(SIGRTMAX - SIGRTMIN), &off) == -1)
        return -1;
    return base + dir * (int)off;
}

int sig_from_name(const char *name)
{
    unsigned long long num;
    if (parse_uint(name, (unsigned long long)SIGRTMAX, &num) == 0)
        return num >= 1 ? (int)num : -1;
    size_t len = strlen(name);
    if (len == 0 || len > 32)
        return -1;
    char upper[33];
    for (size_t i = 0; i <= len; i++)
        upper[i] = (char)toupper((unsigned char)name[i]);
    const char *bare = str_has_prefix(upper, "SIG") ? upper + 3 : upper;
    for (size_t i = 0; i < sizeof sig_table / sizeof sig_table[0]; i++) {
        if (strcmp(bare, sig_table[i].name) == 0)
            return sig_table[i].signo;
    }
    return sig_from_rt(bare);
}

const char *sig_name(int signo)
{
    /* Real-time signals have no names of their own: "RTMIN+N", built once per number. */
    static char rt_names[64][12];

#ifdef __GLIBC__
    /* The C library's name first, so that every message names a signal the same way. musl
     * (the static build) has no sigabbrev_np: the table below names every signal it has. */
    if (signo > 0 && signo < SIGRTMIN && sigabbrev_np(signo) != NULL)
        return sigabbrev_np(signo);
#endif
    for (size_t i = 0; i < sizeof sig_table / sizeof sig_table[0]; i++) {
        if (sig_table[i].signo == signo)
            return sig_table[i].name;
    }
    if (signo >= SIGRTMIN && signo <= SIGRTMAX && signo - SIGRTMIN < 64) {
        char *name = rt_names[signo - SIGRTMIN];
        if (name[0] == '\0')
            snprintf(name, sizeof(rt_names[0]), "RTMIN+%d", signo - SIGRTMIN);
        return name;
    }
    return NULL;
}

void str_vec_free(char **vec)
{
    if (vec == NULL)
        return;
    for (char **p = vec; *p != NULL; p++)
        free(*p);
    free(vec);
}

size_t str_vec_len(char *const *vec)
{
    size_t n = 0;
    if (vec != NULL) {
        while (vec[n] != NULL)
            n++;
    }
    return n;
}

char **str_vec_dup(char *const *vec)
{
    if (vec == NULL)
        return NULL;
    size_t n = str_vec_len(vec);
    char **copy = xmalloc((n + 1) * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = xstrdup(vec[i]);
    copy[n] = NULL;
    return copy;
}

char **str_vec_pack(char *const *vec, const char *extra, char **extra_out)
{
    if (extra_out != NULL)
        *extra_out = NULL;
    if (vec == NULL)
        return NULL;
    size_t n = str_vec_len(vec), bytes = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(vec[i]) + 1;
    if (extra != NULL)
        bytes += strlen(extra) + 1;
    char **packed = xmalloc(bytes);
    char *at = (char *)(packed + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(vec[i]) + 1;
        packed[i] = memcpy(at, vec[i], len);
        at += len;
    }
    packed[n] = NULL;
    if (extra != NULL) {
        char *copy = memcpy(at, extra, strlen(extra) + 1);
        if (extra_out != NULL)
            *extra_out = copy;
    }
    return packed;
}

char **str_vec_pack_take(char **vec)
{
    char **packed = str_vec_pack(vec, NULL, NULL);
    str_vec_free(vec);
    return packed;
}

/* A shared string's count lives just before its characters, so the string itself is an
 * ordinary char * to every reader. */
struct shared_str {
    size_t refs;
    char text[];
};

static struct shared_str *shared_of(const char *s)
{
    return (struct shared_str *)(void *)(s - offsetof(struct shared_str, text));
}

char *str_shared_new(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s) + 1;
    struct shared_str *h = xmalloc(sizeof *h + len);
    h->refs = 1;
    memcpy(h->text, s, len);
    return h->text;
}

char *str_shared_ref(char *s)
{
    if (s != NULL)
        shared_of(s)->refs++;
    return s;
}

char *str_shared_same(char *shared, const char *s)
{
    if (s == NULL)
        return NULL;
    if (shared != NULL && strcmp(shared, s) == 0)
        return str_shared_ref(shared);
    return str_shared_new(s);
}

void str_shared_unref(char *s)
{
    if (s == NULL)
        return;
    struct shared_str *h = shared_of(s);
    if (--h->refs == 0)
        free(h);
}

bool str_vec_equal(char *const *a, char *const *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    size_t i = 0;
    for (; a[i] != NULL && b[i] != NULL; i++) {
        if (strcmp(a[i], b[i]) != 0)
            return false;
    }
    return a[i] == b[i];
}

int str_split_shell(const char *s, char ***out, size_t *count, const char **why)
{
    char **words = NULL;
    size_t n = 0, cap = 0;
    struct str word = {0};
    bool in_word = false;
    const char *p = s;

    for (;;) {
        char c = *p;
        if (c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                if (n + 2 > cap) {
                    cap = cap == 0 ? 8 : cap * 2;
                    words = xrealloc(words, cap * sizeof *words);
                }
                /* Exact copies (the scratch buffer grows in steps): a command's words
                 * live as long as its program. */
                words[n++] = xstrndup(str_cstr(&word), word.len);
                str_clear(&word);
                in_word = false;
            }
            if (c == '\0')
                break;
            p++;
        } else if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (end == NULL) {
                *why = "unterminated single quote";
                goto fail;
            }
            str_append_len(&word, p + 1, (size_t)(end - p - 1));
            in_word = true;
            p = end + 1;
        } else if (c == '"') {
            in_word = true;
            p++;
            for (;;) {
                if (*p == '\0') {
                    *why = "unterminated double quote";
                    goto fail;
                }
                if (*p == '"') {
                    p++;
                    break;
                }
                /* shlex: inside double quotes a backslash escapes only '"' and itself. */
                if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                    p++;
                str_append_char(&word, *p);
                p++;
            }
        } else if (c == '\\') {
            if (p[1] == '\0') {
                *why = "backslash at the end";
                goto fail;
            }
            str_append_char(&word, p[1]);
            in_word = true;
            p += 2;
        } else {
            str_append_char(&word, c);
            in_word = true;
            p++;
        }
    }
    str_free(&word);
    words = xrealloc(words, (n + 1) * sizeof *words); /* no spare room either */
    words[n] = NULL;
    *out = words;
    if (count != NULL)
        *count = n;
    return 0;

fail:
    str_free(&word);
    if (words != NULL) {
        words[n] = NULL;
        str_vec_free(words);
    }
    errno = EINVAL;
    return -1;
}
