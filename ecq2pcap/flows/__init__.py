"""Flows: group captures into TCP connections, orient and order them (sans-IO)."""

from .table import ConnectionTable

__all__ = ["ConnectionTable"]
