/* sha1: SHA-1 (FIPS 180-4) of a byte string, for supervisord's {SHA} passwords. SHA-1 is
 * weak against collisions, not against finding a password from its digest any more than any
 * fast hash: it is here for compatibility, and the digests are compared in constant time. */
#ifndef TEND_WEB_SHA1_H
#define TEND_WEB_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN]);

#endif
