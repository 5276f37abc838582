/* The optional C part of ecq2pcap, as one module: the TCP checksum's sum over a payload (_checksum.c; see
 * sinks/pcapng/checksum.py), a connection's packets as pcapng blocks (_blocks.c, _segment.c; see
 * sinks/pcapng/packets.py), and whether a rendered HTTP/1 message's framing already agrees (_rendered.c; see
 * payloads/http1_render.py). Built when a C compiler is there (setup.py: optional); without it ecq2pcap runs its
 * Python code, which gives the same bytes.
 *
 * word_sum(buffer) -> int: the sum of the buffer's big-endian 16-bit words (an odd length padded with a zero
 * byte), mod 0xFFFF: the same number as checksum.word_sum_py. */
#include "_blocks.h"
#include "_checksum.h"
#include "_rendered.h"

static PyObject *
word_sum(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    uint64_t sum = ecq_word_sum((const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(sum);
}

static PyMethodDef speedups_methods[] = {
    {"word_sum", word_sum, METH_O,
     "word_sum(data) -> int\n\nThe sum of data's big-endian 16-bit words (an odd length padded with a zero "
     "byte), mod 0xFFFF."},
    {"blocks", (PyCFunction)(void (*)(void))ecq_blocks_new, METH_FASTCALL,
     "blocks(client_prefix, server_prefix, client_address, server_address, client_port, server_port, addresses,\n"
     "       client_isn, server_isn, mss, client_flags, server_flags, client_ident=0, server_ident=0)\n\n"
     "A connection's packets as pcapng blocks: packets.PacketBlocks' methods in C (see _blocks.c)."},
    {"rendered_agrees", (PyCFunction)(void (*)(void))ecq_rendered_agrees, METH_FASTCALL,
     "rendered_agrees(payload, head_response, max_head) -> bool\n\nWhether an eCapture-rendered HTTP/1 message's "
     "framing already agrees with its body, as http1_render.repair_rendered's quick exit finds it (see "
     "_rendered.c)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT, "ecq2pcap._speedups",
    "The TCP checksum's payload sum, a connection's packet blocks and HTTP/1 framing's quick answer in C.", -1,
    speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *module = PyModule_Create(&speedups_module);
    if (module != NULL && ecq_blocks_ready(module) < 0)
        Py_CLEAR(module);
    return module;
}
