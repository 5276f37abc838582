"""HTTP/1 header limits (bytes) and the flags that set them.

A passive decoder must accept what real servers accept, so the defaults are the generous
end of the field: h11 allows a whole head of 16 KiB, nginx header lines of 8 KiB, Apache
8190 bytes, Go's net/http a header section of 1 MiB. A line may be 64 KiB, a section
1 MiB (Go's default). A head over either is not parsed: its bytes are skipped up to the
next start line and the skip is reported with the limit's flag.
"""

MAX_HEADER_LINE = 64 * 1024  # start line or header line
MAX_HEADER_SECTION = 1024 * 1024  # start line + header lines + blank line
HEADER_LINE_FLAG = "--max-header-line"
HEADER_SECTION_FLAG = "--max-header-size"
