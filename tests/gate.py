"""A TCP gate on 127.0.0.1:0 in front of a real server: reset some connections, pipe the rest.

Connection errors on demand, without killing anything: the gate accepts a connection and,
while ``refuse`` says so, resets it at once (``SO_LINGER`` 0, so the client sees ECONNRESET
or a connection closed before any answer); any other connection is piped byte for byte to
the upstream server, keep-alive and all. Used to put a connection error in the middle of a
swarm run and see what the swarm sends afterwards.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

BUFFER = 65536


class Gate:
    """``refuse(n)`` -> True resets the n-th accepted connection (0-based)."""

    def __init__(self, upstream: tuple[str, int], refuse: Callable[[int], bool]) -> None:
        self.upstream = upstream
        self.refuse = refuse
        self.accepted = 0
        self.reset = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def _accept_loop(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                n = self.accepted
                self.accepted += 1
            if self.refuse(n):
                with self.lock:
                    self.reset += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5.0)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self.lock:
                self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(BUFFER):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Gate:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.closing = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                sock.close()
        self.thread.join(timeout=5)
