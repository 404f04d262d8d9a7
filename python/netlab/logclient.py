"""LogClient: sends logs to LogServer (or any syslog server) and knows which arrived.

::

    with netlab.LogClient("127.0.0.1:9999 127.0.0.1:19999") as logs:
        logs.send("disk full", level="ERROR", app="backup")
    # leaving the block waited until the server had answered every log
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Optional, Union

from netlab import _core

Level = Union[str, int]
"""A syslog severity by name (EMERG ... DEBUG, WARN, ERR, CRIT, FATAL, TRACE) or 0-7."""


class LogClient:
    """Ships logs to the first of several servers that answers, on a native thread.

    ``send()`` only queues: the client's thread connects, writes logs in batches (up to
    ``window`` unanswered), and forgets a log only once the server has confirmed it. When a
    connection breaks or a server stays silent past ``timeout``, the client reconnects (the
    same server first, then the next ones in turn, with a backoff between rounds) and sends
    again whatever was not confirmed.

    Every log carries an idempotency key, this client's ``client_id`` and its sequence
    number, so a LogServer stores a resent log once: with ``ack="durable"`` on the server, a
    log ``flush()`` saw confirmed is on its disk exactly once, whatever broke meanwhile.

    Args:
        servers: ``"host:port"`` or several (a list, or separated by spaces), in order of
            preference; each may name its protocol (``logs://``, ``binary://``,
            ``syslog://``) and a token (``logs://TOKEN@host:port``).
        protocol: for servers that do not say: ``"text"`` (LogServer's ingest lines,
            ``CLIENT|<id>`` then ``LOGK|...``), ``"binary"`` (its frames, messages up to
            64 KiB) or ``"syslog"`` (RFC 5424, octet-counted, to rsyslog or a LogServer's
            syslog port: there is no answer, so a log counts once the server's TCP has
            acknowledged it and ``settle`` seconds passed, and is otherwise sent again: at
            least once).
        client_id: names the client in the keys (``client_id`` property: with a random
            suffix of this LogClient's own, since its sequence numbers start at 1).
        host, app: the logs' fields unless ``send()`` gives them.
        window, max_queue, timeout, settle: see ``netlab._core.log_client_options()``.
    """

    def __init__(self, servers: Union[str, list[str]] = "127.0.0.1:9999", *,
                 protocol: str = "text", **options: Any) -> None:
        spec = servers if isinstance(servers, str) else " ".join(servers)
        self._client: Any = _core.LogClient(servers=spec, protocol=protocol, **options)
        self._closed = False

    @property
    def client_id(self) -> str:
        return str(self._client.client_id)

    def send(self, message: str, level: Level = "INFO", *, timestamp: Optional[float] = None,
             host: str = "", app: str = "", wait: float = 10.0) -> int:
        """Queues one log; returns its sequence number.

        Args:
            timestamp: seconds since the epoch (default: now).
            wait: how long to wait while ``max_queue`` logs are held for a slow or absent
                server.

        Raises:
            TimeoutError: the queue stayed full for ``wait`` seconds.
            ValueError: an unknown level.
        """
        return int(self._client.send(message, level, -1.0 if timestamp is None else timestamp,
                                     host, app, wait))

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until every log sent so far is confirmed; False after ``timeout``."""
        return bool(self._client.flush(timeout))

    def close(self, timeout: float = 10.0) -> bool:
        """Waits (up to ``timeout``) for what is queued to be confirmed, then disconnects;
        True when nothing was left unconfirmed."""
        if self._closed:
            return True
        self._closed = True
        return bool(self._client.close(timeout))

    def stats(self) -> dict[str, Any]:
        """``sent``, ``confirmed``, ``resent`` (possible duplicates), ``rejected``,
        ``connects``, ``connect_failures``, ``disconnects``, ``failovers``, ``position``,
        ``active`` (the server in use, by index), ``last_error``, ``queued``, ``last_seq``."""
        return dict(self._client.stats())

    def __enter__(self) -> "LogClient":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.stats()
        return f"<LogClient {self.client_id} confirmed={s['confirmed']} queued={s['queued']}>"
