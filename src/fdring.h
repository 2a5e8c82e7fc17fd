/* fdring: open files held beyond the descriptor table, in the table of registered ("fixed")
 * files of one io_uring. A capture pipe's read end that does not fit under RLIMIT_NOFILE
 * (fdbudget.h) lives there instead of in a descriptor: the ring keeps the pipe open, tells
 * when it is readable (a poll request on the fixed file), and lends a descriptor of it for
 * as long as one read or one spawn takes (IORING_OP_FIXED_FD_INSTALL), which is closed
 * again at once. So a program costs tend no descriptor for a pipe held here, only one
 * transient descriptor while its output is read.
 *
 * The ring's registered table can hold as many files as the soft RLIMIT_NOFILE allows a
 * table to have, independently of the descriptor table: tend can capture about twice the
 * streams its limit allows, without CAP_SYS_RESOURCE.
 *
 * Needs Linux 6.8 (fixed-descriptor install) and io_uring allowed (kernel.io_uring_disabled,
 * seccomp): fdring_available() says whether it can be used, and tend then behaves as
 * without it (the budget counts every pipe as a descriptor).
 *
 * The ring's own descriptor outlives a supervisor like the pipes do (the keeper holds it),
 * and the next supervisor adopts it with everything it holds (fdring_adopt), so a slot
 * number is as stable as a descriptor number across a restart.
 *
 * Watching is level-triggered like the loop's: a watched slot's callback runs while the
 * file is readable (or hung up) and the callback does not unwatch it. One-shot polls armed
 * again after each callback; the ring's descriptor is in the loop. */
#ifndef TEND_FDRING_H
#define TEND_FDRING_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

typedef void fdring_fn(void *ctx, uint32_t revents);

/* Whether the kernel lets tend use a ring for this (probed once). */
bool fdring_available(void);

/* Sets the ring up with room for slots files (registered sparse table; at most the soft
 * RLIMIT_NOFILE), its descriptor watched in loop. A second call with a ring up is a no-op
 * returning 0 (the table keeps its size). 0, or -1/errno. */
int fdring_open(struct loop *loop, unsigned slots);

/* Adopts the ring a previous supervisor left at descriptor fd with slots slots (from the
 * handover state): its files stay where they are. 0, or -1/errno (then nothing it holds can
 * be used, and fd is left to the caller). */
int fdring_adopt(struct loop *loop, int fd, unsigned slots);

/* Marks slot as held by this supervisor (adopted from the previous one). 0, or -1/EINVAL
 * (no ring, out of range or already taken). */
int fdring_claim(int slot);

/* Ends an adoption: every slot that was not claimed is emptied (what the previous
 * supervisor held there belongs to nothing now) and becomes free. 0, or -1/errno. */
int fdring_settle(void);

/* The ring's descriptor and table size, -1 and 0 when there is none (handover). */
int fdring_ring_fd(void);
unsigned fdring_slots(void);
/* Files held now. */
unsigned fdring_held(void);

/* Moves fd into a free slot: the slot number, fd then closed; or -1/errno (fd untouched):
 * ENOSPC when every slot is taken, ENODEV when there is no ring. */
int fdring_hold(int fd);

/* A new descriptor (close-on-exec) of the file in slot, the same open file description as
 * the one held; the caller closes it. -1/errno. */
int fdring_fd(int slot);

/* Calls fn(ctx, revents) while the file in slot is readable or hung up, until unwatched. 0,
 * or -1/errno. */
int fdring_watch(int slot, fdring_fn *fn, void *ctx);
/* Stops the callbacks (pending ones included). */
void fdring_unwatch(int slot);
bool fdring_watched(int slot);

/* Unwatches and closes the file in slot; the slot is free again. */
void fdring_drop(int slot);

/* Tears the ring down in this process: its descriptor is closed (what it holds is closed
 * with it unless the keeper holds the descriptor too). */
void fdring_close(void);

#endif
