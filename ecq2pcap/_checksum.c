/* ecq_word_sum: the TCP checksum's sum over bytes, the module's word_sum (_speedups.c) and each segment's
 * checksums (_segment.c). 32-bit words added in the host's order (RFC 1071's way), the sum turned into the
 * big-endian one at the end: ~12k instructions for 16 KB, where int.from_bytes alone takes ~100k (an even/odd
 * byte-sum loop took ~36k). */
#include "_checksum.h"
#include <string.h>

uint64_t
ecq_word_sum(const unsigned char *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    uint64_t native = 0; /* < 2**63 for any buffer under 2**33 bytes */
    for (; i + 4 <= n; i += 4) {
        uint32_t word;
        memcpy(&word, p + i, 4); /* (any alignment; the compiler makes it one load) */
        native += word;
    }
    /* native ≡ the sum of the 16-bit words in the host's order (2**16 ≡ 1 mod 0xFFFF); in little-endian order
       a word is data[i] + 256 * data[i + 1], and 256 times that ≡ its big-endian value */
    const uint16_t one = 1;
    uint64_t sum = native % 0xFFFF;
    if (*(const unsigned char *)&one)
        sum = sum * 256 % 0xFFFF;
    for (; i + 1 < n; i += 2)
        sum += (uint64_t)p[i] << 8 | p[i + 1];
    if (i < n)
        sum += (uint64_t)p[i] << 8; /* (the zero byte after an odd length) */
    return sum % 0xFFFF;
}
