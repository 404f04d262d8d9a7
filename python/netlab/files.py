"""FileClient: uploads and downloads to a :class:`netlab.FileServer`, natively.

Each call opens one connection and speaks the server's line protocol; the bytes move in C++
with the GIL released (uploads through sendfile(2)), and both ends check the sha256::

    client = FileClient("127.0.0.1", 12345)
    client.upload("big.iso")                # resumes a partial upload the server holds
    client.download("big.iso", "copy.iso")  # resumes from copy.iso.part if one is there
"""

from __future__ import annotations

import os
from typing import Callable, Optional, Union

from netlab import _core
from netlab._types import FileTransfer

PathLike = Union[str, "os.PathLike[str]"]
Progress = Callable[[int, int], None]
"""Called with (bytes done, total bytes) about ten times a second and once at the end."""


def sha256_file(path: PathLike) -> str:
    """The sha256 of a local file as 64 hex digits, hashed natively (SHA extensions where
    the CPU has them) with the GIL released."""
    return str(_core.sha256_file(os.fspath(path)))


class FileClient:
    """A client of :class:`netlab.FileServer`'s line protocol.

    Args:
        host: the server's address or name.
        port: its TCP port.
        timeout: seconds for connecting, and the longest the server may stay silent in a
            call (then ``TimeoutError``).

    Refusals raise ``OSError`` subclasses that say the server's reason:
    ``FileNotFoundError`` (no such file), ``PermissionError`` (a name leading out of the
    root), ``OSError`` with ``errno.EBUSY`` (the name is being uploaded), ``ENOSPC``
    (quota), ``EFBIG`` (larger than ``max_file``), ``EAGAIN`` (too many uploads at once).
    Ctrl+C interrupts a transfer within a tenth of a second.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 12345, *,
                 timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self._native = _core.FileClient(host=host, port=port, timeout=timeout)

    def upload(self, path: PathLike, name: Optional[str] = None, *, resume: bool = True,
               progress: Optional[Progress] = None) -> FileTransfer:
        """Uploads the local file ``path`` as ``name`` (default: its base name).

        The file is hashed first; the server checks size and sha256 before it renames the
        upload into place. With ``resume`` the server is asked what a partial upload of this
        name and size already holds (an earlier call cut short), and only the rest is sent.
        """
        local = os.fspath(path)
        return self._native.upload(local, name or os.path.basename(local), resume, progress)

    def download(self, name: str, path: Optional[PathLike] = None, *, resume: bool = True,
                 progress: Optional[Progress] = None) -> FileTransfer:
        """Downloads ``name`` to ``path`` (default: its base name in the current directory;
        a directory: the base name inside it).

        Bytes go to ``path + ".part"``, renamed to ``path`` once the sha256 matches the
        server's. With ``resume`` a ``.part`` left by a broken call is continued from its
        end (and started afresh if the file on the server has changed since).
        """
        local = os.fspath(path) if path is not None else os.path.basename(name)
        if os.path.isdir(local):
            local = os.path.join(local, os.path.basename(name))
        return self._native.download(name, local, resume, progress)

    def stat(self, name: str) -> dict[str, object]:
        """``{"exists", "size", "sha256", "partial"}``: ``partial`` is the bytes a partial
        upload holds when the file does not exist yet (None otherwise)."""
        return dict(self._native.stat(name))

    def list(self, directory: str = "") -> list[dict[str, object]]:
        """The entries of a directory on the server (default: the root), sorted by name:
        ``{"name", "dir", "size"}``."""
        return list(self._native.list(directory))

    def __repr__(self) -> str:
        return f"<FileClient {self.host}:{self.port}>"
