/* Fuzz target for the control protocol codec (src/proto.c). One input drives every parser:
 * the whole input as one request line, then the input cut into lines by the splitter (in
 * chunks whose sizes come from the input itself, checked against a one-shot split), each
 * line through the request and the reply parser, and the input through decode/encode.
 * Invariants that must hold for any input abort on violation: a parsed request or reply
 * rebuilt by the builders parses back to the same thing, and decode(encode(x)) == x.
 *
 * Build (not part of the Makefile):
 *   clang -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -fsanitize=fuzzer,address,undefined \
 *       tests/fuzz/fuzz_proto.c src/proto.c src/util/str.c src/util/fd.c -o build/fuzz_proto
 *   build/fuzz_proto tests/fuzz/corpus/proto
 * tests/unit/test_proto.c includes this file and replays the corpus through it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            abort();                                                                       \
    } while (0)

static void fuzz_request(const char *line, size_t len)
{
    struct proto_request req;
    char why[256];
    enum proto_err rc = proto_parse_request(line, len, &req, why, sizeof why);

    FUZZ_CHECK(rc >= PROTO_OK && rc < PROTO_ERR_COUNT);
    FUZZ_CHECK(memchr(why, '\0', sizeof why) != NULL);
    if (rc == PROTO_OK) {
        /* Rebuild from the decoded words: it must parse back to the same request. */
        struct proto_buf b = {0};
        struct proto_request again;
        FUZZ_CHECK(req.argv[req.argc] == NULL);
        FUZZ_CHECK(req.names + req.nnames == req.argv + req.argc);
        FUZZ_CHECK(proto_build_request(&b, proto_verb_name(req.verb), req.argv, req.argc) == 0);
        FUZZ_CHECK(proto_parse_request(b.data, b.len, &again, why, sizeof why) == PROTO_OK);
        FUZZ_CHECK(again.verb == req.verb && again.argc == req.argc);
        for (size_t i = 0; i < req.argc; i++)
            FUZZ_CHECK(strcmp(again.argv[i], req.argv[i]) == 0);
        FUZZ_CHECK(again.signo == req.signo && again.no_wait == req.no_wait);
        FUZZ_CHECK(again.lines == req.lines && again.nnames == req.nnames);
        proto_request_free(&again);
        proto_buf_free(&b);
    } else {
        FUZZ_CHECK(req.argv == NULL && why[0] != '\0');
    }
    proto_request_free(&req);
}

static void fuzz_reply(const char *line, size_t len)
{
    struct proto_reply r, again;
    struct proto_buf b = {0};

    if (proto_parse_reply(line, len, &r) == -1)
        return;
    switch (r.kind) {
    case PROTO_REPLY_PROC:
        proto_buf_append_proc(&b, &r.proc);
        FUZZ_CHECK(proto_parse_reply(b.data, b.len, &again) == 0);
        FUZZ_CHECK(again.kind == PROTO_REPLY_PROC);
        /* Values longer than PROTO_MAX_VALUE come back cut: compare the short ones. */
        if (strlen(r.proc.name) <= PROTO_MAX_VALUE)
            FUZZ_CHECK(strcmp(again.proc.name, r.proc.name) == 0);
        if (strlen(r.proc.state) <= PROTO_MAX_VALUE)
            FUZZ_CHECK(strcmp(again.proc.state, r.proc.state) == 0);
        FUZZ_CHECK(again.proc.pid == r.proc.pid && again.proc.restarts == r.proc.restarts);
        FUZZ_CHECK(again.proc.uptime_s == r.proc.uptime_s);
        FUZZ_CHECK(again.proc.dropped_bytes == r.proc.dropped_bytes);
        FUZZ_CHECK(again.proc.written_bytes == r.proc.written_bytes);
        FUZZ_CHECK(again.proc.started_s == r.proc.started_s);
        proto_reply_free(&again);
        break;
    case PROTO_REPLY_INFO:
        proto_buf_append_info(&b, &r.info);
        FUZZ_CHECK(proto_parse_reply(b.data, b.len, &again) == 0);
        FUZZ_CHECK(again.kind == PROTO_REPLY_INFO);
        FUZZ_CHECK(again.info.pid == r.info.pid && again.info.reloads == r.info.reloads);
        FUZZ_CHECK(again.info.cpu_us == r.info.cpu_us && again.info.nprocs == r.info.nprocs);
        if (strlen(r.info.version) <= PROTO_MAX_VALUE)
            FUZZ_CHECK(strcmp(again.info.version, r.info.version) == 0);
        proto_reply_free(&again);
        break;
    case PROTO_REPLY_MSG:
        proto_buf_append_msg(&b, r.text);
        FUZZ_CHECK(proto_parse_reply(b.data, b.len, &again) == 0);
        FUZZ_CHECK(again.kind == PROTO_REPLY_MSG);
        if (strlen(r.text) <= PROTO_MAX_TEXT)
            FUZZ_CHECK(strcmp(again.text, r.text) == 0);
        proto_reply_free(&again);
        break;
    case PROTO_REPLY_DATA:
        /* Any bytes, NUL included, come back as they went. */
        proto_buf_append_data_len(&b, r.text, r.text_len);
        FUZZ_CHECK(proto_parse_reply(b.data, b.len, &again) == 0);
        FUZZ_CHECK(again.kind == PROTO_REPLY_DATA);
        if (r.text_len <= PROTO_MAX_TEXT)
            FUZZ_CHECK(again.text_len == r.text_len &&
                       memcmp(again.text, r.text, r.text_len) == 0);
        proto_reply_free(&again);
        break;
    case PROTO_REPLY_ERR:
        FUZZ_CHECK(r.err > PROTO_OK && r.err < PROTO_ERR_COUNT && r.code[0] != '\0');
        break;
    case PROTO_REPLY_OK:
    case PROTO_REPLY_OTHER:
        break;
    }
    FUZZ_CHECK(b.len <= PROTO_MAX_LINE);
    proto_buf_free(&b);
    proto_reply_free(&r);
}

/* Splits data into lines twice, once in one feed and once in chunks sized by the data's own
 * bytes, and checks that both give the same lines and the same failure. */
static void fuzz_splitter(const uint8_t *data, size_t size, size_t max_line)
{
    struct proto_splitter one, chunked;
    const char *line, *line2;
    size_t len, len2, off = 0;
    int r1, r2 = 0;

    proto_splitter_init(&one, max_line);
    proto_splitter_init(&chunked, max_line);
    FUZZ_CHECK(proto_splitter_feed(&one, data, size) == 0);
    while ((r1 = proto_splitter_next(&one, &line, &len)) == 1) {
        FUZZ_CHECK(len < max_line && line[len] == '\0' && memchr(line, '\n', len) == NULL);
        fuzz_request(line, len);
        fuzz_reply(line, len);
        /* Find the same line in the chunked splitter, feeding as needed. */
        char *copy = malloc(len + 1);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, line, len + 1);
        for (;;) {
            r2 = proto_splitter_next(&chunked, &line2, &len2);
            if (r2 != 0 || off >= size)
                break;
            size_t chunk = (size_t)(data[off] % 7) + 1;
            if (chunk > size - off)
                chunk = size - off;
            FUZZ_CHECK(proto_splitter_feed(&chunked, data + off, chunk) == 0);
            off += chunk;
        }
        FUZZ_CHECK(r2 == 1 && len2 == len && memcmp(line2, copy, len) == 0);
        free(copy);
    }
    if (r1 == -1) {
        /* The one-shot splitter saw an overlong line; the chunked one must see it too. */
        for (;;) {
            r2 = proto_splitter_next(&chunked, &line2, &len2);
            if (r2 == -1 || (r2 == 0 && off >= size))
                break;
            if (r2 == 1)
                continue;
            size_t chunk = size - off;
            FUZZ_CHECK(proto_splitter_feed(&chunked, data + off, chunk) == 0);
            off += chunk;
        }
        FUZZ_CHECK(r2 == -1);
    } else {
        FUZZ_CHECK(proto_splitter_pending(&one) < max_line);
    }
    proto_splitter_free(&one);
    proto_splitter_free(&chunked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request((const char *)data, size);
    fuzz_reply((const char *)data, size);
    fuzz_splitter(data, size, PROTO_MAX_LINE);
    fuzz_splitter(data, size, 64);

    char *dec = proto_decode((const char *)data, size);
    if (dec != NULL) {
        char *enc = proto_encode(dec, strlen(dec));
        char *back = proto_decode(enc, strlen(enc));
        FUZZ_CHECK(back != NULL && strcmp(back, dec) == 0);
        free(back);
        free(enc);
        free(dec);
    }
    if (memchr(data, '\0', size) == NULL) {
        char *enc = proto_encode((const char *)data, size);
        char *back = proto_decode(enc, strlen(enc));
        FUZZ_CHECK(back != NULL && strlen(back) == size && memcmp(back, data, size) == 0);
        free(back);
        free(enc);
    }
    return 0;
}
