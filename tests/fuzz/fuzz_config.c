/* libFuzzer target for the configuration loader: each input becomes the main config file (in a
 * private temporary directory, so relative include globs see nothing else) and goes through
 * config_load, the diagnostic printer and config_free. Beyond "no crash, no leak, no UB" it
 * checks the loader's contract: success exactly when there is no error, and every loaded
 * process can be found by name and compares equal to its copy.
 * Build: clang -g -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_config.c \
 *        src/config.c src/keys.c src/util/str.c */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir_path[64];
static char file_path[96];
static int file_fd = -1;

static void cleanup(void)
{
    /* Best effort at exit: a leftover file in /tmp is harmless. */
    (void)unlink(file_path);
    (void)rmdir(dir_path);
}

static void setup(void)
{
    snprintf(dir_path, sizeof dir_path, "/tmp/tend-fuzz-config-XXXXXX");
    if (mkdtemp(dir_path) == NULL)
        abort();
    snprintf(file_path, sizeof file_path, "%s/fuzz.conf", dir_path);
    file_fd = open(file_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (file_fd == -1)
        abort();
    atexit(cleanup);
}

static void write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(file_fd, 0) == -1)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(file_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (file_fd == -1)
        setup();
    write_input(data, size);

    struct config *cfg = NULL;
    struct config_diags diags = {0};
    int rc = config_load(file_path, &cfg, &diags);
    if ((rc == 0) != (cfg != NULL) || (rc == 0) != (diags.errors == 0))
        abort();
    if (diags.errors + diags.warnings != diags.count)
        abort();
    char buf[512];
    for (size_t i = 0; i < diags.count; i++) {
        config_diag_format(&diags.items[i], buf, sizeof buf);
        if (diags.items[i].file == NULL || diags.items[i].msg == NULL)
            abort();
    }
    if (cfg != NULL) {
        for (size_t i = 0; i < cfg->nprocs; i++) {
            const struct proc_conf *p = cfg->procs[i];
            if (config_find_proc(cfg, p->name) != p || p->argv == NULL || p->argv[0] == NULL)
                abort();
            struct proc_conf *copy = proc_conf_dup(p);
            if (!proc_conf_equal(p, copy))
                abort();
            proc_conf_free(copy);
            if (i > 0 && cfg->procs[i - 1]->priority > p->priority)
                abort();
        }
    }
    config_free(cfg);
    config_diags_free(&diags);
    return 0;
}
