"""LogHandler: a Python program's logging, sent to a LogServer without blocking it.

::

    import logging, netlab
    logging.getLogger().addHandler(netlab.LogHandler("127.0.0.1", 9999))
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from typing import Deque, Optional

_LEVELS = {logging.CRITICAL: "CRIT", logging.ERROR: "ERROR", logging.WARNING: "WARN",
           logging.INFO: "INFO", logging.DEBUG: "DEBUG"}


def _level_name(levelno: int) -> str:
    """The nearest syslog severity at or above the record's level."""
    for threshold in sorted(_LEVELS, reverse=True):
        if levelno >= threshold:
            return _LEVELS[threshold]
    return "DEBUG"


class LogHandler(logging.Handler):
    """A ``logging.Handler`` that sends records to a :class:`netlab.LogServer` ingest port
    (the text protocol, ``LOG|<level>|<time>|<message>``).

    ``emit()`` only queues the formatted line: a thread of the handler's own connects, sends
    what is queued in batches and reads the ``OK`` answers, so a slow or absent server never
    blocks the program. A line is forgotten only once the server has answered it; after a
    broken connection the unanswered ones are sent again (at least once), with a backoff
    between attempts (0.1 s doubling to 5 s). Past ``max_queue`` waiting lines, new records
    are dropped and counted in ``dropped``, so a server that is down never grows the
    program's memory. A message's newlines are sent as ``\\n``.

    Args:
        host, port: the LogServer's ingest port.
        token: sent first as ``AUTH|<token>`` when the port wants one.
        max_queue: lines kept while the server is slow or away.
        close_timeout: how long ``close()`` (and so logging's shutdown at exit) waits for
            the server to answer what is queued.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9999, *,
                 token: Optional[str] = None, max_queue: int = 10_000,
                 close_timeout: float = 5.0, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.host, self.port, self.token, self.max_queue = host, port, token, max_queue
        self.close_timeout = close_timeout
        self.sent = 0
        self.dropped = 0
        self._queue: Deque[bytes] = collections.deque()
        self._unanswered: Deque[bytes] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="netlab-LogHandler", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record).replace("\\", "\\\\").replace("\n", "\\n")
            line = (f"LOG|{_level_name(record.levelno)}|{record.created:.3f}|{message}\n"
                    .encode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        with self._cond:
            if len(self._queue) + len(self._unanswered) >= self.max_queue:
                self.dropped += 1
                return
            self._queue.append(line)
            self._cond.notify()

    def flush(self, timeout: float = 5.0) -> None:
        """Waits (at most `timeout` seconds) until the server has answered every line."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._unanswered:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def close(self) -> None:
        self.flush(self.close_timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        super().close()

    def _run(self) -> None:
        backoff = 0.1
        while True:
            with self._cond:
                while not self._queue and not self._unanswered and not self._closing:
                    self._cond.wait()
                if self._closing and not self._queue and not self._unanswered:
                    return
            try:
                self._session()
                backoff = 0.1
            except OSError:
                with self._cond:
                    if self._closing:
                        return
                    self._queue.extendleft(reversed(self._unanswered))  # again, in order
                    self._unanswered.clear()
                    self._cond.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    _BATCH = 500  # lines sent before their answers are read: a paced server is waited for
    _REPLY_TIMEOUT = 60.0  # a server that answers nothing for this long is reconnected to

    def _session(self) -> None:
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            sock.settimeout(self._REPLY_TIMEOUT)
            reader = sock.makefile("rb")
            if self.token is not None:
                sock.sendall(f"AUTH|{self.token}\n".encode())
                reply = reader.readline()
                if reply != b"OK|auth\n":
                    raise OSError(f"the LogServer refused the token: {reply!r}")
            while True:
                with self._cond:
                    while not self._queue and not self._closing:
                        self._cond.wait(0.5)
                    if not self._queue:
                        return  # closing, everything answered
                    batch = [self._queue.popleft()
                             for _ in range(min(self._BATCH, len(self._queue)))]
                    self._unanswered.extend(batch)
                sock.sendall(b"".join(batch))
                for _ in batch:
                    reply = reader.readline()
                    if not reply.endswith(b"\n"):
                        raise OSError("the LogServer closed the connection")
                    with self._cond:
                        self._unanswered.popleft()
                        self.sent += reply.startswith(b"OK|")
                        self._cond.notify_all()
