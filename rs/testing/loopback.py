"""An HTTP server on loopback for fakes and fault proxies (tests and benchmarks): any free
port on 127.0.0.1, served from a daemon thread, closed without waiting for stalled handlers."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["LoopbackHTTP"]


class LoopbackHTTP:
    """A :class:`ThreadingHTTPServer` of ``handler`` on ``127.0.0.1`` (port chosen by the
    system): :meth:`start`, :attr:`url`, :meth:`close`. :attr:`stop` is set on close, so a
    handler that stalls on ``stop.wait(seconds)`` returns at once; errors of dropped
    connections are not printed."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.stop = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
