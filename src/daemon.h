/* daemon: the entry points of `tend daemon` and `tend check` (start-up, detaching, the
 * [tend] settings, tend's own log and pidfile). */
#ifndef TEND_DAEMON_H
#define TEND_DAEMON_H

/* Entry point of `tend daemon`. */
int supervisor_main(int argc, char **argv);
/* Entry point of `tend __supervise` (the keeper starts the supervisor this way). */
int supervise_main(int argc, char **argv);
/* Entry point of `tend check`. */
int check_main(int argc, char **argv);
/* The options of `tend daemon` and `tend check` (cmd), from their parser's tables: fn gets
 * each one's short letter (0 when it has none) and long name. */
void supervisor_each_option(const char *cmd, void (*fn)(const char *cmd, int short_name,
                                                        const char *long_name, void *ctx),
                            void *ctx);

#endif
