/* Unit tests of the CLI client: status table and JSON output, uptime formatting, command-line
 * validation (signal names), socket path resolution, and real round trips against a canned
 * server in a forked child on a unix socket in a fresh temp directory. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "client.h"
#include "exitcode.h"

/* ---- Helpers ------------------------------------------------------------------------------- */

struct captured {
    char *out, *err;
    size_t out_len, err_len;
};

static void captured_free(struct captured *c)
{
    free(c->out);
    free(c->err);
}

/* Runs client_run on a NULL-terminated word list, capturing its output. */
static int run_words(struct captured *c, char **words)
{
    int argc = 0;
    while (words[argc] != NULL)
        argc++;
    FILE *out = open_memstream(&c->out, &c->out_len);
    FILE *err = open_memstream(&c->err, &c->err_len);
    int rc = client_run(argc, words, out, err);
    fclose(out);
    fclose(err);
    return rc;
}

#define RUN(c, ...) run_words(c, (char *[]){__VA_ARGS__, NULL})

static char *format_status(const struct proto_proc *p, size_t n, bool json)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    client_format_status(f, p, n, json);
    fclose(f);
    return buf;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    if (tmpdir[0] == '\0') {
        strcpy(tmpdir, "/tmp/tend-test-client-XXXXXX");
        if (mkdtemp(tmpdir) == NULL) {
            perror("mkdtemp");
            abort();
        }
    }
}

static void tmp_path(char *buf, size_t len, const char *name)
{
    make_tmpdir();
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static int listen_at(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    unlink(path);
    if (fd == -1 || bind(fd, (struct sockaddr *)&addr, sizeof addr) == -1 || listen(fd, 4) == -1) {
        perror("listen_at");
        abort();
    }
    return fd;
}

/* A canned supervisor in a child: accepts one connection, checks that the request is
 * exactly `expect` (exit 10 otherwise), sends `reply` in two pieces (a line cut in the
 * middle), shuts down its sending side, then waits for the client to hang up. With expect
 * NULL it replies at once and closes without reading, like a refusing supervisor. Exit 0
 * means all went as expected. */
static pid_t start_server(const char *path, const char *expect, const char *reply)
{
    int lfd = listen_at(path);
    pid_t pid = fork();

    if (pid == -1) {
        perror("fork");
        abort();
    }
    if (pid > 0) {
        close(lfd);
        return pid;
    }
    alarm(20); /* a stuck test dies instead of hanging */
    int fd = accept(lfd, NULL, NULL);
    if (fd == -1)
        _exit(11);
    if (expect == NULL) {
        /* A refusing supervisor: answers at once and closes without reading. */
        if (write(fd, reply, strlen(reply)) != (ssize_t)strlen(reply))
            _exit(13);
        _exit(0);
    }
    char req[70000];
    size_t got = 0;
    while (got < sizeof req - 1 && (got == 0 || req[got - 1] != '\n')) {
        ssize_t n = read(fd, req + got, sizeof req - 1 - got);
        if (n <= 0)
            _exit(12);
        got += (size_t)n;
    }
    req[got] = '\0';
    if (strcmp(req, expect) != 0) {
        fprintf(stderr, "  server got '%s', expected '%s'\n", req, expect);
        _exit(10);
    }
    size_t len = strlen(reply), half = len / 2;
    if (write(fd, reply, half) != (ssize_t)half)
        _exit(13);
    usleep(10000); /* lets the client see the first half alone; correctness does not rely on it */
    if (write(fd, reply + half, len - half) != (ssize_t)(len - half))
        _exit(13);
    /* Half-close: a reply without its final line then ends in end of file for the client. */
    shutdown(fd, SHUT_WR);
    char c;
    while (read(fd, &c, 1) > 0)
        ;
    _exit(0);
}

static int wait_server(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) == -1)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void clear_env(void)
{
    unsetenv("TEND_SOCKET");
}

/* ---- Formatting ---------------------------------------------------------------------------- */

TEST(uptime_format)
{
    char buf[48];
    CHECK_STR(client_format_uptime(0, buf, sizeof buf), "0:00:00");
    CHECK_STR(client_format_uptime(65, buf, sizeof buf), "0:01:05");
    CHECK_STR(client_format_uptime(3600, buf, sizeof buf), "1:00:00");
    CHECK_STR(client_format_uptime(86399, buf, sizeof buf), "23:59:59");
    CHECK_STR(client_format_uptime(86400, buf, sizeof buf), "1d 0:00:00");
    CHECK_STR(client_format_uptime(3 * 86400 + 4 * 3600 + 5 * 60 + 6, buf, sizeof buf),
              "3d 4:05:06");
    CHECK_STR(client_format_uptime(1000 * 86400ULL + 59, buf, sizeof buf), "1000d 0:00:59");
}

static const struct proto_proc sample[] = {
    {.name = "web:web_00", .group = "web", .state = "RUNNING", .pid = 1234, .uptime_s = 65,
     .restarts = 0, .exit = "", .reason = "", .health = "", .dropped_bytes = 0},
    {.name = "db", .group = "db", .state = "FATAL", .pid = 0, .uptime_s = 0, .restarts = 3,
     .exit = "exit 127", .reason = "cannot execute: No such file or directory", .health = "",
     .dropped_bytes = 0},
    {.name = "api", .group = "api", .state = "RUNNING", .pid = 98765, .uptime_s = 270306,
     .restarts = 12, .exit = "signal 9 (SIGKILL)", .reason = "", .health = "",
     .dropped_bytes = 5},
};

TEST(status_table_basic_columns)
{
    char *s = format_status(sample, 1, false);
    CHECK_STR(s, "NAME        STATE    PID   UPTIME   RESTARTS\n"
                 "web:web_00  RUNNING  1234  0:01:05  0\n");
    free(s);

    s = format_status(sample, 0, false);
    CHECK_STR(s, "");
    free(s);
}

TEST(status_table_exit_reason_and_health)
{
    char *s = format_status(sample, 3, false);
    CHECK_STR(s,
              "NAME        STATE    PID    UPTIME      RESTARTS  EXIT/REASON\n"
              "web:web_00  RUNNING  1234   0:01:05     0\n"
              "db          FATAL    -      -           3         cannot execute: No such file "
              "or directory (exit 127)\n"
              "api         RUNNING  98765  3d 3:05:06  12        signal 9 (SIGKILL)\n");
    free(s);

    struct proto_proc p[2] = {sample[0], sample[1]};
    p[0].health = "ok";
    p[1].health = "failing";
    p[1].exit = "";
    p[1].reason = "";
    s = format_status(p, 2, false);
    CHECK_STR(s, "NAME        STATE    PID   UPTIME   RESTARTS  HEALTH\n"
                 "web:web_00  RUNNING  1234  0:01:05  0         ok\n"
                 "db          FATAL    -     -        3         failing\n");
    free(s);
}

/* Usage columns appear when some row has usage (tend uses cgroups), "-" in the others. */
TEST(status_table_usage_columns)
{
    struct proto_proc p[2] = {sample[0], sample[1]};
    p[0].has_memory = p[0].has_cpu = p[0].has_tasks = true;
    p[0].memory_bytes = 1536 * 1024;
    p[0].cpu_usec = 1250000;
    p[0].tasks = 3;
    char *s = format_status(p, 2, false);
    CHECK_STR(s,
              "NAME        STATE    PID   UPTIME   RESTARTS  MEM   CPU    TASKS  EXIT/REASON\n"
              "web:web_00  RUNNING  1234  0:01:05  0         1.5M  1.25s  3\n"
              "db          FATAL    -     -        3         -     -      -      cannot execute: "
              "No such file or directory (exit 127)\n");
    free(s);
    s = format_status(p, 1, true);
    CHECK_STR(s, "[\n  {\"name\": \"web:web_00\", \"group\": \"web\", \"state\": \"RUNNING\", "
                 "\"pid\": 1234, \"uptime\": 65, \"restarts\": 0, \"exit\": \"\", \"reason\": "
                 "\"\", \"health\": \"\", \"dropped\": 0, "
                 "\"memory\": 1572864, \"cpu\": 1250000, \"tasks\": 3}\n]\n");
    free(s);
}

/* The usage cells are formatted without printf; they must read as printf's would: "%.1f"
 * of the exact quotient for memory (ties to even: 1280 B is 1.25K, shown "1.2K"), "%.2f"
 * seconds for CPU (a tie, which printf may round either way through the binary double, is
 * rounded up: checked apart). */
TEST(status_table_usage_figures_read_as_printf)
{
    static const unsigned long long fixed[] = {
        0, 1, 1023, 1024, 1075, 1280, 1792, 1536 * 1024, 1048575, 1048576, 1073741823,
        1099511627776ULL * 1023, 1125899906842624ULL * 7, 1152921504606846976ULL,
        18446744073709551615ULL,
    };
    unsigned long long x = 88172645463325252ULL;
    for (int i = 0; i < 4000; i++) {
        unsigned long long n;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            n = fixed[i];
        } else {
            x ^= x << 13; /* xorshift64: values of every magnitude */
            x ^= x >> 7;
            x ^= x << 17;
            n = x >> (x % 61);
        }
        struct proto_proc p = sample[0];
        p.has_memory = p.has_cpu = true;
        p.memory_bytes = n;
        p.cpu_usec = n & ((1ULL << 46) - 1); /* 2 years: exact enough as a double */
        if (p.cpu_usec % 10000 == 5000)
            p.cpu_usec++;
        char want[128], got[128], mem[48], cpu[48], m[48], c[48];
        double v = (double)n;
        int u = 0;
        while (v >= 1024 && u < 5) {
            v /= 1024;
            u++;
        }
        if (u == 0)
            snprintf(mem, sizeof mem, "%lluB", n);
        else
            snprintf(mem, sizeof mem, "%.1f%c", v, "BKMGTP"[u]);
        snprintf(cpu, sizeof cpu, "%.2fs", (double)p.cpu_usec / 1e6);
        snprintf(want, sizeof want, "%s %s", mem, cpu);
        char *s = format_status(&p, 1, false);
        /* The header line, then the row's name, state, pid, uptime and restarts. */
        CHECK(sscanf(s, "%*[^\n] %*s %*s %*s %*s %*s %47s %47s", m, c) == 2);
        snprintf(got, sizeof got, "%s %s", m, c);
        free(s);
        if (strcmp(got, want) != 0) {
            CHECK_STR(got, want);
            break;
        }
    }
    struct proto_proc p = sample[0];
    p.has_cpu = true;
    p.cpu_usec = 15000; /* 0.015 s: the double is 0.01499..., printf says 0.01 */
    char *s = format_status(&p, 1, false);
    CHECK(strstr(s, " 0.02s\n") != NULL);
    free(s);
}

TEST(status_table_utf8_and_control_bytes)
{
    struct proto_proc p[2] = {sample[0], sample[0]};
    p[0].name = "caf\xc3\xa9";  /* 4 columns, 5 bytes */
    p[1].name = "a\tb\x1b[2J";  /* control bytes shown as '?' */
    char *s = format_status(p, 2, false);
    CHECK_STR(s, "NAME     STATE    PID   UPTIME   RESTARTS\n"
                 "caf\xc3\xa9     RUNNING  1234  0:01:05  0\n"
                 "a?b?[2J  RUNNING  1234  0:01:05  0\n");
    free(s);
}

TEST(status_json)
{
    char *s = format_status(sample, 2, true);
    CHECK_STR(s, "[\n"
                 "  {\"name\": \"web:web_00\", \"group\": \"web\", \"state\": \"RUNNING\", "
                 "\"pid\": 1234, \"uptime\": 65, \"restarts\": 0, \"exit\": \"\", "
                 "\"reason\": \"\", \"health\": \"\", \"dropped\": 0},\n"
                 "  {\"name\": \"db\", \"group\": \"db\", \"state\": \"FATAL\", \"pid\": 0, "
                 "\"uptime\": 0, \"restarts\": 3, \"exit\": \"exit 127\", \"reason\": "
                 "\"cannot execute: No such file or directory\", \"health\": \"\", "
                 "\"dropped\": 0}\n"
                 "]\n");
    free(s);

    s = format_status(sample, 0, true);
    CHECK_STR(s, "[]\n");
    free(s);
}

TEST(status_json_escaping)
{
    struct proto_proc p = sample[0];
    p.name = "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f";
    p.group = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"; /* valid UTF-8 passes */
    p.state = "\xff|\xc0\x80|\xed\xa0\x80|\xe2\x9c|\xf4\x90\x80\x80"; /* invalid: U+FFFD */
    p.health = NULL;
    char *s = format_status(&p, 1, true);
    CHECK_CONTAINS(s, "\"name\": \"q\\\"b\\\\s/\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f\"");
    CHECK_CONTAINS(s, "\"group\": \"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"");
    CHECK_CONTAINS(s, "\"state\": \"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|"
                      "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\"");
    CHECK_CONTAINS(s, "\"health\": \"\"");
    free(s);
}

/* ---- Command line -------------------------------------------------------------------------- */

TEST(signal_names_are_validated_before_connecting)
{
    struct captured c = {0};
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "absent.sock");
    CHECK_INT(RUN(&c, "signal", "BOGUS", "web", "-s", sock), EXIT_USAGE);
    CHECK_STR(c.err, "tend: unknown signal 'BOGUS' (a name as in kill -l, or a number)\n");
    captured_free(&c);
    memset(&c, 0, sizeof c);
    CHECK_INT(RUN(&c, "signal", "0", "web", "-s", sock), EXIT_USAGE);
    captured_free(&c);

    /* Valid forms get as far as the (missing) socket: exit 4, not 2. */
    static const char *const good[] = {"TERM", "SIGTERM", "sigterm", "term", "9", "HUP",
                                       "SIGUSR1", "RTMIN+1", "-KILL", "-9", "-SIGINT"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(&c, 0, sizeof c);
        int rc = RUN(&c, "-s", sock, "signal", (char *)good[i], "web");
        if (rc != EXIT_NO_SUPERVISOR)
            fprintf(stderr, "  signal %s: %s", good[i], c.err);
        CHECK_INT(rc, EXIT_NO_SUPERVISOR);
        captured_free(&c);
    }
}

TEST(usage_errors_exit_2)
{
    struct captured c = {0};
    static char *const cases[][5] = {
        {"start", NULL},
        {"stop", "--no-wait", NULL},
        {"signal", NULL},
        {"signal", "TERM", NULL},
        {"reload", "x", NULL},
        {"shutdown", "x", NULL},
        {"logrotate", "x", NULL},
        {"pid", "a", "b", NULL},
        {"start", "--json", "web", NULL},
        {"status", "--no-wait", NULL},
        {"status", "--bogus", NULL},
        {"frobnicate", NULL},
        {"-s", NULL},
        {"status", "-c", NULL},
        {"start", "", NULL},
        {"--json", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memset(&c, 0, sizeof c);
        int rc = run_words(&c, (char **)cases[i]);
        if (rc != EXIT_USAGE)
            fprintf(stderr, "  case %zu (%s): rc %d\n", i, cases[i][0], rc);
        CHECK_INT(rc, EXIT_USAGE);
        CHECK(c.err_len > 0 && strncmp(c.err, "tend: ", 6) == 0);
        CHECK_INT(c.out_len, 0);
        captured_free(&c);
    }
    memset(&c, 0, sizeof c);
    CHECK_INT(RUN(&c, "start"), EXIT_USAGE);
    CHECK_STR(c.err, "tend: start needs a NAME, GROUP:* or all (see tend --help)\n");
    captured_free(&c);
}

TEST(help_per_verb)
{
    static const char *const verbs[] = {"status", "start", "stop", "restart", "signal",
                                        "reload", "shutdown", "pid", "logrotate"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        struct captured c = {0};
        char want[64];
        CHECK_INT(RUN(&c, (char *)verbs[i], "--help"), EXIT_OK);
        snprintf(want, sizeof want, "Usage: tend %s", verbs[i]);
        CHECK(c.out != NULL && strncmp(c.out, want, strlen(want)) == 0);
        CHECK_CONTAINS(c.out, "-s, --socket PATH");
        CHECK_INT(c.err_len, 0);
        CHECK(client_is_verb(verbs[i]));
        captured_free(&c);
    }
    struct captured c = {0};
    CHECK_INT(RUN(&c, "-h"), EXIT_OK);
    CHECK_CONTAINS(c.out, "Usage: tend [-c FILE] [-s PATH] COMMAND");
    captured_free(&c);
    CHECK(client_is_verb("logs"));
    CHECK(!client_is_verb("daemon"));
}

/* ---- Socket path --------------------------------------------------------------------------- */

TEST(socket_path_resolution)
{
    char buf[256], why[256], conf[128];

    clear_env();
    CHECK_STR(client_socket_path("/x/opt.sock", NULL, buf, sizeof buf, why, sizeof why),
              "/x/opt.sock");
    setenv("TEND_SOCKET", "/x/env.sock", 1);
    CHECK_STR(client_socket_path(NULL, NULL, buf, sizeof buf, why, sizeof why), "/x/env.sock");
    /* -s beats the environment, the environment beats -c. */
    CHECK_STR(client_socket_path("/x/opt.sock", NULL, buf, sizeof buf, why, sizeof why),
              "/x/opt.sock");
    tmp_path(conf, sizeof conf, "a.conf");
    write_file(conf, "[tend]\nsocket = /x/conf.sock\n");
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), "/x/env.sock");
    setenv("TEND_SOCKET", "", 1); /* empty counts as unset */
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), "/x/conf.sock");
    clear_env();

    /* [tend] socket= beats [unix_http_server] file= wherever each appears. */
    write_file(conf, "; comment\n[unix_http_server]\nfile=/x/uhs.sock ; inline comment\n"
                     "chmod=0700\n\n[program:x]\nsocket=/x/not-this\ncommand=/bin/true\n"
                     "[tend]\nlogfile=/x/log\nSOCKET : /x/tend.sock\n");
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), "/x/tend.sock");
    write_file(conf, "[supervisord]\nlogfile=/x/log\n[unix_http_server]\n"
                     "file=%(here)s/sup;er.sock\n");
    char want[256];
    snprintf(want, sizeof want, "%s/sup;er.sock", tmpdir);
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), want);
    setenv("TEND_TEST_RUNDIR", "/run/t", 1);
    write_file(conf, "[supervisord]\nsocket=%(ENV_TEND_TEST_RUNDIR)s/s.sock\n"
                     "[unix_http_server]\nfile=/x/uhs.sock\n");
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), "/run/t/s.sock");
    unsetenv("TEND_TEST_RUNDIR");

    /* The socket of a config whose programs have errors comes from tend's parser all the
     * same (only the sections before the programs count): here from an include, with its
     * own %(here)s, which the plain scan of the main file could not find. */
    char sub[160], inc[192];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    CHECK(mkdir(sub, 0700) == 0 || errno == EEXIST);
    snprintf(inc, sizeof inc, "%s/s.ini", sub);
    write_file(inc, "[unix_http_server]\nfile=%(here)s/inc.sock\n");
    write_file(conf, "[include]\nfiles = sub/*.ini\n[program:bad]\ncommand=/bin/true\n"
                     "autorestart=sometimes\nno_such_key=1\n");
    snprintf(want, sizeof want, "%s/inc.sock", sub);
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), want);
    CHECK(unlink(inc) == 0 && rmdir(sub) == 0);

    /* A config without a socket key gives the default. */
    char def[256];
    write_file(conf, "[program:x]\ncommand=/bin/true\n");
    CHECK(client_default_socket(def, sizeof def) != NULL);
    CHECK_STR(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why), def);

    /* An unreadable config is an error naming it. */
    tmp_path(conf, sizeof conf, "missing.conf");
    CHECK(client_socket_path(NULL, conf, buf, sizeof buf, why, sizeof why) == NULL);
    CHECK_CONTAINS(why, "cannot read");
    CHECK_CONTAINS(why, "missing.conf: No such file or directory");

    /* Too long for the buffer. */
    CHECK(client_socket_path("/a/much/too/long/path", NULL, buf, 8, why, sizeof why) == NULL);
    CHECK_CONTAINS(why, "too long");
}

/* The default for euid `uid`, computed in a child that became that user. */
static int default_socket_as(uid_t uid, const char *xdg, const char *want)
{
    pid_t pid = fork();
    if (pid == 0) {
        char buf[256];
        if (uid != geteuid() && setresuid(uid, uid, uid) == -1)
            _exit(2);
        if (xdg != NULL)
            setenv("XDG_RUNTIME_DIR", xdg, 1);
        else
            unsetenv("XDG_RUNTIME_DIR");
        const char *got = client_default_socket(buf, sizeof buf);
        if (got == NULL || strcmp(got, want) != 0) {
            fprintf(stderr, "  default socket: got %s, expected %s\n", got ? got : "NULL", want);
            _exit(1);
        }
        _exit(0);
    }
    return wait_server(pid);
}

TEST(default_socket)
{
    char buf[256], want[64];

    if (geteuid() == 0) {
        CHECK_STR(client_default_socket(buf, sizeof buf), "/run/tend/tend.sock");
        CHECK_INT(default_socket_as(0, "/run/user/0", "/run/tend/tend.sock"), 0);
        CHECK_INT(default_socket_as(65534, "/run/user/65534", "/run/user/65534/tend/tend.sock"),
                  0);
        CHECK_INT(default_socket_as(65534, NULL, "/tmp/tend-65534/tend.sock"), 0);
        CHECK_INT(default_socket_as(65534, "relative", "/tmp/tend-65534/tend.sock"), 0);
    } else {
        uid_t me = geteuid();
        snprintf(want, sizeof want, "/tmp/tend-%lu/tend.sock", (unsigned long)me);
        CHECK_INT(default_socket_as(me, NULL, want), 0);
        CHECK_INT(default_socket_as(me, "/run/user/x", "/run/user/x/tend/tend.sock"), 0);
    }
    errno = 0;
    CHECK(client_default_socket(buf, 10) == NULL);
    CHECK_INT(errno, ENAMETOOLONG);
}

/* ---- Round trips --------------------------------------------------------------------------- */

TEST(status_round_trip)
{
    struct captured c = {0};
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "s1.sock");
    pid_t srv = start_server(sock, "tend/1 status\n",
                             "proc name=web:web_00 group=web state=RUNNING pid=1234 uptime=65 "
                             "restarts=0 exit= reason= health= dropped=0 future=1\n"
                             "proc name=db group=db state=STOPPED pid=0 uptime=0 restarts=0 "
                             "exit=exit%200 reason= health= dropped=0\n"
                             "ok\n");
    CHECK_INT(RUN(&c, "status", "-s", sock), EXIT_NOT_RUNNING);
    CHECK_STR(c.out, "NAME        STATE    PID   UPTIME   RESTARTS  EXIT/REASON\n"
                     "web:web_00  RUNNING  1234  0:01:05  0\n"
                     "db          STOPPED  -     -        0         exit 0\n");
    CHECK_STR(c.err, "");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    /* All RUNNING: exit 0; --json; names sent encoded; an unknown line kind is skipped. */
    memset(&c, 0, sizeof c);
    setenv("TEND_SOCKET", sock, 1);
    srv = start_server(sock, "tend/1 status web:* a%20b\n",
                       "future-kind whatever\n"
                       "proc name=web:web_00 group=web state=RUNNING pid=1234 uptime=65 "
                       "restarts=0 exit= reason= health=ok dropped=0\n"
                       "ok\n");
    CHECK_INT(RUN(&c, "--json", "status", "web:*", "a b"), EXIT_OK);
    CHECK_STR(c.out, "[\n  {\"name\": \"web:web_00\", \"group\": \"web\", \"state\": "
                     "\"RUNNING\", \"pid\": 1234, \"uptime\": 65, \"restarts\": 0, \"exit\": "
                     "\"\", \"reason\": \"\", \"health\": \"ok\", "
                     "\"dropped\": 0}\n]\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);
    clear_env();
}

TEST(start_round_trip)
{
    struct captured c = {0};
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "s2.sock");
    pid_t srv = start_server(sock, "tend/1 start --no-wait -- web:* -x\n",
                             "msg web_00:%20started\nmsg -x:%20started\nok\n");
    CHECK_INT(RUN(&c, "start", "--no-wait", "web:*", "-s", sock, "--", "-x"), EXIT_OK);
    CHECK_STR(c.out, "web_00: started\n-x: started\n");
    CHECK_STR(c.err, "");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 restart web_00 web_01\n",
                       "msg web_00:%20started\n"
                       "msg web_01:%20FATAL:%20cannot%20execute:%20No%20such%20file%20or%20"
                       "directory\n"
                       "err failed 1%20of%202%20processes%20failed\n");
    CHECK_INT(RUN(&c, "-s", sock, "restart", "web_00", "web_01"), EXIT_FAIL);
    CHECK_STR(c.out, "web_00: started\n"
                     "web_01: FATAL: cannot execute: No such file or directory\n");
    CHECK_STR(c.err, "tend: 1 of 2 processes failed\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);
}

TEST(other_verbs_round_trip)
{
    struct captured c = {0};
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "s3.sock");
    /* The signal goes out under its canonical name. */
    pid_t srv = start_server(sock, "tend/1 signal HUP web\n", "ok\n");
    CHECK_INT(RUN(&c, "-s", sock, "signal", "sighup", "web"), EXIT_OK);
    CHECK_STR(c.out, "");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 pid\n", "msg 4242\nok\n");
    CHECK_INT(RUN(&c, "-s", sock, "pid"), EXIT_OK);
    CHECK_STR(c.out, "4242\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 pid nosuch\n", "err no-such-process no%20process%20nosuch\n");
    CHECK_INT(RUN(&c, "-s", sock, "pid", "nosuch"), EXIT_FAIL);
    CHECK_STR(c.err, "tend: no process nosuch\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 reload\n",
                       "msg /etc/tend.conf:3:%20unknown%20key%20'comand'\nerr failed\n");
    CHECK_INT(RUN(&c, "-s", sock, "reload"), EXIT_FAIL);
    CHECK_STR(c.out, "/etc/tend.conf:3: unknown key 'comand'\n");
    CHECK_STR(c.err, "tend: failed\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);
}

TEST(broken_replies)
{
    struct captured c = {0};
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "s4.sock");
    /* The connection ends before the final line. */
    pid_t srv = start_server(sock, "tend/1 stop all\n", "msg web:%20stopped\n");
    CHECK_INT(RUN(&c, "-s", sock, "stop", "all"), EXIT_FAIL);
    CHECK_STR(c.out, "web: stopped\n");
    CHECK_STR(c.err, "tend: the supervisor closed the connection before the reply ended\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 status\n", "proc name=x\nok\n");
    CHECK_INT(RUN(&c, "-s", sock, "status"), EXIT_FAIL);
    CHECK_STR(c.err, "tend: malformed reply from the supervisor: 'proc name=x'\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);

    memset(&c, 0, sizeof c);
    srv = start_server(sock, "tend/1 status\n", "err version unsupported%20protocol%20version\n");
    CHECK_INT(RUN(&c, "-s", sock, "status"), EXIT_FAIL);
    CHECK_STR(c.err, "tend: unsupported protocol version\n");
    CHECK_INT(wait_server(srv), 0);
    captured_free(&c);
}

TEST(refused_before_the_request)
{
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "s5.sock");
    /* Whether the request goes out before or after the close, the err line is what counts. */
    for (int i = 0; i < 20; i++) {
        struct captured c = {0};
        pid_t srv = start_server(sock, NULL,
                                 "err denied permission%20denied:%20uid%201000%20may%20not\n");
        CHECK_INT(RUN(&c, "-s", sock, "status"), EXIT_FAIL);
        CHECK_STR(c.err, "tend: permission denied: uid 1000 may not\n");
        CHECK_INT(wait_server(srv), 0);
        captured_free(&c);
    }
}

TEST(no_supervisor)
{
    struct captured c = {0};
    char sock[96], want[256];

    clear_env();
    tmp_path(sock, sizeof sock, "none.sock");
    unlink(sock);
    CHECK_INT(RUN(&c, "status", "-s", sock), EXIT_NO_SUPERVISOR);
    snprintf(want, sizeof want,
             "tend: no supervisor running (socket (-s) %s: No such file or directory)\n", sock);
    CHECK_STR(c.err, want);
    CHECK_STR(c.out, "");
    captured_free(&c);

    /* A stale socket file nobody listens on. */
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
    CHECK_INT(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    close(fd);
    memset(&c, 0, sizeof c);
    setenv("TEND_SOCKET", sock, 1);
    CHECK_INT(RUN(&c, "start", "all"), EXIT_NO_SUPERVISOR);
    snprintf(want, sizeof want,
             "tend: no supervisor running (socket ($TEND_SOCKET) %s: Connection refused)\n", sock);
    CHECK_STR(c.err, want);
    captured_free(&c);
    clear_env();
    unlink(sock);
}

TEST(permission_denied)
{
    char sock[96];

    clear_env();
    tmp_path(sock, sizeof sock, "perm.sock");
    int lfd = listen_at(sock);
    CHECK_INT(chmod(sock, 0), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct captured c = {0};
        char want[256];
        /* Root passes permission checks: become nobody to meet one. */
        if (geteuid() == 0 && setresuid(65534, 65534, 65534) == -1)
            _exit(2);
        int rc = RUN(&c, "-s", sock, "status");
        snprintf(want, sizeof want, "tend: cannot reach the supervisor: permission denied "
                 "(socket (-s) %s: Permission denied)\n", sock);
        if (rc != EXIT_FAIL || strcmp(c.err, want) != 0) {
            fprintf(stderr, "  rc %d, err '%s'\n", rc, c.err);
            _exit(1);
        }
        _exit(0);
    }
    CHECK_INT(wait_server(pid), 0);
    close(lfd);
    unlink(sock);
}

/* Last: removes the temp directory the other cases used. */
TEST(zz_cleanup)
{
    if (tmpdir[0] != '\0') {
        static const char *const names[] = {"a.conf", "s1.sock", "s2.sock", "s3.sock",
                                            "s4.sock", "s5.sock", "none.sock", "perm.sock"};
        char p[128];
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            tmp_path(p, sizeof p, names[i]);
            unlink(p);
        }
        CHECK_INT(rmdir(tmpdir), 0);
    }
}

HARNESS_MAIN()
