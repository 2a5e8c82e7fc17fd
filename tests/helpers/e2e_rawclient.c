/* e2e_rawclient: the control-socket abuser and odd jobs of tests/e2e/control.sh.
 *
 *   e2e_rawclient req [-t SECS] [-c|-s] SOCKET [FILE...]
 *       Connects to the unix stream socket SOCKET ("@NAME": the abstract address NAME) and
 *       sends stdin's bytes as they are (NUL
 *       bytes, no newline, a megabyte: anything). Then, by default, keeps its sending side
 *       open and reads until the server closes the connection, copying every byte received to
 *       stdout. -s shuts down its sending side first (a half-close); -c closes the socket
 *       right after sending and reads nothing. A send that fails with EPIPE or ECONNRESET
 *       (the server answered early and closed) is noted on stderr and the reply is still read.
 *       Exit 0 when the server closed the connection (or -c), 1 when SECS (default 20) passed
 *       first, 2 on a usage or system error (connect refused included).
 *       With FILEs, each file's bytes instead, on a connection of its own, one after the
 *       other; each reply is followed by a line "--- closed" (or "--- timeout", "--- error").
 *       The exit status is the worst of them. -r READYFILE: once the request is sent (on
 *       the first connection), writes "ready PID\n" to READYFILE atomically, so a test knows
 *       the request waits in the server's socket even while the server is stopped.
 *
 *   e2e_rawclient hold [-t SECS] SOCKET N READYFILE
 *       Opens N connections to SOCKET and sends nothing on any of them: half-open clients.
 *       Once all are connected, writes "ready PID\n" to READYFILE atomically (READYFILE.tmp +
 *       rename). Then waits until the server has closed every one, or SECS (default 30) have
 *       passed, and prints
 *           closed C of N after MIN..MAX ms
 *           COUNT TEXT          one line per distinct reply, in order of first appearance
 *       where the times run from the moment the connection was made, and TEXT is what the
 *       server sent before closing, its newline dropped ("(nothing)" for no bytes). Exit 0
 *       when the server closed all N, 1 otherwise. SIGTERM ends it at once (no output).
 *
 *   e2e_rawclient json
 *       Validates stdin as one JSON text (RFC 8259: grammar, string escapes, UTF-8; a
 *       duplicate key in an object is an error too) and prints every scalar as PATH=TOKEN,
 *       one a line, in document order: PATH is [I] for an array element and .KEY for a
 *       member (from the root, e.g. "[0].name"), TOKEN the scalar exactly as written. An
 *       empty array or object prints PATH=[] or PATH={}. Exit 0, or 1 with "json: byte N:
 *       what" on stderr. python3 is not needed.
 *
 *   e2e_rawclient sigrec FILE READYFILE
 *       A service that records the signals it receives: every catchable signal is blocked
 *       and taken with sigwaitinfo; each one appends "SEQ NAME PID\n" to FILE in one write:
 *       SEQ counts from 1 (so a test can wait for "^3 "), NAME is "USR1", "HUP", "RTMIN+2"
 *       (or the number), PID the sender's (si_pid). Writes
 *       "ready PID\n" to READYFILE once the mask is in place. SIGTERM is recorded too, then
 *       it exits 0.
 *
 * Tests never sleep: everything here ends on an event (the server closing, a signal), and the
 * deadlines only turn a hang into a failure. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int usage(void)
{
    fprintf(stderr, "usage: e2e_rawclient req [-t SECS] [-c|-s] [-r READYFILE] SOCKET [FILE...]\n"
                    "       e2e_rawclient hold [-t SECS] SOCKET N READYFILE\n"
                    "       e2e_rawclient json\n"
                    "       e2e_rawclient sigrec FILE READYFILE\n");
    return 2;
}

static int write_ready(const char *path)
{
    char tmp[PATH_MAX], buf[64];
    int fd, n;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    n = snprintf(buf, sizeof buf, "ready %d\n", (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd == -1)
        return -1;
    if (write(fd, buf, (size_t)n) != n) {
        int saved = errno;
        close(fd);
        errno = saved ? saved : EIO;
        return -1;
    }
    if (close(fd) == -1)
        return -1;
    return rename(tmp, path);
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* "@NAME" is the abstract address NAME (tend-web's door into tend). */
    socklen_t len = sizeof sa;
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, len) == -1) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static double parse_secs(const char *s)
{
    char *end;
    double v = strtod(s, &end);

    return end == s || *end != '\0' || v <= 0 ? -1 : v;
}

/* ---- req ---- */

/* Reads all of fd into a malloc'd buffer. Returns it (len in *len), or NULL with errno. */
static char *slurp(int fd, size_t *len)
{
    char *data = NULL;
    size_t cap = 0;

    *len = 0;
    for (;;) {
        if (cap - *len < 65536) {
            char *bigger = realloc(data, cap = cap ? cap * 2 : 131072);
            if (bigger == NULL) {
                free(data);
                return NULL;
            }
            data = bigger;
        }
        ssize_t n = read(fd, data + *len, cap - *len);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            int e = errno;
            free(data);
            errno = e;
            return NULL;
        }
        if (n == 0)
            return data;
        *len += (size_t)n;
    }
}

struct req_opts {
    const char *sock;
    const char *ready;  /* -r: told once the first request is sent, then NULL */
    double secs;
    bool close_now, half_close;
};

/* One connection: send data, then (unless close_now) read until the server closes, copying
 * the reply to stdout. Returns 0 when the server closed (or close_now), 1 on timeout, 2 on
 * an error. The "closed after" note goes to stderr. */
static int one_req(struct req_opts *o, const char *data, size_t len)
{
    int fd = connect_to(o->sock);

    if (fd == -1) {
        fprintf(stderr, "e2e_rawclient: connect %s: %s\n", o->sock, strerror(errno));
        return 2;
    }
    long long t0 = now_ms();
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1) {
            if (errno != EPIPE && errno != ECONNRESET) {
                perror("e2e_rawclient: send");
                close(fd);
                return 2;
            }
            fprintf(stderr, "e2e_rawclient: send: %s after %zu of %zu bytes\n", strerror(errno),
                    sent, len);
            break;
        }
        sent += (size_t)n;
    }
    if (o->ready != NULL) {
        if (write_ready(o->ready) == -1) {
            fprintf(stderr, "e2e_rawclient: cannot write %s: %s\n", o->ready, strerror(errno));
            close(fd);
            return 2;
        }
        o->ready = NULL;
    }
    if (o->close_now) {
        close(fd);
        return 0;
    }
    if (o->half_close)
        (void)shutdown(fd, SHUT_WR); /* fails only if the peer is already gone: fine */
    long long deadline = t0 + (long long)(o->secs * 1000);
    for (;;) {
        char buf[65536];
        long long left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0) {
            fprintf(stderr, "e2e_rawclient: timeout: the server did not close within %g s\n",
                    o->secs);
            close(fd);
            return 1;
        }
        int r = poll(&p, 1, (int)left);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            perror("e2e_rawclient: poll");
            close(fd);
            return 2;
        }
        if (r == 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == -1 && errno == EINTR)
            continue;
        if (n > 0) {
            if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
                close(fd);
                return 2;
            }
            continue;
        }
        if (n == -1 && errno != ECONNRESET) {
            perror("e2e_rawclient: read");
            close(fd);
            return 2;
        }
        fprintf(stderr, "e2e_rawclient: closed by the server after %lld ms%s\n", now_ms() - t0,
                n == -1 ? " (reset)" : "");
        close(fd);
        fflush(stdout);
        return 0;
    }
}

static int cmd_req(int argc, char **argv)
{
    struct req_opts o = {.secs = 20};
    char *data;
    size_t len;
    int opt, rc = 0;

    optind = 1;
    while ((opt = getopt(argc, argv, "+t:csr:")) != -1) {
        switch (opt) {
        case 't': o.secs = parse_secs(optarg); if (o.secs < 0) return usage(); break;
        case 'r': o.ready = optarg; break;
        case 'c': o.close_now = true; break;
        case 's': o.half_close = true; break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();
    o.sock = argv[optind++];
    if (optind == argc) {
        if ((data = slurp(0, &len)) == NULL) {
            perror("e2e_rawclient: stdin");
            return 2;
        }
        rc = one_req(&o, data, len);
        free(data);
        return rc;
    }
    /* FILE...: one connection each, in order; each reply is followed by a line
     * "--- closed" (the server closed), "--- timeout" or "--- error". */
    for (; optind < argc; optind++) {
        int fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
        if (fd == -1 || (data = slurp(fd, &len)) == NULL) {
            fprintf(stderr, "e2e_rawclient: %s: %s\n", argv[optind], strerror(errno));
            return 2;
        }
        close(fd);
        int r = one_req(&o, data, len);
        free(data);
        printf("--- %s\n", r == 0 ? "closed" : r == 1 ? "timeout" : "error");
        fflush(stdout);
        if (r > rc)
            rc = r;
    }
    return rc;
}

/* ---- hold ---- */

struct held {
    int fd;
    long long t0, closed_ms;
    char text[256];
    size_t len;
};

static int cmd_hold(int argc, char **argv)
{
    double secs = 30;
    int opt;

    optind = 1;
    while ((opt = getopt(argc, argv, "+t:")) != -1) {
        if (opt != 't' || (secs = parse_secs(optarg)) < 0)
            return usage();
    }
    if (optind + 3 != argc)
        return usage();
    const char *path = argv[optind];
    char *end;
    long n = strtol(argv[optind + 1], &end, 10);
    if (*end != '\0' || n < 1 || n > 100000)
        return usage();
    struct held *h = calloc((size_t)n, sizeof *h);
    struct pollfd *p = calloc((size_t)n, sizeof *p);
    if (h == NULL || p == NULL) {
        perror("e2e_rawclient");
        return 2;
    }
    for (long i = 0; i < n; i++) {
        h[i].fd = connect_to(path);
        if (h[i].fd == -1) {
            fprintf(stderr, "e2e_rawclient: connection %ld of %ld to %s: %s\n", i + 1, n, path,
                    strerror(errno));
            return 2;
        }
        h[i].t0 = now_ms();
        h[i].closed_ms = -1;
    }
    if (write_ready(argv[optind + 2]) == -1) {
        fprintf(stderr, "e2e_rawclient: cannot write %s: %s\n", argv[optind + 2],
                strerror(errno));
        return 2;
    }
    long long deadline = now_ms() + (long long)(secs * 1000);
    long open = n;
    while (open > 0) {
        long long left = deadline - now_ms();
        if (left <= 0)
            break;
        for (long i = 0; i < n; i++) {
            p[i].fd = h[i].closed_ms < 0 ? h[i].fd : -1;
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        int r = poll(p, (nfds_t)n, (int)left);
        if (r == -1 && errno == EINTR)
            continue;
        if (r == -1) {
            perror("e2e_rawclient: poll");
            return 2;
        }
        for (long i = 0; i < n && r > 0; i++) {
            if (p[i].revents == 0)
                continue;
            char buf[4096];
            ssize_t got = read(h[i].fd, buf, sizeof buf);
            if (got == -1 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (got > 0) {
                size_t room = sizeof h[i].text - 1 - h[i].len;
                size_t take = (size_t)got < room ? (size_t)got : room;
                memcpy(h[i].text + h[i].len, buf, take);
                h[i].len += take;
                continue;
            }
            h[i].closed_ms = now_ms() - h[i].t0; /* EOF or ECONNRESET: closed by the server */
            close(h[i].fd);
            open--;
        }
    }
    long long lo = -1, hi = -1;
    for (long i = 0; i < n; i++) {
        if (h[i].closed_ms < 0)
            continue;
        if (lo < 0 || h[i].closed_ms < lo)
            lo = h[i].closed_ms;
        if (h[i].closed_ms > hi)
            hi = h[i].closed_ms;
        while (h[i].len > 0 && h[i].text[h[i].len - 1] == '\n')
            h[i].len--;
        h[i].text[h[i].len] = '\0';
        if (h[i].len == 0)
            strcpy(h[i].text, "(nothing)");
    }
    printf("closed %ld of %ld after %lld..%lld ms\n", n - open, n, lo, hi);
    for (long i = 0; i < n; i++) {
        bool seen = false;
        long count = 0;
        if (h[i].closed_ms < 0)
            continue;
        for (long j = 0; j < i && !seen; j++)
            seen = h[j].closed_ms >= 0 && strcmp(h[j].text, h[i].text) == 0;
        if (seen)
            continue;
        for (long j = i; j < n; j++)
            count += h[j].closed_ms >= 0 && strcmp(h[j].text, h[i].text) == 0;
        printf("%ld %s\n", count, h[i].text);
    }
    for (long i = 0; i < n; i++) {
        if (h[i].closed_ms < 0)
            close(h[i].fd);
    }
    free(h);
    free(p);
    return open == 0 ? 0 : 1;
}

/* ---- json ---- */

struct json {
    const unsigned char *s;
    size_t len, pos;
    char path[4096];
    int depth;
    const char *err;
};

static void ws(struct json *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

static int jfail(struct json *j, const char *what)
{
    if (j->err == NULL)
        j->err = what;
    return -1;
}

static int hex4(struct json *j, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        if (j->pos >= j->len)
            return jfail(j, "truncated \\u escape");
        unsigned char c = j->s[j->pos++];
        unsigned v = c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : 16;
        if (v == 16)
            return jfail(j, "bad hex digit in \\u escape");
        *out = *out * 16 + v;
    }
    return 0;
}

/* A string at j->pos (on the quote); its decoded form (UTF-8) goes to out when not NULL. */
static int jstring(struct json *j, char *out, size_t out_len)
{
    size_t n = 0;

    j->pos++; /* the opening quote */
    for (;;) {
        if (j->pos >= j->len)
            return jfail(j, "unterminated string");
        unsigned char c = j->s[j->pos];
        if (c == '"') {
            j->pos++;
            break;
        }
        if (c < 0x20)
            return jfail(j, "raw control byte in a string");
        if (c == '\\') {
            j->pos++;
            if (j->pos >= j->len)
                return jfail(j, "unterminated escape");
            c = j->s[j->pos++];
            if (c == 'u') {
                unsigned u, lo;
                if (hex4(j, &u) == -1)
                    return -1;
                if (u >= 0xDC00 && u <= 0xDFFF)
                    return jfail(j, "lone low surrogate");
                if (u >= 0xD800 && u <= 0xDBFF) {
                    if (j->pos + 1 >= j->len || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
                        return jfail(j, "lone high surrogate");
                    j->pos += 2;
                    if (hex4(j, &lo) == -1)
                        return -1;
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return jfail(j, "bad surrogate pair");
                }
                c = '?'; /* decoded keys only need to compare equal to themselves */
            } else if (strchr("\"\\/bfnrt", c) == NULL) {
                return jfail(j, "bad escape");
            }
            if (out != NULL && n + 1 < out_len)
                out[n++] = (char)c;
            continue;
        }
        /* UTF-8, RFC 3629. */
        size_t k = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (k == 0 || j->pos + k > j->len)
            return jfail(j, "invalid UTF-8");
        for (size_t i = 1; i < k; i++) {
            if ((j->s[j->pos + i] & 0xC0) != 0x80)
                return jfail(j, "invalid UTF-8");
        }
        if ((c == 0xE0 && j->s[j->pos + 1] < 0xA0) || (c == 0xED && j->s[j->pos + 1] > 0x9F) ||
            (c == 0xF0 && j->s[j->pos + 1] < 0x90) || (c == 0xF4 && j->s[j->pos + 1] > 0x8F))
            return jfail(j, "invalid UTF-8 (overlong, surrogate or too large)");
        for (size_t i = 0; i < k; i++) {
            if (out != NULL && n + 1 < out_len)
                out[n++] = (char)j->s[j->pos + i];
        }
        j->pos += k;
    }
    if (out != NULL)
        out[n] = '\0';
    return 0;
}

static int jnumber(struct json *j)
{
    size_t p = j->pos;
    const unsigned char *s = j->s;

#define DIGIT(i) ((i) < j->len && s[i] >= '0' && s[i] <= '9')
    if (p < j->len && s[p] == '-')
        p++;
    if (p < j->len && s[p] == '0')
        p++;
    else if (DIGIT(p))
        while (DIGIT(p))
            p++;
    else
        return jfail(j, "bad number");
    if (p < j->len && s[p] == '.') {
        p++;
        if (!DIGIT(p))
            return jfail(j, "bad number: no digit after '.'");
        while (DIGIT(p))
            p++;
    }
    if (p < j->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < j->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (!DIGIT(p))
            return jfail(j, "bad number: no digit in the exponent");
        while (DIGIT(p))
            p++;
    }
#undef DIGIT
    j->pos = p;
    return 0;
}

static void emit(struct json *j, size_t from, size_t to)
{
    printf("%s=%.*s\n", j->path, (int)(to - from), (const char *)j->s + from);
}

static int jvalue(struct json *j);

static int jcontainer(struct json *j, bool object)
{
    size_t base = strlen(j->path);
    char (*keys)[256] = NULL;
    size_t nkeys = 0, count = 0;

    if (++j->depth > 200)
        return jfail(j, "nested too deeply");
    j->pos++;
    ws(j);
    if (j->pos < j->len && j->s[j->pos] == (object ? '}' : ']')) {
        j->pos++;
        printf("%s=%s\n", j->path, object ? "{}" : "[]");
        j->depth--;
        return 0;
    }
    for (;;) {
        ws(j);
        if (object) {
            char key[256];
            if (j->pos >= j->len || j->s[j->pos] != '"')
                return free(keys), jfail(j, "expected a string key");
            if (jstring(j, key, sizeof key) == -1)
                return free(keys), -1;
            for (size_t i = 0; i < nkeys; i++) {
                if (strcmp(keys[i], key) == 0)
                    return free(keys), jfail(j, "duplicate key");
            }
            keys = realloc(keys, (nkeys + 1) * sizeof *keys);
            if (keys == NULL)
                return jfail(j, "out of memory");
            strcpy(keys[nkeys++], key);
            snprintf(j->path + base, sizeof j->path - base, ".%s", key);
            ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':')
                return free(keys), jfail(j, "expected ':'");
            j->pos++;
        } else {
            snprintf(j->path + base, sizeof j->path - base, "[%zu]", count);
        }
        count++;
        if (jvalue(j) == -1)
            return free(keys), -1;
        j->path[base] = '\0';
        ws(j);
        if (j->pos >= j->len)
            return free(keys), jfail(j, "unterminated array or object");
        if (j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->s[j->pos] == (object ? '}' : ']')) {
            j->pos++;
            break;
        }
        return free(keys), jfail(j, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    free(keys);
    j->depth--;
    return 0;
}

static int jvalue(struct json *j)
{
    ws(j);
    if (j->pos >= j->len)
        return jfail(j, "expected a value");
    size_t from = j->pos;
    switch (j->s[j->pos]) {
    case '{': return jcontainer(j, true);
    case '[': return jcontainer(j, false);
    case '"':
        if (jstring(j, NULL, 0) == -1)
            return -1;
        break;
    case 't':
    case 'f':
    case 'n': {
        static const char *const lits[] = {"true", "false", "null"};
        bool ok = false;
        for (int i = 0; i < 3 && !ok; i++) {
            size_t l = strlen(lits[i]);
            if (j->len - j->pos >= l && memcmp(j->s + j->pos, lits[i], l) == 0) {
                j->pos += l;
                ok = true;
            }
        }
        if (!ok)
            return jfail(j, "bad literal");
        break;
    }
    default:
        if (jnumber(j) == -1)
            return -1;
        break;
    }
    emit(j, from, j->pos);
    return 0;
}

static int cmd_json(void)
{
    static unsigned char buf[1 << 24];
    struct json j = {.s = buf};
    ssize_t n;

    while ((n = read(0, buf + j.len, sizeof buf - j.len)) > 0)
        j.len += (size_t)n;
    if (n == -1 || j.len == sizeof buf) {
        fprintf(stderr, "json: cannot read stdin (or over %zu bytes)\n", sizeof buf);
        return 2;
    }
    if (jvalue(&j) == 0) {
        ws(&j);
        if (j.pos != j.len)
            jfail(&j, "text after the value");
    }
    if (j.err != NULL) {
        fflush(stdout);
        fprintf(stderr, "json: byte %zu: %s\n", j.pos, j.err);
        return 1;
    }
    return 0;
}

/* ---- sigrec ---- */

static int cmd_sigrec(int argc, char **argv)
{
    sigset_t all;
    int fd;

    if (argc != 3)
        return usage();
    sigfillset(&all);
    if (sigprocmask(SIG_SETMASK, &all, NULL) == -1) {
        perror("e2e_rawclient: sigprocmask");
        return 2;
    }
    fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1 || write_ready(argv[2]) == -1) {
        perror("e2e_rawclient: sigrec");
        return 2;
    }
    for (unsigned seq = 1;; seq++) {
        siginfo_t si;
        char line[64];
        int sig = sigwaitinfo(&all, &si);
        if (sig == -1) {
            seq--;
            continue; /* EINTR */
        }
        const char *abbrev = sigabbrev_np(sig);
        int len;
        if (abbrev != NULL)
            len = snprintf(line, sizeof line, "%u %s %d\n", seq, abbrev, (int)si.si_pid);
        else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
            len = snprintf(line, sizeof line, "%u RTMIN+%d %d\n", seq, sig - SIGRTMIN,
                           (int)si.si_pid);
        else
            len = snprintf(line, sizeof line, "%u %d %d\n", seq, sig, (int)si.si_pid);
        if (write(fd, line, (size_t)len) != len)
            return 2;
        if (sig == SIGTERM)
            return 0;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "req") == 0)
        return cmd_req(argc - 1, argv + 1);
    if (strcmp(argv[1], "hold") == 0)
        return cmd_hold(argc - 1, argv + 1);
    if (strcmp(argv[1], "json") == 0 && argc == 2)
        return cmd_json();
    if (strcmp(argv[1], "sigrec") == 0)
        return cmd_sigrec(argc - 1, argv + 1);
    return usage();
}
