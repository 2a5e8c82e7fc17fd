/* daemon: the start-up of `tend daemon` and `tend check`. Loads and validates the config
 * (every problem printed as FILE:LINE), takes the pidfile, detaches from the caller (who
 * learns of success only once start-up is complete, or gets the one line saying why it
 * failed), applies the [tend] settings (rlimits, umask, directory, user), opens tend's own
 * log and the control socket, then hands over to the supervisor's loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "confsnap.h"
#include "control.h"
#include "cgroup.h"
#include "daemon.h"
#include "events.h"
#include "fdbudget.h"
#include "exitcode.h"
#include "handover.h"
#include "keeper.h"
#include "logcap.h"
#include "log.h"
#include "pidfile.h"
#include "preflight.h"
#include "reload.h"
#include "sdnotify.h"
#include "runtime.h"
#include "spawn.h"
#include "supervisor.h"
#include "websock.h"
#include "util/fd.h"
#include "util/str.h"

static void print_diags(const struct config_diags *diags)
{
    for (size_t i = 0; i < diags->count; i++) {
        char buf[1024];
        config_diag_format(&diags->items[i], buf, sizeof(buf));
        fprintf(stderr, "%s\n", buf);
    }
}

/* `tend check --strict`: every warning counts as an error (for CI). */
static bool strict_check;

/* Under --strict, warnings become errors: the diagnostics say so and the config fails. */
static bool strict_fails(struct config_diags *diags)
{
    if (!strict_check || diags->warnings == 0)
        return false;
    for (size_t i = 0; i < diags->count; i++)
        diags->items[i].is_error = true;
    diags->errors += diags->warnings;
    diags->warnings = 0;
    return true;
}

/* Loads the config named by -c or found by the default search. Prints every diagnostic.
 * With preflight, what start-up would refuse about tend's own settings is found too, before
 * anything is created (`tend daemon` in its caller's process, and `tend check`). Returns the
 * config or NULL. */
static struct config *load_config_ex(const char *path, bool preflight, int record_fd,
                                     const struct confsnap *replay)
{
    struct config_diags diags = {0};
    struct config *cfg = NULL;

    if (path == NULL) {
        fprintf(stderr, "tend: no config file: none of ./tend.conf, /etc/tend/tend.conf, "
                        "/etc/tend.conf, /etc/supervisor/supervisord.conf exists (use -c FILE)\n");
        return NULL;
    }
    (void)config_load_ex(path, &cfg, &diags, record_fd, replay); /* NULL on error */
    if (cfg != NULL &&
        (reload_validate(cfg, &diags) | (preflight ? preflight_tend(cfg, &diags) : 0)) != 0) {
        config_free(cfg);
        cfg = NULL;
    }
    if (strict_fails(&diags)) {
        config_free(cfg);
        cfg = NULL;
    }
    print_diags(&diags);
    config_diags_free(&diags);
    return cfg;
}

static struct config *load_config(const char *path, bool preflight)
{
    return load_config_ex(path, preflight, -1, NULL);
}

/* Options of daemon (-c FILE, -n) and check (-c FILE or a bare FILE, --json). Returns 0, 1
 * after printing the usage (--help), or -1 after naming the argument at fault. */
static const struct option daemon_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"nodaemon", no_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};
static const struct option check_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"json", no_argument, NULL, 'j'},
    {"strict", no_argument, NULL, 's'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void supervisor_each_option(const char *cmd, void (*fn)(const char *cmd, int short_name,
                                                        const char *long_name, void *ctx),
                            void *ctx)
{
    const struct option *o = strcmp(cmd, "daemon") == 0 ? daemon_opts : check_opts;

    for (; o->name != NULL; o++)
        fn(cmd, o->val == 'j' || o->val == 's' ? 0 : o->val, o->name, ctx);
}

static int parse_c_n(int argc, char **argv, const char *cmd, const char **path, bool *fg,
                     bool *json)
{
    const struct option *longopts = fg != NULL ? daemon_opts : check_opts;
    const char *usage =
        fg ? "tend daemon [-c FILE] [-n]" : "tend check [--json] [--strict] [-c] [FILE]";
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, fg ? "+c:nh" : "+c:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *path = optarg;
            break;
        case 'n':
            if (fg == NULL)
                goto bad_option; /* --nodaemon given to check */
            *fg = true;
            break;
        case 'j':
            if (json == NULL)
                goto bad_option;
            *json = true;
            break;
        case 's':
            if (fg != NULL)
                goto bad_option; /* --strict given to daemon */
            strict_check = true;
            break;
        case 'h':
            printf("Usage: %s\n", usage);
            return 1;
        default:
            goto bad_option;
        }
    }
    /* check takes the file as its argument too, as supervisord -c's users expect of a checker. */
    if (fg == NULL && optind == argc - 1 && *path == NULL) {
        *path = argv[optind];
        return 0;
    }
    if (optind == argc)
        return 0;
    /* check's FILE is the first word: the one at fault is the next. */
    int at = fg == NULL && *path == NULL && optind + 1 < argc ? optind + 1 : optind;
    fprintf(stderr, "tend %s: unexpected argument '%s' (usage: %s)\n", cmd, argv[at], usage);
    return -1;
bad_option:
    if (optopt != 0 && strchr("c", optopt) != NULL)
        fprintf(stderr, "tend %s: option '-%c' needs a FILE (usage: %s)\n", cmd, optopt, usage);
    else if (optopt != 0)
        fprintf(stderr, "tend %s: unknown option '-%c' (usage: %s)\n", cmd, optopt, usage);
    else
        fprintf(stderr, "tend %s: unknown option or missing value: '%s' (usage: %s)\n", cmd,
                argv[optind - 1], usage);
    return -1;
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* tend check --json: {"file", "ok", "processes", "diagnostics": [{file, line, severity,
 * message}]} (doc/json.md). */
static int check_json(const char *path)
{
    struct config_diags diags = {0};
    struct config *cfg = NULL;
    int ok = 0;

    if (path == NULL) {
        printf("{\"file\": null, \"ok\": false, \"processes\": 0, \"diagnostics\": "
               "[{\"file\": null, \"line\": 0, \"severity\": \"error\", \"message\": "
               "\"no config file: none of ./tend.conf, /etc/tend.conf, "
               "/etc/supervisor/supervisord.conf exists\"}]}\n");
        return EXIT_FAIL;
    }
    (void)config_load(path, &cfg, &diags); /* cfg stays NULL on error */
    if (cfg != NULL && (reload_validate(cfg, &diags) | preflight_tend(cfg, &diags)) == 0)
        ok = 1;
    if (strict_fails(&diags))
        ok = 0;
    printf("{\"file\": ");
    json_str(stdout, path);
    printf(", \"ok\": %s, \"processes\": %zu, \"diagnostics\": [", ok ? "true" : "false",
           ok ? cfg->nprocs : (size_t)0);
    for (size_t i = 0; i < diags.count; i++) {
        const struct config_diag *d = &diags.items[i];
        printf("%s{\"file\": ", i > 0 ? ", " : "");
        json_str(stdout, d->file != NULL ? d->file : path);
        printf(", \"line\": %d, \"severity\": \"%s\", \"message\": ", d->line,
               d->is_error ? "error" : "warning");
        json_str(stdout, d->msg);
        printf("}");
    }
    printf("]}\n");
    config_diags_free(&diags);
    config_free(cfg);
    return ok ? EXIT_OK : EXIT_FAIL;
}

int check_main(int argc, char **argv)
{
    const char *path = NULL;
    struct config *cfg;
    bool json = false;
    int r = parse_c_n(argc, argv, "check", &path, NULL, &json);

    if (r != 0)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    if (path == NULL)
        path = config_default_path();
    if (json)
        return check_json(path);
    cfg = load_config(path, true);
    if (cfg == NULL)
        return EXIT_FAIL;
    if (cgroup_check_config(cfg) == -1) {
        config_free(cfg);
        return EXIT_FAIL;
    }
    printf("%s: ok (%zu process%s)\n", path, cfg->nprocs, cfg->nprocs == 1 ? "" : "es");
    config_free(cfg);
    return EXIT_OK;
}

/* tend's own environment: rlimits, umask, directory, user, from [tend]. Before any child. */
static int apply_tend_settings(struct supervisor *sup, const struct tend_conf *t, char *err,
                               size_t errlen)
{
    struct rlimit rl;

    if (t->minfds > 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)t->minfds) {
        rl.rlim_cur = (rlim_t)t->minfds;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur; /* raising the hard limit needs root */
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
            log_msg(LOG_LVL_WARN, "cannot raise the descriptor limit to minfds=%d: %s",
                    t->minfds, strerror(errno));
    }
    /* Children get minfds (or what tend inherited, if more); tend itself may need a pipe
     * per spawn in flight and a socket per client, so it takes the hard limit. A soft
     * limit above 1024 is not handed on: programs using select() break past it. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        sup->child_nofile = rl.rlim_cur;
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
                log_msg(LOG_LVL_WARN, "cannot raise tend's descriptor limit to %llu: %s",
                        (unsigned long long)rl.rlim_max, strerror(errno));
        }
    }
    if (t->minprocs > 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)t->minprocs) {
        rl.rlim_cur = (rlim_t)t->minprocs;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
            rl.rlim_max = rl.rlim_cur;
        if (setrlimit(RLIMIT_NPROC, &rl) == -1)
            log_msg(LOG_LVL_WARN, "cannot raise the process limit to minprocs=%d: %s",
                    t->minprocs, strerror(errno));
    }
    if (t->umask >= 0)
        (void)umask((mode_t)t->umask); /* cannot fail */
    if (t->directory != NULL && chdir(t->directory) == -1) {
        snprintf(err, errlen, "tend: cannot change directory to %s: %s\n", t->directory,
                 strerror(errno));
        return -1;
    }
    if (t->user != NULL) {
        uid_t uid;
        gid_t gid;
        gid_t *groups = NULL;
        size_t ngroups = 0;
        char msg[256];
        if (spawn_resolve_user(t->user, &uid, &gid, &groups, &ngroups, msg, sizeof(msg))) {
            snprintf(err, errlen, "tend: [tend] user=%s: %s\n", t->user, msg);
            return -1;
        }
        if (geteuid() == 0) {
            int rc = setgroups(ngroups, groups) == -1 || setresgid(gid, gid, gid) == -1 ||
                     setresuid(uid, uid, uid) == -1;
            free(groups);
            if (rc) {
                snprintf(err, errlen, "tend: cannot drop privileges to %s: %s\n", t->user,
                         strerror(errno));
                return -1;
            }
        } else {
            free(groups);
            if (uid != geteuid()) {
                snprintf(err, errlen, "tend: [tend] user=%s needs root\n", t->user);
                return -1;
            }
        }
    }
    return 0;
}

static int open_own_log(const struct tend_conf *t, bool foreground, const char *config_path,
                        char *err, size_t errlen)
{
    enum log_level lvl = LOG_LVL_INFO;
    char path[PATH_MAX];
    const char *file = NULL;

    static const enum log_level map[] = {
        [CONFIG_LOG_CRITICAL] = LOG_LVL_ERROR, [CONFIG_LOG_ERROR] = LOG_LVL_ERROR,
        [CONFIG_LOG_WARN] = LOG_LVL_WARN,      [CONFIG_LOG_INFO] = LOG_LVL_INFO,
        [CONFIG_LOG_DEBUG] = LOG_LVL_DEBUG,    [CONFIG_LOG_TRACE] = LOG_LVL_DEBUG,
        [CONFIG_LOG_BLATHER] = LOG_LVL_DEBUG,
    };
    if ((unsigned)t->loglevel < sizeof(map) / sizeof(map[0]))
        lvl = map[t->loglevel];
    log_set_level(lvl);
    /* silent=true (supervisord -s): nothing on stderr in the foreground; the log goes where
     * it would go in the background. */
    if (t->silent)
        foreground = false;
    switch (t->logfile_kind) {
    case LOG_TARGET_SYSLOG:
        log_use_syslog("tend");
        return 0;
    case LOG_TARGET_NONE:
        if (!foreground)
            file = "/dev/null";
        break;
    case LOG_TARGET_PATH:
        file = t->logfile;
        break;
    case LOG_TARGET_AUTO:
        if (foreground)
            return 0; /* stderr */
        if (geteuid() == 0) {
            file = "/var/log/tend.log";
        } else {
            /* Beside the config file, where its owner can surely write. */
            const char *slash = strrchr(config_path, '/');
            int dlen = slash ? (int)(slash - config_path) : 1;
            snprintf(path, sizeof(path), "%.*s/tend.log", dlen, slash ? config_path : ".");
            file = path;
        }
        break;
    }
    if (file != NULL && log_open_file(file) == -1) {
        snprintf(err, errlen, "tend: cannot open log file %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (file != NULL && strcmp(file, "/dev/null") != 0)
        log_set_rotation(t->logfile_maxbytes, t->logfile_backups);
    return 0;
}

/* Makes *path absolute against base (tend's start-up directory). */
static void absolutize(char **path, const char *base)
{
    if (*path == NULL || (*path)[0] == '/')
        return;
    char *abs = xasprintf("%s/%s", base, *path);
    free(*path);
    *path = abs;
}

static void absolutize_tend_paths(struct tend_conf *t, const char *base)
{
    absolutize(&t->pidfile, base);
    absolutize(&t->socket, base);
    absolutize(&t->childlogdir, base);
    absolutize(&t->directory, base);
    if (t->logfile_kind == LOG_TARGET_PATH)
        absolutize(&t->logfile, base);
}

/* The daemon keeps nothing of its caller: stdio onto /dev/null, every other inherited
 * descriptor closed, except the two start-up needs (both close-on-exec). */
static int detach_descriptors(int keep1, int keep2)
{
    int null_fd, dfd;
    DIR *d;
    struct dirent *e;

    d = opendir("/proc/self/fd");
    if (d != NULL) {
        dfd = dirfd(d);
        while ((e = readdir(d)) != NULL) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd > 2 && fd != dfd &&
                fd != keep1 && fd != keep2)
                (void)close(fd); /* inherited and unwanted: nothing to do if it fails */
        }
        closedir(d);
    }
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd == -1)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (dup2(null_fd, i) == -1) {
            fd_close_quiet(null_fd);
            return -1;
        }
    }
    (void)close(null_fd); /* the three copies remain */
    return 0;
}

static void free_supervisor(struct supervisor *sup)
{
    control_close(sup->control);
    sup->control = NULL;
    handover_close(sup->handover); /* before the loop goes */
    sup->handover = NULL;
    sup_destroy(sup);
}

/* `tend daemon`: what its caller must hear about (the config's problems, a pidfile naming a
 * live tend, a failure to detach) is checked here, in the caller's process; then this
 * process becomes the keeper (keeper.c), which starts the supervisor (supervise_main). */
int supervisor_main(int argc, char **argv)
{
    const char *path = NULL;
    bool foreground = false;
    char err[PATH_MAX + 256] = "";
    char startdir[PATH_MAX];
    char nbuf[24], pbuf[24], cbuf[24] = "";
    char *av[16];
    int notify_fd = -1, pid_fd = -1, n = 0;
    char *config_path = NULL, *pidfile_path = NULL;
    struct config *cfg;
    int r = parse_c_n(argc, argv, "daemon", &path, &foreground, NULL);

    if (r != 0)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    if (path == NULL)
        path = config_default_path();
    cfg = load_config(path, true);
    if (cfg == NULL)
        return EXIT_FAIL;
    /* An absolute path: the supervisor rereads it on reload and after a restart. */
    config_path = realpath(path, NULL);
    if (config_path == NULL || getcwd(startdir, sizeof(startdir)) == NULL) {
        fprintf(stderr, "tend: %s: %s\n", path, strerror(errno));
        goto fail_early;
    }
    if (cfg->tend.nodaemon)
        foreground = true;
    absolutize_tend_paths(&cfg->tend, startdir);
    if (cfg->tend.pidfile != NULL) {
        pid_t owner;
        pidfile_path = xstrdup(cfg->tend.pidfile);
        if (pidfile_owner(pidfile_path, &owner) == 1) {
            fprintf(stderr, "tend: already running as pid %d (pidfile %s)\n", (int)owner,
                    pidfile_path);
            goto fail_early;
        }
        pid_fd = pidfile_begin(pidfile_path);
        if (pid_fd == -1) {
            fprintf(stderr, "tend: cannot write pidfile %s: %s\n", pidfile_path,
                    strerror(errno));
            goto fail_early;
        }
    }
    /* The descriptor budget, checked here so that the caller hears it. The keeper and each
     * supervisor inherit the limit raised here; programs get the one we were given. */
    {
        struct fdbudget b;
        struct rlimit rl;
        char msg[512];
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            snprintf(cbuf, sizeof(cbuf), "%llu", (unsigned long long)rl.rlim_cur);
        fdbudget_count(cfg, &b);
        if (fdbudget_fit(&b, 0, msg, sizeof(msg)) == -1) {
            fprintf(stderr, "tend: %s: %s\n", config_path, msg);
            goto fail_early;
        }
    }
    config_free(cfg);
    cfg = NULL;
    if (!foreground) {
        if (spawn_detach_self(&notify_fd) == -1) {
            fprintf(stderr, "tend: cannot fork: %s\n", strerror(errno));
            goto fail_early;
        }
        /* The caller's terminal or pipe must not stay open in the daemon (a `tend daemon |
         * cat` would never end), nor anything else it left us. */
        if (detach_descriptors(notify_fd, pid_fd) == -1) {
            snprintf(err, sizeof(err), "tend: cannot detach from the caller's stdio: %s\n",
                     strerror(errno));
            goto fail;
        }
        if (chdir("/") == -1) {
            /* "/" always exists; a failure here means a broken mount namespace. */
            snprintf(err, sizeof(err), "tend: cannot change directory to /: %s\n",
                     strerror(errno));
            goto fail;
        }
    } else if (fd_close_from(3, pid_fd) == -1) {
        /* In the foreground stdio stays (the log goes there), but nothing else the caller
         * left open: the keeper and every supervisor would hold it for good (a caller
         * waiting for EOF on a pipe it gave us would wait as long as tend runs). */
        snprintf(err, sizeof(err), "tend: cannot close inherited descriptors: %s\n",
                 strerror(errno));
        goto fail;
    }
    /* The keeper: this process, executed afresh (none of the parsing above stays in it).
     * The notification and the pidfile go through it to the first supervisor. */
    if ((notify_fd != -1 && fcntl(notify_fd, F_SETFD, 0) == -1) ||
        (pid_fd != -1 && fcntl(pid_fd, F_SETFD, 0) == -1)) {
        snprintf(err, sizeof(err), "tend: cannot pass descriptors on: %s\n", strerror(errno));
        goto fail;
    }
    av[n++] = "tend";
    av[n++] = "__keeper";
    if (notify_fd != -1) {
        snprintf(nbuf, sizeof(nbuf), "%d", notify_fd);
        av[n++] = "--notify-fd";
        av[n++] = nbuf;
    }
    if (pid_fd != -1) {
        snprintf(pbuf, sizeof(pbuf), "%d", pid_fd);
        av[n++] = "--pidfile-fd";
        av[n++] = pbuf;
    }
    av[n++] = "--";
    av[n++] = "-c";
    av[n++] = config_path;
    av[n++] = "--startdir";
    av[n++] = startdir;
    if (foreground)
        av[n++] = "-n";
    if (cbuf[0] != '\0') {
        av[n++] = "--child-nofile";
        av[n++] = cbuf;
    }
    av[n] = NULL;
    execv("/proc/self/exe", av);
    snprintf(err, sizeof(err), "tend: cannot execute the keeper: %s\n", strerror(errno));
fail:
    if (notify_fd == -1)
        fputs(err, stderr);
fail_early:
    /* Clean up first and tell the caller last, so it never sees our leftovers. */
    if (pid_fd != -1)
        pidfile_abort(pid_fd, pidfile_path);
    config_free(cfg);
    free(config_path);
    free(pidfile_path);
    if (notify_fd != -1)
        spawn_detach_fail(notify_fd, err);
    return EXIT_FAIL;
}

static int parse_num(const char *s, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < INT_MIN || v > INT_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

/* Marks an inherited descriptor close-on-exec: it is ours, never a program's. */
static void own_fd(int fd)
{
    if (fd >= 0)
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC); /* EBADF only: then it is not there at all */
}

/* `tend __supervise`: the supervisor, started and restarted by the keeper with the config
 * that `tend daemon` validated, the caller's notification and pidfile (first time only) and
 * the state of the supervisor before it (every later time). */
int supervise_main(int argc, char **argv)
{
    struct supervisor sup = {.sig_fd = -1, .null_fd = -1};
    const char *path = NULL, *startdir = "/";
    bool foreground = false, shutdown_now = false;
    char err[PATH_MAX + 256] = "";
    int notify_fd = -1, pid_fd = -1, state_fd = -1, last_status = -1, generation = 1;
    char *pidfile_path = NULL;
    bool pid_written = false; /* the pidfile is ours to remove if start-up fails */
    char advert[PATH_MAX] = ""; /* this supervisor's advertisement in the runtime directory */
    unsigned long long child_nofile = 0; /* the soft limit `tend daemon` was given, 0: unknown */
    int i, r;

    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *o = argv[i];
        int *dst = strcmp(o, "--generation") == 0    ? &generation
                   : strcmp(o, "--state-fd") == 0    ? &state_fd
                   : strcmp(o, "--notify-fd") == 0   ? &notify_fd
                   : strcmp(o, "--pidfile-fd") == 0  ? &pid_fd
                   : strcmp(o, "--last-status") == 0 ? &last_status
                                                     : NULL;
        if (strcmp(o, "--shutdown") == 0) {
            shutdown_now = true;
            continue;
        }
        if (dst == NULL || i + 1 >= argc || parse_num(argv[++i], dst) == -1)
            goto usage;
    }
    for (i++; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0)
            foreground = true;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--startdir") == 0 && i + 1 < argc)
            startdir = argv[++i];
        else if (strcmp(argv[i], "--child-nofile") == 0 && i + 1 < argc)
            child_nofile = strtoull(argv[++i], NULL, 10);
        else
            goto usage;
    }
    if (path == NULL)
        goto usage;
    own_fd(notify_fd);
    own_fd(pid_fd);
    /* 3 is the keeper's socket; 4 and 5 stay open so that nothing of ours gets the numbers
     * the keeper uses for its own descriptors (keeper.h). */
    own_fd(KEEPER_SOCK_FD);
    own_fd(4);
    own_fd(5);

    /* No preflight here: `tend daemon` did it in its caller's directory, and what it checks
     * is in use now (the socket is the keeper's). */
    /* A supervisor the keeper restarted goes on with the config in force: the record the
     * previous one left, not the files on disk (edited since, maybe broken). */
    int snap_fd = state_fd != -1 ? handover_peek_config_fd(state_fd) : -1;
    /* tend-web's socket, kept by the keeper too: its address is named in tend-web's
     * environment (config.c), so it is taken before the config is loaded. */
    int web_fd = state_fd != -1 ? handover_peek_web_fd(state_fd) : -1;
    if (web_fd != -1 && websock_adopt(web_fd) == -1)
        web_fd = -1; /* not tend-web's socket: a new one is made, tend-web is restarted */
    size_t snap_files = 0;
    if (snap_fd != -1) {
        struct confsnap *snap = confsnap_open(snap_fd);
        if (snap != NULL) {
            snap_files = confsnap_count(snap);
            sup.config = load_config_ex(path, false, -1, snap);
            confsnap_free(snap);
        }
        if (sup.config == NULL)
            fprintf(stderr, "tend: the configuration in force cannot be read back (%s): "
                    "reading %s\n", snap == NULL ? strerror(errno) : "see above", path);
    }
    if (sup.config == NULL) {
        snap_fd = confsnap_create();
        if (snap_fd == -1) {
            snprintf(err, sizeof(err), "tend: cannot keep the configuration in force: %s\n",
                     strerror(errno));
            goto fail;
        }
        snap_files = 0;
        sup.config = load_config_ex(path, false, snap_fd, NULL);
    }
    if (sup.config == NULL) {
        /* Checked by `tend daemon` a moment ago, so this is a config edited since: after a
         * restart the keeper tries again (damped) until it is fixed. */
        fd_close_quiet(snap_fd);
        snprintf(err, sizeof(err), "tend: %s has errors (see above)\n", path);
        goto fail;
    }
    sup.config_path = xstrdup(path);
    if (sup.config->tend.nodaemon)
        foreground = true;
    absolutize_tend_paths(&sup.config->tend, startdir);
    reload_set_instance_logdir(&sup.config->tend, sup.config_path);
    const struct tend_conf *t = &sup.config->tend;
    logcap_strip_ansi = t->strip_ansi;
    /* The config may be replaced by a reload: keep what start-up wrote, to remove at exit. */
    pidfile_path = t->pidfile ? xstrdup(t->pidfile) : NULL;
    if (open_own_log(t, foreground, sup.config_path, err, sizeof(err)) == -1 ||
        apply_tend_settings(&sup, t, err, sizeof(err)) == -1)
        goto fail;
    /* `tend daemon` raised the soft limit for us: programs get the one it was given. */
    if (child_nofile > 0) {
        struct rlimit rl;
        rlim_t want = (rlim_t)child_nofile > (rlim_t)t->minfds ? (rlim_t)child_nofile
                                                                : (rlim_t)t->minfds;
        /* minfds beyond a hard limit tend could not raise: what there is. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            want > rl.rlim_max)
            want = rl.rlim_max;
        sup.child_nofile = want;
    }
    struct fdbudget budget;
    {
        /* The config may have changed since `tend daemon` checked (a restart). */
        struct fdbudget b;
        char msg[512];
        fdbudget_count(sup.config, &b);
        if (fdbudget_fit(&b, getppid(), msg, sizeof(msg)) == -1) {
            snprintf(err, sizeof(err), "tend: %s: %s\n", sup.config_path, msg);
            goto fail;
        }
        log_msg(LOG_LVL_INFO, "descriptors: the programs need up to %lu, tend %lu in all; "
                "RLIMIT_NOFILE is %lu, room for %lu control connections and %lu of %lu log "
                "files open at once", b.programs, b.need, b.limit, b.conns, b.file_cap,
                b.files);
        budget = b; /* applied once the loop and the handover are up */
    }
    if (pid_fd != -1) {
        /* The pidfile names the keeper: it outlives supervisors, and a TERM to it is an
         * orderly stop. */
        r = pidfile_commit(pid_fd, t->pidfile, getppid());
        pid_fd = -1;
        pid_written = r == 0;
        if (r == -1) {
            snprintf(err, sizeof(err), "tend: cannot write pidfile %s: %s\n", t->pidfile,
                     strerror(errno));
            goto fail;
        }
    }

    /* Descendants that double-fork stay ours: their exits are reaped here, never lost. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
        log_msg(LOG_LVL_WARN, "cannot become a child subreaper: %s", strerror(errno));
    /* A signal ignored by whoever started us (nohup ignores SIGHUP) would be discarded
     * before it reached the signalfd: the ones we read must be at their default. */
    (void)signal(SIGHUP, SIG_DFL); /* cannot fail for these valid signals */
    (void)signal(SIGINT, SIG_DFL);
    (void)signal(SIGTERM, SIG_DFL);
    (void)signal(SIGQUIT, SIG_DFL);
    (void)signal(SIGCHLD, SIG_DFL);
    (void)signal(SIGUSR1, SIG_DFL);
    (void)signal(SIGUSR2, SIG_DFL);
    /* SIGPIPE: a vanished peer must be an EPIPE, not our death. Children get it back. */
    (void)signal(SIGPIPE, SIG_IGN);
    /* SIGXFSZ: a log file past RLIMIT_FSIZE must be an EFBIG (logcap drops, counts and
     * retries), not our death. Children get it back (child_reset). */
    (void)signal(SIGXFSZ, SIG_IGN);
    /* The dispositions children must have reset: whatever is not default in tend now
     * (SIGPIPE, and anything inherited ignored). Computed once, not per spawn. */
    sigemptyset(&sup.child_reset);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL)
            sigaddset(&sup.child_reset, sig);
    }
    sup.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (sup.null_fd == -1) {
        snprintf(err, sizeof(err), "tend: cannot open /dev/null: %s\n", strerror(errno));
        goto fail;
    }
    {
        /* The keeper is our parent and the peer of its socket (checked: not a stray fd 3). */
        struct ucred cred;
        socklen_t clen = sizeof(cred);
        if (getsockopt(KEEPER_SOCK_FD, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 &&
            cred.pid == getppid())
            sup.keeper_pid = cred.pid;
        sup.restarted = state_fd != -1;
    }
    if (sup_init(&sup) == -1) {
        snprintf(err, sizeof(err), "tend: cannot set up the event loop: %s\n", strerror(errno));
        goto fail;
    }
    sup.handover = handover_open(&sup, KEEPER_SOCK_FD, state_fd);
    if (sup.handover == NULL) {
        snprintf(err, sizeof(err), "tend: cannot %s the supervisor's state: %s\n",
                 state_fd == -1 ? "create" : "take over", strerror(errno));
        goto fail;
    }
    handover_set_generation(sup.handover, (unsigned)generation);
    /* The pipes a previous supervisor held in an io_uring, before the programs claim them. */
    (void)handover_adopt_ring(sup.handover, &sup.loop); /* a failure is logged */
    reload_apply_budget(&sup, &budget);
    if (handover_set_config_fd(sup.handover, snap_fd) == -1)
        log_msg(LOG_LVL_WARN, "cannot hand the configuration in force to the keeper: %s (a "
                "restarted supervisor would read %s again)", strerror(errno), path);
    {
        char def[PATH_MAX];
        const char *sock = t->socket ? t->socket : client_default_socket(def, sizeof(def));
        handover_state_file(sup.handover, sock);
    }
    sup.control = control_open(&sup, handover_control_fd(sup.handover), web_fd, err,
                               sizeof(err) - 1);
    if (sup.control == NULL) {
        strcat(err, "\n");
        goto fail;
    }
    handover_set_control_fd(sup.handover, control_fd(sup.control));
    handover_set_web_fd(sup.handover, control_web_fd(sup.control));
    bool web_kept = web_fd != -1 && control_web_fd(sup.control) == web_fd;
    sup.started_ns = timer_now_ns();
    /* Clients run from any directory find this supervisor through it (tend(1)). It is named
     * by the keeper's pid, as the pidfile is: that pid stays valid while the socket does,
     * across restarts and upgrades of the supervisor, each of which rewrites it here. */
    if (runtime_advertise(control_path(sup.control), sup.config_path, getppid(), advert,
                          sizeof(advert)) == -1)
        log_msg(LOG_LVL_WARN, "cannot advertise this supervisor in the runtime directory: %s "
                "(clients find it only through -c or -s)", strerror(errno));
    if (sup_add_services(&sup) == -1) {
        snprintf(err, sizeof(err), "tend: out of memory\n");
        goto fail;
    }
    log_msg(LOG_LVL_INFO, "tend %s started as pid %d (keeper %d) with %s (%zu process%s)",
            TEND_VERSION, (int)getpid(), (int)getppid(), sup.config_path, sup.nsvcs,
            sup.nsvcs == 1 ? "" : "es");
    if (generation > 1 && handover_take_upgrade_mark(sup.handover)) {
        log_msg(LOG_LVL_INFO, "supervisor started for the upgrade (generation %d): programs "
                "are taken back, none restarted for it", generation);
    } else if (generation > 1) {
        char why[64] = "exited without an orderly stop";
        if (last_status != -1)
            (void)proc_describe_status(last_status, why, sizeof(why));
        log_msg(LOG_LVL_WARN, "supervisor restarted by the keeper (generation %d; the one "
                "before ended with %s): programs are taken back, none restarted for it",
                generation, why);
    }
    if (snap_files > 0)
        log_msg(LOG_LVL_INFO, "configuration: the one in force, kept by the keeper (%zu "
                "file%s); changes on disk take effect at the next reload", snap_files,
                snap_files == 1 ? "" : "s");
    else if (state_fd != -1)
        log_msg(LOG_LVL_WARN, "configuration: read from %s again (the one in force was not "
                "kept)", path);
    /* As supervisord does: the AUTO logs of a previous run go, unless nocleanup=true. Only
     * at the first start: a restarted or upgraded supervisor takes back programs whose AUTO
     * logs are in use. */
    if (generation == 1 && state_fd == -1 && !t->nocleanup && t->childlogdir != NULL) {
        size_t gone = logcap_clean_auto(t->childlogdir);
        if (gone > 0)
            log_msg(LOG_LVL_INFO, "removed %zu AUTO log file%s of a previous run from %s "
                    "(nocleanup=true keeps them)", gone, gone == 1 ? "" : "s", t->childlogdir);
    }
    handover_restore_done(&sup);
    sdnotify_ready(&sup);
    for (size_t k = 0; k < sup.nsvcs; k++) {
        struct service *svc = sup.svcs[k];
        if (!svc->restored)
            continue;
        sup_resume(svc);
        /* tend-web's door is an abstract socket the keeper keeps: the one taken back
         * reconnects to it. Only if it could not be kept (a supervisor of an older version
         * left none) is the address new, and tend-web starts again to learn it. */
        if (strcmp(svc->p.conf->name, CONFIG_WEB_NAME) == 0 && svc->p.pid != 0 && !web_kept) {
            log_msg(LOG_LVL_INFO, "%s: restarted to learn this supervisor's socket",
                    svc->display);
            sup_restart(svc);
        }
        /* An event listener goes on where its protocol stood (events.h), unless nobody
         * can tell where that is: the previous supervisor died writing it an event, or
         * was a version that did not keep its pipes. */
        int ev_fds[2];
        if (svc->p.conf->kind == PROC_KIND_LISTENER && svc->p.pid != 0 &&
            events_handover(svc, ev_fds) == EVS_NONE) {
            log_msg(LOG_LVL_INFO, "%s: event listener restarted: the previous supervisor left "
                    "its protocol in a state nobody can tell (it died while writing it an "
                    "event, or did not keep its pipes)", svc->display);
            sup_restart(svc);
        }
    }
    if (notify_fd != -1) {
        spawn_detach_ready(notify_fd);
        notify_fd = -1;
    }
    handover_ready(sup.handover);
    events_running(sup.events);
    if (shutdown_now) {
        sup_shutdown(&sup);
    } else {
        /* Start in ascending priority; each spawn is confirmed asynchronously. */
        for (size_t k = 0; k < sup.nsvcs; k++) {
            if (!sup.svcs[k]->restored && sup.svcs[k]->p.conf->autostart)
                sup_start(sup.svcs[k]);
        }
    }
    if (loop_run(&sup.loop) == -1) {
        log_msg(LOG_LVL_ERROR, "event loop failed: %s", strerror(errno));
        r = EXIT_FAIL;
    } else {
        r = EXIT_OK;
    }
    /* A program had failed when tend was stopped (the "stop the container when a program
     * dies" idiom): the exit status says so. */
    if (r == EXIT_OK && !sup.upgrading && events_program_failed(sup.events))
        r = EXIT_PROGRAM_FAILED;
    if (sup.upgrading) {
        /* Everything stays for the next supervisor: the socket, the pidfile, the pipes. */
        control_keep_socket(sup.control);
        logcap_handing_over = true;
    } else {
        handover_remove_state_file(sup.handover);
        if (pidfile_path != NULL)
            (void)unlink(pidfile_path); /* best effort: a stale pidfile is detected by identity */
        runtime_withdraw(advert);
    }
    free(pidfile_path);
    free_supervisor(&sup); /* log capture writes out what is left, and may say so */
    log_msg(LOG_LVL_INFO, sup.upgrading ? "supervisor exiting for the upgrade" : "tend exiting");
    log_close();
    return r;

usage:
    fprintf(stderr, "tend __supervise: internal command, started by the keeper\n");
    return EXIT_USAGE;
fail:
    log_msg(LOG_LVL_ERROR, "%.*s", (int)strcspn(err, "\n"), err);
    if (notify_fd == -1 && !log_to_stderr())
        fputs(err, stderr);
    if (pid_fd != -1)
        pidfile_abort(pid_fd, pidfile_path);
    if (pid_written)
        (void)unlink(pidfile_path); /* best effort: a stale pidfile is detected by identity */
    free(pidfile_path);
    /* A first supervisor that fails takes the keeper with it; a later one is started again
     * by the keeper, which keeps the socket that the advertisement names. */
    if (generation == 1)
        runtime_withdraw(advert);
    free_supervisor(&sup);
    log_close();
    if (notify_fd != -1)
        spawn_detach_fail(notify_fd, err);
    return EXIT_FAIL;
}
