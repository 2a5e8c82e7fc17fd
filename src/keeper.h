/* keeper: the process `tend daemon` becomes, parent of the supervisor. It exists so that
 * nothing is lost when the supervisor dies (kill -9, a crash, the OOM killer) or is replaced
 * (`tend upgrade`): it holds every descriptor that must outlive a supervisor (capture pipes,
 * the listening control socket, the state), restarts the supervisor at once (damped when it
 * dies again and again), reaps every orphan and keeps its exit status for the supervisor,
 * forwards TERM, INT, HUP and USR2, re-executes itself and the supervisor on USR1 or when
 * asked, and exits with the supervisor's status after an orderly stop.
 *
 * It parses no config and no state, allocates nothing after start-up, and holds its own
 * descriptors at fixed low numbers the supervisor never deposits at. Its only input is the
 * supervisor's fixed-size messages below (and signals).
 *
 * Descriptor numbering: a deposited descriptor is held by the keeper at the same number the
 * supervisor has it at, without close-on-exec, so the next supervisor inherits it at that
 * number: the numbers in the state stay valid across a restart without any translation. */
#ifndef TEND_KEEPER_H
#define TEND_KEEPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Descriptors below this are never deposited: 0-2 are stdio, 3 is the supervisor's end of
 * the keeper socket, 4 and 5 are placeholders the supervisor keeps open so that it never
 * gets the numbers the keeper uses for its own descriptors. */
#define KEEPER_FIRST_FD 6
#define KEEPER_SOCK_FD 3

enum keeper_op {
    KEEPER_DEPOSIT = 1, /* S->K: hold the attached descriptor at number fd */
    KEEPER_RELEASE,     /* S->K: close number fd */
    KEEPER_STATE,       /* S->K: like DEPOSIT; this one is the state (passed to the next) */
    KEEPER_READY,       /* S->K: start-up is done */
    KEEPER_STOPPING,    /* S->K: orderly stop under way: exit with my exit status */
    KEEPER_UPGRADE,     /* S->K: I exit now; re-execute yourself from the installed binary */
    KEEPER_HELLO,       /* S->K: send me the exits you reaped (then live, as they happen) */
    KEEPER_EXITED,      /* K->S: pid exited with wait status `status` at when_ns */
    KEEPER_HELLO_END,   /* K->S: that was every exit kept; `status`: how many were lost */
    KEEPER_NOT_HELD,    /* K->S: `status` deposits could not be held (a full descriptor
                         * table), the last of them number fd; `pid`: its errno. A
                         * supervisor of an older version ignores it. */
    KEEPER_TAKE,        /* S->K: hold my descriptor fd like a deposit, taken from my table
                         * with pidfd_getfd(2): an io_uring's, which SCM_RIGHTS refuses. An
                         * older keeper ignores it. */
};

/* One message on the keeper socket (SOCK_SEQPACKET: one message per send). */
struct keeper_msg {
    uint32_t op;
    int32_t fd;
    int32_t pid;
    int32_t status;
    uint64_t when_ns; /* CLOCK_MONOTONIC */
};

/* The keeper's own small program, looked for beside tend's binary; and the version of the
 * protocol above, which tend and tend-keeper must share. */
#define KEEPER_BIN "tend-keeper"
#define KEEPER_PROTO 1

/* Entry point of `tend __keeper`, executed by `tend daemon` once start-up checks passed:
 *   tend __keeper [--here] [--notify-fd N] [--pidfile-fd N] [--state-fd N]
 *                 [--generation N] -- ARGS...
 * ARGS are handed to every supervisor it starts (`tend __supervise ... ARGS`).
 *
 * Unless --here is given, it first hands over to tend-keeper (STANDALONE: that program's
 * main) when one is installed beside tend: a static program of its own, whose resident
 * memory is a fraction of what tend's code and C library take:
 *   tend-keeper --tend PATH --tend-fd N --proto P [the options above] -- ARGS...
 * PATH is tend's binary (run again for an upgrade), N an O_PATH descriptor of the binary
 * that is running (supervisors are started from it), P the protocol tend speaks; a
 * tend-keeper of another protocol hands back to `tend __keeper --here`. Without one, the
 * keeper runs inside tend, the same way. */
int keeper_main(int argc, char **argv, bool standalone);

#endif
