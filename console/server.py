"""Serve the console with waitress (a production WSGI server, no debugger)."""
from __future__ import annotations

from flask import Flask
from waitress import serve as _serve
from waitress.server import create_server as _create_server

THREADS = 8


def serve(app: Flask, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve `app` until interrupted."""
    _serve(app, host=host, port=port, threads=THREADS, ident="yuqing-console")


def create_server(app: Flask, host: str = "127.0.0.1", port: int = 0):
    """A waitress server not yet running: call `.run()` (e.g. in a thread), then `.close()`.

    With port 0 the OS picks a free port; read it from `server.effective_port`.
    """
    return _create_server(app, host=host, port=port, threads=THREADS, ident="yuqing-console")
