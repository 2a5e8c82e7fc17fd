/* File-descriptor helpers: EINTR-safe I/O, errno-preserving close, and the child-side
 * "close everything from N up" with its fallback. All are async-signal-safe unless noted. */
#ifndef TEND_UTIL_FD_H
#define TEND_UTIL_FD_H

#include <stddef.h>
#include <sys/types.h>

/* read(2)/write(2) retried on EINTR. fd_write_all loops until every byte is written. */
ssize_t fd_read(int fd, void *buf, size_t len);
int fd_write_all(int fd, const void *buf, size_t len);

/* Closes fd (if >= 0) without disturbing errno: for cleanup on error paths. */
void fd_close_quiet(int fd);

/* Marks fd non-blocking. 0 or -1/errno. */
int fd_set_nonblock(int fd);
/* Clears O_NONBLOCK. 0 or -1/errno. */
int fd_set_blocking(int fd);

/* Closes every descriptor >= lowfd except keep_fd (-1: none): close_range(2), falling back
 * on ENOSYS to walking /proc/self/fd with raw getdents64, then to a loop up to
 * RLIMIT_NOFILE. Async-signal-safe. Returns 0 or -1/errno. */
int fd_close_from(int lowfd, int keep_fd);

/* Test hook: when nonzero, fd_close_from behaves as if close_range returned ENOSYS. */
extern int fd_force_no_close_range;

#endif
