"""netlab: fast network servers, framing codecs and a load generator with a C++ engine.

Start a server, watch its counters, stop it::

    import netlab
    with netlab.PingPongServer(port=0, model="epoll") as server:
        print(server.port, server.stats())
"""

from netlab._core import models as _native_models
from netlab.codecs import (
    Codec,
    FixedCodec,
    Frame,
    FrameError,
    FrameTooLarge,
    HeaderCodec,
    LengthPrefixCodec,
    LineCodec,
    MalformedFrame,
)
from netlab.chat import ChatClient
from netlab.files import FileClient, sha256_file
from netlab.logclient import LogClient
from netlab.loghandler import LogHandler
from netlab.logs import LogServer
from netlab.load import LoadGenerator, LoadResult
from netlab.servers import (
    APPS,
    SERVER_OPTIONS,
    SERVERS,
    ChatServer,
    CloseKind,
    EchoServer,
    FileServer,
    HttpProxy,
    HttpServer,
    LogIngestServer,
    LogQueryServer,
    LogSyslogServer,
    PingPongServer,
    RelayServer,
    Server,
)
from netlab._types import ChatStats, FileStats, FileTransfer, HttpProxyStats, HttpStats, LoadProgress, ServerStats, TimelineSecond

__version__ = "0.1.0"

MODELS: tuple[str, ...] = tuple(_native_models())
"""The I/O models every server runs under; the first is the default."""

__all__ = [
    "APPS", "MODELS", "SERVERS", "SERVER_OPTIONS", "ChatClient", "ChatServer", "CloseKind", "RelayServer", "Codec", "EchoServer", "FileClient", "FileServer", "LogClient", "LogHandler", "LogServer", "LogIngestServer", "LogQueryServer", "LogSyslogServer", "FileStats", "FileTransfer", "sha256_file", "FixedCodec", "HttpProxy", "HttpProxyStats", "HttpServer", "HttpStats", "Frame", "FrameError", "FrameTooLarge",
    "HeaderCodec", "LengthPrefixCodec", "LineCodec", "LoadGenerator", "LoadResult",
    "MalformedFrame", "PingPongServer",
    "Server", "ServerStats", "ChatStats", "LoadProgress", "TimelineSecond", "__version__",
]
