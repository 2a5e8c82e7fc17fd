/* env: merging environments for children; shares strings, allocates only the array. */
#include <stdlib.h>
#include <string.h>

#include "util/env.h"

int env_key_matches(const char *entry, const char *key, unsigned long key_len)
{
    return strncmp(entry, key, key_len) == 0 && entry[key_len] == '=';
}

static unsigned long key_len(const char *kv)
{
    const char *eq = strchr(kv, '=');

    return eq ? (unsigned long)(eq - kv) : strlen(kv);
}

char **env_build(char *const *base, char *const *overrides, int noverrides)
{
    size_t nbase = 0, n = 0;
    char **out;

    while (base != NULL && base[nbase] != NULL)
        nbase++;
    out = calloc(nbase + (size_t)noverrides + 1, sizeof(char *));
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < nbase; i++) {
        int overridden = 0;
        for (int j = 0; j < noverrides && !overridden; j++)
            overridden = env_key_matches(base[i], overrides[j], key_len(overrides[j]));
        if (!overridden)
            out[n++] = base[i];
    }
    for (int j = 0; j < noverrides; j++) {
        int later = 0;
        for (int k = j + 1; k < noverrides && !later; k++)
            later = env_key_matches(overrides[k], overrides[j], key_len(overrides[j]));
        if (!later)
            out[n++] = overrides[j];
    }
    out[n] = NULL;
    return out;
}
