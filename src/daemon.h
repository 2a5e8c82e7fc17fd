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

#endif
