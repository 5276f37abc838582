/* The TCP checksum's sum over bytes (_checksum.c), for the module's word_sum (_speedups.c) and each segment's
 * checksums (_segment.c). */
#ifndef ECQ2PCAP_CHECKSUM_H
#define ECQ2PCAP_CHECKSUM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The sum of p's n bytes as big-endian 16-bit words (an odd length padded with a zero byte), mod 0xFFFF. */
uint64_t ecq_word_sum(const unsigned char *p, Py_ssize_t n);

#endif
