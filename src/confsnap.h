/* confsnap: the configuration in force, kept as the bytes of every file it was loaded from.
 *
 * The supervisor records each load into a memfd and, once the load is applied, hands that
 * memfd to the keeper. A supervisor restarted by the keeper (after a crash, a kill -9 or
 * an upgrade) loads the config from the record instead of the disk: it goes on with the
 * config that was in force, not with a file edited since and never reloaded, nor with one
 * that has an error now. `tend reload` reads the disk again, as always.
 *
 * The record is append-only while a load writes it; reading checks every length against
 * the size, so a record cut short (the writer was killed) is refused, not trusted. */
#ifndef TEND_CONFSNAP_H
#define TEND_CONFSNAP_H

#include <stddef.h>
#include <sys/stat.h>

struct confsnap;

/* A new, empty record (a close-on-exec memfd), or -1/errno. */
int confsnap_create(void);
/* Appends one file that a load read. 0 or -1/errno (the record is then unusable). */
int confsnap_add(int fd, const char *path, const struct stat *st, const char *text,
                 size_t len);

/* Reads a whole record. NULL/errno: EINVAL when it is not one or is cut short. */
struct confsnap *confsnap_open(int fd);
void confsnap_free(struct confsnap *s);
/* How many files it holds. */
size_t confsnap_count(const struct confsnap *s);
/* The file at path as recorded: a malloc'd NUL-terminated copy, its length, and st_dev and
 * st_ino in *st (the rest zero). -1/ENOENT when it was not read by the recorded load. */
int confsnap_read(const struct confsnap *s, const char *path, char **text, size_t *len,
                  struct stat *st);
/* The recorded paths that match a glob(3) pattern (fnmatch with FNM_PATHNAME|FNM_PERIOD),
 * sorted as glob sorts them: a malloc'd array of pointers into s, *n of them. */
const char **confsnap_glob(const struct confsnap *s, const char *pattern, size_t *n);

#endif
