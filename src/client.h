/* client: the tend CLI's side of the control protocol (doc/protocol.md). It validates a
 * command line completely before connecting (a bad signal name or a missing NAME never
 * reaches the supervisor), finds the control socket, sends one request, prints the reply and
 * turns it into an exit code from exitcode.h:
 *   0 ok; 1 err reply or a failure; 2 bad command line; 3 status: a listed process is not
 *   RUNNING; 4 no supervisor answers on the socket.
 * The formatting of status output is separate from the socket so that tests need none. */
#ifndef TEND_CLIENT_H
#define TEND_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "proto.h"

/* How long to wait for the supervisor to accept the connection, and for the whole reply of
 * the quick verbs (status, pid, signal, logrotate). start, stop, restart, reload and
 * shutdown wait for as long as the supervisor takes: it answers when the processes have
 * reached their states. */
#define CLIENT_CONNECT_TIMEOUT_MS 5000
#define CLIENT_REPLY_TIMEOUT_MS 10000

/* True for the verbs client_main serves: status start stop restart signal reload shutdown
 * pid logrotate. main.c dispatches those (and a leading -c/-s option) to client_main. */
bool client_is_verb(const char *word);

/* Every verb of the client, and each option it takes beyond the global -c, -s and -h: calls
 * fn(verb, NULL, ctx), then fn(verb, option, ctx) per option (for "did you mean" and the
 * documentation check, `tend __doc-lists`). */
void client_each_verb(void (*fn)(const char *verb, const char *option, void *ctx), void *ctx);

/* The CLI entry point. argv[0] is the verb; the global options -c FILE, -s PATH and --help
 * may come before or after it (so argv[0] may also be one of those options). Prints to
 * stdout/stderr and returns the exit code. */
int client_main(int argc, char **argv);

/* client_main with its output streams given, for tests. Messages of the supervisor and the
 * status output go to out, errors to err. */
int client_run(int argc, char **argv, FILE *out, FILE *err);

/* The default control socket path, shared with the supervisor: tend.sock in the runtime
 * directory (runtime.h: $TEND_RUNTIME_DIR, else /run/tend for root (euid 0), else
 * $XDG_RUNTIME_DIR/tend if XDG_RUNTIME_DIR is absolute, else /tmp/tend-UID). Writes into buf and returns it, or returns
 * NULL with errno ENAMETOOLONG if it does not fit in len. */
const char *client_default_socket(char *buf, size_t len);

/* Where the CLI connects, first match wins: socket_opt (-s PATH) if not NULL; $TEND_SOCKET if
 * set and not empty; if config_file (-c FILE) is not NULL, its [tend] socket=, else its
 * [supervisord] socket=, else its [unix_http_server] file= (with %(here)s and %(ENV_X)s
 * expanded); else client_default_socket. Writes into buf and returns it, or returns NULL with
 * a message in why (the config file cannot be read, the path does not fit). */
const char *client_socket_path(const char *socket_opt, const char *config_file, char *buf,
                               size_t len, char *why, size_t why_len);

/* Seconds as H:MM:SS, with a day count in front from one day on: "0:01:05", "3d 4:05:06".
 * Writes into buf and returns it. */
const char *client_format_uptime(unsigned long long seconds, char *buf, size_t len);

/* Prints n process records. Table: aligned columns NAME STATE PID UPTIME RESTARTS, then
 * HEALTH and EXIT/REASON when any record has one; pid 0 and its uptime print as "-"; control
 * bytes print as '?'; nothing at all for n == 0. JSON: an array of objects with the keys
 * name group state pid uptime restarts exit reason health dropped (numbers as numbers,
 * strings escaped, valid UTF-8 passed through, invalid bytes as U+FFFD). */
void client_format_status(FILE *out, const struct proto_proc *procs, size_t n, bool json);

#endif
