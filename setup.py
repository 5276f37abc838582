"""The one thing pyproject.toml cannot say: the optional C extension (the TCP checksum's payload sum,
ecq2pcap/_speedups.c). Without a C compiler the install goes on without it and ecq2pcap uses its
pure-Python sum, which gives the same bytes, slower (``ecq2pcap --version`` says which one runs).
ECQ2PCAP_REQUIRE_SPEEDUPS=1 makes a failed build an error instead."""

import os

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ecq2pcap._speedups",
            ["ecq2pcap/_speedups.c"],
            optional=os.environ.get("ECQ2PCAP_REQUIRE_SPEEDUPS") != "1",
        )
    ]
)
