"""Command line: ``python -m netlab serve echo|pingpong --port P --model M``."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from netlab import MODELS
from netlab.servers import EchoServer, PingPongServer, Server

SERVERS: dict[str, type[Server]] = {"echo": EchoServer, "pingpong": PingPongServer}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m netlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run a server until Ctrl+C or SIGTERM")
    serve.add_argument("app", choices=sorted(SERVERS), help="which server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=12345, help="port (0 picks a free one)")
    serve.add_argument("--model", choices=MODELS, default=MODELS[0], help="I/O model")
    serve.add_argument("--workers", type=int, default=1, help="event loops (epoll only)")
    serve.add_argument("--idle-timeout", type=float, default=None, metavar="SECONDS",
                       help="close connections silent for this long")
    serve.add_argument("--max-connections", type=int, default=None,
                       help="refuse connections beyond this many")
    serve.add_argument("--max-line", type=int, default=65536,
                       help="longest accepted line, for pingpong (bytes)")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="print a line per connection event")
    return parser


def _serve(args: argparse.Namespace) -> int:
    options = dict(model=args.model, workers=args.workers, idle_timeout=args.idle_timeout,
                   max_connections=args.max_connections, log_connections=args.verbose)
    if args.app == "pingpong":
        options["max_line"] = args.max_line
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        server = SERVERS[args.app](args.port, args.host, **options)
        server.start()
    except (OSError, ValueError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 1
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(f"netlab {args.app} server ({args.model}{workers}) listening on "
          f"{args.host}:{server.port}; Ctrl+C to stop", flush=True)
    server.serve()
    if args.verbose:
        print(f"stopped: {server.stats()}", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2
