"""Normalizers for eCapture payload forms (hex dumps, re-rendered HTTP/1, ...).

Each module turns one form of captured bytes into what the sinks parse; none does I/O.
"""
