/* env: building a child's environment from a base and K=V overrides. */
#ifndef TEND_UTIL_ENV_H
#define TEND_UTIL_ENV_H

/* A new NULL-terminated array: every entry of base whose key no override names, then the
 * overrides in order (a later override of the same key wins). The strings are shared with
 * the inputs; free only the array. NULL on allocation failure. */
char **env_build(char *const *base, char *const *overrides, int noverrides);

/* True when entry ("K=V") has key of the given length. */
int env_key_matches(const char *entry, const char *key, unsigned long key_len);

#endif
