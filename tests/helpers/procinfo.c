/* procinfo: a service that reports the process state it was started with.
 *
 *   usage: procinfo [-e] OUTFILE [ARG...]
 *
 * Right after start, before it changes anything about itself, procinfo takes a snapshot of
 * its own process state and writes it to OUTFILE atomically (OUTFILE.tmp, then rename), so a
 * test can `waitfor OUTFILE '^end$'` and then grep it. Then it pauses until SIGTERM, which
 * makes it exit 0 (-e: exit 0 right after writing instead). Extra ARGs are ignored apart from
 * being reported, so a test can check how argv came through. OUTFILE should be absolute: a
 * daemon usually starts in /.
 *
 * Output: one `key value` per line, in this order (repeated keys in index order):
 *   pid N / ppid N / pgid N / sid N     from /proc/self/stat
 *   tty_nr N / tpgid N                  controlling terminal (0 = none) and its foreground pgid
 *   session_leader 0|1                  sid == pid
 *   pgrp_leader 0|1                     pgid == pid
 *   state C / starttime TICKS           stat fields 3 and 22
 *   comm E / exe E / cwd E / root E     E = escaped text, see below
 *   umask 0022                          from /proc/self/status Umask
 *   sigpnd H / shdpnd H / sigblk H / sigign H / sigcgt H
 *                                       the 16-hex-digit masks of /proc/self/status
 *   uid R E S F / gid R E S F           real, effective, saved, filesystem
 *   groups G G ...                      supplementary groups, as listed by the kernel
 *                                       (the line is just "groups" when there are none)
 *   capinh H / capprm H / capeff H / capbnd H / capamb H
 *   nonewprivs 0|1
 *   rlimit_nofile SOFT HARD / rlimit_core SOFT HARD    numbers or "unlimited"
 *   fds N N ...                         every open descriptor, ascending (just "fds" if none)
 *   fd N E                              one per descriptor: its /proc/self/fd/N target
 *   fdflags N OCTAL                     the "flags:" field of /proc/self/fdinfo/N (O_APPEND,
 *                                       O_CLOEXEC, access mode...)
 *   argc N / arg I X                    I from 0; X = hex of the argument's bytes
 *   envc N / env I X                    each environment entry "K=V" in order, hex-encoded
 *   end
 * Escaped text (E) is the bytes as they are, except that a byte outside '!'..'~' and the
 * backslash are written \xHH, so a value never holds a space or a newline. Hex (X) is two
 * lowercase digits per byte, nothing for an empty string (the line then ends "arg 1 "); in a
 * shell: printf '%s' "$s" | od -An -v -tx1 | tr -d ' \n'.
 *
 * The descriptors are listed before procinfo opens anything, and the one it uses to read
 * /proc/self/fd is left out, so the list is exactly what the program inherited. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MAX_FDS 65536

extern char **environ;

struct fdinfo {
    int fd;
    char target[PATH_MAX];
    char flags[32];
};

/* The status lines we report: /proc/self/status key, our key. */
static const char *const status_keys[][2] = {
    {"SigPnd", "sigpnd"}, {"ShdPnd", "shdpnd"}, {"SigBlk", "sigblk"}, {"SigIgn", "sigign"},
    {"SigCgt", "sigcgt"}, {"Uid", "uid"},       {"Gid", "gid"},       {"Groups", "groups"},
    {"CapInh", "capinh"}, {"CapPrm", "capprm"}, {"CapEff", "capeff"}, {"CapBnd", "capbnd"},
    {"CapAmb", "capamb"}, {"NoNewPrivs", "nonewprivs"},
};
#define NSTATUS (sizeof status_keys / sizeof status_keys[0])

/* Symlinks we report: our key, procfs path. */
static const char *const links[][2] = {
    {"exe", "/proc/self/exe"}, {"cwd", "/proc/self/cwd"}, {"root", "/proc/self/root"}};

static void on_term(int sig)
{
    (void)sig;
    _exit(0);
}

static void put_escaped(FILE *out, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '!' || c > '~' || c == '\\')
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

static void put_hex(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fprintf(out, "%02x", (unsigned char)*s);
}

/* readlink into buf, NUL-terminated; "?" plus the error when it fails. */
static void read_link(const char *path, char *buf, size_t size)
{
    ssize_t n = readlink(path, buf, size - 1);
    if (n == -1)
        snprintf(buf, size, "?%s", strerror(errno));
    else
        buf[n] = '\0';
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* List inherited descriptors. Done first, before anything else is opened. */
static size_t snapshot_fds(struct fdinfo **out)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int *fds = NULL;
    size_t n = 0, cap = 0, i;
    struct fdinfo *info;

    *out = NULL;
    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        int fd;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        if (n == cap) {
            int *nf;
            cap = cap ? cap * 2 : 64;
            nf = realloc(fds, cap * sizeof *nf);
            if (nf == NULL)
                break;
            fds = nf;
        }
        fds[n++] = fd;
        if (n == MAX_FDS)
            break;
    }
    closedir(d);
    if (n == 0) {
        free(fds);
        return 0;
    }
    qsort(fds, n, sizeof *fds, cmp_int);
    info = calloc(n, sizeof *info);
    if (info == NULL) {
        free(fds);
        return 0;
    }
    for (i = 0; i < n; i++) {
        char path[64], line[256];
        FILE *f;
        info[i].fd = fds[i];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
        read_link(path, info[i].target, sizeof info[i].target);
        snprintf(info[i].flags, sizeof info[i].flags, "?");
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fds[i]);
        f = fopen(path, "re");
        if (f == NULL)
            continue;
        while (fgets(line, sizeof line, f) != NULL) {
            char flags[32];
            if (sscanf(line, "flags: %31s", flags) == 1) {
                memcpy(info[i].flags, flags, sizeof flags);
                break;
            }
        }
        fclose(f);
    }
    free(fds);
    *out = info;
    return n;
}

static void put_rlimit(FILE *out, const char *key, int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) == -1) {
        fprintf(out, "%s ? ?\n", key);
        return;
    }
    fprintf(out, "%s ", key);
    if (rl.rlim_cur == RLIM_INFINITY)
        fprintf(out, "unlimited ");
    else
        fprintf(out, "%llu ", (unsigned long long)rl.rlim_cur);
    if (rl.rlim_max == RLIM_INFINITY)
        fprintf(out, "unlimited\n");
    else
        fprintf(out, "%llu\n", (unsigned long long)rl.rlim_max);
}

/* Fields of /proc/self/stat we report. */
struct stat_fields {
    char comm[64];
    char state;
    long ppid, pgid, sid, tty_nr, tpgid;
    unsigned long long starttime;
};

static int read_stat(struct stat_fields *s)
{
    char buf[2048], *open_paren, *close_paren;
    FILE *f = fopen("/proc/self/stat", "re");
    size_t n, len;

    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    open_paren = strchr(buf, '(');
    close_paren = strrchr(buf, ')');
    if (open_paren == NULL || close_paren == NULL || close_paren < open_paren)
        return -1;
    len = (size_t)(close_paren - open_paren - 1);
    if (len >= sizeof s->comm)
        len = sizeof s->comm - 1;
    memcpy(s->comm, open_paren + 1, len);
    s->comm[len] = '\0';
    /* After ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime priority nice num_threads itrealvalue starttime */
    if (sscanf(close_paren + 2,
               "%c %ld %ld %ld %ld %ld %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
               &s->state, &s->ppid, &s->pgid, &s->sid, &s->tty_nr, &s->tpgid,
               &s->starttime) != 7)
        return -1;
    return 0;
}

/* Copy the wanted lines of /proc/self/status, values whitespace-normalised. */
static void read_status(char values[][256], char *umask_value, size_t umask_size)
{
    char line[1024];
    FILE *f = fopen("/proc/self/status", "re");
    size_t i;

    for (i = 0; i < NSTATUS; i++)
        snprintf(values[i], 256, "?");
    snprintf(umask_value, umask_size, "?");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':'), *v, *tok, *save = NULL;
        size_t used = 0;
        char *dst = NULL;
        size_t dst_size = 0;
        if (colon == NULL)
            continue;
        *colon = '\0';
        v = colon + 1;
        if (strcmp(line, "Umask") == 0) {
            dst = umask_value;
            dst_size = umask_size;
        }
        for (i = 0; dst == NULL && i < NSTATUS; i++) {
            if (strcmp(line, status_keys[i][0]) == 0) {
                dst = values[i];
                dst_size = 256;
            }
        }
        if (dst == NULL)
            continue;
        dst[0] = '\0';
        for (tok = strtok_r(v, " \t\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\n", &save)) {
            int w = snprintf(dst + used, dst_size - used, "%s%s", used ? " " : "", tok);
            if (w < 0 || (size_t)w >= dst_size - used)
                break;
            used += (size_t)w;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    struct fdinfo *fds;
    size_t nfds = snapshot_fds(&fds), i;
    struct stat_fields st;
    char status[NSTATUS][256], umask_value[32], link[PATH_MAX], tmp[PATH_MAX];
    const char *outfile;
    int exit_after = 0, argi = 1, fail;
    struct sigaction sa;
    long pid = (long)getpid();
    FILE *out;

    if (argi < argc && strcmp(argv[argi], "-e") == 0) {
        exit_after = 1;
        argi++;
    }
    if (argi >= argc) {
        fprintf(stderr, "usage: procinfo [-e] OUTFILE [ARG...]\n");
        return 2;
    }
    outfile = argv[argi];
    if (read_stat(&st) == -1) {
        fprintf(stderr, "procinfo: cannot parse /proc/self/stat\n");
        return 1;
    }
    read_status(status, umask_value, sizeof umask_value);

    /* The snapshot is taken; only now change our own state. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);

    if (snprintf(tmp, sizeof tmp, "%s.tmp", outfile) >= (int)sizeof tmp) {
        fprintf(stderr, "procinfo: %s: name too long\n", outfile);
        return 1;
    }
    out = fopen(tmp, "we");
    if (out == NULL) {
        fprintf(stderr, "procinfo: cannot write %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    fprintf(out, "pid %ld\nppid %ld\npgid %ld\nsid %ld\ntty_nr %ld\ntpgid %ld\n", pid, st.ppid,
            st.pgid, st.sid, st.tty_nr, st.tpgid);
    fprintf(out, "session_leader %d\npgrp_leader %d\n", st.sid == pid, st.pgid == pid);
    fprintf(out, "state %c\nstarttime %llu\n", st.state, st.starttime);
    fprintf(out, "comm ");
    put_escaped(out, st.comm, strlen(st.comm));
    fprintf(out, "\n");
    for (i = 0; i < sizeof links / sizeof links[0]; i++) {
        read_link(links[i][1], link, sizeof link);
        fprintf(out, "%s ", links[i][0]);
        put_escaped(out, link, strlen(link));
        fprintf(out, "\n");
    }
    fprintf(out, "umask %s\n", umask_value);
    for (i = 0; i < NSTATUS; i++) {
        if (status[i][0] == '\0')
            fprintf(out, "%s\n", status_keys[i][1]);
        else
            fprintf(out, "%s %s\n", status_keys[i][1], status[i]);
    }
    put_rlimit(out, "rlimit_nofile", RLIMIT_NOFILE);
    put_rlimit(out, "rlimit_core", RLIMIT_CORE);
    fprintf(out, "fds");
    for (i = 0; i < nfds; i++)
        fprintf(out, " %d", fds[i].fd);
    fprintf(out, "\n");
    for (i = 0; i < nfds; i++) {
        fprintf(out, "fd %d ", fds[i].fd);
        put_escaped(out, fds[i].target, strlen(fds[i].target));
        fprintf(out, "\nfdflags %d %s\n", fds[i].fd, fds[i].flags);
    }
    fprintf(out, "argc %d\n", argc);
    for (i = 0; i < (size_t)argc; i++) {
        fprintf(out, "arg %zu ", i);
        put_hex(out, argv[i]);
        fprintf(out, "\n");
    }
    for (i = 0; environ != NULL && environ[i] != NULL; i++)
        ;
    fprintf(out, "envc %zu\n", i);
    for (i = 0; environ != NULL && environ[i] != NULL; i++) {
        fprintf(out, "env %zu ", i);
        put_hex(out, environ[i]);
        fprintf(out, "\n");
    }
    fprintf(out, "end\n");
    free(fds);
    fail = ferror(out);
    if (fclose(out) == EOF || fail) {
        fprintf(stderr, "procinfo: cannot write %s: %s\n", tmp, strerror(errno ? errno : EIO));
        return 1;
    }
    if (rename(tmp, outfile) == -1) {
        fprintf(stderr, "procinfo: cannot rename %s to %s: %s\n", tmp, outfile,
                strerror(errno));
        return 1;
    }
    if (exit_after)
        return 0;
    for (;;)
        pause();
}
