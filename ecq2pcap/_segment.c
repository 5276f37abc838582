/* One segment of a connection as a whole pcapng Enhanced Packet Block (see _blocks.c): its size, then its bytes
 * written once into a new bytes object: the block's head and time (in the host's order, as the pcapng sink writes
 * every block), the link-layer header, the IPv4 or IPv6 header and the TCP header with their checksums, the
 * payload, and the options: the comment (text_option's rules), the direction flags, their end and the block's
 * length. */
#include "_segment.h"

/* -- a comment: text_option's rules ------------------------------------------------------------------------ */

/* The comment's bytes as blocks.text_option writes them: lone surrogates replaced, a NUL written as the four
 * characters \x00, cut at a character boundary to fit the option's 16-bit length. 0, or -1 with an exception. */
int
ecq_note_of(PyObject *comment, Note *note)
{
    note->buf = NULL;
    note->len = 0;
    note->owner = NULL;
    if (comment == Py_None)
        return 0;
    if (!PyUnicode_Check(comment)) {
        PyErr_Format(PyExc_TypeError, "a comment is a str or None, not %.100s", Py_TYPE(comment)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(comment, &n);
    if (u == NULL) { /* (lone surrogates) */
        PyErr_Clear();
        note->owner = PyUnicode_AsEncodedString(comment, "utf-8", "replace");
        if (note->owner == NULL)
            return -1;
        u = PyBytes_AS_STRING(note->owner);
        n = PyBytes_GET_SIZE(note->owner);
    }
    if (n && memchr(u, 0, (size_t)n) != NULL) {
        Py_ssize_t nuls = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            nuls += u[i] == 0;
        PyObject *spelled = PyBytes_FromStringAndSize(NULL, n + 3 * nuls);
        if (spelled == NULL) {
            Py_CLEAR(note->owner);
            return -1;
        }
        char *w = PyBytes_AS_STRING(spelled);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (u[i] == 0) {
                memcpy(w, "\\x00", 4);
                w += 4;
            }
            else
                *w++ = u[i];
        }
        Py_XSETREF(note->owner, spelled);
        u = PyBytes_AS_STRING(spelled);
        n = PyBytes_GET_SIZE(spelled);
    }
    if (n > MAX_OPTION_LEN) { /* cut, then without a character the cut left incomplete (its lead byte and after) */
        const unsigned char *b = (const unsigned char *)u;
        Py_ssize_t lead = MAX_OPTION_LEN;
        while (lead > 0 && lead > MAX_OPTION_LEN - 4 && (b[lead - 1] & 0xC0) == 0x80)
            lead--;
        n = MAX_OPTION_LEN;
        if (lead > 0 && b[lead - 1] >= 0xC0) { /* a lead byte: how long its character is */
            Py_ssize_t need = b[lead - 1] >= 0xF0 ? 4 : b[lead - 1] >= 0xE0 ? 3 : 2;
            if (lead - 1 + need > MAX_OPTION_LEN)
                n = lead - 1;
        }
    }
    note->buf = u;
    note->len = n;
    return 0;
}

/* -- one segment's block ---------------------------------------------------------------------------------- */

static Py_ssize_t
frame_len(const Blocks *b, const Segment *s)
{
    return b->prefix_len + (b->v6 ? 40 : 20) + 20 + s->options_len + s->payload_len;
}

static Py_ssize_t
tail_len(const Segment *s, Py_ssize_t frame)
{
    Py_ssize_t n = ((4 - (frame & 3)) & 3) + 8 + 4 + 4; /* pad, epb_flags, end of options, the block's length */
    if (s->note->buf != NULL)
        n += 4 + s->note->len + ((4 - (s->note->len & 3)) & 3);
    return n;
}

/* The block's head up to the payload (EPB head, link-layer, IP and TCP headers, TCP options) into p; the
 * sender's IPv4 identification advanced. */
static void
write_head(Blocks *b, const Segment *s, uint32_t total, Py_ssize_t frame, unsigned char *p)
{
    int me = s->me;
    uint32_t seq = b->seq[me], ack = s->flags & ACK ? b->seq[1 - me] : 0;
    Py_ssize_t tcp_len = 20 + s->options_len + s->payload_len;
    unsigned off = (unsigned)(5 + s->options_len / 4) << 4;
    host32(p, EPB_TYPE);
    host32(p + 4, total);
    host32(p + 8, 0); /* interface */
    host32(p + 12, (uint32_t)(s->t >> 32));
    host32(p + 16, (uint32_t)s->t);
    host32(p + 20, (uint32_t)frame); /* captured and original length */
    host32(p + 24, (uint32_t)frame);
    p += 28;
    memcpy(p, b->prefix[me], (size_t)b->prefix_len);
    p += b->prefix_len;
    if (b->v6) {
        put32(p, 0x60000000);
        put16(p + 4, (unsigned)tcp_len);
        p[6] = 6;
        p[7] = TTL;
        p += 8;
    }
    else {
        unsigned ident = b->ident[me], ip_len = (unsigned)(20 + tcp_len);
        b->ident[me] = (ident + 1) & 0xFFFF;
        uint64_t r = (b->ip_const + ip_len + ident) % 0xFFFF;
        p[0] = 0x45;
        p[1] = 0;
        put16(p + 2, ip_len);
        put16(p + 4, ident);
        put16(p + 6, 0x4000);
        p[8] = TTL;
        p[9] = 6;
        put16(p + 10, 0xFFFF ^ (unsigned)(r ? r : 0xFFFF));
        p += 12;
    }
    size_t ends = b->v6 ? 36 : 12;
    memcpy(p, b->ends[me], ends); /* addresses, then the TCP header's ports */
    p += ends;
    uint64_t r = b->tcp_const + (uint64_t)tcp_len + seq + ack + (off << 8 | s->flags)
                 + ecq_word_sum(s->options, s->options_len) + ecq_word_sum(s->payload, s->payload_len);
    r %= 0xFFFF;
    put32(p, seq);
    put32(p + 4, ack);
    p[8] = (unsigned char)off;
    p[9] = (unsigned char)s->flags;
    put16(p + 10, WINDOW);
    put16(p + 12, 0xFFFF ^ (unsigned)(r ? r : 0xFFFF));
    put16(p + 14, 0); /* urgent pointer */
    memcpy(p + 16, s->options, (size_t)s->options_len);
}

/* The block's rest after the payload: padding, the comment, epb_flags, their end and the block's length. */
static void
write_tail(const Blocks *b, const Segment *s, uint32_t total, Py_ssize_t frame, unsigned char *p)
{
    Py_ssize_t pad = (4 - (frame & 3)) & 3;
    memset(p, 0, (size_t)pad);
    p += pad;
    if (s->note->buf != NULL) {
        Py_ssize_t n = s->note->len, npad = (4 - (n & 3)) & 3;
        host16(p, OPT_COMMENT);
        host16(p + 2, (uint16_t)n);
        memcpy(p + 4, s->note->buf, (size_t)n);
        memset(p + 4 + n, 0, (size_t)npad);
        p += 4 + n + npad;
    }
    host16(p, EPB_FLAGS);
    host16(p + 2, 4);
    host32(p + 4, b->flags[s->me]);
    host32(p + 8, 0); /* end of options */
    host32(p + 12, total);
}

/* One segment as a whole block (bytes); with as_parts, as (head, payload_obj, tail). */
PyObject *
ecq_segment(Blocks *b, const Segment *s, PyObject *payload_obj)
{
    Py_ssize_t frame = frame_len(b, s), tail = tail_len(s, frame);
    Py_ssize_t head = frame - s->payload_len + 28, total = head + s->payload_len + tail;
    /* the IPv4 total length or the IPv6 payload length: 16 bits (a payload past it, which only data_block and
       data_block_parts can be given, whatever the MSS: an error, as PacketBlocks' pack of that field raises; its
       length cut to 16 bits would make a malformed packet). Under 64 KiB, the block's 32-bit lengths hold. */
    if (frame - b->prefix_len - (b->v6 ? 40 : 0) > 0xFFFF) {
        PyErr_Format(PyExc_ValueError, "a segment of %zd bytes of payload: more than its IP header's length holds",
                     s->payload_len);
        return NULL;
    }
    if (payload_obj != NULL) {
        PyObject *h = PyBytes_FromStringAndSize(NULL, head), *t = PyBytes_FromStringAndSize(NULL, tail);
        if (h == NULL || t == NULL) {
            Py_XDECREF(h);
            Py_XDECREF(t);
            return NULL;
        }
        write_head(b, s, (uint32_t)total, frame, (unsigned char *)PyBytes_AS_STRING(h));
        write_tail(b, s, (uint32_t)total, frame, (unsigned char *)PyBytes_AS_STRING(t));
        PyObject *parts = PyTuple_Pack(3, h, payload_obj, t);
        Py_DECREF(h);
        Py_DECREF(t);
        return parts;
    }
    PyObject *block = PyBytes_FromStringAndSize(NULL, total);
    if (block == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(block);
    write_head(b, s, (uint32_t)total, frame, p);
    memcpy(p + head, s->payload, (size_t)s->payload_len);
    write_tail(b, s, (uint32_t)total, frame, p + head + s->payload_len);
    return block;
}
