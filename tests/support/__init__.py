"""Test helpers that are not tests: a fake eCapture WebSocket server."""
