/* Unit tests for config.c, keys.c and util/str.c: every diagnostic with its exact FILE:LINE,
 * every key, every spelling where that is cheap, includes, expansions and the API around
 * struct config. Each test writes its files into a fresh mkdtemp directory and loads them;
 * diagnostics are compared as text with that directory's prefix removed. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config.h"
#include "confsnap.h"
#include "evtype.h"
#include "../harness.h"
#include "keys.h"
#include "util/str.h"

struct fx {
    char dir[256];
    struct config *cfg;
    struct config_diags d;
    int rc;
    char *text; /* every diagnostic formatted, one per line, without the "DIR/" prefix */
};

static void fx_init(struct fx *fx)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/tend-config-XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

static char *fx_path(const struct fx *fx, const char *rel)
{
    return xasprintf("%s/%s", fx->dir, rel);
}

static void fx_write(struct fx *fx, const char *rel, const char *text)
{
    char *path = fx_path(fx, rel);
    /* Create parent directories. */
    for (char *p = path + strlen(fx->dir) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(path, 0700); /* EEXIST is fine; a real failure shows at fopen. */
            *p = '/';
        }
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        abort();
    }
    fputs(text, f);
    fclose(f);
    free(path);
}

static void fx_reset(struct fx *fx)
{
    config_free(fx->cfg);
    fx->cfg = NULL;
    config_diags_free(&fx->d);
    free(fx->text);
    fx->text = NULL;
}

static void fx_format(struct fx *fx)
{
    struct str s = {0};
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s/", fx->dir);
    for (size_t i = 0; i < fx->d.count; i++) {
        char buf[8192];
        config_diag_format(&fx->d.items[i], buf, sizeof buf);
        const char *p = buf;
        for (const char *hit; (hit = strstr(p, prefix)) != NULL; p = hit + strlen(prefix))
            str_append_len(&s, p, (size_t)(hit - p));
        str_append(&s, p);
        if (i + 1 < fx->d.count)
            str_append_char(&s, '\n');
    }
    free(fx->text);
    fx->text = str_release(&s);
}

static int fx_load(struct fx *fx, const char *rel)
{
    fx_reset(fx);
    char *path = fx_path(fx, rel);
    fx->rc = config_load(path, &fx->cfg, &fx->d);
    free(path);
    fx_format(fx);
    if ((fx->rc == 0) != (fx->cfg != NULL))
        fprintf(stderr, "  rc %d but cfg %p\n", fx->rc, (void *)fx->cfg);
    return fx->rc;
}

/* Writes main.conf with text and loads it. */
static int fx_conf(struct fx *fx, const char *text)
{
    fx_write(fx, "main.conf", text);
    return fx_load(fx, "main.conf");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_done(struct fx *fx)
{
    fx_reset(fx);
    (void)nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* Best effort: it is /tmp. */
}

static const struct proc_conf *fx_proc(const struct fx *fx, const char *name)
{
    if (fx->cfg == NULL)
        return NULL;
    return config_find_proc(fx->cfg, name);
}

/* Loads "[program:p]\ncommand=/bin/true\n" plus one extra line; returns the proc or NULL. */
static const struct proc_conf *fx_prog_line(struct fx *fx, const char *line)
{
    char *text = xasprintf("[program:p]\ncommand=/bin/true\n%s\n", line);
    fx_conf(fx, text);
    free(text);
    return fx_proc(fx, "p");
}

/* ---- syntax ----------------------------------------------------------------------------- */

TEST(program_defaults)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:web]\ncommand=/usr/bin/web --port 80\n"), 0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "web");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->name, "web");
        CHECK_STR(p->program, "web");
        CHECK_STR(p->group, "web");
        CHECK_STR(p->command, "/usr/bin/web --port 80");
        CHECK_INT(str_vec_len(p->argv), 3);
        CHECK_STR(p->argv[0], "/usr/bin/web");
        CHECK_STR(p->argv[2], "80");
        CHECK_INT(p->numprocs, 1);
        CHECK_INT(p->process_num, 0);
        CHECK_INT(p->priority, 999);
        CHECK(p->autostart);
        CHECK_INT(p->startsecs, 1);
        CHECK_INT(p->startretries, 3);
        CHECK_INT(p->autorestart, AUTORESTART_UNEXPECTED);
        CHECK(proc_conf_expected(p, 0));
        for (int i = 1; i < 256; i++)
            CHECK(!proc_conf_expected(p, i));
        CHECK_INT(p->stopsignal, SIGTERM);
        CHECK_INT(p->stopwaitsecs, 10);
        CHECK(!p->stopasgroup);
        CHECK(!p->killasgroup);
        CHECK(p->user == NULL);
        CHECK(p->directory == NULL);
        CHECK_INT(p->umask, -1);
        CHECK(p->env == NULL);
        CHECK(!p->redirect_stderr);
        CHECK_INT(p->stdout_logfile_kind, LOG_TARGET_AUTO);
        CHECK(p->stdout_logfile == NULL);
        CHECK_INT(p->stdout_logfile_maxbytes, 50LL * 1024 * 1024);
        CHECK_INT(p->stdout_logfile_backups, 10);
        CHECK(!p->stdout_syslog);
        CHECK_INT(p->stderr_logfile_kind, LOG_TARGET_AUTO);
        CHECK(p->stderr_logfile == NULL);
        CHECK_INT(p->stderr_logfile_maxbytes, 50LL * 1024 * 1024);
        CHECK_INT(p->stderr_logfile_backups, 10);
        CHECK(!p->stderr_syslog);
        CHECK(!p->stdout_timestamps);
        CHECK(p->pidfile == NULL);
        CHECK(proc_conf_health(p)->spec == NULL);
        CHECK_INT(proc_conf_health(p)->kind, HEALTH_NONE);
        CHECK_INT(proc_conf_health(p)->interval, 10);
        CHECK_INT(proc_conf_health(p)->timeout, 5);
        CHECK_INT(proc_conf_health(p)->retries, 3);
        CHECK_INT(proc_conf_health_grace(p), 1);
        /* Nothing set, nothing allocated: the accessors give the defaults. */
        CHECK(p->health == NULL && p->ready == NULL && p->fcgi == NULL && p->limits == NULL &&
              p->exitcodes == NULL);
        CHECK(proc_conf_expected(p, 0) && !proc_conf_expected(p, 1));
        CHECK_INT(proc_conf_ready(p)->startwaitsecs, 90);
        CHECK_INT(proc_conf_fcgi(p)->socket_mode, 0700);
        CHECK_INT(proc_conf_rlimit(p, PROC_RLIM_NOFILE), PROC_RLIM_UNSET);
        CHECK(p->on_event == NULL);
        CHECK_CONTAINS(p->file, "/main.conf");
        CHECK_INT(p->line, 1);
    }
    /* [tend] absent: defaults, no location. */
    const struct tend_conf *t = &fx.cfg->tend;
    CHECK(t->file == NULL);
    CHECK_INT(t->logfile_kind, LOG_TARGET_AUTO);
    CHECK(t->logfile == NULL);
    CHECK_INT(t->logfile_maxbytes, 50LL * 1024 * 1024);
    CHECK_INT(t->logfile_backups, 10);
    CHECK_INT(t->loglevel, CONFIG_LOG_INFO);
    CHECK_INT(t->umask, -1);
    CHECK_INT(t->minfds, 1024);
    CHECK_INT(t->minprocs, 200);
    CHECK_INT(t->socket_mode, 0600);
    CHECK(t->socket == NULL && t->socket_owner == NULL && t->socket_group == NULL);
    CHECK(t->pidfile == NULL && t->user == NULL && t->directory == NULL && t->env == NULL);
    CHECK(!t->nodaemon);
    CHECK(t->childlogdir == NULL);
    CHECK_INT(fx.cfg->ngroups, 0);
    CHECK_INT(fx.cfg->nalerts, 0);
    CHECK_CONTAINS(fx.cfg->path, "/main.conf");
    fx_done(&fx);
}

TEST(separators_and_key_case)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:a]\n"
                           "COMMAND: /bin/a x=1\n"
                           "AutoStart=false\n"
                           "StartSecs   =   7   \n"
                           "priority:3\n"),
              0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "a");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->command, "/bin/a x=1");
        CHECK(!p->autostart);
        CHECK_INT(p->startsecs, 7);
        CHECK_INT(p->priority, 3);
    }
    /* The first '=' or ':' separates: the rest belongs to the value. */
    p = fx_prog_line(&fx, "environment=A=b:c,B=x=y");
    CHECK(p != NULL && p->env != NULL);
    if (p != NULL && p->env != NULL) {
        CHECK_STR(p->env[0], "A=b:c");
        CHECK_STR(p->env[1], "B=x=y");
    }
    fx_done(&fx);
}

TEST(comments)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "; full line\n"
                           "# hash line\n"
                           "[program:a] ; after a header\n"
                           "   ; indented comment\n"
                           "command=/bin/a;b http://h/#frag ; real comment\n"
                           "directory=/srv\t# tab then hash\n"
                           "user=nobody#notacomment\n"),
              0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "a");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->command, "/bin/a;b http://h/#frag");
        CHECK_STR(p->directory, "/srv");
        CHECK_STR(p->user, "nobody#notacomment");
    }
    fx_done(&fx);
}

TEST(multiline_values)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:a]\n"
                           "command=/bin/a\n"
                           "    --one\n"
                           "\t--two ; comment on a continuation\n"
                           "\n"
                           "    --three\n"
                           "  ; a comment line neither ends nor adds\n"
                           "    --four\n"
                           "\n"
                           "\n"
                           "environment=A=1,\n"
                           "  B=\"two words\",\n"
                           "  C=3\n"),
              0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "a");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->command, "/bin/a\n--one\n--two\n\n--three\n--four");
        CHECK_INT(str_vec_len(p->argv), 5);
        CHECK_STR(p->argv[4], "--four");
        CHECK_INT(str_vec_len(p->env), 3);
        CHECK_STR(p->env[1], "B=two words");
    }
    /* An indented first key in a section is a key, not a continuation. */
    CHECK_INT(fx_conf(&fx, "[program:b]\n  command=/bin/b\n  priority=5\n"), 0);
    CHECK_STR(fx.text, "");
    p = fx_proc(&fx, "b");
    CHECK(p != NULL && p->priority == 5);
    /* Continuation needs more indentation than its key. */
    CHECK_INT(fx_conf(&fx, "[program:c]\n  command=/bin/c\n    -x\n  priority=5\n"), 0);
    p = fx_proc(&fx, "c");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->command, "/bin/c\n-x");
        CHECK_INT(p->priority, 5);
    }
    fx_done(&fx);
}

TEST(long_line_100k)
{
    struct fx fx;
    fx_init(&fx);
    size_t n = 100 * 1024;
    char *arg = xmalloc(n + 1);
    memset(arg, 'x', n);
    arg[n] = '\0';
    char *text = xasprintf("[program:big]\ncommand=/bin/echo %s\npriority=4\n", arg);
    CHECK_INT(fx_conf(&fx, text), 0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "big");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_INT(str_vec_len(p->argv), 2);
        CHECK_INT(strlen(p->argv[1]), n);
        CHECK_INT(p->priority, 4);
    }
    free(text);
    /* A long bad value is quoted shortened in the message. */
    text = xasprintf("[program:big]\ncommand=/bin/true\nstartsecs=%s\n", arg);
    CHECK_INT(fx_conf(&fx, text), -1);
    CHECK_STR(fx.text, "main.conf:3: error: startsecs: "
                       "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' "
                       "is not a non-negative integer");
    free(text);
    free(arg);
    fx_done(&fx);
}

TEST(crlf_and_bom)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "\xEF\xBB\xBF[program:a]\r\ncommand=/bin/a\r\n  -v\r\nuser=u\r\n"), 0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "a");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->command, "/bin/a\n-v");
        CHECK_STR(p->user, "u");
    }
    fx_done(&fx);
}

TEST(syntax_errors_each_with_line)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "orphan=1\n"                 /* 1 */
                           "[program:a\n"               /* 2 */
                           "command=/bin/a\n"           /* 3: swallowed, header broken */
                           "[program:b] trailing\n"     /* 4 */
                           "[ ]\n"                      /* 5 */
                           "[program:c]\n"              /* 6 */
                           "command=/bin/c\n"           /* 7 */
                           "this is junk\n"             /* 8 */
                           "= value\n"                  /* 9 */
                           "priority=1\n"               /* 10 */
                           "priority=2\n"),             /* 11 */
              -1);
    CHECK_STR(fx.text,
              "main.conf:1: error: a key ('key = value') before any [section] (the line is not "
              "shown)\n"
              "main.conf:2: error: section header is missing its closing ']'\n"
              "main.conf:4: error: unexpected text after the section header's ']'\n"
              "main.conf:5: error: empty section name '[]'\n"
              "main.conf:8: error: expected '[section]', 'key = value' or a comment (the line is "
              "not shown)\n"
              "main.conf:9: error: missing key name before '='\n"
              "main.conf:11: error: duplicate key 'priority' in [program:c] (first at line 10)");
    CHECK(fx.cfg == NULL);
    CHECK_INT(fx.d.errors, 7);
    CHECK_INT(fx.d.warnings, 0);
    fx_done(&fx);
}

TEST(nul_byte_line)
{
    struct fx fx;
    fx_init(&fx);
    char *path = fx_path(&fx, "main.conf");
    FILE *f = fopen(path, "w");
    static const char text[] = "[program:a]\ncommand=/bin/a\nuser=x\0y\n";
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    free(path);
    CHECK_INT(fx_load(&fx, "main.conf"), -1);
    CHECK_STR(fx.text, "main.conf:3: error: line contains a NUL byte");
    fx_done(&fx);
}

TEST(duplicate_sections)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:a]\n"
                           "command=/bin/a\n"
                           "[tend]\n"
                           "[program:a]\n"
                           "command=/bin/b\n"
                           "[supervisord]\n"
                           "[include]\n"
                           "files=none-*.conf\n"
                           "[include]\n"
                           "files=x\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:4: error: duplicate section [program:a] (first at main.conf:1)\n"
              "main.conf:6: error: duplicate section [supervisord]: same as [tend] at "
              "main.conf:3\n"
              "main.conf:9: error: duplicate section [include] (first at main.conf:7)");
    fx_done(&fx);
}

TEST(several_mistakes_all_reported)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:web]\n"         /* 1 */
                           "command=/bin/web\n"      /* 2 */
                           "startsecs=abc\n"         /* 3 */
                           "stopsignal=FOO\n"        /* 4 */
                           "autorestart=sometimes\n" /* 5 */
                           "comand=x\n"              /* 6 */
                           "[prgram:db]\n"           /* 7 */
                           "command=/bin/db\n"       /* 8 */
                           "[program:db]\n"          /* 9 */
                           "umask=089\n"             /* 10 */
                           "serverurl=AUTO\n"), /* 11 */
              -1);
    CHECK_STR(fx.text,
              "main.conf:3: error: startsecs: 'abc' is not a non-negative integer\n"
              "main.conf:4: error: stopsignal: unknown signal 'FOO'\n"
              "main.conf:5: error: autorestart: 'sometimes' is not one of true, false, "
              "unexpected\n"
              "main.conf:6: warning: unknown key 'comand' in [program:web]; did you mean "
              "'command'? ignored\n"
              "main.conf:7: error: unknown section [prgram:db]; did you mean [program:db]?\n"
              "main.conf:9: error: [program:db] is missing required key 'command'\n"
              "main.conf:10: error: umask: '089' is not an octal number\n"
              "main.conf:11: warning: [program:db] key 'serverurl' is not "
              "supported by tend yet; ignored");
    CHECK_INT(fx.d.errors, 6);
    CHECK_INT(fx.d.warnings, 2);
    fx_done(&fx);
}

/* ---- sections --------------------------------------------------------------------------- */

TEST(unknown_sections_suggest)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[tned]\n"
                           "[supervisor]\n"
                           "[unix_http_servr]\n"
                           "[groop:g]\n"
                           "[foo]\n"
                           "[program]\n"
                           "[group:]\n"
                           "[program:a b]\n"
                           "[group:x/y]\n"
                           "[includes]\n"
                           "[Program:x]\n"
                           "[eventlistener]\n"
                           "[alrt:pager]\n"
                           "[wibble:x]\n"
                           "[programm]\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:1: error: unknown section [tned]; did you mean [tend]?\n"
              "main.conf:2: error: unknown section [supervisor]; did you mean [supervisord]?\n"
              "main.conf:3: error: unknown section [unix_http_servr]; did you mean "
              "[unix_http_server]?\n"
              "main.conf:4: error: unknown section [groop:g]; did you mean [group:g]?\n"
              "main.conf:5: error: unknown section [foo]\n"
              "main.conf:6: error: section [program] needs a name: [program:NAME]\n"
              "main.conf:7: error: section [group:] needs a name: [group:NAME]\n"
              "main.conf:8: error: invalid program name 'a b' (it may not contain spaces, "
              "':' or '/')\n"
              "main.conf:9: error: invalid group name 'x/y' (it may not contain spaces, ':' "
              "or '/')\n"
              "main.conf:10: error: unknown section [includes]; did you mean [include]?\n"
              "main.conf:11: error: unknown section [Program:x]; did you mean [program:x]?\n"
              "main.conf:12: error: section [eventlistener] needs a name: "
              "[eventlistener:NAME]\n"
              "main.conf:13: error: unknown section [alrt:pager]; did you mean [alert:pager]?\n"
              "main.conf:14: error: unknown section [wibble:x]\n"
              "main.conf:15: error: unknown section [programm]; did you mean [program:NAME]?");
    fx_done(&fx);
}

TEST(ignored_and_unsupported_sections)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[supervisorctl]\n"
                           "serverurl=unix:///tmp/s.sock\n"
                           "whatever=1\n"
                           "[rpcinterface:supervisor]\n"
                           "supervisor.rpcinterface_factory = x:y\n"
                           "[ctlplugin:wildcards]\n"
                           "supervisor.ctl_factory = x:y\n"
                           "[eventlistener:mem]\n"
                           "command=memmon\n"
                           "events=PROCESS_STATE_EXITED, TICK_60\n"
                           "buffer_size=3\n"
                           "[fcgi-program:php]\n"
                           "command=/usr/bin/php-cgi\n"
                           "socket=tcp://localhost:9000\n"
                           "socket_backlog=7\n"
                           "numprocs=2\n"
                           "process_name=%(program_name)s_%(process_num)d\n"
                           "[program:a]\n"
                           "command=/bin/a\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 4);
    const struct proc_conf *m = fx_proc(&fx, "mem");
    CHECK(m != NULL && m->kind == PROC_KIND_LISTENER);
    if (m != NULL) {
        CHECK(proc_conf_events(m)->listener_events ==
              (EVT_MASK(EVT_PROCESS_STATE_EXITED) | EVT_MASK(EVT_TICK_60)));
        CHECK_INT(proc_conf_events(m)->buffer_size, 3);
    }
    const struct proc_conf *f = fx_proc(&fx, "php_1");
    CHECK(f != NULL && f->kind == PROC_KIND_FCGI);
    if (f != NULL) {
        CHECK_STR(proc_conf_fcgi(f)->socket, "tcp://localhost:9000");
        CHECK_INT(proc_conf_fcgi(f)->socket_backlog, 7);
        CHECK_INT(proc_conf_fcgi(f)->socket_mode, 0700);
    }
    CHECK(fx_proc(&fx, "a") != NULL && fx_proc(&fx, "a")->kind == PROC_KIND_PROGRAM);
    fx_done(&fx);

    /* Parent types stand for their children; required keys and bad values are errors. */
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[eventlistener:l]\ncommand=/bin/l\nevents=PROCESS_STATE,TICK\n"), 0);
    m = fx_proc(&fx, "l");
    CHECK(m != NULL &&
          proc_conf_events(m)->listener_events ==
              (EVT_TICKS | EVT_MASK(EVT_PROCESS_STATE_STOPPED) |
               EVT_MASK(EVT_PROCESS_STATE_STARTING) | EVT_MASK(EVT_PROCESS_STATE_RUNNING) |
               EVT_MASK(EVT_PROCESS_STATE_BACKOFF) | EVT_MASK(EVT_PROCESS_STATE_STOPPING) |
               EVT_MASK(EVT_PROCESS_STATE_EXITED) | EVT_MASK(EVT_PROCESS_STATE_FATAL) |
               EVT_MASK(EVT_PROCESS_STATE_UNKNOWN)));
    CHECK_INT(fx_conf(&fx, "[eventlistener:l]\ncommand=/bin/l\n"
                           "events=PROCESS_STATE_EXITD,NOPE\nbufer_size=2\n"
                           "[eventlistener:k]\ncommand=/bin/k\n"
                           "[fcgi-program:f]\ncommand=/bin/f\nsocket=http://x\n"
                           "[fcgi-program:g]\ncommand=/bin/g\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:3: error: events: unknown event type 'PROCESS_STATE_EXITD'; did you "
              "mean 'PROCESS_STATE_EXITED'?\n"
              "main.conf:3: error: events: unknown event type 'NOPE'\n"
              "main.conf:4: warning: unknown key 'bufer_size' in [eventlistener:l]; did you "
              "mean 'buffer_size'? ignored\n"
              "main.conf:5: error: [eventlistener:k] is missing required key 'events'\n"
              "main.conf:9: error: socket: 'http://x' is not tcp://HOST:PORT or unix:///PATH\n"
              "main.conf:10: error: [fcgi-program:g] is missing required key 'socket'");
    fx_done(&fx);
}

TEST(tend_section_all_keys)
{
    struct fx fx;
    fx_init(&fx);
    setenv("TEND_TEST_LOGDIR", "/var/log/t", 1);
    CHECK_INT(fx_conf(&fx, "[tend]\n"
                           "logfile=%(ENV_TEND_TEST_LOGDIR)s/tend.log\n"
                           "logfile_maxbytes=1MB\n"
                           "logfile_backups=3\n"
                           "loglevel=DEBUG\n"
                           "pidfile=%(here)s/tend.pid\n"
                           "user=svc\n"
                           "umask=027\n"
                           "directory=/srv\n"
                           "minfds=4096\n"
                           "minprocs=300\n"
                           "environment=LANG=C,TZ=\"UTC\"\n"
                           "nodaemon=true\n"
                           "childlogdir=/var/log/children\n"
                           "socket=/run/tend.sock\n"
                           "socket_mode=0660\n"
                           "socket_owner=svc:ops\n"
                           "identifier=tend\n"
                           "nocleanup=true\n"
                           "strip_ansi=true\n"
                           "silent=true\n"),
              0);
    /* identifier and nocleanup are supported (AUTO log directory, start-up cleanup), and so
     * are strip_ansi and silent. */
    CHECK_STR(fx.text, "");
    CHECK(fx.cfg->tend.strip_ansi);
    CHECK(fx.cfg->tend.silent);
    const struct tend_conf *t = &fx.cfg->tend;
    CHECK_STR(t->identifier, "tend");
    CHECK(t->nocleanup);
    CHECK_INT(t->logfile_kind, LOG_TARGET_PATH);
    CHECK_STR(t->logfile, "/var/log/t/tend.log");
    CHECK_INT(t->logfile_maxbytes, 1024 * 1024);
    CHECK_INT(t->logfile_backups, 3);
    CHECK_INT(t->loglevel, CONFIG_LOG_DEBUG);
    char *pid = xasprintf("%s/tend.pid", fx.dir);
    CHECK_STR(t->pidfile, pid);
    free(pid);
    CHECK_STR(t->user, "svc");
    CHECK_INT(t->umask, 027);
    CHECK_STR(t->directory, "/srv");
    CHECK_INT(t->minfds, 4096);
    CHECK_INT(t->minprocs, 300);
    CHECK_INT(str_vec_len(t->env), 2);
    CHECK_STR(t->env[0], "LANG=C");
    CHECK_STR(t->env[1], "TZ=UTC");
    CHECK(t->nodaemon);
    CHECK_STR(t->childlogdir, "/var/log/children");
    CHECK_STR(t->socket, "/run/tend.sock");
    CHECK_INT(t->socket_mode, 0660);
    CHECK_STR(t->socket_owner, "svc");
    CHECK_STR(t->socket_group, "ops");
    CHECK_INT(t->line, 1);
    CHECK_CONTAINS(t->file, "main.conf");
    unsetenv("TEND_TEST_LOGDIR");

    /* Every loglevel name, any case. */
    static const struct {
        const char *name;
        enum config_loglevel level;
    } levels[] = {
        {"critical", CONFIG_LOG_CRITICAL}, {"ERROR", CONFIG_LOG_ERROR},
        {"warn", CONFIG_LOG_WARN},         {"Warning", CONFIG_LOG_WARN},
        {"info", CONFIG_LOG_INFO},         {"debug", CONFIG_LOG_DEBUG},
        {"trace", CONFIG_LOG_TRACE},       {"blather", CONFIG_LOG_BLATHER},
    };
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        char *text = xasprintf("[tend]\nloglevel=%s\n", levels[i].name);
        CHECK_INT(fx_conf(&fx, text), 0);
        if (fx.cfg != NULL)
            CHECK_INT(fx.cfg->tend.loglevel, levels[i].level);
        free(text);
    }
    /* logfile special words. */
    CHECK_INT(fx_conf(&fx, "[supervisord]\nlogfile=syslog\n"), 0);
    CHECK_INT(fx.cfg->tend.logfile_kind, LOG_TARGET_SYSLOG);
    CHECK(fx.cfg->tend.logfile == NULL);
    CHECK_INT(fx_conf(&fx, "[supervisord]\nlogfile=NONE\n"), 0);
    CHECK_INT(fx.cfg->tend.logfile_kind, LOG_TARGET_NONE);

    CHECK_INT(fx_conf(&fx, "[tend]\n"
                           "loglevel=loud\n"
                           "minfds=-1\n"
                           "socket_mode=8\n"
                           "socket_owner=:grp\n"
                           "nodaemon=perhaps\n"
                           "logfile_maxbytes=lots\n"
                           "logfiel=x\n"
                           "umask=1000\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:2: error: loglevel: 'loud' is not one of critical, error, warn, info, "
              "debug, trace, blather\n"
              "main.conf:3: error: minfds: '-1' is not a non-negative integer\n"
              "main.conf:4: error: socket_mode: '8' is not an octal number\n"
              "main.conf:5: error: socket_owner: ':grp' is not USER or USER:GROUP\n"
              "main.conf:6: error: nodaemon: 'perhaps' is not a boolean (true/false, yes/no, "
              "on/off, 1/0)\n"
              "main.conf:7: error: logfile_maxbytes: 'lots' is not a size (bytes, or a number "
              "with KB, MB or GB)\n"
              "main.conf:8: warning: unknown key 'logfiel' in [tend]; did you mean 'logfile'? "
              "ignored\n"
              "main.conf:9: error: umask: '1000' is out of range (0..0777)");
    fx_done(&fx);
}

TEST(unix_http_server_alias)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[unix_http_server]\n"
                           "file=/run/sup.sock\n"
                           "chmod=0700\n"
                           "chown=nobody:nogroup\n"
                           "username=u\n"
                           "password=p\n"),
              0);
    CHECK_STR(fx.text, "main.conf:5: warning: [unix_http_server] key 'username' is not "
                       "supported by tend yet; ignored\n"
                       "main.conf:6: warning: [unix_http_server] key 'password' is not "
                       "supported by tend yet; ignored");
    CHECK_STR(fx.cfg->tend.socket, "/run/sup.sock");
    CHECK_INT(fx.cfg->tend.socket_mode, 0700);
    CHECK_STR(fx.cfg->tend.socket_owner, "nobody");
    CHECK_STR(fx.cfg->tend.socket_group, "nogroup");
    CHECK(fx.cfg->tend.file == NULL);

    /* Both sections agreeing is fine; disagreeing is an error at the second. */
    CHECK_INT(fx_conf(&fx, "[unix_http_server]\n"
                           "file=/run/a.sock\n"
                           "chown=u\n"
                           "[tend]\n"
                           "socket=/run/a.sock\n"
                           "socket_group=g\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_STR(fx.cfg->tend.socket_owner, "u");
    CHECK_STR(fx.cfg->tend.socket_group, "g");
    CHECK_INT(fx_conf(&fx, "[unix_http_server]\n"
                           "file=/run/b.sock\n"
                           "chmod=0770\n"
                           "chown=u:x\n"
                           "[tend]\n"
                           "socket=/run/a.sock\n"
                           "socket_mode=0770\n"
                           "socket_group=y\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:2: error: file: '/run/b.sock' conflicts with socket path = "
              "'/run/a.sock' in [tend] at main.conf:6\n"
              "main.conf:4: error: chown: 'x' conflicts with socket group = 'y' in [tend] at "
              "main.conf:8");
    fx_done(&fx);
}

TEST(groups)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[group:web]\n"
                           "programs=nginx, app\n"
                           "priority=5\n"
                           "[program:nginx]\n"
                           "command=/bin/nginx -g %(group_name)s\n"
                           "[program:app]\n"
                           "command=/bin/app\n"
                           "[program:solo]\n"
                           "command=/bin/solo %(group_name)s\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->ngroups, 1);
    const struct group_conf *g = &fx.cfg->groups[0];
    CHECK_STR(g->name, "web");
    CHECK_INT(g->priority, 5);
    CHECK_INT(g->nprograms, 2);
    CHECK_STR(g->programs[0], "nginx");
    CHECK_STR(g->programs[1], "app");
    CHECK(g->programs[2] == NULL);
    CHECK_INT(g->line, 1);
    const struct proc_conf *p = fx_proc(&fx, "nginx");
    CHECK(p != NULL && strcmp(p->group, "web") == 0);
    if (p != NULL)
        CHECK_STR(p->argv[2], "web");
    p = fx_proc(&fx, "app");
    CHECK(p != NULL && strcmp(p->group, "web") == 0);
    p = fx_proc(&fx, "solo");
    CHECK(p != NULL && strcmp(p->group, "solo") == 0);
    if (p != NULL)
        CHECK_STR(p->argv[1], "solo");

    CHECK_INT(fx_conf(&fx, "[program:nginx]\n"    /* 1 */
                           "command=/bin/nginx\n" /* 2 */
                           "[group:a]\n"          /* 3 */
                           "programs=ngnix,nginx,ghost,nginx\n" /* 4 */
                           "[group:b]\n"          /* 5 */
                           "programs=nginx\n"     /* 6 */
                           "priority=high\n"      /* 7 */
                           "[group:c]\n"          /* 8 */
                           "[group:nginx]\n"      /* 9 */
                           "programs=,\n"),       /* 10 */
              -1);
    CHECK_STR(fx.text,
              "main.conf:4: error: programs: no [program:ngnix] section; did you mean "
              "'nginx'?\n"
              "main.conf:4: error: programs: no [program:ghost] section\n"
              "main.conf:4: error: programs: 'nginx' is listed twice\n"
              "main.conf:6: error: programs: 'nginx' is already in [group:a] at main.conf:3\n"
              "main.conf:7: error: priority: 'high' is not an integer\n"
              "main.conf:8: error: [group:c] is missing required key 'programs'\n"
              "main.conf:9: error: group name 'nginx' is also the name of [program:nginx] at "
              "main.conf:1, which is not in it\n"
              "main.conf:10: error: programs: no program names");
    /* Names are stripped, as supervisord does. */
    CHECK_INT(fx_conf(&fx, "[program: spaced ]\ncommand=/bin/x\n[group:  g]\nprograms=spaced\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK(fx_proc(&fx, "spaced") != NULL && strcmp(fx_proc(&fx, "spaced")->group, "g") == 0);
    /* A group may share its name with a program it contains. */
    CHECK_INT(fx_conf(&fx, "[program:x]\ncommand=/bin/x\n[group:x]\nprograms=x\n"), 0);
    fx_done(&fx);
}

TEST(alerts)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:web]\n"
                           "command=/bin/web\n"
                           "[alert]\n"
                           "command=/usr/local/bin/sms 'tend: %%s'\n"
                           "[alert:pager]\n"
                           "command=/bin/page\n"
                           "events=FATAL, backoff HEALTH_FAILED,CRASH_LOOP_ENTERED\n"
                           "programs=web db* \n"
                           "rate=5/300\n"
                           "timeout=7\n"
                           "[alert:every]\n"
                           "command=/bin/all\n"
                           "events=STARTING RUNNING BACKOFF STOPPING EXITED FATAL STOPPED "
                           "HEALTH_FAILED PROCESS_UNEXPECTED_EXIT CONFIG_RELOADED "
                           "CRASH_LOOP_ENTERED CRASH_LOOP_EXITED OUT_OF_MEMORY "
                           "SHORTAGE_ENTERED SHORTAGE_EXITED\n"
                           "rate=3\n"),
              0);
    CHECK_STR(fx.text, "main.conf:8: warning: programs: 'db*' matches no program, group or "
                       "process");
    CHECK_INT(fx.cfg->nalerts, 3);
    const struct alert_conf *a = &fx.cfg->alerts[0];
    CHECK_STR(a->name, "alert");
    CHECK_STR(a->command, "/usr/local/bin/sms 'tend: %s'");
    CHECK_INT(a->events, CONFIG_EV_DEFAULT);
    CHECK_INT(a->nprograms, 1);
    CHECK_STR(a->programs[0], "*");
    CHECK_INT(a->rate_count, 10);
    CHECK_INT(a->rate_interval_secs, 60);
    CHECK_INT(a->timeout_secs, 30);
    CHECK_INT(a->line, 3);
    a = &fx.cfg->alerts[1];
    CHECK_STR(a->name, "alert:pager");
    CHECK_INT(a->events,
              CONFIG_EV_MASK(CONFIG_EV_FATAL) | CONFIG_EV_MASK(CONFIG_EV_BACKOFF) |
                  CONFIG_EV_MASK(CONFIG_EV_HEALTH_FAILED) |
                  CONFIG_EV_MASK(CONFIG_EV_CRASH_LOOP_ENTERED));
    CHECK_INT(a->nprograms, 2);
    CHECK_STR(a->programs[0], "web");
    CHECK_STR(a->programs[1], "db*");
    CHECK_INT(a->rate_count, 5);
    CHECK_INT(a->rate_interval_secs, 300);
    CHECK_INT(a->timeout_secs, 7);
    a = &fx.cfg->alerts[2];
    CHECK_INT(a->events, CONFIG_EV_ALL);
    CHECK_INT(a->rate_count, 3);
    CHECK_INT(a->rate_interval_secs, 60);

    CHECK_INT(fx_conf(&fx, "[alert]\n"           /* 1 */
                           "events=FATL, NOPE\n" /* 2 */
                           "rate=0/60\n"         /* 3 */
                           "timeout=0\n"         /* 4 */
                           "[alert:x]\n"         /* 5 */
                           "command=y\n"         /* 6 */
                           "rate=5/x\n"          /* 7 */
                           "events=\n"           /* 8 */
                           "program=web\n"       /* 9 */
                           "programs= ,\n"),     /* 10 */
              -1);
    CHECK_STR(fx.text,
              "main.conf:1: error: [alert] is missing required key 'command'\n"
              "main.conf:2: error: events: unknown event 'FATL'; did you mean 'FATAL'?\n"
              "main.conf:2: error: events: unknown event 'NOPE'\n"
              "main.conf:3: error: rate: '0/60' is not COUNT or COUNT/SECONDS (positive "
              "integers, e.g. 5/60)\n"
              "main.conf:4: error: timeout: '0' is not a positive integer\n"
              "main.conf:7: error: rate: '5/x' is not COUNT or COUNT/SECONDS (positive "
              "integers, e.g. 5/60)\n"
              "main.conf:8: error: events: no events listed\n"
              "main.conf:9: warning: unknown key 'program' in [alert:x]; did you mean "
              "'programs'? ignored\n"
              "main.conf:10: error: programs: no program names or patterns");
    /* Event names round-trip. */
    for (int ev = 0; ev < CONFIG_EV_COUNT; ev++) {
        CHECK_INT(config_event_from_name(config_event_name((enum config_event)ev)), ev);
    }
    CHECK_INT(config_event_from_name("fatal"), CONFIG_EV_FATAL);
    CHECK_INT(config_event_from_name("FATALITY"), -1);
    CHECK(config_event_name(CONFIG_EV_COUNT) == NULL);
    fx_done(&fx);
}

/* ---- keys ------------------------------------------------------------------------------- */

TEST(unknown_and_unsupported_keys)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:x]\n"
                           "command=/bin/x\n"
                           "autorestar=true\n"
                           "stdout_logfile_maxbyte=1MB\n"
                           "frobnicate=1\n"
                           "a=1\n"
                           "serverurl=AUTO\n"),
              0);
    /* supervisord ignores keys it does not know: a warning each, still naming the nearest
     * valid key (`tend check --strict` makes them errors). */
    CHECK_STR(fx.text,
              "main.conf:3: warning: unknown key 'autorestar' in [program:x]; did you mean "
              "'autorestart'? ignored\n"
              "main.conf:4: warning: unknown key 'stdout_logfile_maxbyte' in [program:x]; did "
              "you mean 'stdout_logfile_maxbytes'? ignored\n"
              "main.conf:5: warning: unknown key 'frobnicate' in [program:x]; ignored\n"
              "main.conf:6: warning: unknown key 'a' in [program:x]; ignored\n"
              "main.conf:7: warning: [program:x] key 'serverurl' is not supported by tend yet; "
              "ignored");

    /* Every unsupported key of every section kind warns with the exact text. */
    static const struct {
        enum key_section ks;
        const char *header;
        const char *shown;
    } kinds[] = {
        {KEYSEC_PROGRAM, "[program:x]\ncommand=/bin/x\n", "program:x"},
        {KEYSEC_TEND, "[tend]\n", "tend"},
        {KEYSEC_UNIX_HTTP, "[unix_http_server]\n", "unix_http_server"},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n;
        const struct key_def *defs = keys_list(kinds[k].ks, &n);
        for (size_t i = 0; i < n; i++) {
            if (defs[i].supported)
                continue;
            char *text = xasprintf("%s%s=1\n", kinds[k].header, defs[i].name);
            int line = kinds[k].ks == KEYSEC_PROGRAM ? 3 : 2;
            char *want = xasprintf("main.conf:%d: warning: [%s] key '%s' is not supported by "
                                   "tend yet; ignored",
                                   line, kinds[k].shown, defs[i].name);
            CHECK_INT(fx_conf(&fx, text), 0);
            CHECK_STR(fx.text, want);
            free(text);
            free(want);
        }
    }
    /* The unsupported supervisord program keys the brief names are all in the table. */
    static const char *const named[] = {"serverurl"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        const struct key_def *d = keys_find(KEYSEC_PROGRAM, named[i]);
        CHECK(d != NULL && !d->supported);
    }
    fx_done(&fx);
}

TEST(key_table_sane)
{
    for (int ks = 0; ks < KEYSEC_COUNT; ks++) {
        size_t n;
        const struct key_def *defs = keys_list((enum key_section)ks, &n);
        CHECK(n > 0);
        bool seen_unsupported = false;
        for (size_t i = 0; i < n; i++) {
            for (const char *c = defs[i].name; *c != '\0'; c++)
                CHECK(!(*c >= 'A' && *c <= 'Z'));
            for (size_t j = 0; j < i; j++)
                CHECK(strcmp(defs[i].name, defs[j].name) != 0);
            CHECK(keys_find((enum key_section)ks, defs[i].name) == &defs[i]);
            CHECK(keys_nearest((enum key_section)ks, defs[i].name) == &defs[i]);
            /* Supported keys first, so they win suggestion ties. */
            if (!defs[i].supported)
                seen_unsupported = true;
            else
                CHECK(!seen_unsupported);
            CHECK((defs[i].id == KEY_UNSUPPORTED) == !defs[i].supported);
        }
    }
    CHECK(keys_find(KEYSEC_PROGRAM, "nope") == NULL);
    CHECK(keys_nearest(KEYSEC_PROGRAM, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzz") == NULL);
    CHECK(keys_nearest(KEYSEC_PROGRAM, "usr") != NULL);
    CHECK(keys_nearest(KEYSEC_PROGRAM, "x") == NULL);
}

/* One program key = value, and a check of the parsed result. */
struct key_case {
    const char *key;
    const char *value;
    bool (*ok)(const struct proc_conf *p);
};

static bool ok_command(const struct proc_conf *p)
{
    return strcmp(p->command, "/bin/sh -c 'echo hi'") == 0 && str_vec_len(p->argv) == 3 &&
           strcmp(p->argv[2], "echo hi") == 0;
}
static bool ok_process_name(const struct proc_conf *p) { return strcmp(p->name, "pp") == 0; }
static bool ok_numprocs(const struct proc_conf *p) { return p->numprocs == 1; }
static bool ok_numprocs_start(const struct proc_conf *p) { return p->process_num == 4; }
static bool ok_priority(const struct proc_conf *p) { return p->priority == -3; }
static bool ok_autostart(const struct proc_conf *p) { return !p->autostart; }
static bool ok_startsecs(const struct proc_conf *p) { return p->startsecs == 0; }
static bool ok_startretries(const struct proc_conf *p) { return p->startretries == 9; }
static bool ok_autorestart(const struct proc_conf *p)
{
    return p->autorestart == AUTORESTART_TRUE;
}
static bool ok_exitcodes(const struct proc_conf *p)
{
    return !proc_conf_expected(p, 0) && proc_conf_expected(p, 2) && proc_conf_expected(p, 255) &&
           !proc_conf_expected(p, 254) && !proc_conf_expected(p, 256);
}
static bool ok_stopsignal(const struct proc_conf *p) { return p->stopsignal == SIGQUIT; }
static bool ok_stopwaitsecs(const struct proc_conf *p) { return p->stopwaitsecs == 60; }
static bool ok_stopasgroup(const struct proc_conf *p)
{
    return p->stopasgroup && p->killasgroup;
}
static bool ok_killasgroup(const struct proc_conf *p)
{
    return !p->stopasgroup && p->killasgroup;
}
static bool ok_user(const struct proc_conf *p) { return strcmp(p->user, "www-data") == 0; }
static bool ok_directory(const struct proc_conf *p)
{
    return strcmp(p->directory, "/srv/app") == 0;
}
static bool ok_umask(const struct proc_conf *p) { return p->umask == 022; }
static bool ok_environment(const struct proc_conf *p)
{
    return str_vec_len(p->env) == 1 && strcmp(p->env[0], "A=1") == 0;
}
static bool ok_redirect_stderr(const struct proc_conf *p) { return p->redirect_stderr; }
static bool ok_stdout_logfile(const struct proc_conf *p)
{
    return p->stdout_logfile_kind == LOG_TARGET_PATH &&
           strcmp(p->stdout_logfile, "/var/log/p.out") == 0;
}
static bool ok_stdout_logfile_maxbytes(const struct proc_conf *p)
{
    return p->stdout_logfile_maxbytes == 2048;
}
static bool ok_stdout_logfile_backups(const struct proc_conf *p)
{
    return p->stdout_logfile_backups == 0;
}
static bool ok_stdout_syslog(const struct proc_conf *p) { return p->stdout_syslog; }
static bool ok_stderr_logfile(const struct proc_conf *p)
{
    return p->stderr_logfile_kind == LOG_TARGET_NONE && p->stderr_logfile == NULL;
}
static bool ok_stderr_logfile_maxbytes(const struct proc_conf *p)
{
    return p->stderr_logfile_maxbytes == 3LL * 1024 * 1024 * 1024;
}
static bool ok_stderr_logfile_backups(const struct proc_conf *p)
{
    return p->stderr_logfile_backups == 2;
}
static bool ok_stderr_syslog(const struct proc_conf *p) { return p->stderr_syslog; }
static bool ok_stdout_timestamps(const struct proc_conf *p) { return p->stdout_timestamps; }
static bool ok_stdout_events(const struct proc_conf *p) { return p->stdout_events; }
static bool ok_stdout_capture(const struct proc_conf *p)
{
    return proc_conf_events(p)->stdout_capture_maxbytes == 1024 * 1024;
}
static bool ok_stderr_capture(const struct proc_conf *p)
{
    return proc_conf_events(p)->stderr_capture_maxbytes == 100;
}
static bool ok_stderr_events(const struct proc_conf *p) { return p->stderr_events; }
static bool ok_pidfile(const struct proc_conf *p)
{
    return strcmp(p->pidfile, "/run/p.pid") == 0;
}
static bool ok_healthcheck(const struct proc_conf *p)
{
    return proc_conf_health(p)->kind == HEALTH_TCP && strcmp(proc_conf_health(p)->host, "127.0.0.1") == 0 &&
           proc_conf_health(p)->port == 8080 && strcmp(proc_conf_health(p)->spec, "tcp:127.0.0.1:8080") == 0;
}
static bool ok_healthcheck_interval(const struct proc_conf *p)
{
    return proc_conf_health(p)->interval == 30;
}
static bool ok_healthcheck_timeout(const struct proc_conf *p)
{
    return proc_conf_health(p)->timeout == 2;
}
static bool ok_healthcheck_retries(const struct proc_conf *p)
{
    return proc_conf_health(p)->retries == 1;
}
static bool ok_healthcheck_grace(const struct proc_conf *p)
{
    return proc_conf_health_grace(p) == 0;
}
static bool ok_on_event(const struct proc_conf *p)
{
    return strcmp(p->on_event, "/bin/notify --all") == 0;
}

static bool ok_stopleftovers(const struct proc_conf *p)
{
    return !p->stopleftovers;
}
static bool ok_memory_max(const struct proc_conf *p)
{
    return proc_conf_limits(p)->memory_max == 64LL << 20;
}
static bool ok_memory_high(const struct proc_conf *p)
{
    return proc_conf_limits(p)->memory_high == 1LL << 30;
}
static bool ok_tasks_max(const struct proc_conf *p)
{
    return proc_conf_limits(p)->tasks_max == 64;
}
static bool ok_cpu_weight(const struct proc_conf *p)
{
    return proc_conf_limits(p)->cpu_weight == 200;
}
static bool ok_cpu_max(const struct proc_conf *p)
{
    return proc_conf_limits(p)->cpu_max == 150;
}
static bool ok_rlimit_nofile(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_NOFILE) == 4096 && proc_conf_rlimit(p, PROC_RLIM_CORE) == PROC_RLIM_UNSET;
}
static bool ok_rlimit_core(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_CORE) == PROC_RLIM_INFINITY;
}
static bool ok_rlimit_nproc(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_NPROC) == 100;
}
static bool ok_rlimit_as(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_AS) == 2LL << 30;
}
static bool ok_rlimit_memlock(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_MEMLOCK) == 64LL << 10;
}
static bool ok_rlimit_stack(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_STACK) == 8LL << 20;
}
static bool ok_rlimit_fsize(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_FSIZE) == 0;
}
static bool ok_rlimit_cpu(const struct proc_conf *p)
{
    return proc_conf_rlimit(p, PROC_RLIM_CPU) == PROC_RLIM_INFINITY;
}
/* A lone program can only depend on nothing: an empty list is no dependency. */
static bool ok_depends_on(const struct proc_conf *p)
{
    return p->depends_on == NULL && p->depends_on_line == 3;
}
static bool ok_readiness(const struct proc_conf *p)
{
    return p->readiness == READY_TCP && proc_conf_ready(p)->port == 5432 &&
           strcmp(proc_conf_ready(p)->host, "::1") == 0;
}
static bool ok_startwaitsecs(const struct proc_conf *p)
{
    return proc_conf_ready(p)->startwaitsecs == 30;
}
static bool ok_watchdogsecs(const struct proc_conf *p)
{
    return proc_conf_ready(p)->watchdogsecs == 5;
}

static const struct key_case key_cases[] = {
    {"command", "/bin/sh -c 'echo hi'", ok_command},
    {"process_name", "pp", ok_process_name},
    {"numprocs", "1", ok_numprocs},
    {"numprocs_start", "4", ok_numprocs_start},
    {"priority", "-3", ok_priority},
    {"autostart", "false", ok_autostart},
    {"startsecs", "0", ok_startsecs},
    {"startretries", "9", ok_startretries},
    {"autorestart", "true", ok_autorestart},
    {"exitcodes", "2, 255", ok_exitcodes},
    {"stopsignal", "QUIT", ok_stopsignal},
    {"stopwaitsecs", "60", ok_stopwaitsecs},
    {"stopasgroup", "true", ok_stopasgroup},
    {"killasgroup", "true", ok_killasgroup},
    {"user", "www-data", ok_user},
    {"directory", "/srv/app", ok_directory},
    {"umask", "022", ok_umask},
    {"environment", "A=1", ok_environment},
    {"redirect_stderr", "true", ok_redirect_stderr},
    {"stdout_logfile", "/var/log/p.out", ok_stdout_logfile},
    {"stdout_logfile_maxbytes", "2KB", ok_stdout_logfile_maxbytes},
    {"stdout_logfile_backups", "0", ok_stdout_logfile_backups},
    {"stdout_syslog", "true", ok_stdout_syslog},
    {"stderr_logfile", "NONE", ok_stderr_logfile},
    {"stderr_logfile_maxbytes", "3GB", ok_stderr_logfile_maxbytes},
    {"stderr_logfile_backups", "2", ok_stderr_logfile_backups},
    {"stderr_syslog", "yes", ok_stderr_syslog},
    {"stdout_timestamps", "on", ok_stdout_timestamps},
    {"stdout_events_enabled", "true", ok_stdout_events},
    {"stdout_capture_maxbytes", "1MB", ok_stdout_capture},
    {"stderr_capture_maxbytes", "100", ok_stderr_capture},
    {"stderr_events_enabled", "1", ok_stderr_events},
    {"pidfile", "/run/p.pid", ok_pidfile},
    {"healthcheck", "tcp:127.0.0.1:8080", ok_healthcheck},
    {"healthcheck_interval", "30", ok_healthcheck_interval},
    {"healthcheck_timeout", "2", ok_healthcheck_timeout},
    {"healthcheck_retries", "1", ok_healthcheck_retries},
    {"healthcheck_grace", "0", ok_healthcheck_grace},
    {"on_event", "/bin/notify --all", ok_on_event},
    {"stopleftovers", "false", ok_stopleftovers},
    {"memory_max", "64MB", ok_memory_max},
    {"memory_high", "1GB", ok_memory_high},
    {"tasks_max", "64", ok_tasks_max},
    {"cpu_weight", "200", ok_cpu_weight},
    {"cpu_max", "150", ok_cpu_max},
    {"rlimit_nofile", "4096", ok_rlimit_nofile},
    {"rlimit_core", "unlimited", ok_rlimit_core},
    {"rlimit_nproc", "100", ok_rlimit_nproc},
    {"rlimit_as", "2GB", ok_rlimit_as},
    {"rlimit_memlock", "64KB", ok_rlimit_memlock},
    {"rlimit_stack", "8MB", ok_rlimit_stack},
    {"rlimit_fsize", "0", ok_rlimit_fsize},
    {"rlimit_cpu", "Infinity", ok_rlimit_cpu},
    {"depends_on", " , ", ok_depends_on},
    {"readiness", "tcp:[::1]:5432", ok_readiness},
    {"startwaitsecs", "30", ok_startwaitsecs},
    {"watchdogsecs", "5", ok_watchdogsecs},
};

/* depends_on= names processes, programs or groups; unknown names and cycles are errors at
 * the depends_on= line, the cycle named in order with each member's place. */
TEST(dependencies)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[group:back]\n"
                           "programs=db,cache\n"
                           "[program:db]\n"
                           "command=/bin/db\n"
                           "readiness=notify\n"
                           "watchdogsecs=10\n"
                           "[program:cache]\n"
                           "command=/bin/cache\n"
                           "depends_on=db\n"
                           "readiness=tcp:6379\n"
                           "[program:web]\n"
                           "command=/bin/web %(process_num)d\n"
                           "process_name=web%(process_num)d\n"
                           "numprocs=2\n"
                           "depends_on=back, db\n"
                           "readiness=healthcheck\n"
                           "healthcheck=tcp:127.0.0.1:80\n"),
              0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "web1");
    CHECK(p != NULL && p->depends_on != NULL && strcmp(p->depends_on[0], "back") == 0 &&
          strcmp(p->depends_on[1], "db") == 0 && p->depends_on[2] == NULL);
    CHECK(p != NULL && p->readiness == READY_HEALTHCHECK && proc_conf_health_grace(p) == 0);
    p = fx_proc(&fx, "cache");
    CHECK(p != NULL && p->readiness == READY_TCP && proc_conf_ready(p)->port == 6379 &&
          strcmp(proc_conf_ready(p)->host, "127.0.0.1") == 0 && proc_conf_ready(p)->startwaitsecs == 90);
    p = fx_proc(&fx, "db");
    CHECK(p != NULL && p->readiness == READY_NOTIFY && proc_conf_ready(p)->watchdogsecs == 10);

    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\ndepends_on=b\n"
                           "[program:b]\ncommand=/bin/b\n\ndepends_on = c\n"
                           "[program:c]\ncommand=/bin/c\ndepends_on=a\n"),
              -1);
    CHECK(strstr(fx.text, "main.conf:3: error: depends_on: dependency cycle: a (") != NULL);
    CHECK(strstr(fx.text, "main.conf:3) -> b (") != NULL);
    CHECK(strstr(fx.text, "main.conf:7) -> c (") != NULL);
    CHECK(strstr(fx.text, "main.conf:10) -> a") != NULL);

    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\ndepends_on=a\n"), -1);
    CHECK(strstr(fx.text, "main.conf:3: error: depends_on: dependency cycle: a") != NULL);

    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\ndepends_on=dbb\n"
                           "[program:db]\ncommand=/bin/db\n"),
              -1);
    CHECK(strstr(fx.text, "main.conf:3: error: depends_on: no program, group or process is "
                          "named 'dbb'") != NULL);

    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\nreadiness=healthcheck\n"), -1);
    CHECK(strstr(fx.text, "main.conf:3: error: readiness: 'healthcheck' needs a "
                          "healthcheck=") != NULL);
    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\nreadiness=tcp:99999\n"), -1);
    CHECK(strstr(fx.text, "main.conf:3: error: readiness:") != NULL);
    CHECK_INT(fx_conf(&fx, "[program:a]\ncommand=/bin/a\nreadiness=soon\n"), -1);
    CHECK(strstr(fx.text, "main.conf:3: error: readiness: 'soon' is not one of") != NULL);
    fx_done(&fx);
}

TEST(every_supported_program_key)
{
    struct fx fx;
    fx_init(&fx);
    size_t n;
    const struct key_def *defs = keys_list(KEYSEC_PROGRAM, &n);
    for (size_t i = 0; i < n; i++) {
        if (!defs[i].supported)
            continue;
        const struct key_case *kc = NULL;
        for (size_t j = 0; j < sizeof key_cases / sizeof key_cases[0]; j++) {
            if (strcmp(key_cases[j].key, defs[i].name) == 0)
                kc = &key_cases[j];
        }
        if (kc == NULL) {
            fprintf(stderr, "  no test case for supported key '%s'\n", defs[i].name);
            CHECK(kc != NULL);
            continue;
        }
        char *text = strcmp(kc->key, "command") == 0
                         ? xasprintf("[program:p]\ncommand=%s\n", kc->value)
                         : xasprintf("[program:p]\ncommand=/bin/true\n%s=%s\n", kc->key,
                                     kc->value);
        CHECK_INT(fx_conf(&fx, text), 0);
        CHECK_STR(fx.text, "");
        const struct proc_conf *p =
            fx.cfg != NULL && fx.cfg->nprocs == 1 ? fx.cfg->procs[0] : NULL;
        if (p == NULL || !kc->ok(p)) {
            fprintf(stderr, "  key '%s' = '%s' did not parse as expected\n", kc->key,
                    kc->value);
            CHECK(false);
        }
        free(text);
    }
    fx_done(&fx);
}

TEST(numbers)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:p]\n"
                           "command=/bin/true\n"
                           "startsecs=-1\n"
                           "startretries=99999999999999999999999\n"
                           "stopwaitsecs=2147483648\n"
                           "priority=1.5\n"
                           "numprocs=0\n"
                           "numprocs_start=x\n"
                           "healthcheck_interval=0\n"
                           "stdout_logfile_backups= 3x\n"
                           "priority2=3\n"),
              -1);
    CHECK_STR(fx.text,
              "main.conf:3: error: startsecs: '-1' is not a non-negative integer\n"
              "main.conf:4: error: startretries: '99999999999999999999999' is out of range "
              "(0..2147483647)\n"
              "main.conf:5: error: stopwaitsecs: '2147483648' is out of range (0..2147483647)\n"
              "main.conf:6: error: priority: '1.5' is not an integer\n"
              "main.conf:7: error: numprocs: '0' is not a positive integer\n"
              "main.conf:8: error: numprocs_start: 'x' is not a non-negative integer\n"
              "main.conf:9: error: healthcheck_interval: '0' is not a positive integer\n"
              "main.conf:10: error: stdout_logfile_backups: '3x' is not a non-negative "
              "integer\n"
              "main.conf:11: warning: unknown key 'priority2' in [program:p]; did you mean "
              "'priority'? ignored");
    const struct proc_conf *p = fx_prog_line(&fx, "priority=-2147483648");
    CHECK(p != NULL && p->priority == INT_MIN);
    p = fx_prog_line(&fx, "startsecs=2147483647");
    CHECK(p != NULL && p->startsecs == INT_MAX);
    p = fx_prog_line(&fx, "startsecs=007");
    CHECK(p != NULL && p->startsecs == 7);
    p = fx_prog_line(&fx, "priority=+4");
    CHECK(p != NULL && p->priority == 4);
    CHECK(fx_prog_line(&fx, "priority=-2147483649") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: priority: '-2147483649' is out of range "
                       "(-2147483648..2147483647)");
    CHECK(fx_prog_line(&fx, "numprocs=65537") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: numprocs: '65537' is out of range (1..65536)");
    fx_done(&fx);
}

TEST(booleans_every_spelling)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *text;
        bool value;
    } cases[] = {
        {"true", true},  {"TRUE", true},   {"True", true},  {"yes", true},   {"YES", true},
        {"on", true},    {"On", true},     {"1", true},     {"false", false}, {"FALSE", false},
        {"no", false},   {"No", false},    {"off", false},  {"OFF", false},  {"0", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("stdout_timestamps=%s", cases[i].text);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL);
        if (p != NULL && p->stdout_timestamps != cases[i].value) {
            fprintf(stderr, "  boolean '%s'\n", cases[i].text);
            CHECK(false);
        }
        free(line);
        bool b = !cases[i].value;
        CHECK_INT(parse_bool(cases[i].text, &b), 0);
        CHECK_INT(b, cases[i].value);
    }
    static const char *const bad[] = {"2", "y", "n", "truee", "", " yes", "oui"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool b;
        CHECK_INT(parse_bool(bad[i], &b), -1);
    }
    CHECK(fx_prog_line(&fx, "autostart=maybe") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: autostart: 'maybe' is not a boolean (true/false, "
                       "yes/no, on/off, 1/0)");
    fx_done(&fx);
}

TEST(signals_every_name)
{
    static const struct {
        const char *name;
        int signo;
    } sigs[] = {
        {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
        {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGABRT},    {"BUS", SIGBUS},
        {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
        {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
        {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},    {"CONT", SIGCONT},
        {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},
        {"URG", SIGURG},     {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM},
        {"PROF", SIGPROF},   {"WINCH", SIGWINCH},   {"IO", SIGIO},       {"POLL", SIGIO},
        {"PWR", SIGPWR},     {"SYS", SIGSYS},
    };
    struct fx fx;
    fx_init(&fx);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char lower[16], sig_prefixed[24];
        snprintf(lower, sizeof lower, "%s", sigs[i].name);
        str_lower(lower);
        snprintf(sig_prefixed, sizeof sig_prefixed, "SIG%s", sigs[i].name);
        CHECK_INT(sig_from_name(sigs[i].name), sigs[i].signo);
        CHECK_INT(sig_from_name(lower), sigs[i].signo);
        CHECK_INT(sig_from_name(sig_prefixed), sigs[i].signo);
        char mixed[24];
        snprintf(mixed, sizeof mixed, "sig%s", lower);
        CHECK_INT(sig_from_name(mixed), sigs[i].signo);
        /* sig_name gives a name that maps back to the same number. */
        CHECK_INT(sig_from_name(sig_name(sigs[i].signo)), sigs[i].signo);
        /* And through the config. */
        char *line = xasprintf("stopsignal=%s", i % 2 ? sig_prefixed : lower);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL && p->stopsignal == sigs[i].signo);
        free(line);
    }
    CHECK_STR(sig_name(SIGTERM), "TERM");
    CHECK_STR(sig_name(SIGABRT), "ABRT");
    CHECK_STR(sig_name(SIGCHLD), "CHLD");
    CHECK_INT(sig_from_name("9"), 9);
    CHECK_INT(sig_from_name("RTMIN"), SIGRTMIN);
    CHECK_INT(sig_from_name("SIGRTMIN+2"), SIGRTMIN + 2);
    CHECK_INT(sig_from_name("rtmax-1"), SIGRTMAX - 1);
    CHECK_INT(sig_from_name("RTMAX"), SIGRTMAX);
    CHECK_INT(sig_from_name("RTMIN-1"), -1);
    CHECK_INT(sig_from_name("0"), -1);
    CHECK_INT(sig_from_name("65"), -1);
    CHECK_INT(sig_from_name(""), -1);
    CHECK_INT(sig_from_name("SIG"), -1);
    CHECK_INT(sig_from_name("TERMX"), -1);
    CHECK(sig_name(0) == NULL);
    const struct proc_conf *p = fx_prog_line(&fx, "stopsignal=15");
    CHECK(p != NULL && p->stopsignal == SIGTERM);
    CHECK(fx_prog_line(&fx, "stopsignal=SIGFOO") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: stopsignal: unknown signal 'SIGFOO'");
    fx_done(&fx);
}

TEST(autorestart_values)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *text;
        enum autorestart value;
    } cases[] = {
        {"true", AUTORESTART_TRUE},       {"false", AUTORESTART_FALSE},
        {"unexpected", AUTORESTART_UNEXPECTED}, {"UNEXPECTED", AUTORESTART_UNEXPECTED},
        {"yes", AUTORESTART_TRUE},        {"0", AUTORESTART_FALSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("autorestart=%s", cases[i].text);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL && p->autorestart == cases[i].value);
        free(line);
    }
    fx_done(&fx);
}

TEST(exitcodes)
{
    struct fx fx;
    fx_init(&fx);
    const struct proc_conf *p = fx_prog_line(&fx, "exitcodes=0,1, 2 ,255");
    CHECK(p != NULL);
    if (p != NULL) {
        for (int i = 0; i < 256; i++)
            CHECK_INT(proc_conf_expected(p, i), i <= 2 || i == 255);
    }
    /* Every exit code on its own. */
    for (int code = 0; code < 256; code++) {
        char *line = xasprintf("exitcodes=%d", code);
        p = fx_prog_line(&fx, line);
        CHECK(p != NULL);
        if (p != NULL) {
            int set = 0;
            for (int i = 0; i < 256; i++)
                set += proc_conf_expected(p, i);
            CHECK(set == 1 && proc_conf_expected(p, code));
            CHECK((p->exitcodes == NULL) == (code == 0)); /* the default is not stored */
        }
        free(line);
    }
    CHECK(fx_prog_line(&fx, "exitcodes=256") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: exitcodes: '256' is not an exit code (0..255)");
    CHECK(fx_prog_line(&fx, "exitcodes=1,,2") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: exitcodes: '1,,2' is not a comma-separated list "
                       "of exit codes (0..255)");
    CHECK(fx_prog_line(&fx, "exitcodes=-1") == NULL);
    CHECK(fx_prog_line(&fx, "exitcodes=") == NULL);
    CHECK(fx_prog_line(&fx, "exitcodes=1 2") == NULL);
    fx_done(&fx);
}

TEST(umask_octal)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *text;
        int value;
    } cases[] = {{"022", 022}, {"0", 0}, {"777", 0777}, {"0o27", 027}, {"0077", 077}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("umask=%s", cases[i].text);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL && p->umask == cases[i].value);
        free(line);
    }
    CHECK(fx_prog_line(&fx, "umask=0x1f") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: umask: '0x1f' is not an octal number");
    CHECK(fx_prog_line(&fx, "umask=1777") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: umask: '1777' is out of range (0..0777)");
    fx_done(&fx);
}

TEST(sizes)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *text;
        long long value;
    } cases[] = {
        {"0", 0},
        {"1024", 1024},
        {"1KB", 1024},
        {"5 MB", 5LL * 1024 * 1024},
        {"2mb", 2LL * 1024 * 1024},
        {"1gb", 1024LL * 1024 * 1024},
        {"8589934591GB", 8589934591LL * 1024 * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("stdout_logfile_maxbytes=%s", cases[i].text);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL && p->stdout_logfile_maxbytes == cases[i].value);
        free(line);
        long long v;
        CHECK_INT(parse_size(cases[i].text, &v), 0);
        CHECK_INT(v, cases[i].value);
    }
    static const char *const bad[] = {"", "KB", "5XB", "5 K", "-1", "1.5MB", "5MB ", "5 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long v;
        CHECK_INT(parse_size(bad[i], &v), -1);
        CHECK_INT(errno, EINVAL);
    }
    long long v;
    CHECK_INT(parse_size("8589934592GB", &v), -1);
    CHECK_INT(errno, ERANGE);
    CHECK(fx_prog_line(&fx, "stderr_logfile_maxbytes=5XB") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: stderr_logfile_maxbytes: '5XB' is not a size "
                       "(bytes, or a number with KB, MB or GB)");
    CHECK(fx_prog_line(&fx, "stderr_logfile_maxbytes=99999999999999999999") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: stderr_logfile_maxbytes: '99999999999999999999' "
                       "is too large");
    fx_done(&fx);
}

TEST(logfiles)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *text;
        enum log_target kind;
        const char *path;
    } cases[] = {
        {"NONE", LOG_TARGET_NONE, NULL},   {"none", LOG_TARGET_NONE, NULL},
        {"off", LOG_TARGET_NONE, NULL},    {"AUTO", LOG_TARGET_AUTO, NULL},
        {"auto", LOG_TARGET_AUTO, NULL},   {"syslog", LOG_TARGET_SYSLOG, NULL},
        {"/var/log/x.log", LOG_TARGET_PATH, "/var/log/x.log"},
        {"rel/x.log", LOG_TARGET_PATH, "rel/x.log"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("stdout_logfile=%s\nstderr_logfile=%s", cases[i].text,
                               cases[i].text);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL);
        if (p != NULL) {
            CHECK_INT(p->stdout_logfile_kind, cases[i].kind);
            CHECK_INT(p->stderr_logfile_kind, cases[i].kind);
            if (cases[i].path == NULL) {
                CHECK(p->stdout_logfile == NULL && p->stderr_logfile == NULL);
            } else {
                CHECK_STR(p->stdout_logfile, cases[i].path);
                CHECK_STR(p->stderr_logfile, cases[i].path);
            }
        }
        free(line);
    }
    setenv("HOME", "/home/tester", 1);
    const struct proc_conf *p = fx_prog_line(&fx, "stdout_logfile=~/logs/%(program_name)s.log");
    CHECK(p != NULL && strcmp(p->stdout_logfile, "/home/tester/logs/p.log") == 0);
    p = fx_prog_line(&fx, "directory=~");
    CHECK(p != NULL && strcmp(p->directory, "/home/tester") == 0);
    p = fx_prog_line(&fx, "directory=~other/x");
    CHECK(p != NULL && strcmp(p->directory, "~other/x") == 0);
    CHECK(fx_prog_line(&fx, "stdout_logfile=") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: stdout_logfile: empty value");

    /* stderr_logfile has no effect with redirect_stderr: a warning says so. */
    p = fx_prog_line(&fx, "redirect_stderr=true\nstderr_logfile=/x");
    CHECK(p != NULL);
    CHECK_STR(fx.text,
              "main.conf:4: warning: stderr_logfile: ignored because redirect_stderr is true");
    fx_done(&fx);
}

TEST(healthchecks)
{
    struct fx fx;
    fx_init(&fx);
    const struct proc_conf *p = fx_prog_line(&fx, "healthcheck=tcp:[::1]:9000");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_INT(proc_conf_health(p)->kind, HEALTH_TCP);
        CHECK_STR(proc_conf_health(p)->host, "::1");
        CHECK_INT(proc_conf_health(p)->port, 9000);
        CHECK(proc_conf_health(p)->path == NULL && proc_conf_health(p)->command == NULL);
    }
    p = fx_prog_line(&fx, "healthcheck=http://localhost:8080/healthz?full=1");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_INT(proc_conf_health(p)->kind, HEALTH_HTTP);
        CHECK_STR(proc_conf_health(p)->host, "localhost");
        CHECK_INT(proc_conf_health(p)->port, 8080);
        CHECK_STR(proc_conf_health(p)->path, "/healthz?full=1");
    }
    p = fx_prog_line(&fx, "healthcheck=http://example.org");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(proc_conf_health(p)->host, "example.org");
        CHECK_INT(proc_conf_health(p)->port, 80);
        CHECK_STR(proc_conf_health(p)->path, "/");
    }
    p = fx_prog_line(&fx, "healthcheck=http://[fe80::1]:81/x");
    CHECK(p != NULL && strcmp(proc_conf_health(p)->host, "fe80::1") == 0 &&
          proc_conf_health(p)->port == 81 && strcmp(proc_conf_health(p)->path, "/x") == 0);
    p = fx_prog_line(&fx, "healthcheck=exec: /usr/bin/check --port 80 'a b'");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_INT(proc_conf_health(p)->kind, HEALTH_EXEC);
        CHECK_STR(proc_conf_health(p)->command, "/usr/bin/check --port 80 'a b'");
        CHECK_INT(str_vec_len(proc_conf_health(p)->argv), 4);
        CHECK_STR(proc_conf_health(p)->argv[3], "a b");
        CHECK_STR(proc_conf_health(p)->spec, "exec: /usr/bin/check --port 80 'a b'");
    }
    /* healthcheck_grace follows startsecs unless set. */
    p = fx_prog_line(&fx, "startsecs=12");
    CHECK(p != NULL && proc_conf_health_grace(p) == 12);
    p = fx_prog_line(&fx, "startsecs=12\nhealthcheck_grace=3");
    CHECK(p != NULL && proc_conf_health_grace(p) == 3);

    static const char *const bad[] = {
        "tcp:localhost",   "tcp::80",          "tcp:host:0",       "tcp:host:65536",
        "tcp:host:80x",    "tcp:[::1]80",      "tcp:[::1",         "http://:80/",
        "http://h:x/",     "ftp://h/",         "exec:",            "tcp:",
        "localhost:80",    "tcp:a:b:80",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *line = xasprintf("healthcheck=%s", bad[i]);
        CHECK(fx_prog_line(&fx, line) == NULL);
        char *want = xasprintf("main.conf:3: error: healthcheck: '%s' is not tcp:HOST:PORT, "
                               "http://HOST:PORT/PATH or exec:COMMAND",
                               bad[i]);
        CHECK_STR(fx.text, want);
        free(want);
        free(line);
    }
    CHECK(fx_prog_line(&fx, "healthcheck=https://h/") == NULL);
    CHECK_STR(fx.text,
              "main.conf:3: error: healthcheck: https is not supported; use http:// or tcp:");
    CHECK(fx_prog_line(&fx, "healthcheck=exec:/bin/check 'oops") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: healthcheck: unterminated single quote in "
                       "'exec:/bin/check 'oops'");
    fx_done(&fx);
}

TEST(environment_quoting)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *value;
        const char *want[5];
    } cases[] = {
        {"A=1", {"A=1"}},
        {"A=1,B=2", {"A=1", "B=2"}},
        {"A=\"x,y\",B='p, q',C=3", {"A=x,y", "B=p, q", "C=3"}},
        {" A = spaced value , B=2,", {"A=spaced value", "B=2"}},
        {"A=,B=", {"A=", "B="}},
        {"PATH=\"/usr/bin:/bin\",HOME=/root", {"PATH=/usr/bin:/bin", "HOME=/root"}},
        {"A=1,A=2", {"A=2"}},
        {"A=\"it's\",B='say \"hi\"'", {"A=it's", "B=say \"hi\""}},
        {"X.Y-Z=1", {"X.Y-Z=1"}},
        {"", {NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *line = xasprintf("environment=%s", cases[i].value);
        const struct proc_conf *p = fx_prog_line(&fx, line);
        CHECK(p != NULL);
        if (p != NULL) {
            size_t n = 0;
            while (n < 5 && cases[i].want[n] != NULL)
                n++;
            CHECK_INT(str_vec_len(p->env), n);
            for (size_t k = 0; k < n && k < str_vec_len(p->env); k++)
                CHECK_STR(p->env[k], cases[i].want[k]);
            if (n == 0)
                CHECK(p->env == NULL);
        }
        free(line);
    }
    CHECK(fx_prog_line(&fx, "environment=A=1,B") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: environment: expected KEY=VALUE at 'B'");
    CHECK(fx_prog_line(&fx, "environment=A=\"1,B=2") == NULL);
    CHECK_STR(fx.text,
              "main.conf:3: error: environment: unterminated \" quote in 'A=\"1,B=2'");
    CHECK(fx_prog_line(&fx, "environment=A=\"1\"x,B=2") == NULL);
    CHECK_STR(fx.text,
              "main.conf:3: error: environment: unexpected text after a quoted value at 'x,B=2'");
    CHECK(fx_prog_line(&fx, "environment==1") == NULL);
    CHECK_STR(fx.text, "main.conf:3: error: environment: expected KEY=VALUE at '=1'");
    fx_done(&fx);
}

TEST(command_splitting)
{
    struct fx fx;
    fx_init(&fx);
    static const struct {
        const char *value;
        const char *want[6];
    } cases[] = {
        {"/bin/a b  c", {"/bin/a", "b", "c"}},
        {"/bin/a 'x y' \"p q\"", {"/bin/a", "x y", "p q"}},
        {"/bin/a a\\ b", {"/bin/a", "a b"}},
        {"/bin/a \"q\\\"uote\" 'back\\slash'", {"/bin/a", "q\"uote", "back\\slash"}},
        {"/bin/a \"keep\\n\"", {"/bin/a", "keep\\n"}},
        {"/bin/a pre'mid'post \"\"", {"/bin/a", "premidpost", ""}},
        {"/bin/a x#not-a-comment", {"/bin/a", "x#not-a-comment"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = xasprintf("[program:p]\ncommand=%s\n", cases[i].value);
        CHECK_INT(fx_conf(&fx, text), 0);
        const struct proc_conf *p = fx_proc(&fx, "p");
        CHECK(p != NULL);
        if (p != NULL) {
            size_t n = 0;
            while (n < 6 && cases[i].want[n] != NULL)
                n++;
            CHECK_INT(str_vec_len(p->argv), n);
            for (size_t k = 0; k < n && k < str_vec_len(p->argv); k++)
                CHECK_STR(p->argv[k], cases[i].want[k]);
        }
        free(text);
    }
    CHECK_INT(fx_conf(&fx, "[program:p]\ncommand=/bin/a 'unterminated\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: command: unterminated single quote in '/bin/a "
                       "'unterminated'");
    CHECK_INT(fx_conf(&fx, "[program:p]\ncommand=/bin/a \"x\n"), -1);
    CHECK_STR(fx.text,
              "main.conf:2: error: command: unterminated double quote in '/bin/a \"x'");
    CHECK_INT(fx_conf(&fx, "[program:p]\ncommand=/bin/a \\\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: command: backslash at the end in '/bin/a \\'");
    CHECK_INT(fx_conf(&fx, "[program:p]\ncommand=\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: command: empty command");
    CHECK_INT(fx_conf(&fx, "[program:p]\ncommand=''\n"), 0);
    fx_done(&fx);
}

TEST(stopasgroup_implies_killasgroup)
{
    struct fx fx;
    fx_init(&fx);
    const struct proc_conf *p = fx_prog_line(&fx, "stopasgroup=true");
    CHECK(p != NULL && p->stopasgroup && p->killasgroup);
    p = fx_prog_line(&fx, "stopasgroup=true\nkillasgroup=true");
    CHECK(p != NULL && p->killasgroup);
    p = fx_prog_line(&fx, "killasgroup=true");
    CHECK(p != NULL && !p->stopasgroup && p->killasgroup);
    CHECK(fx_prog_line(&fx, "stopasgroup=true\nkillasgroup=false") == NULL);
    CHECK_STR(fx.text,
              "main.conf:4: error: killasgroup: cannot be false when stopasgroup is true");
    fx_done(&fx);
}

TEST(empty_values_rejected)
{
    struct fx fx;
    fx_init(&fx);
    static const char *const keys[] = {"user", "directory", "pidfile", "on_event"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char *line = xasprintf("%s=", keys[i]);
        CHECK(fx_prog_line(&fx, line) == NULL);
        char *want = xasprintf("main.conf:3: error: %s: empty value", keys[i]);
        CHECK_STR(fx.text, want);
        free(want);
        free(line);
    }
    fx_done(&fx);
}

/* ---- numprocs and expansions ------------------------------------------------------------ */

TEST(numprocs_naming)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:worker]\n"
                           "command=/bin/work --id %(process_num)d --of %(numprocs)d\n"
                           "process_name=%(program_name)s_%(process_num)02d\n"
                           "numprocs=3\n"
                           "numprocs_start=8\n"
                           "stdout_logfile=/var/log/%(process_num)s.log\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 3);
    static const char *const names[] = {"worker_08", "worker_09", "worker_10"};
    for (int i = 0; i < 3; i++) {
        const struct proc_conf *p = fx.cfg->procs[i];
        CHECK_STR(p->name, names[i]);
        CHECK_STR(p->program, "worker");
        CHECK_INT(p->process_num, 8 + i);
        CHECK_INT(p->numprocs, 3);
        char want[64];
        snprintf(want, sizeof want, "/bin/work --id %d --of 3", 8 + i);
        CHECK_STR(p->command, want);
        snprintf(want, sizeof want, "/var/log/%d.log", 8 + i);
        CHECK_STR(p->stdout_logfile, want);
        CHECK(config_find_proc(fx.cfg, names[i]) == p);
    }
    /* numprocs > 1 needs %(process_num) in process_name. */
    CHECK_INT(fx_conf(&fx, "[program:w]\ncommand=/bin/w\nnumprocs=2\n"), -1);
    CHECK_STR(fx.text, "main.conf:3: error: process_name: '%(program_name)s' must contain "
                       "%(process_num) when numprocs > 1");
    CHECK_INT(fx_conf(&fx, "[program:w]\n"
                           "command=/bin/w\n"
                           "numprocs=2\n"
                           "process_name=w-%(host_node_name)s\n"),
              -1);
    CHECK_STR(fx.text, "main.conf:4: error: process_name: 'w-%(host_node_name)s' must "
                       "contain %(process_num) when numprocs > 1");
    /* A name that expands badly. */
    CHECK_INT(fx_conf(&fx, "[program:w]\ncommand=/bin/w\nprocess_name=a:%(process_num)d\n"), -1);
    CHECK_STR(fx.text, "main.conf:3: error: process_name: 'a:0' is not a valid process name "
                       "(it may not be empty or contain spaces, ':' or '/')");
    /* Names clash across programs. */
    CHECK_INT(fx_conf(&fx, "[program:a]\n"
                           "command=/bin/a\n"
                           "process_name=x_%(process_num)d\n"
                           "numprocs=2\n"
                           "[program:b]\n"
                           "command=/bin/b\n"
                           "process_name=x_1\n"
                           "[program:c]\n"
                           "command=/bin/c\n"
                           "process_name=x%(process_num).0d\n"
                           "numprocs=1\n"),
              -1);
    CHECK_STR(fx.text, "main.conf:5: error: process name 'x_1' is already used by "
                       "[program:a] at main.conf:1");
    /* One program whose name template ignores the number gives the same name twice. */
    CHECK_INT(fx_conf(&fx, "[program:d]\n"
                           "command=/bin/d\n"
                           "process_name=d%(process_num).0s\n"
                           "numprocs=3\n"),
              -1);
    CHECK_STR(fx.text, "main.conf:1: error: process name 'd' is used twice by [program:d]");
    fx_done(&fx);
}

TEST(expansions)
{
    struct fx fx;
    fx_init(&fx);
    setenv("TEND_TEST_VAR", "val ue", 1);
    struct utsname u;
    uname(&u);
    CHECK_INT(fx_conf(&fx, "[program:exp]\n"
                           "command=/bin/x '%(ENV_TEND_TEST_VAR)s' %(here)s 100%% %(numprocs)d\n"
                           "directory=%(here)s/sub\n"
                           "user=%(host_node_name)s\n"
                           "on_event=[%(process_num)5d|%(process_num)-3d|%(process_num)+d|"
                           "%(program_name)8s|%(program_name)-5s|%(program_name).2s|"
                           "%(process_num).3d|%(process_num)03d|%(process_num)i|"
                           "%(process_num)s|%(process_num)u|%(program_name)05s|"
                           "%(process_num) d]\n"),
              0);
    CHECK_STR(fx.text, "");
    const struct proc_conf *p = fx_proc(&fx, "exp");
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_STR(p->argv[1], "val ue");
        CHECK_STR(p->argv[2], fx.dir);
        CHECK_STR(p->argv[3], "100%");
        CHECK_STR(p->argv[4], "1");
        char *sub = xasprintf("%s/sub", fx.dir);
        CHECK_STR(p->directory, sub);
        free(sub);
        CHECK_STR(p->user, u.nodename);
        CHECK_STR(p->on_event,
                  "[    0|0  |+0|     exp|exp  |ex|000|000|0|0|0|  exp| 0]");
    }
    unsetenv("TEND_TEST_VAR");

    CHECK_INT(fx_conf(&fx, "[program:bad]\n"                           /* 1 */
                           "command=/bin/x %(ENV_TEND_TEST_UNSET_VAR)s\n" /* 2 */
                           "directory=%(nope)s\n"                      /* 3 */
                           "user=%(program_name)d\n"                   /* 4 */
                           "pidfile=%(here\n"                          /* 5 */
                           "on_event=50%\n"                            /* 6 */
                           "stdout_logfile=%(process_num)\n"           /* 7 */
                           "stderr_logfile=%(process_num)2000d\n"      /* 8 */
                           "healthcheck=exec:%(here)x\n"               /* 9 */
                           "[tend]\n"                                  /* 10 */
                           "logfile=%(program_name)s\n"),              /* 11 */
              -1);
    CHECK_STR(fx.text,
              "main.conf:2: error: command: environment variable 'TEND_TEST_UNSET_VAR' is not "
              "set\n"
              "main.conf:3: error: directory: unknown expansion '%(nope)s'; known: ENV_*, "
              "here, host_node_name, program_name, group_name, process_num, numprocs\n"
              "main.conf:4: error: user: '%(program_name)d' needs a number, but program_name "
              "is text\n"
              "main.conf:5: error: pidfile: unterminated '%(' in '%(here'\n"
              "main.conf:6: error: on_event: bad '%' in '50%' (write %% for a literal percent "
              "sign)\n"
              "main.conf:7: error: stdout_logfile: '%(process_num)' needs a conversion such as "
              "'s' or 'd' in '%(process_num)'\n"
              "main.conf:8: error: stderr_logfile: width or precision over 1024 in "
              "'%(process_num)'\n"
              "main.conf:9: error: healthcheck: '%(here)' needs a conversion such as 's' or "
              "'d' in 'exec:%(here)x'\n"
              "main.conf:11: error: logfile: unknown expansion '%(program_name)s'; known: "
              "ENV_*, here, host_node_name");
    /* numprocs cannot refer to itself. */
    CHECK_INT(fx_conf(&fx, "[program:n]\ncommand=/bin/n\nnumprocs=%(numprocs)d\n"), -1);
    CHECK_STR(fx.text, "main.conf:3: error: numprocs: unknown expansion '%(numprocs)d'; known: "
                       "ENV_*, here, host_node_name, program_name, group_name");
    /* ENV expansion works in the sections that are not programs too. */
    setenv("TEND_TEST_SOCK", "/run/x.sock", 1);
    CHECK_INT(fx_conf(&fx, "[unix_http_server]\nfile=%(ENV_TEND_TEST_SOCK)s\n"), 0);
    CHECK_STR(fx.cfg->tend.socket, "/run/x.sock");
    unsetenv("TEND_TEST_SOCK");
    fx_done(&fx);
}

/* ---- includes --------------------------------------------------------------------------- */

TEST(includes_relative_globs)
{
    struct fx fx;
    fx_init(&fx);
    fx_write(&fx, "etc/main.conf",
             "[include]\n"
             "files = conf.d/*.conf  extra.ini\n"
             "[program:main]\n"
             "command=/bin/main %(here)s\n");
    fx_write(&fx, "etc/conf.d/b.conf",
             "[program:b]\n"
             "command=/bin/b %(here)s\n"
             "[include]\n"
             "files=sub/*.ini\n");
    fx_write(&fx, "etc/conf.d/a.conf", "[program:a]\ncommand=/bin/a\n");
    fx_write(&fx, "etc/conf.d/ignored.txt", "garbage that is never read\n");
    fx_write(&fx, "etc/conf.d/sub/c.ini", "[program:c]\ncommand=/bin/c\npriority=1\n");
    fx_write(&fx, "etc/extra.ini", "[group:g]\nprograms=a,c\n");
    /* Not under etc/: a pattern relative to the cwd would find this one instead. */
    fx_write(&fx, "conf.d/zzz.conf", "[program:wrong]\ncommand=/bin/wrong\n");
    CHECK_INT(fx_load(&fx, "etc/main.conf"), 0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 4);
    CHECK(fx_proc(&fx, "wrong") == NULL);
    const struct proc_conf *p = fx_proc(&fx, "main");
    char *here = xasprintf("%s/etc", fx.dir);
    CHECK(p != NULL && strcmp(p->argv[1], here) == 0);
    free(here);
    p = fx_proc(&fx, "b");
    here = xasprintf("%s/etc/conf.d", fx.dir);
    CHECK(p != NULL && strcmp(p->argv[1], here) == 0);
    if (p != NULL)
        CHECK_CONTAINS(p->file, "/etc/conf.d/b.conf");
    free(here);
    p = fx_proc(&fx, "c");
    CHECK(p != NULL && strcmp(p->group, "g") == 0);
    CHECK(fx_proc(&fx, "a") != NULL && strcmp(fx_proc(&fx, "a")->group, "g") == 0);
    /* Sorted by priority, then name. */
    CHECK_STR(fx.cfg->procs[0]->name, "c");
    CHECK_STR(fx.cfg->procs[1]->name, "a");
    CHECK_STR(fx.cfg->procs[2]->name, "b");
    CHECK_STR(fx.cfg->procs[3]->name, "main");

    /* Relative main path: included paths stay relative in messages. */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(fx.dir), 0);
    fx_write(&fx, "etc/conf.d/a.conf", "[program:a]\ncommand=/bin/a\n[program:zz]\n");
    struct config *cfg;
    struct config_diags d = {0};
    CHECK_INT(config_load("etc/main.conf", &cfg, &d), -1);
    CHECK_INT(d.count, 1);
    if (d.count == 1) {
        char buf[512];
        config_diag_format(&d.items[0], buf, sizeof buf);
        CHECK_STR(buf, "etc/conf.d/a.conf:3: error: [program:zz] is missing required key "
                       "'command'");
    }
    config_diags_free(&d);
    CHECK_INT(chdir(cwd), 0);
    fx_done(&fx);
}

/* The config in force, recorded by one load and replayed by another (confsnap.h): the same
 * programs from the same files, with the disk changed meanwhile; a cut record is refused. */
TEST(config_recorded_and_replayed)
{
    struct fx fx;
    fx_init(&fx);
    fx_write(&fx, "etc/main.conf",
             "[include]\nfiles = conf.d/*.conf\n[program:main]\ncommand=/bin/main %(here)s\n");
    fx_write(&fx, "etc/conf.d/b.conf", "[program:b]\ncommand=/bin/b\n");
    fx_write(&fx, "etc/conf.d/a.conf", "[program:a]\ncommand=/bin/a\npriority=1\n");
    char *main_path = fx_path(&fx, "etc/main.conf");
    struct config *cfg = NULL;
    struct config_diags d = {0};
    int rec = confsnap_create();
    CHECK(rec != -1);
    CHECK_INT(config_load_ex(main_path, &cfg, &d, rec, NULL), 0);
    config_free(cfg);
    cfg = NULL;
    /* The disk changes: broken main file, a.conf gone, a new file the pattern matches. */
    fx_write(&fx, "etc/main.conf", "[program:main\n");
    char *a_path = fx_path(&fx, "etc/conf.d/a.conf");
    CHECK_INT(unlink(a_path), 0);
    free(a_path);
    fx_write(&fx, "etc/conf.d/c.conf", "[program:c]\ncommand=/bin/c\n");
    struct confsnap *snap = confsnap_open(rec);
    CHECK(snap != NULL);
    if (snap != NULL) {
        CHECK_INT(confsnap_count(snap), 3);
        CHECK_INT(config_load_ex(main_path, &cfg, &d, -1, snap), 0);
        CHECK_INT(d.count, 0);
        CHECK(cfg != NULL && cfg->nprocs == 3);
        if (cfg != NULL && cfg->nprocs == 3) {
            CHECK_STR(cfg->procs[0]->name, "a");
            CHECK_STR(cfg->procs[1]->name, "b");
            CHECK_STR(cfg->procs[2]->name, "main");
            CHECK(config_find_proc(cfg, "c") == NULL);
        }
        config_free(cfg);
        confsnap_free(snap);
    }
    /* A record cut short (its writer killed mid-file) is not one. */
    struct stat st;
    CHECK_INT(fstat(rec, &st), 0);
    CHECK_INT(ftruncate(rec, st.st_size - 3), 0);
    errno = 0;
    CHECK(confsnap_open(rec) == NULL);
    CHECK_INT(errno, EINVAL);
    close(rec);
    config_diags_free(&d);
    free(main_path);
    fx_done(&fx);
}

TEST(include_no_match_and_missing)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[include]\n"
                           "files=conf.d/*.conf nothing-[0-9].ini\n"
                           "[program:a]\n"
                           "command=/bin/a\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx_conf(&fx, "[include]\nfiles=/definitely/not/here.conf\n"), 0);
    CHECK_STR(fx.text,
              "main.conf:2: warning: files: no such file '/definitely/not/here.conf'");
    CHECK_INT(fx_conf(&fx, "[include]\nfile=x\n"), -1);
    CHECK_STR(fx.text, "main.conf:1: error: [include] is missing required key 'files'\n"
                       "main.conf:2: warning: unknown key 'file' in [include]; did you mean "
                       "'files'? ignored");
    /* A directory matched by a glob cannot be read. */
    fx_write(&fx, "d/sub.conf/x", "");
    CHECK_INT(fx_conf(&fx, "[include]\nfiles=d/*.conf\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: cannot open included file 'd/sub.conf': Is a "
                       "directory");
    fx_done(&fx);
}

TEST(include_cycle)
{
    struct fx fx;
    fx_init(&fx);
    fx_write(&fx, "main.conf", "[include]\nfiles=a.conf\n[program:m]\ncommand=/bin/m\n");
    fx_write(&fx, "a.conf", "[program:a]\ncommand=/bin/a\n[include]\nfiles=b.conf\n");
    fx_write(&fx, "b.conf", "\n[include]\nfiles=main.conf\n");
    CHECK_INT(fx_load(&fx, "main.conf"), -1);
    CHECK_STR(fx.text,
              "b.conf:3: error: include cycle: main.conf -> a.conf -> b.conf -> main.conf");
    /* Including itself. */
    CHECK_INT(fx_conf(&fx, "[include]\nfiles=*.conf\n"), -1);
    CHECK_CONTAINS(fx.text, "main.conf:2: error: include cycle: main.conf -> ");
    fx_done(&fx);
}

TEST(include_depth_limit)
{
    struct fx fx;
    fx_init(&fx);
    for (int i = 0; i < 40; i++) {
        char name[32], *text;
        snprintf(name, sizeof name, "f%d.conf", i);
        text = xasprintf("[program:p%d]\ncommand=/bin/p\n[include]\nfiles=f%d.conf\n", i,
                         i + 1);
        fx_write(&fx, name, text);
        free(text);
    }
    CHECK_INT(fx_load(&fx, "f0.conf"), -1);
    CHECK_STR(fx.text, "f31.conf:4: error: includes nested deeper than 32 levels");
    fx_done(&fx);
}

TEST(duplicate_across_includes)
{
    struct fx fx;
    fx_init(&fx);
    fx_write(&fx, "main.conf", "[program:a]\ncommand=/bin/a\n[include]\nfiles=x.conf\n");
    fx_write(&fx, "x.conf", "[supervisord]\n\n[program:a]\ncommand=/bin/other\n");
    fx_write(&fx, "y.conf", "[tend]\n");
    CHECK_INT(fx_load(&fx, "main.conf"), -1);
    CHECK_STR(fx.text, "x.conf:3: error: duplicate section [program:a] (first at "
                       "main.conf:1)");
    fx_write(&fx, "main.conf", "[tend]\n[include]\nfiles=x.conf\n");
    fx_write(&fx, "x.conf", "[supervisord]\n");
    CHECK_INT(fx_load(&fx, "main.conf"), -1);
    CHECK_STR(fx.text, "x.conf:1: error: duplicate section [supervisord]: same as [tend] at "
                       "main.conf:1");
    /* A file matched twice, or included from two files, is read once. */
    fx_write(&fx, "main.conf", "[include]\nfiles=x.conf *.ini x.conf\n");
    fx_write(&fx, "x.conf", "[include]\nfiles=common.ini\n");
    fx_write(&fx, "common.ini", "[program:c]\ncommand=/bin/c\n");
    CHECK_INT(fx_load(&fx, "main.conf"), 0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 1);
    /* Each file may have its own [include]. */
    fx_write(&fx, "main.conf", "[include]\nfiles=x.conf\n");
    fx_write(&fx, "x.conf", "[include]\nfiles=y.conf\n");
    CHECK_INT(fx_load(&fx, "main.conf"), 0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->tend.line, 1);
    CHECK_CONTAINS(fx.cfg->tend.file, "y.conf");
    fx_done(&fx);
}

/* ---- main file and API ------------------------------------------------------------------ */

TEST(missing_main_file)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_load(&fx, "absent.conf"), -1);
    CHECK(fx.cfg == NULL);
    CHECK_STR(fx.text, "absent.conf: error: cannot open: No such file or directory");
    CHECK_INT(fx.d.count, 1);
    CHECK_INT(fx.d.items[0].line, 0);
    CHECK(fx.d.items[0].is_error);
    fx_write(&fx, "dir/x", "");
    CHECK_INT(fx_load(&fx, "dir"), -1);
    CHECK_STR(fx.text, "dir: error: cannot open: Is a directory");
    /* An empty file is valid: nothing to supervise yet. */
    CHECK_INT(fx_conf(&fx, ""), 0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 0);
    fx_done(&fx);
}

/* [inet_http_server] becomes a process "tend-web" run as user= (nobody by default) with its
 * settings in its environment; the front then is a program like any other. */
TEST(inet_http_server_synthesizes_the_front)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\n"
                           "port=127.0.0.1:9001\n"
                           "[program:a]\n"
                           "command=/bin/a\n"),
              0);
    CHECK_STR(fx.text, "");
    CHECK_INT(fx.cfg->nprocs, 2);
    CHECK(fx.cfg->web.enabled);
    CHECK_STR(fx.cfg->web.host, "127.0.0.1");
    CHECK_INT(fx.cfg->web.port, 9001);
    CHECK_STR(fx.cfg->web.user, "nobody");
    const struct proc_conf *w = config_find_proc(fx.cfg, CONFIG_WEB_NAME);
    CHECK(w != NULL);
    if (w != NULL) {
        CHECK_STR(w->group, "tend-web");
        CHECK(strstr(w->argv[0], "/tend-web") != NULL);
        CHECK(w->autorestart == AUTORESTART_TRUE);
        CHECK_STR(w->env[0], "TEND_WEB_LISTEN=127.0.0.1:9001");
        CHECK(strncmp(w->env[1], "TEND_WEB_SOCKET=@tend-web-", 26) == 0);
        CHECK(w->env[2] == NULL);
        if (geteuid() == 0)
            CHECK_STR(w->user, "nobody");
        /* Sorted first: up before the programs it shows. */
        CHECK(fx.cfg->procs[0] == w);
    }
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\n"
                           "port=*:0\n"
                           "username=admin\n"
                           "password={SHA}5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8\n"
                           "user=daemon\n"),
              0);
    CHECK_STR(fx.cfg->web.host, "*");
    CHECK_INT(fx.cfg->web.port, 0);
    CHECK_STR(fx.cfg->web.user, "daemon");
    w = config_find_proc(fx.cfg, CONFIG_WEB_NAME);
    CHECK(w != NULL && w->env[2] != NULL && w->env[3] != NULL);
    if (w != NULL && w->env[2] != NULL && w->env[3] != NULL) {
        CHECK_STR(w->env[0], "TEND_WEB_LISTEN=*:0");
        CHECK_STR(w->env[2], "TEND_WEB_USERNAME=admin");
        CHECK_STR(w->env[3], "TEND_WEB_PASSWORD={SHA}5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8");
    }
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=[::1]:8080\n"), 0);
    CHECK_STR(fx.cfg->web.host, "::1");
    w = config_find_proc(fx.cfg, CONFIG_WEB_NAME);
    CHECK(w != NULL && strcmp(w->env[0], "TEND_WEB_LISTEN=[::1]:8080") == 0);
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=9002\n"), 0);
    CHECK_STR(fx.cfg->web.host, "127.0.0.1");
    CHECK_INT(fx.cfg->web.port, 9002);
    fx_done(&fx);
}

TEST(inet_http_server_errors)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=0.0.0.0:9001\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: port: '0.0.0.0:9001' listens beyond loopback: set "
                       "username= and password= to allow that");
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nusername=a\n"), -1);
    CHECK_STR(fx.text, "main.conf:1: error: [inet_http_server] is missing required key 'port'");
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=70000\n"), -1);
    CHECK_STR(fx.text, "main.conf:2: error: port: '70000' is not PORT, HOST:PORT, [IPV6]:PORT "
                       "or *:PORT (0 to 65535)");
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=9001\nusername=a\n"), -1);
    CHECK_STR(fx.text, "main.conf:1: error: [inet_http_server]: username= and password= go "
                       "together (set both or neither)");
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=9001\nusername=a\npassword={SHA}abc\n"),
              -1);
    CHECK_STR(fx.text, "main.conf:4: error: password: '{SHA}' must be followed by 40 hex digits "
                       "(the SHA-1 of the password)");
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=9001\nprt=1\n"), 0);
    CHECK(strstr(fx.text, "main.conf:3: warning: unknown key 'prt'") != NULL);
    fx_done(&fx);

    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[inet_http_server]\nport=9001\n"
                           "[program:tend-web]\ncommand=/bin/x\n"),
              -1);
    CHECK_STR(fx.text, "main.conf:1: error: [inet_http_server] runs a process named 'tend-web'; "
                       "[program:tend-web] at main.conf:3 uses that name");
    fx_done(&fx);
}

TEST(diags_accumulate_and_format)
{
    struct fx fx;
    fx_init(&fx);
    fx_write(&fx, "a.conf", "[program:a]\ncommand=/bin/a\ncommand=/bin/b\n");
    fx_write(&fx, "b.conf", "[program:b]\ncommand=/bin/b\nserverurl=AUTO\n");
    struct config_diags d = {0};
    struct config *cfg = (struct config *)&d; /* Must be overwritten with NULL. */
    char *a = fx_path(&fx, "a.conf"), *b = fx_path(&fx, "b.conf");
    CHECK_INT(config_load(a, &cfg, &d), -1);
    CHECK(cfg == NULL);
    CHECK_INT(config_load(b, &cfg, &d), 0);
    CHECK(cfg != NULL);
    config_free(cfg);
    CHECK_INT(d.count, 2);
    CHECK_INT(d.errors, 1);
    CHECK_INT(d.warnings, 1);
    if (d.count == 2) {
        CHECK_STR(d.items[0].file, a);
        CHECK_INT(d.items[0].line, 3);
        CHECK(d.items[0].is_error);
        CHECK_STR(d.items[0].msg, "duplicate key 'command' in [program:a] (first at line 2)");
        CHECK_STR(d.items[1].file, b);
        CHECK(!d.items[1].is_error);
        char small[12];
        config_diag_format(&d.items[1], small, sizeof small);
        CHECK_INT(strlen(small), 11);
        CHECK(strncmp(small, b, 11) == 0);
        char one = 'x';
        config_diag_format(&d.items[1], &one, 1);
        CHECK_INT(one, '\0');
        config_diag_format(&d.items[1], &one, 0); /* Nothing written, no crash. */
    }
    free(a);
    free(b);
    config_diags_free(&d);
    CHECK(d.items == NULL && d.count == 0 && d.errors == 0);
    config_diags_free(&d);
    config_free(NULL);
    fx_done(&fx);
}

TEST(proc_conf_equal_detects_changes)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:p]\n"
                           "command=/bin/p -x\n"
                           "user=u\n"
                           "directory=/d\n"
                           "umask=022\n"
                           "environment=A=1\n"
                           "stdout_logfile=/o\n"
                           "stderr_logfile=/e\n"
                           "pidfile=/p.pid\n"
                           "healthcheck=exec:/bin/check\n"),
              0);
    const struct proc_conf *base = fx_proc(&fx, "p");
    CHECK(base != NULL);
    if (base == NULL) {
        fx_done(&fx);
        return;
    }
    struct proc_conf *c = proc_conf_dup(base);
    CHECK(proc_conf_equal(base, c));
    CHECK(proc_conf_equal(c, base));
    /* Vectors are copied (packed); name, program, group and file are shared. */
    CHECK(c->argv != base->argv && c->env != base->env && c->command != base->command);
    CHECK(c->name == base->name && c->program == base->program && c->file == base->file);
    proc_conf_free(c);

    /* Each change that matters for the running process. */
    enum { N_CHANGES = 27 };
    for (int k = 0; k < N_CHANGES; k++) {
        struct proc_conf *m = proc_conf_dup(base);
        switch (k) {
        case 0: str_shared_unref(m->name); m->name = str_shared_new("q"); break;
        case 1: str_shared_unref(m->program); m->program = str_shared_new("q"); break;
        case 2: str_shared_unref(m->group); m->group = str_shared_new("q"); break;
        case 3: m->process_num = 1; break;
        case 4: m->numprocs = 2; break;
        /* argv (with command) and env are packed: their parts are not freed one by one. */
        case 5: m->command = (char *)"/bin/p  -x"; break;
        case 6: m->argv[1] = (char *)"-y"; break;
        case 7: free(m->user); m->user = NULL; break;
        case 8: free(m->directory); m->directory = xstrdup("/e"); break;
        case 9: m->umask = 077; break;
        case 10: free(m->env); m->env = NULL; break;
        case 11: m->env[0] = (char *)"A=2"; break;
        case 12: free(m->pidfile); m->pidfile = NULL; break;
        case 13: m->redirect_stderr = true; break;
        case 14: m->stdout_logfile_kind = LOG_TARGET_NONE; break;
        case 15: free(m->stdout_logfile); m->stdout_logfile = xstrdup("/o2"); break;
        case 16: m->stdout_logfile_maxbytes = 1; break;
        case 17: m->stdout_logfile_backups = 1; break;
        case 18: m->stdout_syslog = true; break;
        case 19: m->stderr_logfile_kind = LOG_TARGET_SYSLOG; break;
        case 20: free(m->stderr_logfile); m->stderr_logfile = xstrdup("/e2"); break;
        case 21: m->stderr_logfile_maxbytes = 1; break;
        case 22: m->stderr_logfile_backups = 1; break;
        case 23: m->stderr_syslog = true; break;
        case 24: m->stdout_timestamps = true; break;
        case 25: free(m->user); m->user = xstrdup("v"); break;
        case 26: m->argv[1][0] = '+'; break;
        default: break;
        }
        if (proc_conf_equal(base, m) || proc_conf_equal(m, base)) {
            fprintf(stderr, "  change %d not detected\n", k);
            CHECK(false);
        }
        proc_conf_free(m);
    }
    /* Policy changes reload can apply in place. */
    for (int k = 0; k < 16; k++) {
        struct proc_conf *m = proc_conf_dup(base);
        switch (k) {
        case 0: m->priority = 1; break;
        case 1: m->autostart = false; break;
        case 2: m->startsecs = 9; break;
        case 3: m->startretries = 9; break;
        case 4: m->autorestart = AUTORESTART_FALSE; break;
        case 5: /* exit status 3 too; NULL was the default, 0 only */
            m->exitcodes = xcalloc(4, sizeof *m->exitcodes);
            m->exitcodes[0] = 1 | 1ULL << 3;
            break;
        case 6: m->stopsignal = SIGKILL; break;
        case 7: m->stopwaitsecs = 1; break;
        case 8: m->stopasgroup = m->killasgroup = true; break;
        case 9: m->health->interval = 1; break;
        case 10: m->health->timeout = 1; break;
        case 11: m->health->retries = 9; break;
        case 12: m->health->grace = 9; break;
        case 13: free(m->on_event); m->on_event = xstrdup("/bin/x"); break;
        case 14: m->line = 99; break;
        case 15: free(m->health->spec); m->health->spec = NULL; break;
        default: break;
        }
        if (!proc_conf_equal(base, m)) {
            fprintf(stderr, "  policy change %d counted as a restart\n", k);
            CHECK(false);
        }
        proc_conf_free(m);
    }
    /* Reloading the same text gives equal procs. */
    struct proc_conf *before = proc_conf_dup(base);
    CHECK_INT(fx_load(&fx, "main.conf"), 0);
    CHECK(fx_proc(&fx, "p") != NULL && proc_conf_equal(before, fx_proc(&fx, "p")));
    proc_conf_free(before);
    proc_conf_free(NULL);
    fx_done(&fx);
}

TEST(procs_sorted_and_taken)
{
    struct fx fx;
    fx_init(&fx);
    CHECK_INT(fx_conf(&fx, "[program:zeta]\ncommand=/bin/z\npriority=1\n"
                           "[program:beta]\ncommand=/bin/b\n"
                           "[program:alpha]\ncommand=/bin/a\n"
                           "[program:first]\ncommand=/bin/f\npriority=-10\n"),
              0);
    CHECK_INT(fx.cfg->nprocs, 4);
    CHECK_STR(fx.cfg->procs[0]->name, "first");
    CHECK_STR(fx.cfg->procs[1]->name, "zeta");
    CHECK_STR(fx.cfg->procs[2]->name, "alpha");
    CHECK_STR(fx.cfg->procs[3]->name, "beta");
    CHECK(config_find_proc(fx.cfg, "nothere") == NULL);
    /* Taking ownership of one: config_free skips the NULL. */
    struct proc_conf *taken = fx.cfg->procs[1];
    fx.cfg->procs[1] = NULL;
    CHECK(config_find_proc(fx.cfg, "zeta") == NULL);
    CHECK(config_find_proc(fx.cfg, "beta") != NULL);
    fx_reset(&fx);
    CHECK_STR(taken->command, "/bin/z");
    proc_conf_free(taken);
    fx_done(&fx);
}

TEST(default_path)
{
    struct fx fx;
    fx_init(&fx);
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK_INT(chdir(fx.dir), 0);
    const char *before = config_default_path();
    CHECK(before == NULL || strcmp(before, "./tend.conf") != 0);
    fx_write(&fx, "tend.conf", "");
    CHECK_STR(config_default_path(), "./tend.conf");
    CHECK_INT(chdir(cwd), 0);
    fx_done(&fx);
}

/* ---- util/str --------------------------------------------------------------------------- */

TEST(str_helpers)
{
    unsigned long long u;
    CHECK_INT(parse_uint("0", 10, &u), 0);
    CHECK_INT(u, 0);
    CHECK_INT(parse_uint("18446744073709551615", ULLONG_MAX, &u), 0);
    CHECK(u == ULLONG_MAX);
    CHECK_INT(parse_uint("18446744073709551616", ULLONG_MAX, &u), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_INT(parse_uint("11", 10, &u), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_INT(parse_uint("", 10, &u), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(parse_uint(" 1", 10, &u), -1);
    CHECK_INT(parse_uint("+1", 10, &u), -1);
    /* Past 19 digits: the overflow test starts there; leading zeros never overflow. */
    CHECK_INT(parse_uint("9999999999999999999", ULLONG_MAX, &u), 0);
    CHECK(u == 9999999999999999999ULL);
    CHECK_INT(parse_uint("00000000000000000000000042", ULLONG_MAX, &u), 0);
    CHECK_INT(u, 42);
    CHECK_INT(parse_uint("18446744073709551620", ULLONG_MAX, &u), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_INT(parse_uint("184467440737095516150", ULLONG_MAX, &u), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_INT(parse_uint("184467440737095516159x", ULLONG_MAX, &u), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(parse_uint("12x", ULLONG_MAX, &u), -1);
    CHECK_INT(errno, EINVAL);
    long long ll;
    CHECK_INT(parse_int("-9223372036854775808", LLONG_MIN, LLONG_MAX, &ll), 0);
    CHECK(ll == LLONG_MIN);
    CHECK_INT(parse_int("9223372036854775808", LLONG_MIN, LLONG_MAX, &ll), -1);
    CHECK_INT(errno, ERANGE);
    CHECK_INT(parse_int("-", LLONG_MIN, LLONG_MAX, &ll), -1);
    CHECK_INT(errno, EINVAL);
    unsigned o;
    CHECK_INT(parse_octal("0o", 0777, &o), -1);
    CHECK_INT(parse_octal("77777777777777", 0777, &o), -1);
    CHECK_INT(errno, ERANGE);

    CHECK_INT(str_levenshtein("", ""), 0);
    CHECK_INT(str_levenshtein("abc", ""), 3);
    CHECK_INT(str_levenshtein("kitten", "sitting"), 3);
    CHECK_INT(str_levenshtein("command", "comand"), 1);
    CHECK(str_ieq("AbC", "aBc"));
    CHECK(!str_ieq("abc", "abcd"));
    char buf[] = "  \t x y \n";
    CHECK_STR(str_trim(buf), "x y");

    struct str s = {0};
    CHECK_STR(str_cstr(&s), "");
    str_appendf(&s, "%d-%s", 42, "x");
    str_append_char(&s, '!');
    CHECK_STR(str_cstr(&s), "42-x!");
    str_clear(&s);
    CHECK_STR(str_cstr(&s), "");
    str_free(&s);
    char *r = str_release(&s);
    CHECK_STR(r, "");
    free(r);

    char **argv;
    size_t n;
    const char *why;
    CHECK_INT(str_split_shell("   ", &argv, &n, &why), 0);
    CHECK_INT(n, 0);
    CHECK(argv[0] == NULL);
    str_vec_free(argv);
    CHECK_INT(str_split_shell("a\tb\nc", &argv, &n, &why), 0);
    CHECK_INT(n, 3);
    char **copy = str_vec_dup(argv);
    CHECK(str_vec_equal(argv, copy));
    free(copy[2]);
    copy[2] = xstrdup("d");
    CHECK(!str_vec_equal(argv, copy));
    CHECK(!str_vec_equal(argv, NULL));
    CHECK(str_vec_equal(NULL, NULL));
    str_vec_free(copy);
    str_vec_free(argv);
    CHECK_INT(str_split_shell("'a", &argv, &n, &why), -1);
    CHECK_STR(why, "unterminated single quote");
    CHECK(str_vec_dup(NULL) == NULL);
    str_vec_free(NULL);
}

HARNESS_MAIN()
