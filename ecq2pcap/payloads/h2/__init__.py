"""HTTP/2 codecs, one layer per module (bytes in, objects out):

* :mod:`.sniff`: the client preface, frame-header sanity, "is this HTTP/2?";
* :mod:`.tolerant_hpack`: HPACK for a passive observer (unknown indices, clipped table);
* :mod:`.streams`: the records the decoder hands out;
* :mod:`.decoder`: the passive decoder of one connection (both directions);
* :mod:`.encoder`: eCapture v1's HTTP/2 text dumps re-encoded into frames.
"""

from .decoder import H2PassiveDecoder
from .encoder import SETTINGS_FRAME, H2Reencoder, is_raw_preface
from .sniff import PREFACE, looks_like_h2, starts_h2_connection
from .streams import H2GoAway, H2Stream
from .tolerant_hpack import HPACK_STATE_UNKNOWN

__all__ = ["HPACK_STATE_UNKNOWN", "PREFACE", "SETTINGS_FRAME", "H2GoAway", "H2PassiveDecoder", "H2Reencoder",
           "H2Stream", "is_raw_preface", "looks_like_h2", "starts_h2_connection"]
