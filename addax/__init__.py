"""Addax: a self-hosted camera-trap server."""

__version__ = "0.1.0"
