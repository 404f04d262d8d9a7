"""LogHandler: a Python program's logging, sent to a LogServer without blocking it.

::

    import logging, netlab
    logging.getLogger().addHandler(netlab.LogHandler("127.0.0.1", 9999))
"""

from __future__ import annotations

import logging
import socket
from typing import Optional

from netlab.logclient import LogClient

_LEVELS = {logging.CRITICAL: "CRIT", logging.ERROR: "ERROR", logging.WARNING: "WARN",
           logging.INFO: "INFO", logging.DEBUG: "DEBUG"}


def _level_name(levelno: int) -> str:
    """The nearest syslog severity at or above the record's level."""
    for threshold in sorted(_LEVELS, reverse=True):
        if levelno >= threshold:
            return _LEVELS[threshold]
    return "DEBUG"


class LogHandler(logging.Handler):
    """A ``logging.Handler`` that sends records to a :class:`netlab.LogServer` ingest port,
    through a :class:`netlab.LogClient`.

    ``emit()`` only queues the formatted record: the client's native thread connects, sends
    in batches and reads the answers, so a slow or absent server never blocks the program.
    A record is forgotten only once the server has answered it; after a broken connection
    the unanswered ones are sent again, and the server stores each once (they carry the
    client's idempotency key). Past ``max_queue`` waiting records, new ones are dropped and
    counted in ``dropped``, so a server that is down never grows the program's memory. Each
    log's app is the logger's name, its host this machine's name; a message may span lines.

    Args:
        host, port: the LogServer's ingest port (or ``servers``: several, for failover).
        token: sent first as ``AUTH|<token>`` when the port wants one.
        max_queue: records kept while the server is slow or away.
        close_timeout: how long ``close()`` (and so logging's shutdown at exit) waits for
            the server to answer what is queued.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9999, *,
                 token: Optional[str] = None, max_queue: int = 10_000,
                 close_timeout: float = 5.0, level: int = logging.NOTSET,
                 servers: Optional[list[str]] = None) -> None:
        super().__init__(level)
        self.host, self.port, self.token, self.max_queue = host, port, token, max_queue
        self.close_timeout = close_timeout
        self.dropped = 0
        auth = f"{token}@" if token else ""
        targets = servers or [f"{host}:{port}"]
        self._client = LogClient([f"logs://{auth}{t}" if "://" not in t else t
                                  for t in targets], max_queue=max_queue,
                                 host=socket.gethostname())

    @property
    def sent(self) -> int:
        """Records the server has answered."""
        return int(self._client.stats()["confirmed"])

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        try:
            self._client.send(message, _level_name(record.levelno), timestamp=record.created,
                              app=record.name, wait=0)
        except TimeoutError:  # max_queue records wait already: this one is dropped
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Waits (at most `timeout` seconds) until the server has answered every record."""
        self._client.flush(timeout)

    def close(self) -> None:
        self._client.close(self.close_timeout)
        super().close()
