/* What the C files of ecq2pcap's optional C part share (_speedups.c: the module and the checksum's sum;
 * _blocks.c and _segment.c: a connection's packets as pcapng blocks; _rendered.c: HTTP/1 framing's quick answer). */
#ifndef ECQ2PCAP_SPEEDUPS_H
#define ECQ2PCAP_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* The sum of p's n bytes as big-endian 16-bit words (an odd length padded with a zero byte), mod 0xFFFF. */
uint64_t ecq_word_sum(const unsigned char *p, Py_ssize_t n);

/* blocks(...): see _blocks.c; its type is made ready by ecq_blocks_ready (0, or -1 with an exception set). */
PyObject *ecq_blocks_new(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
int ecq_blocks_ready(PyObject *module);

/* rendered_agrees(payload, head_response, max_head): see _rendered.c. */
PyObject *ecq_rendered_agrees(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
