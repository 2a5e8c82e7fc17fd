/* Unit tests of fdbudget: what a program of a real config costs in descriptors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "config.h"
#include "fdbudget.h"

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
        "stderr_logfile=NONE\n");
    CHECK(cfg != NULL);
    if (cfg == NULL)
        return;
    CHECK_INT(cost(cfg, "plain"), 2);   /* two pipes' read ends */
    CHECK_INT(cost(cfg, "quiet"), 0);
    CHECK_INT(cost(cfg, "merged"), 1);
    CHECK_INT(cost(cfg, "notify"), 3); /* and the notify socket */
    CHECK_INT(cost(cfg, "dog"), 1);
    CHECK_INT(cost(cfg, "tcp"), 1);
    CHECK_INT(cost(cfg, "daemon"), 2);
    /* The protocol's two pipes, and the stdout pipe logcap keeps for it. */
    CHECK_INT(cost(cfg, "ear"), 3);
    struct fdbudget b;
    fdbudget_count(cfg, &b);
    CHECK_INT(b.programs, 2 + 0 + 1 + 3 + 1 + 1 + 2 + 3);
    config_free(cfg);
    char path[128];
    snprintf(path, sizeof path, "%s/t.conf", dir);
    CHECK(unlink(path) == 0 && rmdir(dir) == 0);
}

HARNESS_MAIN()
