/* Replays the config fuzz corpus (tests/fuzz/corpus/config, found from the repository root,
 * where the tests run) through config_load under the normal harness: every file must load or
 * fail without crashing, leaking or tripping UBSan, and keep the loader's contract. Files named
 * ok_* must load without errors, err_* must be rejected. Each file is also loaded from a copy
 * in a private temporary directory, exactly as the fuzz target feeds its inputs. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "config.h"
#include "util/str.h"

#define CORPUS_DIR "tests/fuzz/corpus/config"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Corpus file names, sorted; NULL-terminated. NULL when the directory cannot be read. */
static char **corpus_files(void)
{
    DIR *d = opendir(CORPUS_DIR);
    if (d == NULL) {
        fprintf(stderr, "  cannot open %s (run from the repository root): %s\n", CORPUS_DIR,
                strerror(errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 2) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
        names[n] = NULL;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_names);
    return names;
}

/* Loads path and checks the contract; returns the load's result. */
static int load_checked(const char *path)
{
    struct config *cfg = NULL;
    struct config_diags d = {0};
    int rc = config_load(path, &cfg, &d);
    CHECK((rc == 0) == (cfg != NULL));
    CHECK((rc == 0) == (d.errors == 0));
    CHECK_INT(d.errors + d.warnings, d.count);
    char buf[1024];
    for (size_t i = 0; i < d.count; i++) {
        config_diag_format(&d.items[i], buf, sizeof buf);
        CHECK(d.items[i].line >= 0);
        CHECK(strstr(buf, d.items[i].is_error ? ": error: " : ": warning: ") != NULL);
    }
    if (cfg != NULL) {
        for (size_t i = 0; i < cfg->nprocs; i++) {
            const struct proc_conf *p = cfg->procs[i];
            CHECK(config_find_proc(cfg, p->name) == p);
            CHECK(p->argv != NULL && p->argv[0] != NULL);
            if (i > 0)
                CHECK(cfg->procs[i - 1]->priority <= p->priority);
        }
    }
    config_free(cfg);
    config_diags_free(&d);
    return rc;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    CHECK(in != NULL && out != NULL);
    if (in != NULL && out != NULL) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
            CHECK_INT(fwrite(buf, 1, n, out), n);
    }
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
}

TEST(corpus_has_files)
{
    char **names = corpus_files();
    CHECK(names != NULL);
    size_t ok = 0, err = 0;
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        ok += strncmp(names[i], "ok_", 3) == 0;
        err += strncmp(names[i], "err_", 4) == 0;
    }
    CHECK(ok >= 5);
    CHECK(err >= 5);
    str_vec_free(names);
}

TEST(corpus_replays_in_place)
{
    char **names = corpus_files();
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        char *path = xasprintf("%s/%s", CORPUS_DIR, names[i]);
        int rc = load_checked(path);
        if (strncmp(names[i], "ok_", 3) == 0 && rc != 0) {
            fprintf(stderr, "  %s: expected to load\n", path);
            CHECK(false);
        }
        if (strncmp(names[i], "err_", 4) == 0 && rc != -1) {
            fprintf(stderr, "  %s: expected to be rejected\n", path);
            CHECK(false);
        }
        free(path);
    }
    str_vec_free(names);
}

TEST(corpus_replays_like_the_fuzzer)
{
    char dir[] = "/tmp/tend-corpus-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char **names = corpus_files();
    char *copy = xasprintf("%s/fuzz.conf", dir);
    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        char *path = xasprintf("%s/%s", CORPUS_DIR, names[i]);
        copy_file(path, copy);
        (void)load_checked(copy);
        free(path);
    }
    (void)unlink(copy); /* Best effort: it is /tmp. */
    (void)rmdir(dir);
    free(copy);
    str_vec_free(names);
}

HARNESS_MAIN()
