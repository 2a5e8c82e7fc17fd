/* Unit tests of the control protocol codec: percent encoding, request parsing with every error
 * code, the 64 KiB boundary, the line splitter, reply parsing and building. The fuzz target is
 * included so that its corpus replays here with the same checks. Run from the repo root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"
#include "proto.h"
#include "util/str.h"

/* The fuzz target: LLVMFuzzerTestOneInput, replayed over the corpus below. */
#include "../fuzz/fuzz_proto.c"

#define CORPUS_DIR "tests/fuzz/corpus/proto"

/* Parses a NUL-terminated request; returns the code and leaves req filled on success. */
static enum proto_err parse(const char *line, struct proto_request *req, char *why)
{
    return proto_parse_request(line, strlen(line), req, why, 200);
}

/* Expects line to fail with code and a message containing needle. */
static void expect_request_error(const char *line, size_t len, enum proto_err code,
                                 const char *needle)
{
    struct proto_request req;
    char why[200];
    enum proto_err rc = proto_parse_request(line, len, &req, why, sizeof why);

    if (rc != code)
        fprintf(stderr, "  request '%.60s': got %s (%s)\n", line,
                rc == PROTO_OK ? "ok" : proto_err_name(rc), why);
    CHECK_INT(rc, code);
    CHECK_CONTAINS(why, needle);
    CHECK(req.argv == NULL);
    proto_request_free(&req);
}

#define EXPECT_ERR(line, code, needle) expect_request_error(line, strlen(line), code, needle)

/* ---- Percent encoding ---------------------------------------------------------------------- */

TEST(encode_every_byte)
{
    for (int b = 0; b < 256; b++) {
        char in = (char)b;
        char *enc = proto_encode(&in, 1);
        if (b <= 0x20 || b == 0x7f || b == '%') {
            char want[4];
            snprintf(want, sizeof want, "%%%02X", b);
            CHECK_STR(enc, want);
        } else {
            CHECK_INT(strlen(enc), 1);
            CHECK_INT((unsigned char)enc[0], b);
        }
        char *dec = proto_decode(enc, strlen(enc));
        if (b == 0) {
            CHECK(dec == NULL);
            CHECK_INT(errno, EINVAL);
        } else {
            CHECK(dec != NULL && strlen(dec) == 1 && (unsigned char)dec[0] == b);
        }
        free(dec);
        free(enc);
    }
}

TEST(encode_round_trip_all_bytes_in_one_word)
{
    char in[255];
    for (int i = 0; i < 255; i++)
        in[i] = (char)(i + 1);
    char *enc = proto_encode(in, sizeof in);
    for (const unsigned char *p = (const unsigned char *)enc; *p != '\0'; p++)
        CHECK(*p > 0x20 && *p != 0x7f);
    char *dec = proto_decode(enc, strlen(enc));
    CHECK(dec != NULL && strlen(dec) == sizeof in && memcmp(dec, in, sizeof in) == 0);
    free(dec);
    free(enc);
}

TEST(encode_utf8_passes_and_empty_word)
{
    const char *s = "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80%";
    char *enc = proto_encode(s, strlen(s));
    CHECK_STR(enc, "caf\xc3\xa9%20\xe2\x9c\x93%20\xf0\x9f\x98\x80%25");
    char *dec = proto_decode(enc, strlen(enc));
    CHECK_STR(dec, s);
    free(dec);
    free(enc);

    enc = proto_encode("", 0);
    CHECK_STR(enc, "");
    dec = proto_decode("", 0);
    CHECK_STR(dec, "");
    free(dec);
    free(enc);
}

TEST(decode_rejects_bad_input)
{
    static const char *const bad[] = {
        "%", "%4", "a%", "%G1", "%1G", "%-1", "%00", "a b", "a\tb", "a\x7f", "a\nb", "%%",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        char *dec = proto_decode(bad[i], strlen(bad[i]));
        if (dec != NULL)
            fprintf(stderr, "  decoded '%s'\n", bad[i]);
        CHECK(dec == NULL);
        CHECK_INT(errno, EINVAL);
    }
    /* A raw NUL inside the given length. */
    CHECK(proto_decode("a\0b", 3) == NULL);
    /* Lowercase hex is accepted; so is an escape that was not needed. */
    char *dec = proto_decode("a%2fb%41%7e", 11);
    CHECK_STR(dec, "a/bA~");
    free(dec);
}

/* ---- Names --------------------------------------------------------------------------------- */

TEST(error_and_verb_names_round_trip)
{
    static const char *const codes[] = {"version", "syntax", "toolong", "unknown-verb",
                                        "no-such-process", "bad-signal", "bad-argument",
                                        "failed", "denied", "busy"};
    CHECK(proto_err_name(PROTO_OK) == NULL);
    CHECK(proto_err_name(PROTO_ERR_COUNT) == NULL);
    for (int i = PROTO_OK + 1; i < PROTO_ERR_COUNT; i++) {
        CHECK_STR(proto_err_name((enum proto_err)i), codes[i - 1]);
        CHECK_INT(proto_err_from_name(codes[i - 1]), i);
    }
    CHECK_INT(proto_err_from_name("ok"), -1);
    static const char *const verbs[] = {"status", "start", "stop", "restart", "signal",
                                        "reload", "shutdown", "pid", "logrotate", "logs", "upgrade",
                                        "info", "version", "logread", "clearlog", "reread",
                                        "httpfd"};
    for (int i = 0; i < PROTO_VERB_COUNT; i++) {
        CHECK_STR(proto_verb_name((enum proto_verb)i), verbs[i]);
        CHECK_INT(proto_verb_from_name(verbs[i]), i);
    }
    CHECK_INT(proto_verb_from_name("STATUS"), -1);
    CHECK(proto_verb_name(PROTO_VERB_COUNT) == NULL);
}

/* ---- Requests ------------------------------------------------------------------------------ */

/* The verbs tend-web's XML-RPC needs: logread's signed OFFSET after "--", its LENGTH and
 * optional NAME; clearlog with at most one NAME; reread and httpfd with none; status
 * --detail. */
TEST(request_xmlrpc_verbs)
{
    struct proto_request r;
    char why[256];
    static const char *const bad[] = {
        "tend/1 logread", "tend/1 logread 0", "tend/1 logread -- -5", "tend/1 logread x 0 a",
        "tend/1 logread 0 -1 a", "tend/1 logread -- 0 0 a b", "tend/1 logread --stdout 0 0",
        "tend/1 clearlog a b", "tend/1 reread a", "tend/1 httpfd x", "tend/1 status --detailed",
    };

    CHECK_INT(proto_parse_request("tend/1 logread --stderr -- -1600 0 web", 38, &r, why,
                                  sizeof why), PROTO_OK);
    CHECK_INT(r.verb, PROTO_VERB_LOGREAD);
    CHECK(r.use_stderr);
    CHECK(r.offset == -1600 && r.length == 0);
    CHECK_INT(r.nnames, 1);
    CHECK_STR(r.names[0], "web");
    proto_request_free(&r);
    CHECK_INT(proto_parse_request("tend/1 logread 10 20", 20, &r, why, sizeof why), PROTO_OK);
    CHECK(r.offset == 10 && r.length == 20 && r.nnames == 0);
    proto_request_free(&r);
    CHECK_INT(proto_parse_request("tend/1 status --detail a", 24, &r, why, sizeof why), PROTO_OK);
    CHECK(r.detail);
    proto_request_free(&r);
    CHECK_INT(proto_parse_request("tend/1 clearlog", 15, &r, why, sizeof why), PROTO_OK);
    proto_request_free(&r);
    CHECK_INT(proto_parse_request("tend/1 httpfd", 13, &r, why, sizeof why), PROTO_OK);
    CHECK_INT(r.verb, PROTO_VERB_HTTPFD);
    proto_request_free(&r);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(proto_parse_request(bad[i], strlen(bad[i]), &r, why, sizeof why),
                  PROTO_ERR_BAD_ARGUMENT);
        proto_request_free(&r);
    }
}

/* status --detail's keys round-trip; a line without them parses with has_detail false. */
TEST(proc_detail_round_trip)
{
    struct proto_buf b;
    struct proto_reply r;
    struct proto_proc p = {.name = "g:w", .group = "g", .state = "STOPPED", .has_detail = true,
                           .laststart_s = 1796242398, .laststop_s = 1796242400,
                           .autostart = true, .priority = -5, .group_priority = 999,
                           .stdout_log = "/var/log/w out.log", .stderr_log = NULL};

    proto_buf_init(&b);
    proto_buf_append_proc(&b, &p);
    CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
    CHECK(r.proc.has_detail);
    CHECK(r.proc.laststart_s == 1796242398 && r.proc.laststop_s == 1796242400);
    CHECK(r.proc.autostart);
    CHECK(r.proc.priority == -5 && r.proc.group_priority == 999);
    CHECK_STR(r.proc.stdout_log, "/var/log/w out.log");
    CHECK_STR(r.proc.stderr_log, "");
    proto_reply_free(&r);
    proto_buf_free(&b);
    p.has_detail = false;
    proto_buf_init(&b);
    proto_buf_append_proc(&b, &p);
    CHECK(memmem(b.data, b.len, "laststart", 9) == NULL);
    CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
    CHECK(!r.proc.has_detail);
    CHECK_STR(r.proc.stdout_log, "");
    proto_reply_free(&r);
    proto_buf_free(&b);
}

TEST(request_status)
{
    struct proto_request req;
    char why[200];

    CHECK_INT(parse("tend/1 status\n", &req, why), PROTO_OK);
    CHECK_INT(req.verb, PROTO_VERB_STATUS);
    CHECK_INT(req.argc, 0);
    CHECK(req.argv != NULL && req.argv[0] == NULL);
    CHECK_INT(req.nnames, 0);
    CHECK_INT(req.lines, -1);
    proto_request_free(&req);

    /* Without the newline, and with encoded words. */
    CHECK_INT(parse("tend/1 status web:* caf\xc3\xa9%20bar", &req, why), PROTO_OK);
    CHECK_INT(req.argc, 2);
    CHECK_STR(req.argv[0], "web:*");
    CHECK_STR(req.argv[1], "caf\xc3\xa9 bar");
    CHECK_INT(req.nnames, 2);
    CHECK(req.names == req.argv);
    CHECK(req.argv[2] == NULL);
    proto_request_free(&req);
}

TEST(request_start_stop_restart_options)
{
    struct proto_request req;
    char why[200];

    CHECK_INT(parse("tend/1 start --no-wait web_00 web_01\n", &req, why), PROTO_OK);
    CHECK_INT(req.verb, PROTO_VERB_START);
    CHECK(req.no_wait);
    CHECK_INT(req.argc, 3);
    CHECK_INT(req.nnames, 2);
    CHECK_STR(req.names[0], "web_00");
    CHECK_STR(req.names[1], "web_01");
    CHECK(req.names[2] == NULL);
    proto_request_free(&req);

    CHECK_INT(parse("tend/1 stop all\n", &req, why), PROTO_OK);
    CHECK_INT(req.verb, PROTO_VERB_STOP);
    CHECK(!req.no_wait);
    CHECK_STR(req.names[0], "all");
    proto_request_free(&req);

    /* "--" ends the options, so a name may start with '-'. */
    CHECK_INT(parse("tend/1 restart -- -odd --no-wait\n", &req, why), PROTO_OK);
    CHECK(!req.no_wait);
    CHECK_INT(req.nnames, 2);
    CHECK_STR(req.names[0], "-odd");
    CHECK_STR(req.names[1], "--no-wait");
    proto_request_free(&req);
}

TEST(request_signal)
{
    struct proto_request req;
    char why[200];

    CHECK_INT(parse("tend/1 signal TERM web\n", &req, why), PROTO_OK);
    CHECK_INT(req.signo, SIGTERM);
    CHECK_INT(req.nnames, 1);
    CHECK_STR(req.names[0], "web");
    CHECK_STR(req.argv[0], "TERM");
    proto_request_free(&req);

    CHECK_INT(parse("tend/1 signal sigkill a b\n", &req, why), PROTO_OK);
    CHECK_INT(req.signo, SIGKILL);
    CHECK_INT(req.nnames, 2);
    proto_request_free(&req);

    CHECK_INT(parse("tend/1 signal 1 a\n", &req, why), PROTO_OK);
    CHECK_INT(req.signo, SIGHUP);
    proto_request_free(&req);
}

TEST(request_other_verbs)
{
    struct proto_request req;
    char why[200];
    static const struct {
        const char *line;
        enum proto_verb verb;
        size_t nnames;
    } ok[] = {
        {"tend/1 reload", PROTO_VERB_RELOAD, 0},
        {"tend/1 shutdown", PROTO_VERB_SHUTDOWN, 0},
        {"tend/1 pid", PROTO_VERB_PID, 0},
        {"tend/1 pid web", PROTO_VERB_PID, 1},
        {"tend/1 logrotate", PROTO_VERB_LOGROTATE, 0},
        {"tend/1 logs web", PROTO_VERB_LOGS, 1},
        {"tend/1 info", PROTO_VERB_INFO, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK_INT(parse(ok[i].line, &req, why), PROTO_OK);
        CHECK_INT(req.verb, ok[i].verb);
        CHECK_INT(req.nnames, ok[i].nnames);
        proto_request_free(&req);
    }

    CHECK_INT(parse("tend/1 logs -n 50 --stderr -f web\n", &req, why), PROTO_OK);
    CHECK_INT(req.lines, 50);
    CHECK(req.use_stderr);
    CHECK(req.follow);
    CHECK_STR(req.names[0], "web");
    proto_request_free(&req);
}

/* info takes nothing: it is the supervisor's own facts (for tend-web's /metrics). */
TEST(request_info_takes_no_argument)
{
    EXPECT_ERR("tend/1 info web", PROTO_ERR_BAD_ARGUMENT, "info takes no argument");
    EXPECT_ERR("tend/1 info --all", PROTO_ERR_BAD_ARGUMENT, "info: unknown option '--all'");
    CHECK_STR(proto_verb_name(PROTO_VERB_INFO), "info");
    CHECK_INT(proto_verb_from_name("info"), PROTO_VERB_INFO);
}

TEST(request_every_error_code)
{
    /* toolong is covered at the boundary below. */
    EXPECT_ERR("", PROTO_ERR_SYNTAX, "empty request");
    EXPECT_ERR("\n", PROTO_ERR_SYNTAX, "empty request");
    expect_request_error("tend/1 status\0x\n", 16, PROTO_ERR_SYNTAX, "NUL");
    EXPECT_ERR("tend/1 status\nx\n", PROTO_ERR_SYNTAX, "newline inside");
    EXPECT_ERR("tend/2 status\n", PROTO_ERR_VERSION, "unsupported protocol version 'tend/2'");
    EXPECT_ERR("TEND/1 status\n", PROTO_ERR_VERSION, "'TEND/1'");
    EXPECT_ERR("status\n", PROTO_ERR_VERSION, "'status'");
    EXPECT_ERR(" tend/1 status\n", PROTO_ERR_VERSION, "''");
    EXPECT_ERR("tend/1\tstatus\n", PROTO_ERR_VERSION, "'tend/1?status'");
    /* Another version's grammar is never judged by ours. */
    EXPECT_ERR("tend/2  status %zz\n", PROTO_ERR_VERSION, "tend/1");
    EXPECT_ERR("tend/1  status\n", PROTO_ERR_SYNTAX, "empty word 2");
    EXPECT_ERR("tend/1 status \n", PROTO_ERR_SYNTAX, "empty word 3");
    EXPECT_ERR("tend/1 \n", PROTO_ERR_SYNTAX, "empty word 2");
    EXPECT_ERR("tend/1 status a%zz\n", PROTO_ERR_SYNTAX, "word 3: '%' not followed");
    EXPECT_ERR("tend/1 status a%4\n", PROTO_ERR_SYNTAX, "word 3");
    EXPECT_ERR("tend/1 status a%00\n", PROTO_ERR_SYNTAX, "%00");
    EXPECT_ERR("tend/1 status\r\n", PROTO_ERR_SYNTAX, "word 2: a control byte");
    EXPECT_ERR("tend/1 status a\x01\n", PROTO_ERR_SYNTAX, "control byte");
    EXPECT_ERR("tend/1\n", PROTO_ERR_SYNTAX, "missing verb");
    EXPECT_ERR("tend/1", PROTO_ERR_SYNTAX, "missing verb");
    EXPECT_ERR("tend/1 stat\n", PROTO_ERR_UNKNOWN_VERB, "unknown verb 'stat'");
    EXPECT_ERR("tend/1 STATUS\n", PROTO_ERR_UNKNOWN_VERB, "'STATUS'");
    EXPECT_ERR("tend/1 status --json\n", PROTO_ERR_BAD_ARGUMENT,
               "status: unknown option '--json'");
    EXPECT_ERR("tend/1 start --bogus web\n", PROTO_ERR_BAD_ARGUMENT, "unknown option '--bogus'");
    EXPECT_ERR("tend/1 start\n", PROTO_ERR_BAD_ARGUMENT, "start needs a NAME");
    EXPECT_ERR("tend/1 stop --no-wait\n", PROTO_ERR_BAD_ARGUMENT, "stop needs a NAME");
    EXPECT_ERR("tend/1 restart --\n", PROTO_ERR_BAD_ARGUMENT, "restart needs a NAME");
    EXPECT_ERR("tend/1 signal\n", PROTO_ERR_BAD_ARGUMENT, "signal needs a SIGNAL");
    EXPECT_ERR("tend/1 signal TERM\n", PROTO_ERR_BAD_ARGUMENT, "NAME after the signal");
    EXPECT_ERR("tend/1 signal -9 web\n", PROTO_ERR_BAD_ARGUMENT, "unknown option '-9'");
    EXPECT_ERR("tend/1 signal BOGUS web\n", PROTO_ERR_BAD_SIGNAL, "unknown signal 'BOGUS'");
    EXPECT_ERR("tend/1 signal 0 web\n", PROTO_ERR_BAD_SIGNAL, "'0'");
    EXPECT_ERR("tend/1 signal 999 web\n", PROTO_ERR_BAD_SIGNAL, "'999'");
    EXPECT_ERR("tend/1 reload now\n", PROTO_ERR_BAD_ARGUMENT, "reload takes no argument");
    EXPECT_ERR("tend/1 shutdown x\n", PROTO_ERR_BAD_ARGUMENT, "shutdown takes no argument");
    EXPECT_ERR("tend/1 logrotate x\n", PROTO_ERR_BAD_ARGUMENT, "logrotate takes no");
    EXPECT_ERR("tend/1 pid a b\n", PROTO_ERR_BAD_ARGUMENT, "at most one NAME");
    EXPECT_ERR("tend/1 logs\n", PROTO_ERR_BAD_ARGUMENT, "exactly one NAME");
    EXPECT_ERR("tend/1 logs a b\n", PROTO_ERR_BAD_ARGUMENT, "exactly one NAME");
    EXPECT_ERR("tend/1 logs -n\n", PROTO_ERR_BAD_ARGUMENT, "-n needs a line count");
    EXPECT_ERR("tend/1 logs -n x web\n", PROTO_ERR_BAD_ARGUMENT, "not 'x'");
    EXPECT_ERR("tend/1 logs -n 1000001 web\n", PROTO_ERR_BAD_ARGUMENT, "1000001");
    EXPECT_ERR("tend/1 logs -n -1 web\n", PROTO_ERR_BAD_ARGUMENT, "'-1'");
}

/* A status request of exactly total bytes (newline included). */
static char *request_of_size(size_t total)
{
    char *s = malloc(total + 1);
    static const char head[] = "tend/1 status ";
    memcpy(s, head, sizeof head - 1);
    memset(s + sizeof head - 1, 'x', total - (sizeof head - 1) - 1);
    s[total - 1] = '\n';
    s[total] = '\0';
    return s;
}

TEST(request_64k_boundary)
{
    struct proto_request req;
    char why[200];
    char *s = request_of_size(PROTO_MAX_REQUEST);

    CHECK_INT(proto_parse_request(s, PROTO_MAX_REQUEST, &req, why, sizeof why), PROTO_OK);
    CHECK_INT(strlen(req.names[0]), PROTO_MAX_REQUEST - 15);
    proto_request_free(&req);
    /* The same without its newline still counts it. */
    CHECK_INT(proto_parse_request(s, PROTO_MAX_REQUEST - 1, &req, why, sizeof why), PROTO_OK);
    proto_request_free(&req);
    free(s);

    s = request_of_size(PROTO_MAX_REQUEST + 1);
    expect_request_error(s, PROTO_MAX_REQUEST + 1, PROTO_ERR_TOOLONG, "longer than 65536");
    /* Without its newline it is still one byte too many. */
    expect_request_error(s, PROTO_MAX_REQUEST, PROTO_ERR_TOOLONG, "65536");
    free(s);
}

TEST(build_request)
{
    struct proto_buf b = {0};
    char *args[] = {"--no-wait", "web 1", "caf\xc3\xa9", "100%"};

    CHECK_INT(proto_build_request(&b, "start", args, 4), 0);
    proto_buf_append(&b, "", 1);
    CHECK_STR(b.data, "tend/1 start --no-wait web%201 caf\xc3\xa9 100%25\n");
    proto_buf_free(&b);

    CHECK_INT(proto_build_request(&b, "reload", NULL, 0), 0);
    CHECK_INT(b.len, 14);
    CHECK(memcmp(b.data, "tend/1 reload\n", 14) == 0);

    /* Failures leave the buffer as it was. */
    char *empty_arg[] = {"web", ""};
    errno = 0;
    CHECK_INT(proto_build_request(&b, "status", empty_arg, 2), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(proto_build_request(&b, "", NULL, 0), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(b.len, 14);
    proto_buf_free(&b);
}

TEST(build_request_64k_boundary)
{
    struct proto_buf b = {0};
    /* "tend/1 status " is 14 bytes, the newline 1: a word of 65521 bytes fills 65536. */
    char *word = malloc(PROTO_MAX_REQUEST);
    memset(word, 'y', PROTO_MAX_REQUEST - 15);
    word[PROTO_MAX_REQUEST - 15] = '\0';
    char *args[] = {word};

    CHECK_INT(proto_build_request(&b, "status", args, 1), 0);
    CHECK_INT(b.len, PROTO_MAX_REQUEST);
    struct proto_request req;
    char why[200];
    CHECK_INT(proto_parse_request(b.data, b.len, &req, why, sizeof why), PROTO_OK);
    proto_request_free(&req);
    proto_buf_free(&b);

    word[PROTO_MAX_REQUEST - 15] = 'y';
    word[PROTO_MAX_REQUEST - 14] = '\0';
    errno = 0;
    CHECK_INT(proto_build_request(&b, "status", args, 1), -1);
    CHECK_INT(errno, EMSGSIZE);
    CHECK_INT(b.len, 0);

    /* One byte that needs encoding costs three. */
    word[PROTO_MAX_REQUEST - 17] = ' ';
    word[PROTO_MAX_REQUEST - 16] = '\0';
    CHECK_INT(proto_build_request(&b, "status", args, 1), -1);
    CHECK_INT(errno, EMSGSIZE);
    proto_buf_free(&b);
    free(word);
}

/* ---- Line splitter ------------------------------------------------------------------------- */

static const char stream[] =
    "tend/1 status\n"
    "\n"
    "proc name=a state=RUNNING\n"
    "msg caf\xc3\xa9\n"
    "ok\n";
static const char *const stream_lines[] = {
    "tend/1 status", "", "proc name=a state=RUNNING", "msg caf\xc3\xa9", "ok",
};

TEST(splitter_one_byte_at_a_time)
{
    struct proto_splitter s;
    const char *line;
    size_t len, got = 0;

    proto_splitter_init(&s, 64);
    for (size_t i = 0; i < sizeof stream - 1; i++) {
        CHECK_INT(proto_splitter_feed(&s, stream + i, 1), 0);
        int r;
        while ((r = proto_splitter_next(&s, &line, &len)) == 1) {
            CHECK(got < 5);
            if (got < 5) {
                CHECK_STR(line, stream_lines[got]);
                CHECK_INT(len, strlen(stream_lines[got]));
            }
            got++;
        }
        CHECK_INT(r, 0);
    }
    CHECK_INT(got, 5);
    CHECK_INT(proto_splitter_pending(&s), 0);
    /* A partial line stays pending. */
    CHECK_INT(proto_splitter_feed(&s, "par", 3), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 0);
    CHECK_INT(proto_splitter_pending(&s), 3);
    CHECK_INT(proto_splitter_feed(&s, "tial\n", 5), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_STR(line, "partial");
    proto_splitter_free(&s);
}

TEST(splitter_big_chunks)
{
    struct proto_splitter s;
    const char *line;
    size_t len, total = 0;
    enum { N = 5000 };
    char *big = malloc(N * 16);

    for (int i = 0; i < N; i++)
        total += (size_t)sprintf(big + total, "line %d\n", i);
    proto_splitter_init(&s, PROTO_MAX_LINE);
    /* Two feeds cutting a line in the middle. */
    size_t cut = total / 2 + 3;
    CHECK_INT(proto_splitter_feed(&s, big, cut), 0);
    int n = 0, r;
    char want[32];
    while ((r = proto_splitter_next(&s, &line, &len)) == 1) {
        sprintf(want, "line %d", n++);
        CHECK_STR(line, want);
    }
    CHECK_INT(r, 0);
    CHECK_INT(proto_splitter_feed(&s, big + cut, total - cut), 0);
    while ((r = proto_splitter_next(&s, &line, &len)) == 1) {
        sprintf(want, "line %d", n++);
        CHECK_STR(line, want);
    }
    CHECK_INT(r, 0);
    CHECK_INT(n, N);
    CHECK_INT(proto_splitter_pending(&s), 0);
    proto_splitter_free(&s);
    free(big);
}

TEST(splitter_max_line)
{
    struct proto_splitter s;
    const char *line;
    size_t len;

    /* max_line 10 counts the newline: 9 bytes of text fit. */
    proto_splitter_init(&s, 10);
    CHECK_INT(proto_splitter_feed(&s, "123456789\n", 10), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_STR(line, "123456789");
    CHECK_INT(proto_splitter_feed(&s, "123456789", 9), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 0);
    /* The tenth byte without a newline is already too long. */
    CHECK_INT(proto_splitter_feed(&s, "0", 1), 0);
    errno = 0;
    CHECK_INT(proto_splitter_next(&s, &line, &len), -1);
    CHECK_INT(errno, EMSGSIZE);
    /* And it stays failed. */
    CHECK_INT(proto_splitter_feed(&s, "\n", 1), -1);
    CHECK_INT(proto_splitter_next(&s, &line, &len), -1);
    proto_splitter_free(&s);

    /* An overlong line that arrives with its newline in one feed. */
    proto_splitter_init(&s, 10);
    CHECK_INT(proto_splitter_feed(&s, "ok\n1234567890\nok\n", 17), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_STR(line, "ok");
    CHECK_INT(proto_splitter_next(&s, &line, &len), -1);
    CHECK_INT(errno, EMSGSIZE);
    proto_splitter_free(&s);

    /* The request limit exactly. */
    char *req = request_of_size(PROTO_MAX_REQUEST + 1);
    proto_splitter_init(&s, PROTO_MAX_REQUEST);
    CHECK_INT(proto_splitter_feed(&s, req + 1, PROTO_MAX_REQUEST), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_INT(len, PROTO_MAX_REQUEST - 1);
    CHECK_INT(proto_splitter_feed(&s, req, PROTO_MAX_REQUEST + 1), 0);
    CHECK_INT(proto_splitter_next(&s, &line, &len), -1);
    proto_splitter_free(&s);
    free(req);
}

TEST(splitter_reads_fd)
{
    struct proto_splitter s;
    const char *line;
    size_t len;
    int p[2];

    CHECK_INT(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    proto_splitter_init(&s, PROTO_MAX_LINE);
    CHECK_INT(write(p[1], "a\nb", 3), 3);
    CHECK_INT(proto_splitter_read(&s, p[0]), 3);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_STR(line, "a");
    CHECK_INT(proto_splitter_next(&s, &line, &len), 0);
    CHECK_INT(proto_splitter_read(&s, p[0]), -1);
    CHECK_INT(errno, EAGAIN);
    CHECK_INT(write(p[1], "c\n", 2), 2);
    close(p[1]);
    CHECK_INT(proto_splitter_read(&s, p[0]), 2);
    CHECK_INT(proto_splitter_next(&s, &line, &len), 1);
    CHECK_STR(line, "bc");
    CHECK_INT(proto_splitter_read(&s, p[0]), 0);
    CHECK_INT(proto_splitter_pending(&s), 0);
    close(p[0]);
    proto_splitter_free(&s);
}

/* ---- Replies ------------------------------------------------------------------------------- */

static int reply(const char *line, struct proto_reply *r)
{
    return proto_parse_reply(line, strlen(line), r);
}

/* The info line and the proc keys added for the front: built, parsed back, and what an old
 * or a newer peer would see. */
TEST(info_and_new_proc_keys_round_trip)
{
    struct proto_buf b;
    struct proto_reply r;
    struct proto_info in = {
        .version = "0.1.0 beta", .pid = 4242, .uptime_s = 65, .started_s = 1796242397,
        .reloads = 3, .alert_runs = 7, .alert_failures = 2, .cpu_us = 31376,
        .rss_bytes = 2842624, .nprocs = 1000,
    };

    proto_buf_init(&b);
    proto_buf_append_info(&b, &in);
    proto_buf_append(&b, "", 1);
    CHECK_STR(b.data, "info version=0.1.0%20beta pid=4242 uptime=65 started=1796242397 "
                      "reloads=3 alert_runs=7 alert_failures=2 cpu_us=31376 rss=2842624 "
                      "procs=1000 keeper=0 sup_restarts=0\n");
    CHECK_INT(reply(b.data, &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_INFO);
    CHECK_STR(r.info.version, "0.1.0 beta");
    CHECK_INT(r.info.pid, 4242);
    CHECK_INT(r.info.uptime_s, 65);
    CHECK_INT(r.info.started_s, 1796242397);
    CHECK_INT(r.info.reloads, 3);
    CHECK_INT(r.info.alert_runs, 7);
    CHECK_INT(r.info.alert_failures, 2);
    CHECK_INT(r.info.cpu_us, 31376);
    CHECK_INT(r.info.rss_bytes, 2842624);
    CHECK_INT(r.info.nprocs, 1000);
    proto_reply_free(&r);
    proto_buf_free(&b);

    /* Missing keys read as 0 or "", unknown ones are skipped, bad ones break the line. */
    CHECK_INT(reply("info pid=1 future=%zz\n", &r), 0);
    CHECK_INT(r.info.pid, 1);
    CHECK_STR(r.info.version, "");
    CHECK_INT(r.info.reloads, 0);
    proto_reply_free(&r);
    CHECK_INT(reply("info\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_INFO);
    proto_reply_free(&r);
    CHECK_INT(reply("info pid=1 pid=2\n", &r), -1);
    CHECK_INT(reply("info reloads=-1\n", &r), -1);
    CHECK_INT(reply("info pid=99999999999\n", &r), -1);
    CHECK_INT(reply("info version\n", &r), -1);
    CHECK_INT(reply("info version=%zz\n", &r), -1);

    /* written= and started= on proc lines; a line without them (an older server) is valid. */
    struct proto_proc p = {.name = "a", .group = "a", .state = "RUNNING", .pid = 12,
                           .written_bytes = 123456789012ULL, .started_s = 1796242398,
                           .supervisor_pid = 4100, .keeper_pid = 4099};
    proto_buf_init(&b);
    proto_buf_append_proc(&b, &p);
    proto_buf_append(&b, "", 1);
    CHECK(strstr(b.data, " dropped=0 written=123456789012 started=1796242398 sup=4100 "
                         "keeper=4099\n") != NULL);
    CHECK_INT(reply(b.data, &r), 0);
    CHECK_INT(r.proc.written_bytes, 123456789012ULL);
    CHECK_INT(r.proc.started_s, 1796242398);
    CHECK_INT(r.proc.supervisor_pid, 4100);
    CHECK_INT(r.proc.keeper_pid, 4099);
    proto_reply_free(&r);
    proto_buf_free(&b);
    CHECK_INT(reply("proc name=a state=RUNNING\n", &r), 0);
    CHECK_INT(r.proc.written_bytes, 0);
    CHECK_INT(r.proc.started_s, 0);
    CHECK_INT(r.proc.keeper_pid, 0);
    proto_reply_free(&r);
    CHECK_INT(reply("proc name=a state=RUNNING keeper=99999999999\n", &r), -1);
    CHECK_INT(reply("proc name=a state=RUNNING written=x\n", &r), -1);
    CHECK_INT(reply("proc name=a state=RUNNING started=1 started=2\n", &r), -1);
}

TEST(reply_proc_with_unknown_keys)
{
    struct proto_reply r;

    CHECK_INT(reply("proc future=x%zz name=web:web_00 group=web state=RUNNING pid=1234 "
                    "uptime=65 restarts=2 exit=exit%201 reason= health=ok dropped=77 "
                    "load=0.5\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_PROC);
    CHECK_STR(r.proc.name, "web:web_00");
    CHECK_STR(r.proc.group, "web");
    CHECK_STR(r.proc.state, "RUNNING");
    CHECK_INT(r.proc.pid, 1234);
    CHECK_INT(r.proc.uptime_s, 65);
    CHECK_INT(r.proc.restarts, 2);
    CHECK_STR(r.proc.exit, "exit 1");
    CHECK_STR(r.proc.reason, "");
    CHECK_STR(r.proc.health, "ok");
    CHECK_INT(r.proc.dropped_bytes, 77);
    proto_reply_free(&r);

    /* Usage keys, when the server sends them. */
    CHECK_INT(reply("proc name=a state=RUNNING memory=4096 cpu=12 tasks=3\n", &r), 0);
    CHECK(r.proc.has_memory && r.proc.has_cpu && r.proc.has_tasks);
    CHECK_INT(r.proc.memory_bytes, 4096);
    CHECK_INT(r.proc.cpu_usec, 12);
    CHECK_INT(r.proc.tasks, 3);
    proto_reply_free(&r);

    /* The resource a start waits for, and a round trip through the builder. */
    CHECK_INT(reply("proc name=a state=BACKOFF waiting=nofile\n", &r), 0);
    CHECK_STR(r.proc.waiting, "nofile");
    proto_reply_free(&r);
    {
        struct proto_buf b = {0};
        struct proto_proc in = {.name = "w", .state = "BACKOFF", .waiting = "processes"};
        proto_buf_append_proc(&b, &in);
        CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
        CHECK_STR(r.proc.waiting, "processes");
        proto_reply_free(&r);
        proto_buf_free(&b);
    }

    /* Only name and state are required; the rest defaults to empty and 0. */
    CHECK_INT(reply("proc state=STOPPED name=db", &r), 0);
    CHECK(!r.proc.has_memory && !r.proc.has_cpu && !r.proc.has_tasks);
    CHECK_STR(r.proc.group, "");
    CHECK_STR(r.proc.exit, "");
    CHECK_STR(r.proc.waiting, "");
    CHECK_INT(r.proc.pid, 0);
    proto_reply_free(&r);
}

TEST(reply_proc_errors)
{
    static const char *const bad[] = {
        "proc state=RUNNING",                      /* no name */
        "proc name=web",                           /* no state */
        "proc name= state=RUNNING",                /* empty name */
        "proc name=a name=b state=RUNNING",        /* duplicate key */
        "proc name=a state=RUNNING pid=x",         /* not a number */
        "proc name=a state=RUNNING pid=-1",
        "proc name=a state=RUNNING pid=99999999999",
        "proc name=a state=RUNNING uptime=1.5",
        "proc name=a state=RUNNING restarts=",
        "proc name=a%zz state=RUNNING",            /* bad escape in a known key */
        "proc name=a state=RUNNING junk",          /* not KEY=VALUE */
        "proc name=a state=RUNNING =x",            /* empty key */
        "proc name=a state=RUNNING Bad=x",         /* key outside [a-z0-9_-] */
        "proc  name=a state=RUNNING",              /* empty word */
        "proc name=a  state=RUNNING",              /* empty word inside */
        "proc name=a state=RUNNING ",              /* empty word at the end */
        "proc",                                    /* no field at all */
        "proc name=a\x01 state=RUNNING",           /* a control byte in a value */
        "proc name=a%00 state=RUNNING",            /* an encoded NUL */
        "proc name=a state=RUNNING pid=1=2",       /* '=' in a number */
        "proc nam=a state=RUNNING",                /* a key that only begins like one */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proto_reply r;
        errno = 0;
        int rc = reply(bad[i], &r);
        if (rc != -1)
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK_INT(rc, -1);
        CHECK_INT(errno, EINVAL);
        proto_reply_free(&r);
    }
}

/* The one-pass parse of proc lines: keys out of the server's order, a key that begins like
 * a known one, an unknown key whose value would not decode, and values to decode. */
TEST(reply_proc_one_pass)
{
    struct proto_reply r;

    CHECK_INT(reply("proc namex=1 name=a%20b x-new=%zz\x01= pid=7 state=RUNNING "
                    "group=g%25 restarts=3\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_PROC);
    CHECK_STR(r.proc.name, "a b");
    CHECK_STR(r.proc.state, "RUNNING");
    CHECK_STR(r.proc.group, "g%");
    CHECK_INT(r.proc.pid, 7);
    CHECK_INT(r.proc.restarts, 3);
    proto_reply_free(&r);
    CHECK_INT(reply("proc name=a state=RUNNING exit=exit%20status%201 reason=", &r), 0);
    CHECK_STR(r.proc.exit, "exit status 1");
    CHECK_STR(r.proc.reason, "");
    proto_reply_free(&r);
}

TEST(reply_other_kinds)
{
    struct proto_reply r;

    CHECK_INT(reply("msg web_00:%20started\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_MSG);
    CHECK_STR(r.text, "web_00: started");
    proto_reply_free(&r);
    CHECK_INT(reply("msg", &r), 0);
    CHECK_STR(r.text, "");
    proto_reply_free(&r);
    CHECK_INT(reply("data a%0Ab extra", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_DATA);
    CHECK_STR(r.text, "a\nb");
    proto_reply_free(&r);
    CHECK_INT(reply("ok\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_OK);
    proto_reply_free(&r);
    CHECK_INT(reply("ok and more", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_OK);
    proto_reply_free(&r);
    CHECK_INT(reply("err no-such-process no%20process%20'x'\n", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_ERR);
    CHECK_INT(r.err, PROTO_ERR_NO_SUCH_PROCESS);
    CHECK_STR(r.code, "no-such-process");
    CHECK_STR(r.text, "no process 'x'");
    proto_reply_free(&r);
    CHECK_INT(reply("err busy", &r), 0);
    CHECK_INT(r.err, PROTO_ERR_BUSY);
    CHECK_STR(r.text, "");
    proto_reply_free(&r);
    /* A code from a newer server reads as failed, keeping its word. */
    CHECK_INT(reply("err overheated too%20hot", &r), 0);
    CHECK_INT(r.err, PROTO_ERR_FAILED);
    CHECK_STR(r.code, "overheated");
    proto_reply_free(&r);
    /* An unknown line kind is reported as such, for the client to skip. */
    CHECK_INT(reply("progress 50%25", &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_OTHER);
    proto_reply_free(&r);

    static const char *const bad[] = {
        "", "\n", "err", "err Bad", "msg a%zz", "PROC name=a state=X", "ok ", " ok", "m\x01",
        "err failed a%", "msg %00", "err failed a%00b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = reply(bad[i], &r);
        if (rc != -1)
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
        CHECK_INT(rc, -1);
        proto_reply_free(&r);
    }
    CHECK_INT(proto_parse_reply("ok\0x", 4, &r), -1);
}

/* A data line carries any bytes: a NUL travels as %00 and comes back with text_len. */
TEST(data_lines_carry_nul_bytes)
{
    static const char bytes[] = "a\0b\tc\x1b[31m\r\xff%";
    struct proto_buf b = {0};
    struct proto_reply r;

    proto_buf_append_data_len(&b, bytes, sizeof(bytes) - 1);
    CHECK(memchr(b.data, '\0', b.len) == NULL);
    CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
    CHECK_INT(r.kind, PROTO_REPLY_DATA);
    CHECK_INT(r.text_len, sizeof(bytes) - 1);
    CHECK(memcmp(r.text, bytes, sizeof(bytes) - 1) == 0);
    proto_reply_free(&r);
    proto_buf_free(&b);
    CHECK_INT(reply("data %00", &r), 0);
    CHECK_INT(r.text_len, 1);
    CHECK_INT(r.text[0], 0);
    proto_reply_free(&r);
    CHECK_INT(reply("data", &r), 0);
    CHECK_INT(r.text_len, 0);
    proto_reply_free(&r);
}

/* ---- Building replies ---------------------------------------------------------------------- */

TEST(buf_builds_lines_that_parse_back)
{
    struct proto_buf b;
    struct proto_reply r;
    struct proto_proc p = {
        .name = "web:web 00", .group = "web", .state = "FATAL", .pid = 0, .uptime_s = 0,
        .restarts = 5, .exit = "signal 9 (SIGKILL)", .reason = "cannot execute: No such file",
        .health = NULL, .dropped_bytes = 12345678901ULL,
    };

    proto_buf_init(&b);
    proto_buf_append_proc(&b, &p);
    proto_buf_append(&b, "", 1);
    CHECK_STR(b.data, "proc name=web:web%2000 group=web state=FATAL pid=0 uptime=0 restarts=5 "
                      "exit=signal%209%20(SIGKILL) reason=cannot%20execute:%20No%20such%20file "
                      "health= dropped=12345678901 written=0 started=0\n");
    CHECK_INT(reply(b.data, &r), 0);
    CHECK_STR(r.proc.name, p.name);
    CHECK_STR(r.proc.reason, p.reason);
    CHECK_STR(r.proc.health, "");
    CHECK_INT(r.proc.dropped_bytes, p.dropped_bytes);
    proto_reply_free(&r);
    proto_buf_free(&b);

    proto_buf_append_msg(&b, "web_01: FATAL: cannot execute: No such file or directory");
    proto_buf_append_msgf(&b, "pid %d", 42);
    proto_buf_append_msg(&b, "");
    proto_buf_append_msg(&b, NULL);
    proto_buf_append_data(&b, "a\tb");
    proto_buf_append_err(&b, PROTO_ERR_FAILED, "1 of 2 failed");
    proto_buf_append_errf(&b, PROTO_ERR_NO_SUCH_PROCESS, "no process '%s'", "x y");
    proto_buf_append_err(&b, PROTO_ERR_BUSY, NULL);
    proto_buf_append_err(&b, PROTO_OK, "bug");
    proto_buf_append_ok(&b);
    proto_buf_append(&b, "", 1);
    CHECK_STR(b.data, "msg web_01:%20FATAL:%20cannot%20execute:%20No%20such%20file%20or%20"
                      "directory\n"
                      "msg pid%2042\n"
                      "msg\n"
                      "msg\n"
                      "data a%09b\n"
                      "err failed 1%20of%202%20failed\n"
                      "err no-such-process no%20process%20'x%20y'\n"
                      "err busy\n"
                      "err failed bug\n"
                      "ok\n");

    /* consume drops sent bytes from the front. */
    proto_buf_consume(&b, 4);
    CHECK(memcmp(b.data, "web_01", 6) == 0);
    proto_buf_consume(&b, b.len + 10);
    CHECK_INT(b.len, 0);
    proto_buf_free(&b);
    CHECK(b.data == NULL);
}

TEST(buf_cuts_text_to_fit_a_line)
{
    struct proto_buf b = {0};
    struct proto_reply r;
    /* 3-byte characters that each encode to themselves, and control bytes that triple. */
    size_t n = 3 * 20000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3)
        memcpy(text + i, "\xe2\x9c\x93", 3);
    text[n] = '\0';

    proto_buf_append_msg(&b, text);
    CHECK(b.len <= PROTO_MAX_LINE);
    CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
    CHECK(strlen(r.text) <= PROTO_MAX_TEXT);
    CHECK(strlen(r.text) >= PROTO_MAX_TEXT - 3);
    CHECK_INT(strlen(r.text) % 3, 0); /* not cut inside a character */
    proto_reply_free(&r);
    proto_buf_free(&b);

    memset(text, '\n', n);
    struct proto_proc p = {.name = text, .group = text, .state = text, .exit = text,
                           .reason = text, .health = text, .pid = 1,
                           .uptime_s = ~0ULL, .restarts = ~0ULL, .dropped_bytes = ~0ULL};
    proto_buf_append_proc(&b, &p);
    CHECK(b.len <= PROTO_MAX_LINE);
    CHECK_INT(proto_parse_reply(b.data, b.len, &r), 0);
    CHECK_INT(strlen(r.proc.name), PROTO_MAX_VALUE);
    CHECK_INT(r.proc.uptime_s, ~0ULL);
    proto_reply_free(&r);
    proto_buf_free(&b);

    proto_buf_append_err(&b, PROTO_ERR_FAILED, text);
    CHECK(b.len <= PROTO_MAX_LINE);
    proto_buf_free(&b);
    free(text);
}

/* ---- Corpus -------------------------------------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

TEST(fuzz_corpus_replays)
{
    DIR *d = opendir(CORPUS_DIR);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;

    CHECK(d != NULL);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, compare_names);
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, names[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f != NULL) {
            char *data = malloc(1 << 20);
            size_t len = fread(data, 1, 1 << 20, f);
            fclose(f);
            /* Aborts (failing the whole file loudly) if an invariant breaks. */
            CHECK_INT(LLVMFuzzerTestOneInput((const uint8_t *)data, len), 0);
            free(data);
        }
        free(names[i]);
    }
    free(names);
}

TEST(corpus_requests_get_the_documented_codes)
{
    static const struct {
        const char *file;
        enum proto_err code;
    } cases[] = {
        {"req-status", PROTO_OK},           {"req-logs", PROTO_OK},
        {"req-max-length", PROTO_OK},       {"req-too-long", PROTO_ERR_TOOLONG},
        {"req-bad-version", PROTO_ERR_VERSION}, {"req-double-space", PROTO_ERR_SYNTAX},
        {"req-crlf", PROTO_ERR_SYNTAX},     {"req-unknown-verb", PROTO_ERR_UNKNOWN_VERB},
        {"req-bad-signal", PROTO_ERR_BAD_SIGNAL}, {"req-missing-name", PROTO_ERR_BAD_ARGUMENT},
        {"req-utf8", PROTO_OK},             {"req-signal-rt", PROTO_OK},
        {"req-info", PROTO_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256], why[200];
        snprintf(path, sizeof path, "%s/%s", CORPUS_DIR, cases[i].file);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        if (f == NULL)
            continue;
        char *data = malloc(1 << 17);
        size_t len = fread(data, 1, 1 << 17, f);
        fclose(f);
        struct proto_request req;
        enum proto_err rc = proto_parse_request(data, len, &req, why, sizeof why);
        if (rc != cases[i].code)
            fprintf(stderr, "  %s: %s\n", cases[i].file, why);
        CHECK_INT(rc, cases[i].code);
        proto_request_free(&req);
        free(data);
    }
}

HARNESS_MAIN()
