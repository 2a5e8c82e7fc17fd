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

/* Every symlink met as a component of dir (the prefixes of its path) is checked: owned by
 * root or us, in a directory others cannot replace it in. Symlinks inside a link's target
 * are not walked; the directory finally reached is judged by the caller. */
static int check_links(const char *dir, char *err, size_t err_len)
{
    char prefix[PATH_MAX];
    size_t len = strlen(dir);

    if (len >= sizeof(prefix)) {
        snprintf(err, err_len, "tend: socket directory %s: path too long", dir);
        return -1;
    }
    for (size_t i = 1; i <= len; i++) {
        if (i < len && dir[i] != '/')
            continue;
        memcpy(prefix, dir, i);
        prefix[i] = '\0';
        struct stat st;
        if (lstat(prefix, &st) == -1)
            return 0; /* the caller's stat reports a missing component */
        if (!S_ISLNK(st.st_mode))
            continue;
        if (!trusted_owner(st.st_uid)) {
            snprintf(err, err_len,
                     "tend: refusing socket directory %s: it is reached through symlink %s "
                     "owned by uid %d (only root or uid %d may own a link on the way)",
                     dir, prefix, (int)st.st_uid, (int)geteuid());
            return -1;
        }
        /* The link's own directory: can someone else swap the link? */
        char parent[PATH_MAX];
        const char *slash = strrchr(prefix, '/');
        if (slash == NULL)
            snprintf(parent, sizeof(parent), ".");
        else
            snprintf(parent, sizeof(parent), "%.*s", slash == prefix ? 1 : (int)(slash - prefix),
                     prefix);
        struct stat pst;
        if (stat(parent, &pst) == 0 && (!trusted_owner(pst.st_uid) ||
                                        others_may_replace(pst.st_mode))) {
            snprintf(err, err_len,
                     "tend: refusing socket directory %s: symlink %s is in %s, owned by uid %d "
                     "with mode %03o (others could replace the link)", dir, prefix, parent,
                     (int)pst.st_uid, (unsigned)(pst.st_mode & 0777));
            return -1;
        }
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
        snprintf(err, err_len, "tend: refusing socket directory %s%s%s: owned by uid %d with "
                 "mode %03o (it must be ours or root's and not writable by others)",
                 linked ? real : dir, linked ? ", reached through " : "", linked ? dir : "",
                 (int)st.st_uid, (unsigned)(st.st_mode & 0777));
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
