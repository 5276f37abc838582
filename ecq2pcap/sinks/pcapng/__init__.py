"""pcapng output: eCapture plaintext as synthesized TCP/IP conversations Wireshark dissects."""

from .ports import HTTP_PORTS, PortMap
from .sink import PcapngSink

__all__ = ["HTTP_PORTS", "PcapngSink", "PortMap"]
