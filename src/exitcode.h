/* The exit codes of tend and daeml: one table, documented in tend(1) and daeml(8). */
#ifndef TEND_EXITCODE_H
#define TEND_EXITCODE_H

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,         /* the operation failed (system error, refused, config error) */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_NOT_RUNNING = 3,  /* tend status: a named process is not RUNNING */
    EXIT_NO_SUPERVISOR = 4,/* no supervisor answers on the control socket */
    EXIT_PROGRAM_FAILED = 5,/* tend daemon: stopped while a program had failed (FATAL, or
                             * its last exit unexpected), e.g. by an event listener */
    EXIT_CANNOT_EXEC = 126,/* daeml: PROGRAM found but not executable */
    EXIT_NOT_FOUND = 127,  /* daeml: PROGRAM not found */
};

#endif
