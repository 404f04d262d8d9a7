"""The classic C file client, as the forking-file-server tutorial writes it, in Python: one
command per connection; ``UPLOAD <name>\\n``, wait for the server's bare ``OK`` (two bytes,
no newline), send the file and close; ``DOWNLOAD <name>\\n``, read the two-byte ``OK`` (or
``NOFILE``), then everything until the server closes. No size, no checksum. netlab's
FileServer must serve it unchanged.
"""

from __future__ import annotations

import socket


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def _read_reply(sock: socket.socket) -> bytes:
    """The C client's read(fd, buf, 2): "OK", or the start of "NOFILE"."""
    reply = b""
    while len(reply) < 2:
        chunk = sock.recv(2 - len(reply))
        if not chunk:
            break
        reply += chunk
    return reply


def upload(port: int, name: str, data: bytes) -> bytes:
    """Returns the server's reply ("OK", or what it sent before closing)."""
    with _connect(port) as sock:
        sock.sendall(f"UPLOAD {name}\n".encode())
        reply = _read_reply(sock)
        if reply != b"OK":
            while chunk := sock.recv(4096):
                reply += chunk
            return reply
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # the end of the file is the end of the stream
        rest = sock.recv(4096)  # the classic server closes once it has the file
        assert rest == b"", rest
        return reply


def download(port: int, name: str) -> tuple[bytes, bytes]:
    """(reply, file bytes): ("OK", the bytes until the server closed) or ("NOFILE", b"")."""
    with _connect(port) as sock:
        sock.sendall(f"DOWNLOAD {name}\n".encode())
        reply = _read_reply(sock)
        chunks = []
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
        body = b"".join(chunks)
        if reply != b"OK":
            return reply + body, b""
        return reply, body
