"""Hypothesis settings for the fuzz targets.

Default (every test run, CI included): a modest, derandomized budget, so a run is quick and
repeatable. ``ECQ2PCAP_FUZZ_EXAMPLES=N`` runs a deep, random one with N examples per target::

    ECQ2PCAP_FUZZ_EXAMPLES=10000 python3 -m pytest tests/fuzz -q
"""

import os

from hypothesis import HealthCheck, settings

DEEP = int(os.environ.get("ECQ2PCAP_FUZZ_EXAMPLES", "0") or 0)
_COMMON = {"deadline": None, "database": None,
           "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture]}
settings.register_profile("ecq2pcap-ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("ecq2pcap-deep", max_examples=max(DEEP, 1), **_COMMON)
settings.load_profile("ecq2pcap-deep" if DEEP else "ecq2pcap-ci")


def pipeline_examples() -> int:
    """The whole-pipeline target converts a file per example: a smaller default budget."""
    return DEEP or 12
