/* main: one binary. Called as "daeml" it is the daemon launcher; as "tend" it dispatches
 * on its first argument to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "daeml.h"
#include "exitcode.h"
#include "daemon.h"
#include "keeper.h"
#include "keys.h"
#include "util/str.h"

static const char tend_usage[] =
    "Usage: tend COMMAND [ARGS...]\n"
    "  daemon [-c FILE] [-n]     run the supervisor (-n: stay in the foreground)\n"
    "  check [--json] [--strict] [-c] [FILE]   validate a config: every problem as\n"
    "                            FILE:LINE: message (--strict: warnings are errors too)\n"
    "  status [--json] [NAME|GROUP:|GROUP:*...]   one line per process (exit 3 if not all\n"
    "                            RUNNING)\n"
    "  start|stop|restart [--no-wait] NAME...|GROUP:|GROUP:*|all   (start in priority order,\n"
    "                            stop in reverse)\n"
    "  signal SIG NAME...        send a signal to processes\n"
    "  logs [-n N] [--stderr] [-f] NAME...|GROUP:|all   captured output, name-prefixed when\n"
    "                            several processes\n"
    "  reload [--json]           reread the config and apply only what changed\n"
    "  shutdown                  stop every process, then the supervisor\n"
    "  pid [--json] [NAME]       the supervisor's pid, or a process's\n"
    "  logrotate                 rotate every log file now (tend's and the processes')\n"
    "  upgrade                   re-execute tend from the binary installed now, in place\n"
    "  version [--json]          client and supervisor versions (also -V)\n"
    "  daeml [OPTIONS] PROGRAM [ARGS...]   the daemon launcher (see daeml --help)\n"
    "Client commands take -c FILE (find the socket from a config) or -s SOCKET; without\n"
    "them, see tend(1) for where the supervisor is looked for.\n"
    "Exit status: 0 ok; 1 failure; 2 usage; 3 not all RUNNING (status); 4 no supervisor.\n"
    "  -h, --help, --version, -V\n"
    "tend also answers as daeml when called by that name.\n";

static int help_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(tend_usage, stdout);
    return EXIT_OK;
}

/* The commands tend serves itself; the client's verbs are client.c's table. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"daemon", supervisor_main},
    {"check", check_main},
    {"daeml", daeml_main},
    {"help", help_main},
};

struct nearest {
    const char *word, *best;
    size_t best_d;
};

static void consider(const char *verb, const char *option, void *ctx)
{
    struct nearest *n = ctx;

    if (option != NULL)
        return;
    size_t d = str_levenshtein(n->word, verb);
    if (d < n->best_d) {
        n->best_d = d;
        n->best = verb;
    }
}

static int unknown_command(const char *cmd)
{
    struct nearest n = {cmd, NULL, (size_t)-1};

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        consider(commands[i].name, NULL, &n);
    client_each_verb(consider, &n);
    /* supervisorctl's words that tend spells otherwise. */
    if (strcmp(cmd, "tail") == 0)
        n.best = "logs", n.best_d = 0;
    else if (strcmp(cmd, "update") == 0)
        n.best = "reload", n.best_d = 0;
    if (n.best != NULL && (n.best_d <= 2 || n.best_d <= strlen(cmd) / 3))
        fprintf(stderr, "tend: unknown command '%s'; did you mean '%s'? (see tend --help)\n",
                cmd, n.best);
    else
        fprintf(stderr, "tend: unknown command '%s' (see tend --help)\n", cmd);
    return EXIT_USAGE;
}

static void print_verb(const char *verb, const char *option, void *ctx)
{
    (void)ctx;
    if (option == NULL) {
        printf("command %s\n", verb);
        printf("option %s -c\noption %s -s\noption %s -h\n", verb, verb, verb);
    } else {
        printf("option %s %s\n", verb, option);
    }
}

static void print_option(const char *cmd, int short_name, const char *long_name, void *ctx)
{
    (void)ctx;
    if (short_name != 0)
        printf("option %s -%c\n", cmd, short_name);
    else
        printf("option %s --%s\n", cmd, long_name);
}

static void print_daeml_option(const char *name, void *ctx)
{
    (void)ctx;
    printf("option daeml --%s\n", name);
}

/* tend __doc-lists: every command, option and config key, read from the tables the code
 * itself uses, one per line, for the test that keeps the man pages and --help true. */
static int doc_lists(void)
{
    static const char *const sections[KEYSEC_COUNT] = {
        [KEYSEC_PROGRAM] = "program", [KEYSEC_GROUP] = "group",
        [KEYSEC_INCLUDE] = "include", [KEYSEC_TEND] = "tend",
        [KEYSEC_UNIX_HTTP] = "unix_http_server", [KEYSEC_ALERT] = "alert",
        [KEYSEC_INET_HTTP] = "inet_http_server", [KEYSEC_LISTENER] = "eventlistener",
        [KEYSEC_FCGI] = "fcgi-program",
    };

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        printf("command %s\n", commands[i].name);
        if (strcmp(commands[i].name, "daemon") == 0 || strcmp(commands[i].name, "check") == 0)
            supervisor_each_option(commands[i].name, print_option, NULL);
    }
    daeml_each_option(print_daeml_option, NULL);
    client_each_verb(print_verb, NULL);
    for (int sec = 0; sec < KEYSEC_COUNT; sec++) {
        size_t n;
        const struct key_def *defs = keys_list((enum key_section)sec, &n);
        for (size_t i = 0; i < n; i++)
            printf("key %s %s %s\n", sections[sec], defs[i].name,
                   defs[i].supported ? "supported" : "unsupported");
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    const char *self = argc > 0 ? argv[0] : "tend";
    const char *base = strrchr(self, '/');

    base = base ? base + 1 : self;
    if (strcmp(base, "daeml") == 0)
        return daeml_main(argc, argv);
    if (argc < 2) {
        fputs(tend_usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return help_main(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0) {
        printf("tend %s\n", TEND_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0) {
        argv[1] = "version";
        return client_main(argc - 1, argv + 1);
    }
    if (client_is_verb(cmd) || strcmp(cmd, "-c") == 0 || strcmp(cmd, "-s") == 0)
        return client_main(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "__keeper") == 0)
        return keeper_main(argc - 1, argv + 1, false);
    if (strcmp(cmd, "__supervise") == 0)
        return supervise_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__syslog-relay") == 0 && argc == 3)
        return daeml_syslog_relay(argv[2]);
    if (strcmp(cmd, "__doc-lists") == 0 && argc == 2)
        return doc_lists();
    return unknown_command(cmd);
}
