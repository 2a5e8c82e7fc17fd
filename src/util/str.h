/* Small string helpers shared by the parsers: allocation that never returns NULL, a growable
 * string builder, trimming and case folding, Levenshtein distance for "did you mean"
 * suggestions, strict number/boolean/size parsers, signal names, and a shell-like splitter.
 * Every parser takes an already-trimmed, NUL-terminated string, accepts nothing but the exact
 * syntax it documents, and reports failure as -1 with errno set (EINVAL: not that syntax,
 * ERANGE: well-formed but out of range), leaving *out untouched. */
#ifndef TEND_UTIL_STR_H
#define TEND_UTIL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Allocation. On failure these print "tend: out of memory" to stderr and abort(): tend cannot
 * do anything useful without memory, and every caller would otherwise need the same check. */
void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t len);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable NUL-terminated string. Zero-initialise ({0}) or str_init before use; buf is NULL
 * until the first append, str_cstr never returns NULL. */
struct str {
    char *buf;
    size_t len;
    size_t cap;
};

void str_init(struct str *s);
void str_free(struct str *s);
void str_clear(struct str *s);
void str_append(struct str *s, const char *text);
void str_append_len(struct str *s, const char *text, size_t len);
void str_append_char(struct str *s, char c);
void str_appendf(struct str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *str_cstr(const struct str *s);
/* Hands the buffer to the caller (never NULL; free() it) and leaves s empty. */
char *str_release(struct str *s);

/* Trims ASCII whitespace in place; returns the first non-space character of s. */
char *str_trim(char *s);
/* Lowercases ASCII letters in place. */
void str_lower(char *s);
/* ASCII case-insensitive equality. */
bool str_ieq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);
/* Edit distance (insertions, deletions, substitutions), case-sensitive. */
size_t str_levenshtein(const char *a, const char *b);

/* Decimal integer, digits only (no sign, no spaces), value <= max. */
int parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* Decimal integer with an optional leading '-' or '+', min <= value <= max. */
int parse_int(const char *s, long long min, long long max, long long *out);
/* Octal digits, optionally prefixed "0o" (Python's int(x, 8) form), value <= max. */
int parse_octal(const char *s, unsigned max, unsigned *out);
/* true/false, yes/no, on/off, 1/0, case-insensitive. */
int parse_bool(const char *s, bool *out);
/* Byte count: decimal digits, optional spaces, then an optional KB, MB or GB suffix
 * (case-insensitive, powers of 1024), as supervisord's byte_size. */
int parse_size(const char *s, long long *out);

/* Signal number for a name: "TERM", "SIGTERM", "term", any case, the usual Linux aliases, RTMIN,
 * RTMAX, RTMIN+N, RTMAX-N, or a decimal number of a real signal. -1 if unknown. */
int sig_from_name(const char *name);
/* Canonical name without the "SIG" prefix ("TERM"), or NULL for a signal without a fixed name
 * (the real-time range) or an invalid number. */
const char *sig_name(int signo);

#ifndef __GLIBC__
/* musl (the static build) has no strerrordesc_np; its strerror returns an entry of a
 * constant, locale-free table, which is what strerrordesc_np gives on glibc. */
#define strerrordesc_np(err) strerror(err)
#endif

/* Splits s into words the way Python's shlex.split (POSIX mode) does, which is what
 * supervisord applies to command=: whitespace separates words; '...' is literal; inside "..."
 * a backslash escapes only '"' and '\'; outside quotes a backslash escapes any character;
 * adjacent quoted and unquoted parts join into one word; "" is an empty word. On success
 * *out is a NULL-terminated array (free with str_vec_free) and *count its length. On a
 * syntax error returns -1 with errno EINVAL and *why set to a static description. */
int str_split_shell(const char *s, char ***out, size_t *count, const char **why);

/* Frees a NULL-terminated array of strings and the array itself; NULL is fine. */
void str_vec_free(char **vec);
/* Deep copy of a NULL-terminated array; NULL gives NULL. */
char **str_vec_dup(char *const *vec);
/* Number of entries before the NULL terminator; NULL counts as 0. */
size_t str_vec_len(char *const *vec);
/* True when both arrays hold the same strings in the same order (NULL equals NULL only). */
bool str_vec_equal(char *const *a, char *const *b);

/* One allocation holding a copy of vec: the NULL-terminated pointer array, then its strings,
 * then (extra not NULL) a copy of extra, whose address goes to *extra_out (NULL otherwise;
 * extra_out may be NULL). Free the whole with free(), not str_vec_free; its entries cannot be
 * freed or replaced one by one. NULL gives NULL. It costs one malloc instead of n + 1. */
char **str_vec_pack(char *const *vec, const char *extra, char **extra_out);
/* str_vec_pack of vec, which is then freed with str_vec_free. */
char **str_vec_pack_take(char **vec);

/* Reference-counted strings, for a value many structures hold alike (the file of every
 * program in it, the program of every numprocs instance): a plain char * to read, but made,
 * copied and released only through these. NULL is fine everywhere and stays NULL. */
char *str_shared_new(const char *s);
/* Another reference to s; returns s. */
char *str_shared_ref(char *s);
/* A reference to shared when it holds the same text as s, else a new shared copy of s. */
char *str_shared_same(char *shared, const char *s);
/* Drops a reference; the last one frees the string. */
void str_shared_unref(char *s);

#endif
