"""Type stubs for netlab's C++ engine (netlab._core)."""

from typing import Any

def models() -> list[str]: ...

class Protocol:
    @property
    def name(self) -> str: ...

class EchoProtocol(Protocol):
    def __init__(self) -> None: ...

class PingPongProtocol(Protocol):
    def __init__(self, max_line: int = 65536) -> None: ...
    @property
    def max_line(self) -> int: ...

class Server:
    def __init__(
        self,
        protocol: Protocol,
        host: str,
        port: int,
        model: str,
        workers: int,
        high_water: int,
        idle_timeout: float,
        max_connections: int,
        backlog: int,
        log_events: bool,
    ) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def port(self) -> int: ...
    @property
    def running(self) -> bool: ...
    def stats(self) -> dict[str, Any]: ...
    def drain_events(self) -> list[str]: ...
