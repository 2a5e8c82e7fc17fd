/* daeml: launch PROGRAM as a daemon and return only once its exec has succeeded (exit 0)
 * or failed (non-zero, one line naming PROGRAM and the errno text). The daemon has no
 * controlling terminal, is not a session leader, is reparented away from the caller, has
 * cwd /, umask 022, stdio on /dev/null, no other descriptor, default signal dispositions
 * and an empty signal mask, unless options say otherwise. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <fcntl.h>

#include "daeml.h"
#include "exitcode.h"
#include "pidfile.h"
#include "spawn.h"
#include "util/env.h"
#include "util/fd.h"

extern char **environ;

struct daeml_opts {
    const char *pidfile;
    const char *user;   /* USER[:GROUP] */
    const char *group;  /* --group overrides the group part */
    const char *dir;
    int umask;
    const char *stdout_path;
    const char *stderr_path;
    const char *syslog_tag;
    char **env;         /* K=V overrides, in order */
    int nenv;
    bool no_close;
    bool foreground;
};

static const char usage[] =
    "Usage: daeml [OPTIONS] PROGRAM [ARGS...]\n"
    "Launch PROGRAM as a daemon; return once its exec has succeeded.\n"
    "\n"
    "  --pidfile FILE      write the daemon's pid to FILE (atomically); refuse to launch\n"
    "                      while the process named in FILE is alive\n"
    "  --user USER[:GROUP] run as USER (supplementary groups, then gid, then uid; root only)\n"
    "  --group GROUP       run with GROUP as primary group (with --user)\n"
    "  --chdir DIR         working directory (default /)\n"
    "  --umask MODE        octal umask (default 022)\n"
    "  --stdout FILE       append stdout to FILE (created 0640; default /dev/null)\n"
    "  --stderr FILE       append stderr to FILE (created 0640; default /dev/null)\n"
    "  --syslog TAG        send stdout and stderr lines to syslog with TAG\n"
    "  --env K=V           set an environment variable (repeatable)\n"
    "  --no-close          keep the caller's stdin/stdout/stderr (other fds still closed)\n"
    "  --foreground        do everything but the forks: the process becomes PROGRAM\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 launched; 1 failure; 2 usage; 126 PROGRAM not executable;\n"
    "127 PROGRAM not found.\n";

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("daeml: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see daeml --help)\n", stderr);
    return EXIT_USAGE;
}

static int exec_exit_code(enum spawn_stage stage, int err)
{
    if (stage != STAGE_EXEC)
        return EXIT_FAIL;
    if (err == ENOENT || err == ENOTDIR)
        return EXIT_NOT_FOUND;
    return EXIT_CANNOT_EXEC;
}

static int report_failure(const char *program, const struct spawn_spec *spec,
                          const struct spawn_error *e)
{
    if (e->stage == STAGE_CHDIR)
        fprintf(stderr, "daeml: %s: cannot change directory to %s: %s\n", program,
                spec->dir, strerror(e->err));
    else
        fprintf(stderr, "daeml: %s: cannot %s: %s\n", program, spawn_stage_name(e->stage),
                strerror(e->err));
    return exec_exit_code(e->stage, e->err);
}

/* daeml's options: the parser's table, also listed by daeml_each_option. */
enum { O_PIDFILE = 256, O_USER, O_GROUP, O_CHDIR, O_UMASK, O_STDOUT, O_STDERR, O_SYSLOG,
       O_ENV, O_NOCLOSE, O_FOREGROUND, O_HELP, O_VERSION };
static const struct option longopts[] = {
    {"pidfile", required_argument, NULL, O_PIDFILE},
    {"user", required_argument, NULL, O_USER},
    {"group", required_argument, NULL, O_GROUP},
    {"chdir", required_argument, NULL, O_CHDIR},
    {"umask", required_argument, NULL, O_UMASK},
    {"stdout", required_argument, NULL, O_STDOUT},
    {"stderr", required_argument, NULL, O_STDERR},
    {"syslog", required_argument, NULL, O_SYSLOG},
    {"env", required_argument, NULL, O_ENV},
    {"no-close", no_argument, NULL, O_NOCLOSE},
    {"foreground", no_argument, NULL, O_FOREGROUND},
    {"help", no_argument, NULL, O_HELP},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

void daeml_each_option(void (*fn)(const char *name, void *ctx), void *ctx)
{
    for (const struct option *o = longopts; o->name != NULL; o++)
        fn(o->name, ctx);
}

static int parse_args(int argc, char **argv, struct daeml_opts *o)
{
    int c;

    opterr = 0;
    /* "+": options end at PROGRAM, so PROGRAM's own options pass through untouched. */
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case O_PIDFILE: o->pidfile = optarg; break;
        case O_USER: o->user = optarg; break;
        case O_GROUP: o->group = optarg; break;
        case O_CHDIR: o->dir = optarg; break;
        case O_UMASK: {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 8);
            if (errno != 0 || *optarg == '\0' || *end != '\0' || v < 0 || v > 0777)
                return usage_error("--umask: '%s' is not an octal mode (e.g. 027)", optarg);
            o->umask = (int)v;
            break;
        }
        case O_STDOUT: o->stdout_path = optarg; break;
        case O_STDERR: o->stderr_path = optarg; break;
        case O_SYSLOG: o->syslog_tag = optarg; break;
        case O_ENV:
            if (strchr(optarg, '=') == NULL || optarg[0] == '=')
                return usage_error("--env: '%s' is not of the form KEY=VALUE", optarg);
            o->env[o->nenv++] = optarg;
            break;
        case O_NOCLOSE: o->no_close = true; break;
        case O_FOREGROUND: o->foreground = true; break;
        case O_HELP: fputs(usage, stdout); return -1;
        case O_VERSION: printf("daeml (tend) %s\n", TEND_VERSION); return -1;
        default:
            if (optopt != 0 && optopt < 256)
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("%s", "missing PROGRAM");
    if (o->group && !o->user)
        return usage_error("%s", "--group needs --user");
    if (o->syslog_tag && o->stdout_path && o->stderr_path)
        return usage_error("%s", "--syslog has nothing to carry: --stdout and --stderr both set");
    return 0;
}

/* Opens an output file for the daemon with the caller's rights, appending, mode 0640. */
static int open_output(const char *path, const char *what)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd == -1)
        fprintf(stderr, "daeml: cannot open %s file %s: %s\n", what, path, strerror(errno));
    return fd;
}

/* Starts the syslog relay (tend's own binary, as a daemon too) reading a pipe; returns the
 * pipe's write end for the program's stdout/stderr, or -1 after printing why. */
static int start_syslog_relay(const char *tag)
{
    char self[PATH_MAX];
    int p[2];
    pid_t pid;
    struct spawn_error e;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n == -1) {
        fprintf(stderr, "daeml: cannot find own executable for --syslog: %s\n",
                strerror(errno));
        return -1;
    }
    self[n] = '\0';
    if (pipe2(p, O_CLOEXEC) == -1) {
        fprintf(stderr, "daeml: cannot create a pipe for --syslog: %s\n", strerror(errno));
        return -1;
    }
    char *argv[] = {"daeml-syslog", "__syslog-relay", (char *)tag, NULL};
    struct spawn_spec spec = {
        .path = self, .argv = argv, .envp = environ, .dir = "/", .umask = 022,
        .stdio_fd = {p[0], -1, -1}, .detach = SPAWN_DETACH_SESSION,
    };
    if (spawn_daemon(&spec, &pid, &e) == -1) {
        fprintf(stderr, "daeml: cannot start the syslog relay: %s: %s\n",
                spawn_stage_name(e.stage), strerror(e.err));
        fd_close_quiet(p[0]);
        fd_close_quiet(p[1]);
        return -1;
    }
    /* The relay holds the read end now; it exits at EOF, when every writer is gone. */
    (void)close(p[0]);
    return p[1];
}

int daeml_syslog_relay(const char *tag)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    openlog(tag, LOG_PID, LOG_DAEMON);
    while ((n = getline(&line, &cap, stdin)) != -1) {
        if (n > 0 && line[n - 1] == '\n')
            line[n - 1] = '\0';
        syslog(LOG_INFO, "%s", line);
    }
    free(line);
    closelog();
    return 0;
}

static int launch(struct daeml_opts *o, char **prog_argv)
{
    char path[PATH_MAX];
    uid_t uid = 0;
    gid_t gid = 0;
    gid_t *groups = NULL;
    size_t ngroups = 0;
    int out_fd = -1, err_fd = -1, relay_fd = -1, pid_fd = -1;
    int rc = EXIT_FAIL;
    char **envp = NULL;
    const char *program = prog_argv[0];
    pid_t pid;
    struct spawn_error e;

    if (o->user != NULL) {
        char msg[256], spec_buf[512];
        const char *who = o->user;
        if (geteuid() != 0) {
            fprintf(stderr, "daeml: --user %s needs root (running as uid %u)\n", o->user,
                    (unsigned)geteuid());
            return EXIT_FAIL;
        }
        if (o->group != NULL) {
            snprintf(spec_buf, sizeof(spec_buf), "%.*s:%s", (int)strcspn(o->user, ":"),
                     o->user, o->group);
            who = spec_buf;
        }
        if (spawn_resolve_user(who, &uid, &gid, &groups, &ngroups, msg, sizeof(msg)) == -1) {
            fprintf(stderr, "daeml: --user %s: %s\n", who, msg);
            return EXIT_FAIL;
        }
    }

    envp = env_build(environ, o->env, o->nenv);
    if (envp == NULL) {
        fprintf(stderr, "daeml: out of memory\n");
        goto out;
    }
    /* Look PROGRAM up now with the environment it will get, so "not found" is reported
     * before anything detaches. */
    const char *search = NULL;
    for (char **e2 = envp; *e2 != NULL; e2++) {
        if (env_key_matches(*e2, "PATH", 4))
            search = *e2 + 5;
    }
    if (spawn_find_program(program, search, path, sizeof(path)) == -1) {
        int err = errno;
        fprintf(stderr, "daeml: %s: cannot execute: %s\n", program, strerror(err));
        rc = err == EACCES ? EXIT_CANNOT_EXEC : EXIT_NOT_FOUND;
        goto out;
    }
    /* "./server" means the caller's directory, but the exec happens after the change to
     * the daemon's directory: anchor a relative path here and now. */
    if (path[0] != '/') {
        char cwd[PATH_MAX], rel[PATH_MAX];
        int n;
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            fprintf(stderr, "daeml: %s: cannot resolve a relative path: %s\n", program,
                    strerror(errno));
            goto out;
        }
        memcpy(rel, path, sizeof(rel));
        n = snprintf(path, sizeof(path), "%s/%s", cwd, rel);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            fprintf(stderr, "daeml: %s: path too long\n", program);
            goto out;
        }
    }

    if (o->pidfile != NULL) {
        pid_t owner;
        int r;
        pid_fd = pidfile_begin(o->pidfile);
        if (pid_fd == -1) {
            if (errno == EWOULDBLOCK)
                fprintf(stderr, "daeml: pidfile %s: another launch is in progress\n",
                        o->pidfile);
            else
                fprintf(stderr, "daeml: cannot write pidfile %s: %s\n", o->pidfile,
                        strerror(errno));
            goto out;
        }
        r = pidfile_owner(o->pidfile, &owner);
        if (r == 1) {
            fprintf(stderr, "daeml: %s: already running as pid %d (pidfile %s)\n", program,
                    (int)owner, o->pidfile);
            goto out;
        }
        if (r == -1) {
            fprintf(stderr, "daeml: cannot read pidfile %s: %s\n", o->pidfile,
                    strerror(errno));
            goto out;
        }
    }

    if (o->stdout_path && (out_fd = open_output(o->stdout_path, "stdout")) == -1)
        goto out;
    if (o->stderr_path && (err_fd = open_output(o->stderr_path, "stderr")) == -1)
        goto out;
    if (o->syslog_tag && (relay_fd = start_syslog_relay(o->syslog_tag)) == -1)
        goto out;

    struct spawn_spec spec = {
        .path = path,
        .argv = prog_argv,
        .envp = envp,
        .dir = o->dir ? o->dir : "/",
        .umask = o->umask,
        .stdio_fd = {-1, out_fd != -1 ? out_fd : relay_fd, err_fd != -1 ? err_fd : relay_fd},
        .keep_stdio = o->no_close,
        .detach = SPAWN_DETACH_SESSION,
        .set_ids = o->user != NULL,
        .uid = uid,
        .gid = gid,
        .groups = groups,
        .ngroups = ngroups,
    };
    if (o->no_close && (out_fd != -1 || err_fd != -1 || relay_fd != -1)) {
        /* --no-close keeps stdin; stdout/stderr still go where they were asked to. */
        spec.keep_stdio = false;
        spec.stdio_fd[0] = STDIN_FILENO;
        if (spec.stdio_fd[1] == -1)
            spec.stdio_fd[1] = STDOUT_FILENO;
        if (spec.stdio_fd[2] == -1)
            spec.stdio_fd[2] = STDERR_FILENO;
    }

    if (o->foreground) {
        spec.detach = SPAWN_DETACH_NONE;
        if (pid_fd != -1) {
            /* Our own pid becomes PROGRAM's. The file must exist before the exec; if the
             * exec fails, it is removed again. */
            if (pidfile_commit(pid_fd, o->pidfile, getpid()) == -1) {
                pid_fd = -1;
                fprintf(stderr, "daeml: cannot write pidfile %s: %s\n", o->pidfile,
                        strerror(errno));
                goto out;
            }
            pid_fd = -1;
        }
        fflush(NULL);
        /* stdio is moved before the exec: keep a close-on-exec copy of our stderr so that a
         * failure can still be told to the caller. */
        int report_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        (void)spawn_exec(&spec, report_fd, &e); /* returns only on failure */
        if (o->pidfile != NULL)
            (void)unlink(o->pidfile); /* best effort: the pidfile names a failed launch */
        if (report_fd != -1 && dup2(report_fd, STDERR_FILENO) != -1)
            (void)close(report_fd); /* stderr is the caller's again */
        rc = report_failure(program, &spec, &e);
        goto out;
    }

    fflush(NULL);
    if (spawn_daemon(&spec, &pid, &e) == -1) {
        rc = report_failure(program, &spec, &e);
        goto out;
    }
    if (pid_fd != -1) {
        int r = pidfile_commit(pid_fd, o->pidfile, pid);
        pid_fd = -1;
        if (r == -1) {
            /* Nothing may run that the caller was told failed. */
            fprintf(stderr, "daeml: cannot write pidfile %s: %s; stopping pid %d\n",
                    o->pidfile, strerror(errno), (int)pid);
            (void)kill(pid, SIGKILL); /* ours, just started: not yet reapable by anyone */
            goto out;
        }
    }
    rc = EXIT_OK;
out:
    if (pid_fd != -1)
        pidfile_abort(pid_fd, o->pidfile);
    fd_close_quiet(out_fd);
    fd_close_quiet(err_fd);
    fd_close_quiet(relay_fd);
    free(envp);
    free(groups);
    return rc;
}

int daeml_main(int argc, char **argv)
{
    struct daeml_opts o = {.umask = 022};
    int rc;

    o.env = calloc((size_t)argc + 1, sizeof(char *));
    if (o.env == NULL) {
        fprintf(stderr, "daeml: out of memory\n");
        return EXIT_FAIL;
    }
    rc = parse_args(argc, argv, &o);
    if (rc == 0)
        rc = launch(&o, argv + optind);
    else if (rc == -1)
        rc = EXIT_OK;
    free(o.env);
    return rc;
}
