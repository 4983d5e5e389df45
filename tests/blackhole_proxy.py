"""A TCP proxy on loopback whose open connections can die silently, as a network path does when
a laptop roams to another Wi-Fi network, wakes from sleep, or a NAT forgets the flow: nothing is
forwarded either way any more, and neither end is told (no FIN, no RST). New connections are
forwarded as usual, as a roamed client's new flow would be."""

from __future__ import annotations

import select
import socket
import threading


class BlackholeProxy:
    """Listens on 127.0.0.1 (:attr:`port`, chosen free) and forwards each connection to
    ``127.0.0.1:target_port``; :meth:`blackhole` kills the connections open now. A context manager."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.connections = 0  # accepted so far
        self._dead: list[threading.Event] = []  # one per connection: set, it forwards nothing more
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()  # as a refused connection would look through a real link
                continue
            dead = threading.Event()
            with self._lock:
                self.connections += 1
                self._dead.append(dead)
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, dead), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, dead: threading.Event) -> None:
        """Forward ``source`` to ``sink`` until either closes; once ``dead``, read nothing more
        and close nothing: the sender's kernel buffer fills, as it would behind a dead path."""
        while not self._closed.is_set() and not dead.is_set():
            try:
                if not select.select([source], [], [], 0.05)[0] or dead.is_set():
                    continue
                data = source.recv(65536)
                if dead.is_set():  # read as it died: lost, as on the dead path (nothing sent after it passes)
                    return
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return

    def blackhole(self) -> None:
        """The connections open now stop forwarding both ways, left open; new ones go through."""
        with self._lock:
            for dead in self._dead:
                dead.set()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def __enter__(self) -> BlackholeProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
