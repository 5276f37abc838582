/* A connection's packets as whole pcapng Enhanced Packet Blocks: sinks/pcapng/packets.PacketBlocks' methods in C.
 *
 * The same bytes as PacketBlocks (tests/sinks/pcapng/test_packets.py holds the two equal on random
 * conversations, and both to TcpFlow's frames wrapped one by one; and the outputs of every fixture made with these
 * methods to the recorded ones); PacketBlocks is the reference, and runs when this part was not built. Each
 * segment is one call of _segment.c's ecq_segment; these are the methods that say which segments a handshake, a
 * payload, an ACK or a close is, in PacketBlocks' order, with its sequence numbers.
 *
 * A connection's constants come made from Python (packets.compiled_blocks: the addresses packed, their sum mod
 * 0xFFFF, the link-layer headers); each side's next sequence number and IPv4 identification live here. */
#include "_blocks.h"
#include "_segment.h"
#include <stddef.h>

static PyTypeObject Blocks_Type;

/* -- arguments -------------------------------------------------------------------------------------------- */

static const unsigned char NOTHING[1] = {0};
static const Note NO_NOTE = {NULL, 0, NULL};
static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"; /* HTTP/2's client preface (24 bytes) */

static int
side_of(PyObject *arg, int *me) /* a Direction or its value */
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v != 0 && v != 1) {
        PyErr_Format(PyExc_ValueError, "a side is 0 (C2S) or 1 (S2C), not %ld", v);
        return -1;
    }
    *me = (int)v;
    return 0;
}

static int
time_of(PyObject *arg, uint64_t *t) /* any int: its low 64 bits, as the block's two 32-bit halves take them */
{
    if (!PyLong_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "a time is an int, not %.100s", Py_TYPE(arg)->tp_name);
        return -1;
    }
    *t = PyLong_AsUnsignedLongLongMask(arg);
    return *t == (uint64_t)-1 && PyErr_Occurred() ? -1 : 0;
}

static int
nargs_are(const char *name, Py_ssize_t nargs, Py_ssize_t low, Py_ssize_t high)
{
    if (nargs >= low && nargs <= high)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes %zd to %zd arguments (%zd given)", name, low, high, nargs);
    return -1;
}

/* -- the methods ------------------------------------------------------------------------------------------ */

static int
append_segment(Blocks *b, PyObject *out, const Segment *s)
{
    PyObject *block = ecq_segment(b, s, NULL);
    if (block == NULL)
        return -1;
    int rc = PyList_Append(out, block);
    Py_DECREF(block);
    return rc;
}

/* p's n bytes from me in segments of at most mss bytes (PSH on the last, the note on the first) appended to out,
 * me's sequence number advanced. */
static int
data_into(Blocks *b, PyObject *out, int me, const unsigned char *p, Py_ssize_t n, uint64_t t, const Note *note)
{
    for (Py_ssize_t start = 0; start < n; start += b->mss) {
        Py_ssize_t k = n - start < b->mss ? n - start : b->mss;
        Segment s = {.me = me, .flags = start + b->mss >= n ? ACK | PSH : ACK, .options = NOTHING,
                     .payload = p + start, .payload_len = k, .t = t, .note = start ? &NO_NOTE : note};
        if (append_segment(b, out, &s) < 0)
            return -1;
        b->seq[me] += (uint32_t)k;
    }
    return 0;
}

/* A handshake's or a close's three segments at t: f1 from first (with its options and the comment), f2 from the
 * other side acking it, f3 from first acking that. */
static PyObject *
three(Blocks *b, int first, unsigned f1, unsigned f2, unsigned f3, const unsigned char *options, Py_ssize_t n,
      uint64_t t, PyObject *comment)
{
    Note note;
    if (ecq_note_of(comment, &note) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    Segment s = {.me = first, .flags = f1, .options = options, .options_len = n, .payload = NOTHING, .t = t,
                 .note = &note};
    if (out == NULL || append_segment(b, out, &s) < 0)
        goto error;
    b->seq[first] += 1; /* (a SYN or a FIN takes one number) */
    s.me = 1 - first, s.flags = f2, s.note = &NO_NOTE;
    if (append_segment(b, out, &s) < 0)
        goto error;
    b->seq[1 - first] += 1;
    s.me = first, s.flags = f3, s.options = NOTHING, s.options_len = 0;
    if (append_segment(b, out, &s) < 0)
        goto error;
    Py_XDECREF(note.owner);
    return out;
error:
    Py_XDECREF(note.owner);
    Py_XDECREF(out);
    return NULL;
}

static PyObject *
handshake_blocks(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    uint64_t t;
    if (nargs_are("handshake_blocks", nargs, 2, 2) < 0 || time_of(args[0], &t) < 0)
        return NULL;
    return three(b, 0, SYN, SYN | ACK, ACK, b->syn_options, 8, t, args[1]);
}

/* close_blocks' and ack_block's arguments: (sender, t, ...), want of them. 0, or -1 with an exception. */
static int
sender_and_time(const char *name, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, int *me, uint64_t *t)
{
    return nargs_are(name, nargs, want, want) < 0 || side_of(args[0], me) < 0 || time_of(args[1], t) < 0 ? -1 : 0;
}

static PyObject *
close_blocks(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    int first;
    uint64_t t;
    if (sender_and_time("close_blocks", args, nargs, 3, &first, &t) < 0)
        return NULL;
    b->closed = 1;
    return three(b, first, FIN | ACK, FIN | ACK, ACK, NOTHING, 0, t, args[2]);
}

static PyObject *
ack_block(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    Segment s = {.flags = ACK, .options = NOTHING, .payload = NOTHING, .note = &NO_NOTE};
    return sender_and_time("ack_block", args, nargs, 2, &s.me, &s.t) < 0 ? NULL : ecq_segment(b, &s, NULL);
}

/* data_block and data_block_parts: the payload as one segment (ACK, PSH), whatever the MSS. */
static PyObject *
one_block(Blocks *b, PyObject *const *args, Py_ssize_t nargs, const char *name, int as_parts)
{
    int me;
    uint64_t t;
    Note note;
    Py_buffer view;
    if (nargs_are(name, nargs, 4, 4) < 0 || side_of(args[0], &me) < 0 || time_of(args[2], &t) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *block = NULL;
    if (ecq_note_of(args[3], &note) == 0) {
        Segment s = {.me = me, .flags = ACK | PSH, .options = NOTHING, .payload = view.len ? view.buf : NOTHING,
                     .payload_len = view.len, .t = t, .note = &note};
        block = ecq_segment(b, &s, as_parts ? args[1] : NULL);
        if (block != NULL)
            b->seq[me] += (uint32_t)view.len;
        Py_XDECREF(note.owner);
    }
    PyBuffer_Release(&view);
    return block;
}

static PyObject *
data_block(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    return one_block(b, args, nargs, "data_block", 0);
}

static PyObject *
data_block_parts(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    return one_block(b, args, nargs, "data_block_parts", 1);
}

/* data_blocks (ack: the peer's ACK after them) and preface_first_blocks (the preface its own segments first). */
static PyObject *
some_blocks(Blocks *b, PyObject *const *args, Py_ssize_t nargs, int ack, int preface)
{
    int me;
    uint64_t t;
    Note note;
    Py_buffer view;
    if (side_of(args[0], &me) < 0 || time_of(args[2], &t) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    const unsigned char *p = view.buf;
    Py_ssize_t n = view.len, skip = preface ? (Py_ssize_t)(sizeof PREFACE - 1) : 0;
    if (out == NULL || (n == 0 && !preface)) /* (no packets, and the comment not read: PacketBlocks' way) */
        goto done;
    if (ecq_note_of(args[3], &note) < 0)
        goto error;
    int rc = preface ? data_into(b, out, me, (const unsigned char *)PREFACE, skip, t, &note) : 0;
    if (rc == 0 && n > skip)
        rc = data_into(b, out, me, p + skip, n - skip, t, preface ? &NO_NOTE : &note);
    Py_XDECREF(note.owner);
    if (rc < 0)
        goto error;
    if (ack) {
        Segment s = {.me = 1 - me, .flags = ACK, .options = NOTHING, .payload = NOTHING, .t = t, .note = &NO_NOTE};
        if (append_segment(b, out, &s) < 0)
            goto error;
    }
    goto done;
error:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&view);
    return out;
}

static PyObject *
data_blocks(Blocks *b, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *ack = nargs > 4 ? args[4] : Py_True;
    if (nkw > 1 || (nkw == 1 && (nargs != 4 || !PyUnicode_Check(PyTuple_GET_ITEM(kwnames, 0))
                                 || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "ack") != 0))) {
        PyErr_SetString(PyExc_TypeError, "data_blocks() takes sender, payload, t, comment and ack");
        return NULL;
    }
    if (nkw == 1)
        ack = args[4];
    int acked = PyObject_IsTrue(ack);
    if (nargs_are("data_blocks", nargs + nkw, 4, 5) < 0 || acked < 0)
        return NULL;
    return some_blocks(b, args, nargs, acked, 0);
}

static PyObject *
preface_first_blocks(Blocks *b, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs_are("preface_first_blocks", nargs, 4, 4) < 0)
        return NULL;
    return some_blocks(b, args, nargs, 0, 1);
}

static PyObject *
next_seq(Blocks *b, PyObject *arg)
{
    int me;
    return side_of(arg, &me) < 0 ? NULL : PyLong_FromUnsignedLong(b->seq[me]);
}

static PyObject *
get_flag(Blocks *b, void *offset) /* closed, v6: an int of the struct, as a bool */
{
    return PyBool_FromLong(*(const int *)((const char *)b + (size_t)offset));
}

static PyObject *
get_mss(Blocks *b, void *closure)
{
    return PyLong_FromSsize_t(b->mss);
}

#define FASTCALL(f) (PyCFunction)(void (*)(void))(f), METH_FASTCALL
static PyMethodDef Blocks_methods[] = {
    {"handshake_blocks", FASTCALL(handshake_blocks), "handshake_blocks(t, comment): SYN, SYN-ACK, ACK"},
    {"data_blocks", (PyCFunction)(void (*)(void))data_blocks, METH_FASTCALL | METH_KEYWORDS,
     "data_blocks(sender, payload, t, comment, ack=True): segments of at most mss bytes, then the peer's ACK"},
    {"data_block", FASTCALL(data_block), "data_block(sender, payload, t, comment): one segment's block"},
    {"data_block_parts", FASTCALL(data_block_parts),
     "data_block_parts(sender, payload, t, comment): data_block as (head, payload, tail)"},
    {"preface_first_blocks", FASTCALL(preface_first_blocks),
     "preface_first_blocks(sender, data, t, comment): HTTP/2's preface in segments of its own, then the rest"},
    {"ack_block", FASTCALL(ack_block), "ack_block(sender, t): a pure ACK"},
    {"close_blocks", FASTCALL(close_blocks), "close_blocks(first, t, comment): FIN/ACK, FIN/ACK, ACK"},
    {"next_seq", (PyCFunction)next_seq, METH_O, "next_seq(sender): the sequence number of sender's next byte"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Blocks_getset[] = {
    {"closed", (getter)get_flag, NULL, "close_blocks was called", (void *)offsetof(Blocks, closed)},
    {"v6", (getter)get_flag, NULL, "IPv6 (else IPv4)", (void *)offsetof(Blocks, v6)},
    {"mss", (getter)get_mss, NULL, "the most payload a segment holds", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Blocks_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ecq2pcap._speedups.PacketBlocks",
    .tp_basicsize = sizeof(Blocks),
    .tp_dealloc = (destructor)PyObject_Free, /* (no references held, no GC: PyObject_New's memory freed) */
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "packets.PacketBlocks in C: a connection's packets as pcapng blocks (made by blocks())",
    .tp_methods = Blocks_methods,
    .tp_getset = Blocks_getset,
};

/* -- blocks(...) ------------------------------------------------------------------------------------------ */

static int
bytes_arg(PyObject *arg, const char *what, Py_ssize_t low, Py_ssize_t high, const char **p, Py_ssize_t *n)
{
    if (!PyBytes_Check(arg) || PyBytes_GET_SIZE(arg) < low || PyBytes_GET_SIZE(arg) > high) {
        PyErr_Format(PyExc_ValueError, "%s: bytes of %zd to %zd", what, low, high);
        return -1;
    }
    *p = PyBytes_AS_STRING(arg);
    *n = PyBytes_GET_SIZE(arg);
    return 0;
}

static int
long_arg(PyObject *arg, const char *what, long low, long high, long *v)
{
    *v = PyLong_AsLong(arg);
    if (*v == -1 && PyErr_Occurred())
        return -1;
    if (*v < low || *v > high) {
        PyErr_Format(PyExc_ValueError, "%s must be %ld..%ld, not %ld", what, low, high, *v);
        return -1;
    }
    return 0;
}

static int
mask_arg(PyObject *arg, uint64_t *v) /* an int's low 64 bits (isns, flags, idents: as & masks them in Python) */
{
    return time_of(arg, v);
}

PyObject *
ecq_blocks_new(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const char *prefix[2], *address[2];
    Py_ssize_t prefix_len[2], address_len[2];
    long port[2], mss;
    uint64_t addresses, isn[2], flags[2], ident[2] = {0, 0};
    if (nargs_are("blocks", nargs, 12, 14) < 0
        || bytes_arg(args[0], "client_prefix", 0, MAX_PREFIX, &prefix[0], &prefix_len[0]) < 0
        || bytes_arg(args[1], "server_prefix", prefix_len[0], prefix_len[0], &prefix[1], &prefix_len[1]) < 0
        || bytes_arg(args[2], "client_address", 4, 16, &address[0], &address_len[0]) < 0
        || bytes_arg(args[3], "server_address", address_len[0], address_len[0], &address[1], &address_len[1]) < 0
        || long_arg(args[4], "client_port", 0, 0xFFFF, &port[0]) < 0
        || long_arg(args[5], "server_port", 0, 0xFFFF, &port[1]) < 0 || mask_arg(args[6], &addresses) < 0
        || mask_arg(args[7], &isn[0]) < 0 || mask_arg(args[8], &isn[1]) < 0
        || long_arg(args[9], "mss", 1, 65495, &mss) < 0
        || mask_arg(args[10], &flags[0]) < 0 || mask_arg(args[11], &flags[1]) < 0
        || (nargs > 12 && mask_arg(args[12], &ident[0]) < 0) || (nargs > 13 && mask_arg(args[13], &ident[1]) < 0))
        return NULL;
    if (address_len[0] != 4 && address_len[0] != 16) {
        PyErr_SetString(PyExc_ValueError, "an address is 4 (IPv4) or 16 (IPv6) bytes");
        return NULL;
    }
    Blocks *b = PyObject_New(Blocks, &Blocks_Type);
    if (b == NULL)
        return NULL;
    b->v6 = address_len[0] == 16;
    b->prefix_len = (int)prefix_len[0];
    b->closed = 0;
    b->mss = mss;
    for (int me = 0; me < 2; me++) {
        int peer = 1 - me;
        Py_ssize_t a = address_len[0];
        memcpy(b->prefix[me], prefix[me], (size_t)prefix_len[0]);
        memcpy(b->ends[me], address[me], (size_t)a);
        memcpy(b->ends[me] + a, address[peer], (size_t)a);
        put16(b->ends[me] + 2 * a, (unsigned)port[me]);
        put16(b->ends[me] + 2 * a + 2, (unsigned)port[peer]);
        b->seq[me] = (uint32_t)isn[me];
        b->ident[me] = (unsigned)(ident[me] & 0xFFFF);
        b->flags[me] = (uint32_t)flags[me];
    }
    addresses %= 0xFFFF;
    b->tcp_const = addresses + 6 + (uint64_t)port[0] + (uint64_t)port[1] + WINDOW;
    b->ip_const = IP4_FIXED + addresses;
    unsigned char *o = b->syn_options;
    o[0] = 2, o[1] = 4, o[4] = 1, o[5] = 3, o[6] = 3, o[7] = WINDOW_SCALE;
    put16(o + 2, (unsigned)mss);
    return (PyObject *)b;
}

int
ecq_blocks_ready(PyObject *module)
{
    if (PyType_Ready(&Blocks_Type) < 0)
        return -1;
    Py_INCREF(&Blocks_Type);
    if (PyModule_AddObject(module, "PacketBlocks", (PyObject *)&Blocks_Type) < 0) {
        Py_DECREF(&Blocks_Type);
        return -1;
    }
    return 0;
}
