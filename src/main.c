/* main: one binary. Called as "daeml" it is the daemon launcher; as "tend" it dispatches
 * on its first argument to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "daeml.h"
#include "exitcode.h"
#include "keeper.h"
#include "daemon.h"

static const char tend_usage[] =
    "Usage: tend COMMAND [ARGS...]\n"
    "  daemon [-c FILE] [-n]     run the supervisor (-n: stay in the foreground)\n"
    "  check [-c FILE]           validate a config: every problem as FILE:LINE: message\n"
    "  status [--json] [NAME|GROUP:*...]   one line per process (exit 3 if not all RUNNING)\n"
    "  start|stop|restart [--no-wait] NAME...|GROUP:*|all\n"
    "  signal SIG NAME...        send a signal to processes\n"
    "  reload                    reread the config and apply only what changed\n"
    "  shutdown                  stop every process, then the supervisor\n"
    "  pid [NAME]                the supervisor's pid, or a process's\n"
    "  logrotate                 reopen log files (after logrotate(8) moved them)\n"
    "Client commands take -c FILE (find the socket from a config) or -s SOCKET.\n"
    "Exit status: 0 ok; 1 failure; 2 usage; 3 not all RUNNING (status); 4 no supervisor.\n"
    "  --help, --version\n"
    "tend also answers as daeml (see daeml --help) when called by that name or as\n"
    "'tend daeml ...'.\n";

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
    if (client_is_verb(cmd) || strcmp(cmd, "-c") == 0 || strcmp(cmd, "-s") == 0)
        return client_main(argc - 1, argv + 1);
    if (strcmp(cmd, "daemon") == 0)
        return supervisor_main(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return check_main(argc - 1, argv + 1);
    if (strcmp(cmd, "daeml") == 0)
        return daeml_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__keeper") == 0)
        return keeper_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__supervise") == 0)
        return supervise_main(argc - 1, argv + 1);
    if (strcmp(cmd, "__syslog-relay") == 0 && argc == 3)
        return daeml_syslog_relay(argv[2]);
    fprintf(stderr, "tend: unknown command '%s' (see tend --help)\n", cmd);
    return EXIT_USAGE;
}
