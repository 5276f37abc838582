"""The one thing pyproject.toml cannot say: the optional C extension ecq2pcap._speedups (ecq2pcap/_speedups.c, the
module; the TCP checksum's payload sum, _checksum.c; a connection's packets as pcapng blocks, _blocks.c and
_segment.c; HTTP/1 framing's quick answer, _rendered.c). Without a C compiler the install goes on without it and
ecq2pcap uses its pure-Python code, which gives the same bytes, slower (``ecq2pcap --version`` says which one runs).
ECQ2PCAP_REQUIRE_SPEEDUPS=1 makes a failed build an error instead."""

import os

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecq2pcap._speedups",
            [f"ecq2pcap/_{name}.c" for name in ("speedups", "checksum", "blocks", "segment", "rendered")],
            depends=[f"ecq2pcap/_{name}.h" for name in ("checksum", "blocks", "segment", "rendered")],
            optional=os.environ.get("ECQ2PCAP_REQUIRE_SPEEDUPS") != "1",
        )
    ]
)
