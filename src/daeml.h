/* daeml: the daemon launcher command (tend's argv[0] == "daeml"). */
#ifndef TEND_DAEML_H
#define TEND_DAEML_H

int daeml_main(int argc, char **argv);

/* Calls fn with each long option's name ("pidfile"), from the parser's own table. */
void daeml_each_option(void (*fn)(const char *name, void *ctx), void *ctx);

/* The hidden helper behind --syslog: copies stdin lines to syslog under tag. */
int daeml_syslog_relay(const char *tag);

#endif
