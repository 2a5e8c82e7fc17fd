/* preflight: start-up checks of tend's own settings, without side effects (see preflight.h).
 * The daemon runs them before it writes its pidfile or binds its socket, so a start that
 * these checks would refuse leaves nothing behind; `tend check` runs the same code. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "preflight.h"
#include "spawn.h"
#include "util/str.h"

static bool trusted_owner(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

/* Others may create, remove or rename entries in a directory with this mode. */
static bool others_may_replace(mode_t mode)
{
    return (mode & (S_IWGRP | S_IWOTH)) != 0 && (mode & S_ISVTX) == 0;
}

static bool trusted_group(gid_t gid)
{
    return gid == 0 || gid == getegid();
}

/* Users other than root and us may write into a file or directory with this stat. */
static bool writable_by_others(const struct stat *st)
{
    return (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && !trusted_group(st->st_gid));
}

/* The first symlink among the prefixes of path (path itself included) that someone other
 * than root or us could turn elsewhere: owned by another user, or in a directory others may
 * replace entries of. Returns 1 with link (and, when it is its directory that is open,
 * parent) filled, *lst the link's and *pst the directory's stat; 0 when there is none;
 * -1 when path is too long. */
static int unsafe_link(const char *path, char link[PATH_MAX], char parent[PATH_MAX],
                       struct stat *lst, struct stat *pst)
{
    size_t len = strlen(path);

    if (len >= PATH_MAX)
        return -1;
    parent[0] = '\0';
    for (size_t i = 1; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        memcpy(link, path, i);
        link[i] = '\0';
        if (lstat(link, lst) == -1)
            return 0; /* the caller's stat reports a missing component */
        if (!S_ISLNK(lst->st_mode))
            continue;
        if (!trusted_owner(lst->st_uid))
            return 1;
        const char *slash = strrchr(link, '/');
        if (slash == NULL)
            snprintf(parent, PATH_MAX, ".");
        else
            snprintf(parent, PATH_MAX, "%.*s", slash == link ? 1 : (int)(slash - link), link);
        if (stat(parent, pst) == 0 &&
            (!trusted_owner(pst->st_uid) || others_may_replace(pst->st_mode)))
            return 1;
        parent[0] = '\0';
    }
    return 0;
}

/* Every symlink met as a component of dir (the prefixes of its path) is checked: owned by
 * root or us, in a directory others cannot replace it in. Symlinks inside a link's target
 * are not walked; the directory finally reached is judged by the caller. */
static int check_links(const char *dir, char *err, size_t err_len)
{
    char prefix[PATH_MAX], parent[PATH_MAX];
    struct stat st, pst;
    int r = unsafe_link(dir, prefix, parent, &st, &pst);

    if (r == -1) {
        snprintf(err, err_len, "tend: socket directory %s: path too long", dir);
        return -1;
    }
    if (r == 0)
        return 0;
    if (parent[0] == '\0') {
        snprintf(err, err_len,
                 "tend: refusing socket directory %s: it is reached through symlink %s "
                 "owned by uid %u (only root or uid %u may own a link on the way)",
                 dir, prefix, (unsigned)st.st_uid, (unsigned)geteuid());
    } else {
        snprintf(err, err_len,
                 "tend: refusing socket directory %s: symlink %s is in %s, owned by uid %u "
                 "with mode %03o (others could replace the link)", dir, prefix, parent,
                 (unsigned)pst.st_uid, (unsigned)(pst.st_mode & 0777));
    }
    return -1;
}

/* The directories from path's parent up to /, each owned by root or us and not open to
 * others for replacing entries. path is a real path (no symlinks, absolute). */
static int check_ancestors(const char *path, char *err, size_t err_len)
{
    char dir[PATH_MAX];
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL || dir[1] == '\0')
            return 0;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (stat(dir, &st) == -1)
            return 0; /* the reader reports it */
        if (!trusted_owner(st.st_uid)) {
            snprintf(err, err_len, "its directory %s is owned by uid %u, neither root nor "
                     "tend's user", dir, (unsigned)st.st_uid);
            return -1;
        }
        if (writable_by_others(&st) && !(st.st_mode & S_ISVTX)) {
            snprintf(err, err_len, "its directory %s is writable by %s (mode %04o)", dir,
                     (st.st_mode & S_IWOTH) ? "every user" : "a group other than root's or "
                     "tend's", (unsigned)(st.st_mode & 07777));
            return -1;
        }
    }
}

/* Symlinks on the way to path, then its real path's directories. */
static int check_path(const char *path, char *real, char *err, size_t err_len)
{
    char link[PATH_MAX], parent[PATH_MAX];
    struct stat lst, pst;
    int r = unsafe_link(path, link, parent, &lst, &pst);

    if (r == -1) {
        snprintf(err, err_len, "path too long");
        return -1;
    }
    if (r == 1 && parent[0] == '\0') {
        snprintf(err, err_len, "it is reached through symlink %s, owned by uid %u (neither "
                 "root nor tend's user)", link, (unsigned)lst.st_uid);
        return -1;
    }
    if (r == 1) {
        snprintf(err, err_len, "it is reached through symlink %s, in %s, which others can "
                 "write (owner uid %u, mode %04o)", link, parent, (unsigned)pst.st_uid,
                 (unsigned)(pst.st_mode & 07777));
        return -1;
    }
    if (realpath(path, real) == NULL)
        return 1; /* cannot be reached: the reader says why */
    return check_ancestors(real, err, err_len);
}

int preflight_include_file(const char *path, char *err, size_t err_len)
{
    char real[PATH_MAX];
    struct stat st;
    int r = check_path(path, real, err, err_len);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (stat(real, &st) == -1)
        return 0;
    if (!trusted_owner(st.st_uid)) {
        snprintf(err, err_len, "it is owned by uid %u, neither root nor tend's user",
                 (unsigned)st.st_uid);
        return -1;
    }
    if (writable_by_others(&st)) {
        snprintf(err, err_len, "it is writable by %s (mode %04o)",
                 (st.st_mode & S_IWOTH) ? "every user" : "a group other than root's or tend's",
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

int preflight_include_dir(const char *dir, char *err, size_t err_len)
{
    char real[PATH_MAX];
    struct stat st;
    int r = check_path(dir, real, err, err_len);

    if (r != 0)
        return r == 1 ? 0 : -1;
    if (stat(real, &st) == -1)
        return 0;
    if (!trusted_owner(st.st_uid)) {
        snprintf(err, err_len, "the directory %s it lists is owned by uid %u, neither root "
                 "nor tend's user", real, (unsigned)st.st_uid);
        return -1;
    }
    if (writable_by_others(&st)) {
        snprintf(err, err_len, "the directory %s it lists is writable by %s (mode %04o): they "
                 "could add a program to it", real,
                 (st.st_mode & S_IWOTH) ? "every user" : "a group other than root's or tend's",
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    return 0;
}

int preflight_socket_dir(const char *dir, char *err, size_t err_len)
{
    struct stat st;

    if (stat(dir, &st) == -1) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, err_len, "tend: cannot use socket directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "tend: %s is not a directory", dir);
        return -1;
    }
    if (check_links(dir, err, err_len) == -1)
        return -1;
    if (!trusted_owner(st.st_uid) || others_may_replace(st.st_mode)) {
        char *real = realpath(dir, NULL);
        bool linked = real != NULL && strcmp(real, dir) != 0;
        snprintf(err, err_len, "tend: refusing socket directory %s%s%s: owned by uid %u with "
                 "mode %03o (it must be ours or root's and not writable by others)",
                 linked ? real : dir, linked ? ", reached through " : "", linked ? dir : "",
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
        free(real);
        return -1;
    }
    return 0;
}

/* ---- tend check: the [tend] settings ---- */

static void add_error(const struct config *cfg, struct config_diags *diags, char *msg)
{
    const struct tend_conf *t = &cfg->tend;

    if (diags->count == diags->cap) {
        diags->cap = diags->cap ? diags->cap * 2 : 8;
        diags->items = xrealloc(diags->items, diags->cap * sizeof(*diags->items));
    }
    /* The message may carry the "tend: " of a start-up error: the diagnostic has its own. */
    const char *text = strncmp(msg, "tend: ", 6) == 0 ? msg + 6 : msg;
    diags->items[diags->count++] = (struct config_diag){
        .file = xstrdup(t->file != NULL ? t->file : cfg->path),
        .line = t->file != NULL ? t->line : 0, .is_error = true, .msg = xstrdup(text)};
    diags->errors++;
    free(msg);
}

/* The directory part of path ("." for a bare name), into buf. */
static void dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(buf, len, ".");
    else
        snprintf(buf, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* key=path's directory must exist: start-up creates the file, not its directory. */
static void need_dir_of(const struct config *cfg, struct config_diags *diags, const char *key,
                        const char *path)
{
    char dir[PATH_MAX];
    struct stat st;

    dir_of(path, dir, sizeof(dir));
    if (stat(dir, &st) == -1)
        add_error(cfg, diags, xasprintf("%s=%s: %s (directory %s)", key, path, strerror(errno),
                                        dir));
    else if (!S_ISDIR(st.st_mode))
        add_error(cfg, diags, xasprintf("%s=%s: %s is not a directory", key, path, dir));
}

static void check_socket(const struct config *cfg, struct config_diags *diags)
{
    const struct tend_conf *t = &cfg->tend;
    char def[sizeof(((struct sockaddr_un *)0)->sun_path)], dir[PATH_MAX], err[PATH_MAX + 256];
    const char *path = t->socket;

    if (path == NULL && (path = client_default_socket(def, sizeof(def))) == NULL) {
        add_error(cfg, diags, xasprintf("the default socket path is too long"));
        return;
    }
    if (strlen(path) >= sizeof(def)) {
        add_error(cfg, diags, xasprintf("socket %s is longer than %zu bytes", path,
                                        sizeof(def) - 1));
        return;
    }
    dir_of(path, dir, sizeof(dir));
    int r = preflight_socket_dir(dir, err, sizeof(err));
    if (r == -1) {
        add_error(cfg, diags, xstrdup(err));
    } else if (r == 1) {
        /* Start-up creates the socket's directory, but not its parents. */
        char parent[PATH_MAX];
        struct stat st;
        dir_of(dir, parent, sizeof(parent));
        if (stat(parent, &st) == -1 || !S_ISDIR(st.st_mode))
            add_error(cfg, diags, xasprintf("socket %s: its directory %s is missing and "
                                            "cannot be created (no directory %s)", path, dir,
                                            parent));
    }
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        add_error(cfg, diags, xasprintf("socket %s exists and is not a socket", path));
}

int preflight_tend(const struct config *cfg, struct config_diags *diags)
{
    const struct tend_conf *t = &cfg->tend;
    size_t before = diags->errors;
    char msg[256];

    check_socket(cfg, diags);
    if (t->socket_group != NULL && getgrnam(t->socket_group) == NULL)
        add_error(cfg, diags, xasprintf("socket_group: unknown group '%s'", t->socket_group));
    if (t->socket_owner != NULL) {
        uid_t uid;
        gid_t gid, *groups = NULL;
        size_t n;
        if (spawn_resolve_user(t->socket_owner, &uid, &gid, &groups, &n, msg, sizeof(msg)) == -1)
            add_error(cfg, diags, xasprintf("socket_owner=%s: %s", t->socket_owner, msg));
        free(groups);
    }
    if (t->user != NULL) {
        uid_t uid;
        gid_t gid, *groups = NULL;
        size_t n;
        if (spawn_resolve_user(t->user, &uid, &gid, &groups, &n, msg, sizeof(msg)) == -1)
            add_error(cfg, diags, xasprintf("user=%s: %s", t->user, msg));
        free(groups);
    }
    if (t->directory != NULL) {
        struct stat st;
        if (stat(t->directory, &st) == -1)
            add_error(cfg, diags, xasprintf("directory=%s: %s", t->directory, strerror(errno)));
        else if (!S_ISDIR(st.st_mode))
            add_error(cfg, diags, xasprintf("directory=%s: not a directory", t->directory));
    }
    if (t->pidfile != NULL)
        need_dir_of(cfg, diags, "pidfile", t->pidfile);
    if (t->logfile_kind == LOG_TARGET_PATH && t->logfile != NULL)
        need_dir_of(cfg, diags, "logfile", t->logfile);
    return diags->errors > before ? -1 : 0;
}
