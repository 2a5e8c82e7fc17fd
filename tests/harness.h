/* Minimal unit-test harness: TEST(name) defines a case, CHECK* record failures, and
 * harness_main() runs every registered case, printing "ok NAME" or "FAIL NAME" per case and
 * a closing "N passed, M failed" line. Cases register themselves through a constructor, so
 * a test file is just a list of TEST blocks plus HARNESS_MAIN(). */
#ifndef TEND_HARNESS_H
#define TEND_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct harness_case {
    const char *name;
    void (*fn)(void);
    struct harness_case *next;
};

extern struct harness_case *harness_cases;
extern int harness_failed_checks;

#define TEST(name)                                                                     \
    static void test_##name(void);                                                     \
    static struct harness_case case_##name = {#name, test_##name, NULL};               \
    __attribute__((constructor)) static void register_##name(void)                     \
    {                                                                                  \
        struct harness_case **p = &harness_cases;                                      \
        while (*p != NULL)                                                             \
            p = &(*p)->next;                                                           \
        *p = &case_##name;                                                             \
    }                                                                                  \
    static void test_##name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            harness_failed_checks++;                                                   \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        if (a_ != b_) {                                                                \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,     \
                    __LINE__, #a, a_, #b, b_);                                         \
            harness_failed_checks++;                                                   \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                         \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,       \
                    __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");             \
            harness_failed_checks++;                                                   \
        }                                                                              \
    } while (0)

/* Substring match, for error messages whose tail is strerror text. */
#define CHECK_CONTAINS(hay, needle)                                                    \
    do {                                                                               \
        const char *h_ = (hay), *n_ = (needle);                                        \
        if (h_ == NULL || strstr(h_, n_) == NULL) {                                    \
            fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", n_);                                 \
            harness_failed_checks++;                                                   \
        }                                                                              \
    } while (0)

#define HARNESS_MAIN()                                                                 \
    struct harness_case *harness_cases;                                                \
    int harness_failed_checks;                                                         \
    int main(void)                                                                     \
    {                                                                                  \
        int passed = 0, failed = 0;                                                    \
        for (struct harness_case *c = harness_cases; c != NULL; c = c->next) {         \
            int before = harness_failed_checks;                                        \
            c->fn();                                                                   \
            if (harness_failed_checks == before) {                                     \
                printf("ok %s\n", c->name);                                            \
                passed++;                                                              \
            } else {                                                                   \
                printf("FAIL %s\n", c->name);                                          \
                failed++;                                                              \
            }                                                                          \
            fflush(stdout);                                                            \
        }                                                                              \
        printf("%d passed, %d failed\n", passed, failed);                              \
        return failed == 0 ? 0 : 1;                                                    \
    }

#endif
