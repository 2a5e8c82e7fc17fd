/* confsnap: the configuration in force, as the files it was loaded from (see confsnap.h).
 *
 * Layout: an 8-byte magic, then one record per file: path length and text length (uint32),
 * st_dev and st_ino (uint64), the path, the text. Host byte order: the record never leaves
 * this machine, and is read only by the tend that the keeper starts next. */
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "confsnap.h"
#include "util/fd.h"

#define MAGIC "tendcf01"
#define MAGIC_LEN 8
#define MAX_BYTES (256u << 20) /* far above any config (a file is at most 16 MiB) */

struct head {
    uint32_t path_len, text_len;
    uint64_t dev, ino;
};

struct entry {
    const char *path;          /* NUL-terminated, in buf */
    const char *text;          /* not terminated, in buf */
    size_t len;
    dev_t dev;
    ino_t ino;
};

struct confsnap {
    char *buf;
    struct entry *files;
    size_t n;
};

int confsnap_create(void)
{
    int fd = memfd_create("tend-config", MFD_CLOEXEC);

    if (fd == -1)
        return -1;
    if (fd_write_all(fd, MAGIC, MAGIC_LEN) == -1) {
        fd_close_quiet(fd);
        return -1;
    }
    return fd;
}

int confsnap_add(int fd, const char *path, const struct stat *st, const char *text,
                 size_t len)
{
    size_t plen = strlen(path);
    struct head h = {(uint32_t)plen, (uint32_t)len, (uint64_t)st->st_dev,
                     (uint64_t)st->st_ino};

    if (plen > UINT32_MAX - 1 || len > UINT32_MAX) {
        errno = EFBIG;
        return -1;
    }
    /* The path is written with its NUL, so that reading can point into the buffer. */
    h.path_len++;
    if (fd_write_all(fd, &h, sizeof(h)) == -1 || fd_write_all(fd, path, plen + 1) == -1 ||
        fd_write_all(fd, text, len) == -1)
        return -1;
    return 0;
}

struct confsnap *confsnap_open(int fd)
{
    struct stat st;
    struct confsnap *s;
    size_t size, off = MAGIC_LEN, cap = 0;

    if (fstat(fd, &st) == -1)
        return NULL;
    if (st.st_size < MAGIC_LEN || (uint64_t)st.st_size > MAX_BYTES) {
        errno = EINVAL;
        return NULL;
    }
    size = (size_t)st.st_size;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->buf = malloc(size)) == NULL)
        goto fail_nomem;
    for (size_t got = 0; got < size;) {
        ssize_t r = pread(fd, s->buf + got, size - got, (off_t)got);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0) {
            errno = r == 0 ? EINVAL : errno;
            goto fail;
        }
        got += (size_t)r;
    }
    if (memcmp(s->buf, MAGIC, MAGIC_LEN) != 0)
        goto fail_inval;
    while (off < size) {
        struct head h;
        if (size - off < sizeof(h))
            goto fail_inval;
        memcpy(&h, s->buf + off, sizeof(h));
        off += sizeof(h);
        if (h.path_len == 0 || size - off < h.path_len ||
            size - off - h.path_len < h.text_len || s->buf[off + h.path_len - 1] != '\0')
            goto fail_inval;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 8;
            struct entry *e = realloc(s->files, cap * sizeof(*e));
            if (e == NULL)
                goto fail_nomem;
            s->files = e;
        }
        s->files[s->n++] = (struct entry){s->buf + off, s->buf + off + h.path_len, h.text_len,
                                          (dev_t)h.dev, (ino_t)h.ino};
        off += (size_t)h.path_len + h.text_len;
    }
    if (s->n == 0)
        goto fail_inval;
    return s;
fail_inval:
    errno = EINVAL;
    goto fail;
fail_nomem:
    errno = ENOMEM;
fail: {
    int err = errno;
    confsnap_free(s);
    errno = err;
    return NULL;
}
}

void confsnap_free(struct confsnap *s)
{
    if (s == NULL)
        return;
    free(s->files);
    free(s->buf);
    free(s);
}

size_t confsnap_count(const struct confsnap *s)
{
    return s->n;
}

int confsnap_read(const struct confsnap *s, const char *path, char **text, size_t *len,
                  struct stat *st)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct entry *e = &s->files[i];
        if (strcmp(e->path, path) != 0)
            continue;
        char *copy = malloc(e->len + 1);
        if (copy == NULL)
            return -1;
        memcpy(copy, e->text, e->len);
        copy[e->len] = '\0';
        memset(st, 0, sizeof(*st));
        st->st_dev = e->dev;
        st->st_ino = e->ino;
        st->st_mode = S_IFREG;
        *text = copy;
        *len = e->len;
        return 0;
    }
    errno = ENOENT;
    return -1;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **confsnap_glob(const struct confsnap *s, const char *pattern, size_t *n)
{
    const char **out = malloc((s->n + 1) * sizeof(*out));

    *n = 0;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (fnmatch(pattern, s->files[i].path, FNM_PATHNAME | FNM_PERIOD) == 0)
            out[(*n)++] = s->files[i].path;
    }
    qsort(out, *n, sizeof(*out), by_path); /* tend runs in the C locale: glob's order */
    return out;
}
