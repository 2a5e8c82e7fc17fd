/* Unit tests of fdbudget: what a program of a real config costs in descriptors. */
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../harness.h"
#include "config.h"
#include "fdbudget.h"
#include "fdring.h"

static char dir[64];

/* Loads text as a config in the test's directory; NULL (reported) if it does not load. */
static struct config *load(const char *text)
{
    char path[128];
    struct config *cfg = NULL;
    struct config_diags diags = {0};

    snprintf(path, sizeof path, "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL || fprintf(f, "[tend]\nchildlogdir=%s\n%s", dir, text) < 0 || fclose(f) != 0)
        return NULL;
    if (config_load(path, &cfg, &diags) == -1) {
        for (size_t i = 0; i < diags.count; i++) {
            char line[512];
            config_diag_format(&diags.items[i], line, sizeof line);
            fprintf(stderr, "  %s\n", line);
        }
    }
    config_diags_free(&diags);
    return cfg;
}

static unsigned long cost(const struct config *cfg, const char *name)
{
    const struct proc_conf *c = config_find_proc(cfg, name);
    return c != NULL ? fdbudget_program(c) : 9999;
}

TEST(each_thing_a_program_holds_is_counted)
{
    snprintf(dir, sizeof dir, "/tmp/tend-test-fdbudget-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    struct config *cfg = load(
        "[program:plain]\ncommand=/bin/true\n"
        "[program:quiet]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "[program:merged]\ncommand=/bin/true\nredirect_stderr=true\n"
        "[program:notify]\ncommand=/bin/true\nreadiness=notify\n"
        "[program:dog]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "watchdogsecs=5\n"
        "[program:tcp]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "readiness=tcp:8080\n"
        "[program:daemon]\ncommand=/bin/true\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        "pidfile=/run/x.pid\n"
        "[eventlistener:ear]\ncommand=/bin/true\nevents=PROCESS_STATE\n"
        "stderr_logfile=NONE\n"
        "[eventlistener:loud]\ncommand=/bin/true\nevents=PROCESS_STATE\nredirect_stderr=true\n");
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    /* Each but the pidfile daemon: 1 for the pidfd of its process taken back after a
     * supervisor restart. */
    CHECK_INT(cost(cfg, "plain"), 3);   /* and two pipes' read ends */
    CHECK_INT(cost(cfg, "quiet"), 1);
    CHECK_INT(cost(cfg, "merged"), 2);
    CHECK_INT(cost(cfg, "notify"), 4); /* and the notify socket */
    CHECK_INT(cost(cfg, "dog"), 2);
    CHECK_INT(cost(cfg, "tcp"), 2);
    CHECK_INT(cost(cfg, "daemon"), 2);  /* its inotify watch, then the daemon's pidfd */
    /* The protocol's two pipes: its stdout is the protocol's, logcap gives it no pipe ... */
    CHECK_INT(cost(cfg, "ear"), 3);
    /* ... unless its stderr goes where stdout_logfile= says, through stdout's pipe. */
    CHECK_INT(cost(cfg, "loud"), 4);
    struct fdbudget b;
    fdbudget_count(cfg, &b);
    CHECK_INT(b.programs, 3 + 1 + 2 + 4 + 2 + 2 + 2 + 3 + 4);
    CHECK_INT(b.streams, 2 + 0 + 1 + 2 + 0 + 0 + 0 + 0 + 1);
    config_free(cfg);
    char path[128];
    snprintf(path, sizeof path, "%s/t.conf", dir);
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

/* Without CAP_SYS_RESOURCE (a hard limit tend may not raise). 0 or -1. */
static int drop_sys_resource(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];

    if (syscall(SYS_capget, &h, d) == -1)
        return -1;
    d[CAP_SYS_RESOURCE / 32].effective &= ~(1u << (CAP_SYS_RESOURCE % 32));
    d[CAP_SYS_RESOURCE / 32].permitted &= ~(1u << (CAP_SYS_RESOURCE % 32));
    return (int)syscall(SYS_capset, &h, d);
}

/* Past a limit tend may not raise, the read ends over it go to the ring (when there is one
 * to be had), up to the limit again; beyond that the config is refused with the numbers. */
TEST(read_ends_past_the_limit_go_to_the_ring)
{
    static char text[40 * 400];
    char msg[512];
    size_t len = 0;
    struct fdbudget b;
    struct rlimit rl = {.rlim_cur = 300, .rlim_max = 300};

    snprintf(dir, sizeof dir, "/tmp/tend-test-fdbudget-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    for (int i = 0; i < 100; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "[program:p%d]\ncommand=/bin/true\n", i);
    struct config *cfg = load(text);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK(drop_sys_resource() == 0);
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    fdbudget_count(cfg, &b);
    CHECK_INT(b.programs, 300);
    CHECK_INT(b.streams, 200);
    CHECK_INT(b.need, 300 + FDBUDGET_FIXED + FDBUDGET_SPAWN + FDBUDGET_CONNS_MIN + FDBUDGET_FILES_MIN);
    int rc = fdbudget_fit(&b, 0, msg, sizeof msg);
    if (fdring_available()) {
        CHECK_INT(rc, 0);
        CHECK_INT(b.ring, 112);
        CHECK_INT(b.ring_slots, 300);
        CHECK_INT(b.pipe_cap, 200 - 112);
        CHECK_INT(b.limit, 300);
        CHECK_INT(b.need, 300);
    } else {
        CHECK_INT(rc, -1);
        CHECK_CONTAINS(msg, "io_uring, which could hold the pipes past it, is not available");
    }
    config_free(cfg);
    /* 400 programs need 1,312: 1,012 over the limit, more than the ring's 300. */
    len = 0;
    for (int i = 0; i < 400; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "[program:p%d]\ncommand=/bin/true\n", i);
    cfg = load(text);
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    fdbudget_count(cfg, &b);
    CHECK_INT(fdbudget_fit(&b, 0, msg, sizeof msg), -1);
    CHECK_CONTAINS(msg, "the programs need up to 1200, tend needs 1312 in all");
    CHECK_CONTAINS(msg, "RLIMIT_NOFILE is 300");
    config_free(cfg);
    char path[128];
    snprintf(path, sizeof path, "%s/t.conf", dir);
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

HARNESS_MAIN()
