/* daeml: the daemon launcher command (tend's argv[0] == "daeml"). */
#ifndef TEND_DAEML_H
#define TEND_DAEML_H

int daeml_main(int argc, char **argv);

/* The hidden helper behind --syslog: copies stdin lines to syslog under tag. */
int daeml_syslog_relay(const char *tag);

#endif
