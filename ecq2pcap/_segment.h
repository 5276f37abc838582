/* One segment's block (_segment.c), for a connection's methods (_blocks.c): the connection's state (Blocks), what a
 * segment is made of, and the bytes' writers. */
#ifndef ECQ2PCAP_SEGMENT_H
#define ECQ2PCAP_SEGMENT_H

#include "_checksum.h"
#include <string.h>

#define FIN 0x01
#define SYN 0x02
#define PSH 0x08
#define ACK 0x10
#define TTL 64
#define WINDOW 0xFFFF
#define WINDOW_SCALE 14
#define EPB_TYPE 6
#define OPT_COMMENT 1
#define EPB_FLAGS 2
#define MAX_OPTION_LEN (0xFFFF - 3)
#define IP4_FIXED ((0x45 << 8) + 0x4000 + (TTL << 8 | 6)) /* ver/ihl/tos + DF + ttl/proto words */
#define MAX_PREFIX 14 /* an Ethernet header */

typedef struct {
    PyObject_HEAD
    unsigned char prefix[2][MAX_PREFIX]; /* each side's link-layer header (C2S, S2C) */
    unsigned char ends[2][36];           /* each side's source and destination address, source and destination port */
    unsigned char syn_options[8];        /* MSS, NOP, window scale */
    int prefix_len, v6, closed;
    uint64_t tcp_const, ip_const;        /* the checksums' words that never change, mod 0xFFFF */
    uint32_t seq[2], flags[2];           /* each side's next sequence number; its packets' epb_flags */
    unsigned ident[2];                   /* each side's next IPv4 identification */
    Py_ssize_t mss;
} Blocks;

typedef struct {
    const char *buf; /* its UTF-8 (NULL: no comment) */
    Py_ssize_t len;
    PyObject *owner; /* what holds buf when it is not the str's own UTF-8 (or NULL) */
} Note;

typedef struct { /* what one segment is made of (its side's state read when its head is written) */
    int me;
    unsigned flags;
    const unsigned char *options, *payload;
    Py_ssize_t options_len, payload_len;
    uint64_t t;
    const Note *note;
} Segment;

/* The comment's bytes as blocks.text_option writes them (0, or -1 with an exception set); note->owner released by
 * the caller. */
int ecq_note_of(PyObject *comment, Note *note);
/* One segment from s->me as a whole block (bytes), or with payload_obj as (head, payload_obj, tail); the sender's
 * IPv4 identification advanced, its sequence number left to the caller. */
PyObject *ecq_segment(Blocks *b, const Segment *s, PyObject *payload_obj);

static inline void
put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static inline void
put32(unsigned char *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}

static inline void
host16(unsigned char *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static inline void
host32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

#endif
