/* Unit tests for logcap with a real event loop, real pipes and real files in a fresh temporary
 * directory. A forked "program" writes into the descriptors logcap_child_fds lends; the loop
 * runs until that writer exits (a pidfd event), or until a file changes so that a condition
 * holds (inotify), never on sleeps; a deadline only turns a hang into a failure.
 *
 * Failures are injected for real: RLIMIT_FSIZE in this process (logcap writes here) gives
 * EFBIG; a removed directory gives ENOENT; planted symlinks and a world-writable directory
 * are refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "log.h"
#include "logcap.h"
#include "loop.h"

#define DEADLINE_S 20

static char tmp[64];

/* ---- fixtures ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void tmp_begin(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/test_logcap.XXXXXX");
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
}

static void tmp_end(void)
{
    log_use_stderr();
    (void)nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp/NAME, in one of a few rotating static buffers. */
static char *tpath(const char *name)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *b = bufs[next++ % 8];

    snprintf(b, PATH_MAX, "%s/%s", tmp, name);
    return b;
}

/* A proc_conf with supervisord's log defaults, stdout and stderr to files in tmp (NULL:
 * NONE). */
static void conf_init(struct proc_conf *c, const char *out, const char *err)
{
    memset(c, 0, sizeof(*c));
    c->name = "web";
    c->program = "web";
    c->group = "web";
    c->stdout_logfile_kind = out ? LOG_TARGET_PATH : LOG_TARGET_NONE;
    c->stdout_logfile = out ? strdup(tpath(out)) : NULL;
    c->stdout_logfile_maxbytes = 50LL * 1024 * 1024;
    c->stdout_logfile_backups = 10;
    c->stderr_logfile_kind = err ? LOG_TARGET_PATH : LOG_TARGET_NONE;
    c->stderr_logfile = err ? strdup(tpath(err)) : NULL;
    c->stderr_logfile_maxbytes = 50LL * 1024 * 1024;
    c->stderr_logfile_backups = 10;
}

static void conf_done(struct proc_conf *c)
{
    free(c->stdout_logfile);
    free(c->stderr_logfile);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;

    *len = 0;
    if (f == NULL)
        return NULL;
    do {
        if (n + 65536 > cap) {
            char *p;
            cap = cap ? cap * 2 : 65536 * 2;
            p = realloc(buf, cap + 1);
            if (p == NULL) {
                perror("realloc");
                exit(2);
            }
            buf = p;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static long long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w == -1 && errno == EINTR)
            continue;
        if (w == -1)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* tend's own log goes to tmp/tend.log, so that cases can check its messages. */
static void quiet_log(void)
{
    if (getenv("LOGCAP_TEST_LOG") == NULL)
        CHECK_INT(log_open_file(tpath("tend.log")), 0);
}

static bool tend_log_has(const char *needle)
{
    size_t n;
    char *got = slurp(tpath("tend.log"), &n);
    bool r = got != NULL && strstr(got, needle) != NULL;

    if (!r)
        fprintf(stderr, "  tend.log lacks \"%s\":\n%s", needle, got ? got : "(none)\n");
    free(got);
    return r;
}

/* ---- running the loop ---- */

struct waiter {
    struct loop *loop;
    bool (*cond)(void *);
    void *arg;
    bool timed_out;
    struct watcher pid_w, ino_w;
    struct timer deadline;
};

static void on_pidfd(struct watcher *w, uint32_t events)
{
    struct waiter *wt = w->ctx;

    (void)events;
    loop_del(wt->loop, w);
    loop_stop(wt->loop);
}

static void on_inotify(struct watcher *w, uint32_t events)
{
    struct waiter *wt = w->ctx;
    char buf[4096];

    (void)events;
    while (read(w->fd, buf, sizeof(buf)) > 0) {
    }
    if (wt->cond(wt->arg))
        loop_stop(wt->loop);
}

static void on_deadline(struct timer *t, void *ctx)
{
    struct waiter *wt = ctx;

    (void)t;
    wt->timed_out = true;
    loop_stop(wt->loop);
}

/* Runs the loop until process pid exits (pid > 0) or, with cond, until cond holds (checked at
 * every change in tmp). Returns false on the deadline. */
static bool run_until(struct loop *l, pid_t pid, bool (*cond)(void *), void *arg)
{
    struct waiter wt = {.loop = l, .cond = cond, .arg = arg};
    int pidfd = -1, ino = -1;

    l->stopping = false;
    timer_init(&wt.deadline, on_deadline, &wt);
    loop_timer_arm(l, &wt.deadline, timer_now_ns() + DEADLINE_S * 1000000000ULL);
    if (pid > 0) {
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd == -1 || loop_add(l, &wt.pid_w, pidfd, EPOLLIN, on_pidfd, &wt) == -1) {
            perror("pidfd");
            exit(2);
        }
    }
    if (cond != NULL) {
        ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (ino == -1 ||
            inotify_add_watch(ino, tmp, IN_MODIFY | IN_CREATE | IN_MOVED_TO) == -1 ||
            loop_add(l, &wt.ino_w, ino, EPOLLIN, on_inotify, &wt) == -1) {
            perror("inotify");
            exit(2);
        }
    }
    if (cond == NULL || !cond(arg))
        loop_run(l);
    if (pidfd != -1) {
        loop_del(l, &wt.pid_w);
        close(pidfd);
    }
    if (ino != -1) {
        loop_del(l, &wt.ino_w);
        close(ino);
    }
    loop_timer_cancel(l, &wt.deadline);
    l->stopping = false;
    return !wt.timed_out;
}

/* Line k: eight digits, a space, (k * 7) % 61 filler letters 'a' + k % 26, newline. */
static size_t format_line(char *buf, int k)
{
    int n = snprintf(buf, 16, "%08d ", k);
    int fill = (k * 7) % 61;

    memset(buf + n, 'a' + k % 26, (size_t)fill);
    buf[n + fill] = '\n';
    return (size_t)(n + fill + 1);
}

/* The bytes of lines from..to, as one buffer. */
static char *make_lines(int from, int to, size_t *len)
{
    size_t cap = (size_t)(to - from + 1) * 80 + 1, n = 0;
    char *buf = malloc(cap);

    for (int k = from; k <= to; k++)
        n += format_line(buf + n, k);
    *len = n;
    return buf;
}

/* Checks that buf is whole, well-formed numbered lines; appends their numbers to nums. */
static bool parse_lines(const char *buf, size_t len, int *nums, size_t *count, size_t max)
{
    const char *p = buf, *end = buf + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char expect[128];
        size_t n;
        int k;
        if (nl == NULL || sscanf(p, "%8d", &k) != 1 || *count >= max)
            return false;
        n = format_line(expect, k);
        if ((size_t)(nl + 1 - p) != n || memcmp(p, expect, n) != 0)
            return false;
        nums[(*count)++] = k;
        p = nl + 1;
    }
    return true;
}

/* Writes buf to fd in irregular chunks (1..9000 bytes), so that reads split lines anywhere. */
static void write_chunky(int fd, const char *buf, size_t len, unsigned seed)
{
    while (len > 0) {
        size_t n = 1 + (size_t)rand_r(&seed) % 9000;
        if (n > len)
            n = len;
        if (write_all(fd, buf, n) == -1)
            _exit(3);
        buf += n;
        len -= n;
    }
}

struct job {
    int fd[3];
    const char *data[3];
    size_t len[3];
};

/* Forks a "program" that writes job's data to its fds (stdout first), then exits; runs the
 * loop until it has, and drains the pipes. Returns the writer's wait status. */
static int run_writer(struct loop *l, struct logcap *lc, const struct job *job)
{
    int status = -1;
    pid_t pid = fork();

    if (pid == 0) {
        for (int i = 1; i <= 2; i++) {
            if (job->data[i] != NULL && job->fd[i] >= 0)
                write_chunky(job->fd[i], job->data[i], job->len[i], (unsigned)i * 7919u);
        }
        _exit(0);
    }
    CHECK(pid > 0);
    CHECK(run_until(l, pid, NULL, NULL));
    CHECK_INT(waitpid(pid, &status, 0), pid);
    logcap_flush(lc);
    return status;
}

/* One instance through logcap: child_fds, a writer, after_spawn, the loop until it is done. */
static int spawn_writes(struct loop *l, struct logcap *lc, const char *out, const char *err)
{
    struct job job = {{-1, -1, -1}, {NULL, out, err},
                      {0, out ? strlen(out) : 0, err ? strlen(err) : 0}};
    int status;

    CHECK_INT(logcap_child_fds(lc, &job.fd[1], &job.fd[2]), 0);
    status = run_writer(l, lc, &job);
    logcap_after_spawn(lc);
    return status;
}

/* ---- cases ---- */

TEST(output_reaches_files_as_whole_lines)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct stat st;
    char *got;
    size_t n;
    int fds[2];

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", "err.log");
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK(lc != NULL);
    CHECK_STR(logcap_path(lc, LOGCAP_STDOUT), tpath("out.log"));
    CHECK_STR(logcap_path(lc, LOGCAP_STDERR), tpath("err.log"));

    CHECK_INT(logcap_child_fds(lc, &fds[0], &fds[1]), 0);
    CHECK(fds[0] >= 3 && fds[1] >= 3 && fds[0] != fds[1]);
    /* The program's ends: close-on-exec in tend (spawn dup2s them), and blocking. */
    CHECK(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    CHECK(!(fcntl(fds[0], F_GETFL) & O_NONBLOCK));
    CHECK(!(fcntl(fds[1], F_GETFL) & O_NONBLOCK));
    logcap_after_spawn(lc);
    /* Files are opened when the program starts. */
    CHECK_INT(stat(tpath("out.log"), &st), 0);
    CHECK_INT(st.st_mode & 07777, 0640);

    CHECK_INT(spawn_writes(&l, lc, "hello\nworld\npartial", "oops\n"), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "hello\nworld\n"); /* the partial line waits for its end */
    free(got);
    got = slurp(tpath("err.log"), &n);
    CHECK_STR(got, "oops\n");
    free(got);

    /* A second instance: the first one's unterminated line is ended before its output. */
    CHECK_INT(spawn_writes(&l, lc, "more\n", NULL), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "hello\nworld\npartial\nmore\n");
    free(got);

    /* The end: what is still in the pipe is written, the last line terminated. */
    CHECK_INT(logcap_child_fds(lc, &fds[0], &fds[1]), 0);
    CHECK_INT(write_all(fds[0], "last words", 10), 0);
    logcap_after_spawn(lc);
    CHECK_INT(logcap_dropped(lc), 0);
    logcap_free(lc);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "hello\nworld\npartial\nmore\nlast words\n");
    free(got);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

/* Descriptors open in this process. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* A capture of stdout to out.log and stderr to err.log in a new temporary directory. */
static struct logcap *two_files(struct loop *l, struct proc_conf *c)
{
    struct logcap *lc;

    tmp_begin();
    quiet_log();
    conf_init(c, "out.log", "err.log");
    CHECK_INT(loop_init(l), 0);
    lc = logcap_new(l, c, NULL);
    CHECK(lc != NULL);
    return lc;
}

/* The file NAME of the temporary directory holds exactly want. */
static void check_content(const char *name, const char *want)
{
    size_t n;
    char *got = slurp(tpath(name), &n);

    CHECK_STR(got, want);
    free(got);
}

/* Between instances logcap keeps one descriptor a stream, the pipe's read end: each instance
 * gets a write end of its own, and once the last writer is gone the end of the pipe is not
 * watched (it would be reported for ever); the next instance writes into the same pipe. */
TEST(only_read_ends_are_kept_between_instances)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct epoll_event ev;
    int fds[4], again[4], before;

    lc = two_files(&l, &c);
    before = count_fds();
    CHECK_INT(spawn_writes(&l, lc, "one\n", "two\n"), 0);
    logcap_flush(lc); /* sees the end of both pipes */
    CHECK_INT(count_fds(), before + 4); /* two read ends, two files */
    logcap_fds(lc, fds);
    CHECK(fds[0] >= 0 && fds[2] >= 0);
    CHECK_INT(fds[1], -1);
    CHECK_INT(fds[3], -1);
    CHECK_INT(epoll_wait(l.epoll_fd, &ev, 1, 0), 0);

    CHECK_INT(spawn_writes(&l, lc, "three\n", "four\n"), 0);
    logcap_fds(lc, again);
    CHECK_INT(again[0], fds[0]);
    CHECK_INT(again[2], fds[2]);
    check_content("out.log", "one\nthree\n");
    check_content("err.log", "two\nfour\n");
    logcap_free(lc);
    CHECK_INT(count_fds(), before);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

/* The pipe's inode behind fd, 0 if none. */
static unsigned long pipe_inode(int fd)
{
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) ? (unsigned long)st.st_ino : 0;
}

/* Without /proc (a container that does not mount it), an instance's write end cannot be
 * opened from the kept read end: each instance gets a new pipe, the old one drained first,
 * and no line is lost. Run in a child in a mount namespace of its own where /proc is an
 * empty tmpfs; skipped where that cannot be made (no CAP_SYS_ADMIN). */
TEST(without_proc_each_instance_gets_a_new_pipe)
{
    pid_t pid = fork();
    CHECK(pid != -1);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) == -1 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
            mount("tmpfs", "/proc", "tmpfs", 0, NULL) == -1)
            _exit(77);
        struct loop l;
        struct proc_conf c;
        int fds[4], again[4];
        struct logcap *lc = two_files(&l, &c);
        CHECK(access("/proc/self/fd", F_OK) == -1);
        CHECK_INT(spawn_writes(&l, lc, "one\n", "two\n"), 0);
        logcap_fds(lc, fds);
        unsigned long out_pipe = pipe_inode(fds[0]), err_pipe = pipe_inode(fds[2]);
        CHECK(out_pipe != 0 && err_pipe != 0);
        CHECK_INT(spawn_writes(&l, lc, "three\n", "four\n"), 0);
        logcap_flush(lc);
        logcap_fds(lc, again);
        CHECK(pipe_inode(again[0]) != 0 && pipe_inode(again[0]) != out_pipe);
        CHECK(pipe_inode(again[2]) != 0 && pipe_inode(again[2]) != err_pipe);
        check_content("out.log", "one\nthree\n");
        check_content("err.log", "two\nfour\n");
        logcap_free(lc);
        loop_free(&l);
        conf_done(&c);
        tmp_end();
        _exit(harness_failed_checks == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        fprintf(stderr, "  skipped: cannot hide /proc in a mount namespace here\n");
        return;
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Under a cap on open log files (a tight descriptor budget), the least recently written file
 * is closed when another must open, and opened again at its end when its program writes:
 * every line reaches its file, in order, and a rotation or a clear asked for reaches a
 * closed file too. */
TEST(files_beyond_the_cap_are_closed_and_reopened)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct stat st;
    unsigned long long evicted;

    lc = two_files(&l, &c);
    logcap_set_file_cap(1);
    evicted = logcap_files_evicted();
    for (int k = 0; k < 3; k++) {
        char out[32], err[32];
        snprintf(out, sizeof(out), "out %d\n", k);
        snprintf(err, sizeof(err), "err %d\n", k);
        CHECK_INT(spawn_writes(&l, lc, out, err), 0);
        CHECK(logcap_files_open() <= 1);
    }
    CHECK(logcap_files_evicted() > evicted);
    check_content("out.log", "out 0\nout 1\nout 2\n");
    check_content("err.log", "err 0\nerr 1\nerr 2\n");

    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(stat(tpath("out.log.1"), &st), 0);
    CHECK_INT(stat(tpath("err.log.1"), &st), 0);
    CHECK(logcap_files_open() <= 1);
    CHECK_INT(spawn_writes(&l, lc, "out 3\n", "err 3\n"), 0);
    CHECK_INT(logcap_clear(lc), 0);
    CHECK_INT(stat(tpath("out.log"), &st), 0);
    CHECK_INT(st.st_size, 0);
    CHECK_INT(stat(tpath("err.log"), &st), 0);
    CHECK_INT(st.st_size, 0);
    CHECK(logcap_files_open() <= 1);
    logcap_free(lc);
    CHECK_INT(logcap_files_open(), 0);
    logcap_set_file_cap(SIZE_MAX);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

/* Many numbered lines in irregular writes, rotated at a small size: no file beyond N
 * backups (exactly N when lines were rotated out), each file within maxbytes and made of whole
 * lines, and the files oldest first hold a contiguous run ending with the last line. With
 * enough backups, every line is there exactly once. */
static void rotation_case(int total, long long maxbytes, int backups, bool all_kept)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct job job = {{-1, -1, -1}, {NULL, NULL, NULL}, {0, 0, 0}};
    int *nums = calloc((size_t)total + 1, sizeof(int));
    size_t count = 0, len;
    char *data, name[64];

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_logfile_maxbytes = maxbytes;
    c.stdout_logfile_backups = backups;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    data = make_lines(1, total, &len);
    job.data[1] = data;
    job.len[1] = len;
    CHECK_INT(logcap_child_fds(lc, &job.fd[1], &job.fd[2]), 0);
    CHECK_INT(run_writer(&l, lc, &job), 0);
    logcap_after_spawn(lc);

    for (int i = backups; i >= 0; i--) {
        char *buf;
        size_t n;
        snprintf(name, sizeof(name), i ? "out.log.%d" : "out.log", i);
        buf = slurp(tpath(name), &n);
        if (buf == NULL) {
            if (!all_kept || i == 0) {
                fprintf(stderr, "  %s is missing\n", name);
                CHECK(false);
            }
            continue;
        }
        if ((long long)n > maxbytes)
            fprintf(stderr, "  %s: %zu bytes\n", name, n);
        CHECK((long long)n <= maxbytes);
        if (!parse_lines(buf, n, nums, &count, (size_t)total)) {
            fprintf(stderr, "  %s is not whole numbered lines\n", name);
            CHECK(false);
        }
        free(buf);
    }
    snprintf(name, sizeof(name), "out.log.%d", backups + 1);
    CHECK(!exists(tpath(name)));
    CHECK(count > 0);
    if (count > 0) {
        CHECK_INT(nums[count - 1], total);
        for (size_t i = 1; i < count; i++) {
            if (nums[i] != nums[i - 1] + 1) {
                fprintf(stderr, "  line %d follows line %d\n", nums[i], nums[i - 1]);
                CHECK(false);
                break;
            }
        }
        if (all_kept)
            CHECK_INT(count, total);
        else
            CHECK((int)count < total);
    }
    CHECK_INT(logcap_dropped(lc), 0);
    logcap_free(lc);
    loop_free(&l);
    free(data);
    free(nums);
    conf_done(&c);
    tmp_end();
}

TEST(rotation_keeps_exactly_n_backups)
{
    rotation_case(20000, 32 * 1024, 5, false);
}

TEST(rotation_loses_no_line_under_a_fast_writer)
{
    /* ~760 KB in 32 KiB files: about 25 files, all kept. */
    rotation_case(20000, 32 * 1024, 40, true);
}

TEST(backups_zero_truncates_in_place)
{
    /* Only out.log: within maxbytes, whole lines, the newest ones, ending at 2000. */
    rotation_case(2000, 4096, 0, false);
}

/* A line longer than the line buffer is written in pieces, never lost, and rotation does
 * not cut through it. */
TEST(long_line_is_kept_whole)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    size_t big = 300000, n, total = 0;
    char *line = malloc(big + 64), *all, *got;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_logfile_maxbytes = 1000;
    c.stdout_logfile_backups = 3;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    strcpy(line, "before\n");
    memset(line + 7, 'x', big);
    strcpy(line + 7 + big, "\nafter\n");
    CHECK_INT(spawn_writes(&l, lc, line, NULL), 0);
    all = calloc(1, big + 64);
    for (int i = 3; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof(name), i ? "out.log.%d" : "out.log", i);
        got = slurp(tpath(name), &n);
        if (got != NULL) {
            memcpy(all + total, got, n);
            total += n;
        }
        free(got);
    }
    CHECK_INT(total, strlen(line));
    CHECK(memcmp(all, line, strlen(line)) == 0);
    /* The long line fills a file of its own. */
    got = slurp(tpath("out.log.1"), &n);
    CHECK_INT(n, big + 1);
    free(got);
    logcap_free(lc);
    loop_free(&l);
    free(all);
    free(line);
    conf_done(&c);
    tmp_end();
}

TEST(forced_rotation_and_logrotate_reopen)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    char *got;
    size_t n;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "a1\na2\n", NULL), 0);
    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(spawn_writes(&l, lc, "b1\n", NULL), 0);
    got = slurp(tpath("out.log.1"), &n);
    CHECK_STR(got, "a1\na2\n");
    free(got);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "b1\n");
    free(got);

    /* logrotate(8) moves the file away and signals: the file is reopened, not rotated. */
    CHECK_INT(rename(tpath("out.log"), tpath("out.log-20261125")), 0);
    CHECK_INT(spawn_writes(&l, lc, "c1\n", NULL), 0); /* still into the moved file */
    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(spawn_writes(&l, lc, "d1\n", NULL), 0);
    got = slurp(tpath("out.log-20261125"), &n);
    CHECK_STR(got, "b1\nc1\n");
    free(got);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "d1\n");
    free(got);
    got = slurp(tpath("out.log.1"), &n);
    CHECK_STR(got, "a1\na2\n");
    free(got);
    CHECK(!exists(tpath("out.log.2")));
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

/* A rename that fails stops the sequence where it is: output goes on into the current file,
 * and the next attempt resumes at the failed step. */
TEST(rotation_resumes_at_the_failed_step)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    char *got;
    size_t n;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_logfile_backups = 2;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "a\n", NULL), 0);
    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(spawn_writes(&l, lc, "b\n", NULL), 0);
    /* out.log.2 is a non-empty directory: renaming out.log.1 onto it fails. */
    CHECK_INT(mkdir(tpath("out.log.2"), 0755), 0);
    CHECK_INT(close(open(tpath("out.log.2/x"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
    CHECK_INT(logcap_rotate(lc), -1);
    CHECK(tend_log_has("cannot rotate"));
    CHECK_INT(spawn_writes(&l, lc, "c\n", NULL), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "b\nc\n"); /* nothing lost while the rotation is stuck */
    free(got);
    CHECK_INT(unlink(tpath("out.log.2/x")), 0);
    CHECK_INT(rmdir(tpath("out.log.2")), 0);
    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(spawn_writes(&l, lc, "d\n", NULL), 0);
    got = slurp(tpath("out.log.2"), &n);
    CHECK_STR(got, "a\n");
    free(got);
    got = slurp(tpath("out.log.1"), &n);
    CHECK_STR(got, "b\nc\n");
    free(got);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "d\n");
    free(got);
    CHECK(!exists(tpath("out.log.3")));
    CHECK(tend_log_has("out.log at last"));
    CHECK_INT(logcap_dropped(lc), 0);
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

TEST(timestamps_prefix_every_line_once)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    regex_t re;
    size_t n, big = 100000;
    char *got, *text = malloc(big + 32), *p;
    int lines = 0;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_timestamps = true;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    strcpy(text, "one\ntwo\n");
    memset(text + 8, 'x', big);
    strcpy(text + 8 + big, "\n");
    CHECK_INT(spawn_writes(&l, lc, text, NULL), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK_INT(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}"
                           "[+-][0-9]{2}:[0-9]{2} (one|two|x+)$",
                      REG_EXTENDED | REG_NOSUB),
              0);
    for (p = got; p != NULL && *p != '\0'; lines++) {
        char *nl = strchr(p, '\n');
        CHECK(nl != NULL);
        if (nl == NULL)
            break;
        *nl = '\0';
        if (regexec(&re, p, 0, NULL, 0) != 0) {
            fprintf(stderr, "  bad line: %.80s\n", p);
            CHECK(false);
        }
        if (lines == 2)
            CHECK_INT(strlen(p), 30 + big); /* one stamp, though written in pieces */
        p = nl + 1;
    }
    CHECK_INT(lines, 3);
    regfree(&re);
    free(got);
    free(text);
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

/* stdout_logfile=/dev/stdout (the container idiom): tend's own stdout, never rotated. */
TEST(dev_stdout_is_tends_stdout)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    char *got;
    size_t n;
    int saved = dup(STDOUT_FILENO);
    int fd;

    tmp_begin();
    quiet_log();
    fflush(stdout);
    fd = open(tpath("tend-stdout"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK_INT(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    conf_init(&c, NULL, NULL);
    c.stdout_logfile_kind = LOG_TARGET_PATH;
    c.stdout_logfile = strdup("/dev/stdout");
    c.stdout_logfile_maxbytes = 10; /* ignored: not a file tend may rename */
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "first line\nsecond line\n", NULL), 0);
    CHECK_INT(logcap_rotate(lc), 0);
    CHECK_INT(spawn_writes(&l, lc, "third line\n", NULL), 0);
    logcap_free(lc);
    loop_free(&l);
    CHECK_INT(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
    close(saved);
    got = slurp(tpath("tend-stdout"), &n);
    CHECK_STR(got, "first line\nsecond line\nthird line\n");
    free(got);
    CHECK(!exists(tpath("tend-stdout.1")));
    conf_done(&c);
    tmp_end();
}

TEST(redirect_stderr_shares_the_stdout_file)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    int out, err;
    char *got;
    size_t n;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", "err.log");
    c.redirect_stderr = true;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(logcap_child_fds(lc, &out, &err), 0);
    CHECK(out >= 0);
    CHECK_INT(err, out);
    logcap_after_spawn(lc);
    CHECK(logcap_path(lc, LOGCAP_STDERR) == NULL);
    CHECK_INT(spawn_writes(&l, lc, "to out\n", "to err\n"), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "to out\nto err\n");
    free(got);
    CHECK(!exists(tpath("err.log")));
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

TEST(none_means_dev_null_and_no_file)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    int out, err, entries = 0;
    DIR *d;
    struct dirent *de;

    tmp_begin();
    conf_init(&c, NULL, NULL);
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(logcap_child_fds(lc, &out, &err), 0);
    CHECK_INT(out, -1);
    CHECK_INT(err, -1);
    logcap_after_spawn(lc);
    CHECK(logcap_path(lc, LOGCAP_STDOUT) == NULL);
    CHECK(logcap_path(lc, LOGCAP_STDERR) == NULL);
    CHECK_INT(logcap_rotate(lc), 0);
    d = opendir(tmp);
    while ((de = readdir(d)) != NULL)
        entries += de->d_name[0] != '.';
    closedir(d);
    CHECK_INT(entries, 0);
    logcap_free(lc);
    /* NULL (logcap_new out of memory) behaves as NONE. */
    CHECK_INT(logcap_child_fds(NULL, &out, &err), 0);
    CHECK_INT(out, -1);
    CHECK_INT(err, -1);
    CHECK_INT(logcap_dropped(NULL), 0);
    logcap_free(NULL);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

TEST(symlinked_log_path_is_refused)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    size_t n;
    char *got;

    tmp_begin();
    quiet_log();
    CHECK_INT(close(open(tpath("target"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)), 0);
    CHECK_INT(symlink(tpath("target"), tpath("out.log")), 0);
    conf_init(&c, "out.log", NULL);
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "secret\n", NULL), 0);
    got = slurp(tpath("target"), &n);
    CHECK_INT(n, 0);
    free(got);
    CHECK_INT(logcap_dropped(lc), 7);
    CHECK(tend_log_has("out.log is a symbolic link (refused)"));
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

TEST(unsafe_log_directories_are_refused)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;

    tmp_begin();
    quiet_log();
    CHECK_INT(loop_init(&l), 0);

    /* World-writable without the sticky bit: anyone could plant the log's name. */
    CHECK_INT(mkdir(tpath("pub"), 0755), 0);
    CHECK_INT(chmod(tpath("pub"), 0777), 0);
    conf_init(&c, "pub/out.log", NULL);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "x\n", NULL), 0);
    CHECK(!exists(tpath("pub/out.log")));
    CHECK_INT(logcap_dropped(lc), 2);
    CHECK(tend_log_has("pub is writable by every user (refused)"));
    logcap_free(lc);

    /* With the sticky bit (like /tmp) it is fine. */
    CHECK_INT(chmod(tpath("pub"), 01777), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "y\n", NULL), 0);
    CHECK_INT(fsize(tpath("pub/out.log")), 2);
    logcap_free(lc);
    conf_done(&c);

    /* A directory that is a symlink. */
    CHECK_INT(mkdir(tpath("real"), 0755), 0);
    CHECK_INT(symlink(tpath("real"), tpath("link")), 0);
    conf_init(&c, "link/out.log", NULL);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "z\n", NULL), 0);
    CHECK(!exists(tpath("real/out.log")));
    CHECK(tend_log_has("link is a symbolic link (refused)"));
    logcap_free(lc);
    conf_done(&c);

    loop_free(&l);
    tmp_end();
}

TEST(auto_files_in_childlogdir)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    char dflt[PATH_MAX], *got;
    struct stat st;
    mode_t mask;
    size_t n;

    tmp_begin();
    quiet_log();
    conf_init(&c, NULL, NULL);
    c.name = "api_01";
    c.stdout_logfile_kind = LOG_TARGET_AUTO;
    c.stderr_logfile_kind = LOG_TARGET_AUTO;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, tpath("state/logs"));
    CHECK_STR(logcap_path(lc, LOGCAP_STDOUT), tpath("state/logs/api_01-stdout.log"));
    CHECK_STR(logcap_path(lc, LOGCAP_STDERR), tpath("state/logs/api_01-stderr.log"));
    CHECK_INT(spawn_writes(&l, lc, "o\n", "e\n"), 0);
    got = slurp(tpath("state/logs/api_01-stdout.log"), &n);
    CHECK_STR(got, "o\n");
    free(got);
    got = slurp(tpath("state/logs/api_01-stderr.log"), &n);
    CHECK_STR(got, "e\n");
    free(got);
    mask = umask(022);
    umask(mask);
    CHECK_INT(stat(tpath("state/logs"), &st), 0);
    CHECK_INT(st.st_mode & 0777, 0750 & ~mask);
    logcap_free(lc);

    CHECK_INT(logcap_default_childlogdir(dflt, sizeof(dflt)), 0);
    if (geteuid() == 0)
        CHECK_STR(dflt, "/var/log/tend");
    else
        CHECK(strstr(dflt, "/tend") != NULL);
    CHECK_INT(logcap_default_childlogdir(dflt, 4), -1);
    CHECK_INT(errno, ENAMETOOLONG);
    loop_free(&l);
    tmp_end();
}

static bool file_has_dropped_line(void *arg)
{
    size_t n;
    char *got = slurp(arg, &n);
    bool r = got != NULL && strstr(got, "[tend: dropped ") != NULL && got[n - 1] == '\n';

    free(got);
    return r;
}

/* RLIMIT_FSIZE makes tend's writes fail with EFBIG (SIGXFSZ ignored, as tend does). The
 * program is never blocked: it writes everything and exits while the file is stuck. What is
 * read meanwhile is dropped and counted, and once the limit is lifted the retry writes the
 * "dropped" line, then output flows again. */
TEST(full_file_drops_counts_and_resumes)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct rlimit old, lim;
    struct job job = {{-1, -1, -1}, {NULL, NULL, NULL}, {0, 0, 0}};
    char *first, *second, *got, *note;
    size_t first_len, second_len, n, count = 0;
    int *nums = calloc(6001, sizeof(int));
    unsigned long long lines = 0, bytes = 0;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_logfile_maxbytes = 0;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);

    first = make_lines(1, 100, &first_len);
    job.data[1] = first;
    job.len[1] = first_len;
    CHECK_INT(logcap_child_fds(lc, &job.fd[1], &job.fd[2]), 0);
    CHECK_INT(run_writer(&l, lc, &job), 0);
    logcap_after_spawn(lc);
    CHECK_INT(fsize(tpath("out.log")), (long long)first_len);

    CHECK_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = first_len + 1000;
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    second = make_lines(101, 6000, &second_len);
    job.data[1] = second;
    job.len[1] = second_len;
    CHECK_INT(logcap_child_fds(lc, &job.fd[1], &job.fd[2]), 0);
    CHECK_INT(run_writer(&l, lc, &job), 0); /* the writer finished: it was never blocked */
    logcap_after_spawn(lc);
    CHECK(logcap_dropped(lc) > 0);
    CHECK(fsize(tpath("out.log")) <= (long long)(first_len + 1000));
    CHECK(tend_log_has("File too large; its stdout is dropped (and counted)"));

    /* The limit goes; the retry timer writes the note. */
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    CHECK(run_until(&l, 0, file_has_dropped_line, tpath("out.log")));
    got = slurp(tpath("out.log"), &n);
    note = got ? strstr(got, "[tend: dropped ") : NULL;
    CHECK(note != NULL);
    if (note != NULL) {
        CHECK_INT(sscanf(note, "[tend: dropped %llu lines (%llu bytes)", &lines, &bytes), 2);
        CHECK_CONTAINS(note, "while the log could not be written: File too large]\n");
        /* Before the note: whole lines 1..K; the note accounts for K+1..6000 exactly. */
        CHECK(parse_lines(got, (size_t)(note - got), nums, &count, 6000));
        CHECK(count >= 100);
        CHECK_INT(nums[count - 1], (int)count);
        CHECK_INT(lines, 6000 - count);
        CHECK_INT(bytes, first_len + second_len - (size_t)(note - got));
        CHECK_INT(logcap_dropped(lc), bytes);
    }
    free(got);
    CHECK(tend_log_has("of its stdout while the log could not be written: File too large"));

    /* And output flows again, after the note. */
    CHECK_INT(spawn_writes(&l, lc, "back\n", NULL), 0);
    got = slurp(tpath("out.log"), &n);
    CHECK(got != NULL && strstr(got, "File too large]\nback\n") != NULL);
    free(got);

    logcap_free(lc);
    loop_free(&l);
    free(first);
    free(second);
    free(nums);
    conf_done(&c);
    signal(SIGXFSZ, old_xfsz);
    tmp_end();
}

/* EFBIG with rotation on: the retry starts a new file (the limit is per file), so output is
 * kept again even while the limit stays. */
TEST(file_size_limit_rotates_on_retry)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct rlimit old, lim;
    struct job job = {{-1, -1, -1}, {NULL, NULL, NULL}, {0, 0, 0}};
    char *data, *got;
    size_t len, n, count = 0;
    int nums[201];
    unsigned long long lines = 0;
    void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", NULL);
    c.stdout_logfile_maxbytes = 100000;
    c.stdout_logfile_backups = 3;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 3000;
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    data = make_lines(1, 200, &len);
    job.data[1] = data;
    job.len[1] = len;
    CHECK_INT(logcap_child_fds(lc, &job.fd[1], &job.fd[2]), 0);
    CHECK_INT(run_writer(&l, lc, &job), 0);
    logcap_after_spawn(lc);
    CHECK(run_until(&l, 0, file_has_dropped_line, tpath("out.log")));
    CHECK_INT(setrlimit(RLIMIT_FSIZE, &old), 0);
    got = slurp(tpath("out.log.1"), &n);
    CHECK(got != NULL && n <= 3000 && parse_lines(got, n, nums, &count, 200));
    CHECK(count > 0 && nums[count - 1] == (int)count);
    free(got);
    got = slurp(tpath("out.log"), &n);
    CHECK(got != NULL &&
          sscanf(got, "[tend: dropped %llu lines", &lines) == 1 && lines == 200 - count);
    CHECK_CONTAINS(got, "while the log could not be written: File too large]\n");
    free(got);
    logcap_free(lc);
    loop_free(&l);
    free(data);
    conf_done(&c);
    signal(SIGXFSZ, old_xfsz);
    tmp_end();
}

/* A deleted log directory (ENOENT on reopen) drops; recreating it lets the retry resume. */
TEST(deleted_directory_retries)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    char *got;
    size_t n;

    tmp_begin();
    quiet_log();
    CHECK_INT(mkdir(tpath("d"), 0755), 0);
    conf_init(&c, "d/out.log", NULL);
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "one\n", NULL), 0);
    CHECK_INT(unlink(tpath("d/out.log")), 0);
    CHECK_INT(rmdir(tpath("d")), 0);
    /* logrotate-style reopen while the directory is gone: fails, output drops */
    CHECK_INT(logcap_rotate(lc), -1);
    CHECK_INT(errno, ENOENT);
    CHECK_INT(spawn_writes(&l, lc, "lost\n", NULL), 0);
    CHECK_INT(logcap_dropped(lc), 5);
    CHECK_INT(mkdir(tpath("d"), 0755), 0);
    CHECK(run_until(&l, 0, file_has_dropped_line, tpath("d/out.log")));
    got = slurp(tpath("d/out.log"), &n);
    CHECK_STR(got, "[tend: dropped 1 lines (5 bytes) while the log could not be written: "
                   "No such file or directory]\n");
    free(got);
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    tmp_end();
}

TEST(syslog_gets_lines_with_the_name_as_ident)
{
    struct loop l;
    struct proc_conf c;
    struct logcap *lc;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char msg[512], *got;
    ssize_t r;
    size_t n;
    int sock;

    tmp_begin();
    quiet_log();
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tpath("log.sock"));
    sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_INT(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
    logcap_syslog_socket = sa.sun_path;
    conf_init(&c, NULL, "err.log");
    c.stdout_logfile_kind = LOG_TARGET_SYSLOG;
    c.stderr_syslog = true;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK(logcap_path(lc, LOGCAP_STDOUT) == NULL);
    CHECK_INT(spawn_writes(&l, lc, "hello\n", "bad\n"), 0);
    r = recv(sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    CHECK(r > 0);
    msg[r > 0 ? r : 0] = '\0';
    CHECK(strncmp(msg, "<30>", 4) == 0); /* LOG_DAEMON | LOG_INFO */
    CHECK_CONTAINS(msg, " web: hello");
    CHECK(r > 0 && msg[r - 1] == 'o');   /* no newline in the message */
    r = recv(sock, msg, sizeof(msg) - 1, MSG_DONTWAIT);
    CHECK(r > 0);
    msg[r > 0 ? r : 0] = '\0';
    CHECK(strncmp(msg, "<27>", 4) == 0); /* LOG_DAEMON | LOG_ERR */
    CHECK_CONTAINS(msg, " web: bad");
    got = slurp(tpath("err.log"), &n);
    CHECK_STR(got, "bad\n");
    free(got);
    logcap_free(lc);
    loop_free(&l);
    close(sock);
    logcap_syslog_socket = "/dev/log";
    conf_done(&c);
    tmp_end();
}

TEST(reconfigure_moves_to_the_new_path)
{
    struct loop l;
    struct proc_conf c, c2;
    struct logcap *lc;
    char *got;
    size_t n;
    int out, err;

    tmp_begin();
    quiet_log();
    conf_init(&c, "a.log", NULL);
    conf_init(&c2, "b.log", NULL);
    c2.stdout_timestamps = true;
    CHECK_INT(loop_init(&l), 0);
    lc = logcap_new(&l, &c, NULL);
    CHECK_INT(spawn_writes(&l, lc, "old\n", NULL), 0);
    logcap_reconfigure(lc, &c2, NULL);
    CHECK_STR(logcap_path(lc, LOGCAP_STDOUT), tpath("b.log"));
    CHECK_INT(spawn_writes(&l, lc, "new\n", NULL), 0);
    got = slurp(tpath("a.log"), &n);
    CHECK_STR(got, "old\n");
    free(got);
    got = slurp(tpath("b.log"), &n);
    CHECK(got != NULL && n == 34 && strcmp(got + 30, "new\n") == 0);
    free(got);
    /* To NONE: the pipe goes, the next instance gets /dev/null. */
    conf_done(&c);
    conf_init(&c, NULL, NULL);
    logcap_reconfigure(lc, &c, NULL);
    CHECK_INT(logcap_child_fds(lc, &out, &err), 0);
    CHECK_INT(out, -1);
    CHECK_INT(err, -1);
    logcap_after_spawn(lc);
    logcap_free(lc);
    loop_free(&l);
    conf_done(&c);
    conf_done(&c2);
    tmp_end();
}

struct freer {
    struct loop *loop;
    struct logcap *lc;
    struct timer t;
};

static void free_from_callback(struct timer *t, void *ctx)
{
    struct freer *f = ctx;

    (void)t;
    logcap_free(f->lc);
    loop_stop(f->loop);
}

/* logcap_free inside a callback, with output pending in its pipes: it is written, and
 * nothing is touched after the free (ASan watches). */
TEST(free_inside_a_callback_flushes)
{
    struct loop l;
    struct proc_conf c;
    struct freer f;
    int out, err;
    char *got;
    size_t n;

    tmp_begin();
    quiet_log();
    conf_init(&c, "out.log", "err.log");
    CHECK_INT(loop_init(&l), 0);
    f.loop = &l;
    f.lc = logcap_new(&l, &c, NULL);
    CHECK_INT(logcap_child_fds(f.lc, &out, &err), 0);
    CHECK_INT(write_all(out, "pending\n", 8), 0);
    CHECK_INT(write_all(err, "also\n", 5), 0);
    logcap_after_spawn(f.lc);
    timer_init(&f.t, free_from_callback, &f);
    loop_timer_arm(&l, &f.t, timer_now_ns());
    loop_run(&l);
    loop_free(&l);
    got = slurp(tpath("out.log"), &n);
    CHECK_STR(got, "pending\n");
    free(got);
    got = slurp(tpath("err.log"), &n);
    CHECK_STR(got, "also\n");
    free(got);
    conf_done(&c);
    tmp_end();
}

HARNESS_MAIN()
