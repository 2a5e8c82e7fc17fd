/* main: one binary. Called as "daeml" it is the daemon launcher; as "tend" it dispatches
 * on its first argument to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "daeml.h"
#include "exitcode.h"
#include "supervisor.h"
#include "util/str.h"

static const char tend_usage[] =
    "Usage: tend COMMAND [ARGS...]\n"
    "  daemon [-c FILE] [-n]     run the supervisor (-n: stay in the foreground)\n"
    "  check [--json] [-c] [FILE]   validate a config: every problem as FILE:LINE: message\n"
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
    "  version [--json]          client and supervisor versions (also -V)\n"
    "Client commands take -c FILE (find the socket from a config) or -s SOCKET; without\n"
    "them, see tend(1) for where the supervisor is looked for.\n"
    "Exit status: 0 ok; 1 failure; 2 usage; 3 not all RUNNING (status); 4 no supervisor.\n"
    "  -h, --help, --version, -V\n"
    "tend also answers as daeml (see daeml --help) when called by that name or as\n"
    "'tend daeml ...'.\n";

/* Every command word, for "did you mean". */
static const char *const commands[] = {
    "daemon", "check", "status", "start", "stop", "restart", "signal", "logs",
    "reload", "shutdown", "pid", "logrotate", "version", "daeml", "help",
};

static int unknown_command(const char *cmd)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        size_t d = str_levenshtein(cmd, commands[i]);
        if (d < best_d) {
            best_d = d;
            best = commands[i];
        }
    }
    /* supervisorctl's words that tend spells otherwise. */
    if (strcmp(cmd, "tail") == 0)
        best = "logs", best_d = 0;
    else if (strcmp(cmd, "update") == 0)
        best = "reload", best_d = 0;
    if (best != NULL && (best_d <= 2 || best_d <= strlen(cmd) / 3))
        fprintf(stderr, "tend: unknown command '%s'; did you mean '%s'? (see tend --help)\n",
                cmd, best);
    else
        fprintf(stderr, "tend: unknown command '%s' (see tend --help)\n", cmd);
    return EXIT_USAGE;
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
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(tend_usage, stdout);
        return EXIT_OK;
    }
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
    if (strcmp(cmd, "daemon") == 0)
        return supervisor_main(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "daeml") == 0)
        return daeml_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__syslog-relay") == 0 && argc == 3)
        return daeml_syslog_relay(argv[2]);
    return unknown_command(cmd);
}
