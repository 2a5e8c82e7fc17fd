/* Unit tests of the string vectors packed into one allocation and of shared strings. */
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "util/str.h"

TEST(str_vec_pack_copies_into_one_block)
{
    char *words[] = {"/bin/echo", "", "two words", NULL};
    char *extra = (char *)"sentinel";
    char **p = str_vec_pack(words, NULL, &extra);
    CHECK(p != NULL && extra == NULL);
    CHECK(str_vec_equal(p, words));
    CHECK_INT(str_vec_len(p), 3);
    /* The strings follow the array, in order, inside the same block. */
    CHECK(p[0] == (char *)(p + 4));
    CHECK(p[1] == p[0] + strlen(words[0]) + 1);
    CHECK(p[2] == p[1] + 1);
    free(p);
}

TEST(str_vec_pack_carries_an_extra_string)
{
    char *words[] = {"a", "bc", NULL};
    char *extra = NULL;
    char **p = str_vec_pack(words, "a bc", &extra);
    CHECK(p != NULL && extra != NULL);
    CHECK_STR(extra, "a bc");
    CHECK(extra == p[1] + 3);
    free(p);
    char *empty[] = {NULL};
    p = str_vec_pack(empty, "x", &extra);
    CHECK(p != NULL && p[0] == NULL);
    CHECK_STR(extra, "x");
    free(p);
    p = str_vec_pack(words, "unused", NULL); /* extra_out may be NULL */
    CHECK(p != NULL && str_vec_equal(p, words));
    free(p);
}

TEST(str_vec_pack_of_null_is_null)
{
    char *extra = (char *)"sentinel";
    CHECK(str_vec_pack(NULL, "x", &extra) == NULL);
    CHECK(extra == NULL);
    CHECK(str_vec_pack_take(NULL) == NULL);
}

TEST(str_vec_pack_take_frees_the_original)
{
    char **v = xmalloc(3 * sizeof *v);
    v[0] = xstrdup("K=V");
    v[1] = xstrdup("L=W");
    v[2] = NULL;
    char **p = str_vec_pack_take(v); /* ASan reports v if it leaked */
    CHECK_INT(str_vec_len(p), 2);
    CHECK_STR(p[0], "K=V");
    CHECK_STR(p[1], "L=W");
    free(p);
}

TEST(str_shared_counts_references)
{
    char *a = str_shared_new("/etc/tend.conf");
    CHECK_STR(a, "/etc/tend.conf");
    char *b = str_shared_ref(a);
    CHECK(b == a);
    char *c = str_shared_same(a, "/etc/tend.conf");
    CHECK(c == a);
    char *d = str_shared_same(a, "/etc/other.conf");
    CHECK(d != a);
    CHECK_STR(d, "/etc/other.conf");
    char *e = str_shared_same(NULL, "x");
    CHECK_STR(e, "x");
    str_shared_unref(a);
    str_shared_unref(b);
    CHECK_STR(c, "/etc/tend.conf"); /* still referenced: ASan would flag a use after free */
    str_shared_unref(c);
    str_shared_unref(d);
    str_shared_unref(e);
    CHECK(str_shared_new(NULL) == NULL && str_shared_ref(NULL) == NULL);
    CHECK(str_shared_same(NULL, NULL) == NULL);
    str_shared_unref(NULL);
}

HARNESS_MAIN()
