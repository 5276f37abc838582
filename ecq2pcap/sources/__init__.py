"""Sources yield :class:`~ecq2pcap.model.Message` objects; only sources touch files and sockets."""
