"""ecq2pcap: eCapture's eCaptureQ event stream → Wireshark pcapng and HAR 1.2."""

__version__ = "0.1.0"
