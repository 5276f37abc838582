/* What the module (_speedups.c) registers of _rendered.c: rendered_agrees(...). */
#ifndef ECQ2PCAP_RENDERED_H
#define ECQ2PCAP_RENDERED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* rendered_agrees(payload, head_response, max_head): see _rendered.c. */
PyObject *ecq_rendered_agrees(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
