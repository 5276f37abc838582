/* The optional C part of ecq2pcap: the TCP checksum's sum over a payload (see sinks/pcapng/checksum.py),
 * a connection's packets as pcapng blocks (_blocks.c, _segment.c; see sinks/pcapng/packets.py), and whether a
 * rendered HTTP/1 message's framing already agrees (_rendered.c; see payloads/http1_render.py).
 *
 * word_sum(buffer) -> int: the sum of the buffer's big-endian 16-bit words (an odd length padded with a zero
 * byte), mod 0xFFFF: the same number as checksum.word_sum_py. It adds 32-bit words in the host's order
 * (RFC 1071's way) and turns the sum into the big-endian one at the end: ~12k instructions for 16 KB, where
 * int.from_bytes alone takes ~100k (an even/odd byte-sum loop took ~36k). Built when a C compiler
 * is there (setup.py: optional); without it ecq2pcap uses the pure-Python sum, which gives the same bytes. */
#include "_speedups.h"
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
