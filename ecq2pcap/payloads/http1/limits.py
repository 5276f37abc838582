"""HTTP/1 limits (bytes) and the flags that set them.

A passive decoder must accept what real servers accept, so the defaults are the generous
end of the field: h11 allows a whole head of 16 KiB, nginx header lines of 8 KiB, Apache
8190 bytes, Go's net/http a header section of 1 MiB. A line may be 64 KiB, a section
1 MiB (Go's default). A head over either is not parsed: its bytes are skipped up to the
next start line and the skip is reported with the limit's flag (:class:`~ecq2pcap.limits.Limits`).
"""

from ...limits import DEFAULT_LIMITS, LIMIT_FLAGS

MAX_HEADER_LINE = DEFAULT_LIMITS.header_line_size  # start line or header line
MAX_HEADER_SECTION = DEFAULT_LIMITS.header_section_size  # start line + header lines + blank line
CONNECTION_BUFFER = DEFAULT_LIMITS.connection_buffer
HEADER_LINE_FLAG = LIMIT_FLAGS["header_line_size"]
HEADER_SECTION_FLAG = LIMIT_FLAGS["header_section_size"]

# a request waiting for its answer counts this many bytes of the connection's buffer (--max-connection-buffer): what
# it holds, bodies aside. Past the buffer, the oldest waiting ends unanswered; the answer that comes for it later:
AWAITING_COST = 2048
ANSWER_OF_ENDED = (f"request not in this entry: its entry had ended while more requests waited for their answers "
                   f"than {LIMIT_FLAGS['connection_buffer']} allows")

# h11's error when an event it waits for (past a head: a chunk-size line, a trailer section) outgrows its buffer,
# which the readers size at the header section limit and a slice more (the decoder bounds heads itself)
H11_TOO_LONG = "Receive buffer too long"
TRAILER_TOO_LONG = "trailer section or chunk-size line too long"
