/* What the module (_speedups.c) registers of _blocks.c: blocks(...), and its type made ready. */
#ifndef ECQ2PCAP_BLOCKS_H
#define ECQ2PCAP_BLOCKS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* blocks(...): a connection's Blocks object (see _blocks.c). */
PyObject *ecq_blocks_new(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
/* Blocks' type made ready and added to the module: 0, or -1 with an exception set. */
int ecq_blocks_ready(PyObject *module);

#endif
