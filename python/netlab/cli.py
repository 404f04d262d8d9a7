"""Command line: python -m netlab serve|bench|demo|chat ... (see DESCRIPTION and EPILOG)."""

from __future__ import annotations

import argparse
import copy
import logging
import sys
from typing import Any, Optional, Sequence

from netlab import MODELS
from netlab.codecs import FixedCodec, HeaderCodec, LengthPrefixCodec, LineCodec
from netlab.load import SCENARIOS, LoadGenerator, LoadResult
from netlab.servers import (DEFAULTS, ChatServer, EchoServer, PingPongServer, RelayServer,
                             Server, parse_target)

SERVERS: dict[str, type[Server]] = {"echo": EchoServer, "pingpong": PingPongServer,
                                     "chat": ChatServer, "relay": RelayServer}
CODECS = {"length": LengthPrefixCodec, "line": LineCodec, "header": HeaderCodec}


DESCRIPTION = """\
netlab: network servers with a C++ engine, a load generator, and a demo that compares
I/O models (epoll, threaded, select).

commands:
  serve   run an echo, pingpong or chat server until Ctrl+C or SIGTERM
  bench   load a TCP server (echo, line, framed, connect, chat) and report
  demo    compare the I/O models under the same echo load, side by side
  chat    an interactive chat client for a chat server

'python -m netlab COMMAND --help' lists a command's options and their defaults."""

EPILOG = """\
examples:
  python -m netlab demo --connections 50,1000 --duration 3
  python -m netlab serve pingpong --port 8888 --model threaded -v
  python -m netlab bench 127.0.0.1:8888 --scenario line --request ping --expect pong"""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                     argparse.RawDescriptionHelpFormatter):
    """Shows each option's default, keeps the description's line breaks as written."""

    def _format_action(self, action: argparse.Action) -> str:
        # An option without help text (bench's --scenario, -c, -t) still has a default to show.
        if not action.help and action.option_strings and _says_something(action.default):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        # Help that already names its default would say it twice.
        text = action.help or ""
        if not _says_something(action.default) or "default" in text:
            return text
        return super()._get_help_string(action)


def _says_something(default: Any) -> bool:
    """False for the defaults that "(default: ...)" would only clutter: None, False, hidden."""
    return default is not None and default is not False and default is not argparse.SUPPRESS


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m netlab", description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=_HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    subcommands = [("serve", "run a server until Ctrl+C or SIGTERM", _add_serve),
                   ("bench", "load a TCP server and report", _add_bench),
                   ("demo", "compare the I/O models under the same load", _add_demo),
                   ("chat", "an interactive chat client", _add_chat)]
    for name, purpose, add_options in subcommands:
        add_options(commands.add_parser(name, help=purpose, description=purpose,
                                        formatter_class=_HelpFormatter))
    return parser


def _add_serve(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("app", choices=sorted(SERVERS), help="which server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument("--port", type=int, default=12345, help="port (0 picks a free one)")
    serve.add_argument("--model", choices=MODELS, default=MODELS[0], help="I/O model")
    serve.add_argument("--workers", type=int, default=DEFAULTS["workers"],
                       help="event loops (epoll only)")
    serve.add_argument("--high-water", type=int, default=DEFAULTS["high_water"], metavar="BYTES",
                       help="queued output past which a connection is no longer read")
    serve.add_argument("--idle-timeout", type=float, default=DEFAULTS["idle_timeout"],
                       metavar="SECONDS",
                       help="close connections with nothing read or written for this long "
                            "(0: never)")
    serve.add_argument("--message-timeout", type=float, default=DEFAULTS["message_timeout"],
                       metavar="SECONDS",
                       help="a message must be complete this long after its first byte "
                            "(0: no limit)")
    serve.add_argument("--max-connections", type=int, default=DEFAULTS["max_connections"],
                       help="refuse connections beyond this many (0: no limit; select: "
                            f"{DEFAULTS['select_max_connections']})")
    serve.add_argument("--max-connections-per-ip", type=int,
                       default=DEFAULTS["max_connections_per_ip"],
                       help="connections one peer address may hold (0: no limit)")
    serve.add_argument("--max-input-memory", type=int, default=DEFAULTS["max_input_memory"],
                       metavar="BYTES",
                       help="bytes all connections may hold in partial messages")
    serve.add_argument("--backlog", type=int, default=DEFAULTS["backlog"],
                       help="listen backlog (capped by net.core.somaxconn)")
    serve.add_argument("--max-line", type=int, default=None,
                       help="longest accepted line, for pingpong (65536) and chat (4096)")
    serve.add_argument("--stall-at", type=float, default=None, metavar="SECONDS",
                       help="echo: pause once, this long after starting (see --stall-for)")
    serve.add_argument("--stall-for", type=float, default=0.5, metavar="SECONDS",
                       help="echo: how long the injected pause lasts")
    serve.add_argument("--max-queue", type=int, default=None,
                       help="chat: output a client may have queued before it is dropped "
                            "(1 MiB)")
    serve.add_argument("--announce-limit", type=int, default=None,
                       help="chat: rooms larger than this get no join/leave notices (100)")
    serve.add_argument("--target", default=None, metavar="HOST:PORT",
                       help="relay: where to forward each client (required for relay)")
    serve.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS",
                       help="relay: how long the target may take to accept")
    serve.add_argument("-v", "--verbose", action="store_true",
                       help="print a line per connection event")


def _add_bench(bench: argparse.ArgumentParser) -> None:
    bench.add_argument("target", metavar="HOST:PORT")
    bench.add_argument("--scenario", choices=SCENARIOS, default="echo")
    bench.add_argument("--connections", "-c", type=int, default=100)
    bench.add_argument("--threads", "-t", type=int, default=2)
    bench.add_argument("--duration", "-d", type=float, default=10.0, help="seconds (0: none)")
    bench.add_argument("--requests", "-n", type=int, default=None, help="request budget")
    bench.add_argument("--rate", "-R", type=float, default=None,
                       help="open loop: total requests/s (latency corrected for omission)")
    bench.add_argument("--size", "-s", type=int, default=64, help="payload bytes")
    bench.add_argument("--pipeline", type=int, default=1, help="requests in flight per conn")
    bench.add_argument("--connect-rate", type=float, default=None, help="new connections/s")
    bench.add_argument("--request", default=None, help="line/payload to send")
    bench.add_argument("--expect", default=None, help="expected response line/payload")
    bench.add_argument("--codec", choices=sorted(CODECS), default=None,
                       help="framed scenario: the codec (default parameters)")
    bench.add_argument("--fixed-size", type=int, default=None,
                       help="framed scenario with FixedCodec of this size")
    bench.add_argument("--rooms", type=int, default=1, help="chat scenario: rooms")
    bench.add_argument("--timeout", type=float, default=10.0, help="response timeout (s)")
    bench.add_argument("--json", action="store_true", help="print the result as JSON")
    bench.add_argument("--max-error-rate", type=float, default=1.0, metavar="PERCENT",
                       help="exit 1 when more than this percent of requests failed or were "
                            "left unanswered")
    bench.add_argument("--allow-never-answered", action="store_true",
                       help="do not fail the run when some connection sent requests and "
                            "received nothing in the whole run")


def _add_chat(chat: argparse.ArgumentParser) -> None:
    chat.add_argument("target", metavar="HOST:PORT")
    chat.add_argument("--nick", default=None, help="nickname to take on arrival")


def _add_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--models", default=",".join(MODELS),
                      help="comma-separated I/O models")
    demo.add_argument("--connections", default="50,1000", help="comma-separated counts")
    demo.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    demo.add_argument("--size", type=int, default=64, help="message bytes")
    demo.add_argument("--threads", type=int, default=1, help="load generator threads")
    demo.add_argument("--out", default=None,
                      help="also write the legend, tables and conclusions to this file")


def _serve(args: argparse.Namespace) -> int:
    options: dict[str, Any] = dict(model=args.model, workers=args.workers,
                                   high_water=args.high_water,
                                   idle_timeout=args.idle_timeout,
                                   message_timeout=args.message_timeout,
                                   max_connections=args.max_connections or None,
                                   max_connections_per_ip=args.max_connections_per_ip or None,
                                   max_input_memory=args.max_input_memory,
                                   backlog=args.backlog, log_connections=args.verbose)
    if args.app in ("pingpong", "chat") and args.max_line is not None:
        options["max_line"] = args.max_line
    if args.app == "chat" and args.max_queue is not None:
        options["max_queue"] = args.max_queue
    if args.app == "chat" and args.announce_limit is not None:
        options["announce_limit"] = args.announce_limit
    if args.app == "echo" and args.stall_at is not None:
        options.update(stall_at=args.stall_at, stall_for=args.stall_for)
    if args.app == "relay":
        if args.target is None:
            print("netlab: error: serve relay needs --target HOST:PORT", file=sys.stderr)
            return 2
        options.update(target=args.target, connect_timeout=args.connect_timeout)
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


def _bench(args: argparse.Namespace) -> int:
    codec = None
    if args.fixed_size is not None:
        codec = FixedCodec(args.fixed_size)
    elif args.codec:
        codec = CODECS[args.codec]()
    try:
        host, port = parse_target(args.target)
        gen = LoadGenerator(
            host, port, scenario=args.scenario, connections=args.connections,
            threads=args.threads, duration=args.duration or None, requests=args.requests,
            rate=args.rate, size=args.size, pipeline=args.pipeline,
            connect_rate=args.connect_rate, response_timeout=args.timeout,
            request=args.request.encode() if args.request is not None else None,
            expect=args.expect.encode() if args.expect is not None else None, codec=codec,
            rooms=args.rooms)
    except (OSError, ValueError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 2
    live = sys.stderr.isatty() and not args.json

    def progress(second: dict[str, Any]) -> None:
        print(f"\r[{second['second'] + 1:>4}s] {second['responses']:>10,} resp/s  "
              f"p99 {second['p99_ms']:8.3f} ms  errors {second['errors']:<8}",
              end="", file=sys.stderr, flush=True)

    interrupted = False
    try:
        result = gen.run(progress=progress if live else None)
    except KeyboardInterrupt:
        # Ctrl+C ends the run early: report what was measured up to then.
        interrupted = True
        gen.stop()
        result = gen.result()
    if live:
        print(file=sys.stderr)
    print(result.to_json(indent=2) if args.json else result.summary())
    if interrupted:
        print("netlab: interrupted: the figures cover the run up to Ctrl+C", file=sys.stderr)
        return 130
    return _exit_code(result, args.max_error_rate, args.allow_never_answered)


def _exit_code(result: LoadResult, max_error_percent: float, allow_never_answered: bool) -> int:
    """1 when too many requests failed or went unanswered, or a connection was starved."""
    if result.failed_percent > max_error_percent:
        return 1
    if result.never_answered and not allow_never_answered:
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from netlab import demo

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"netlab: error: unknown model(s) {unknown}; valid: {', '.join(MODELS)}",
              file=sys.stderr)
        return 2
    counts = [int(c) for c in args.connections.split(",") if c.strip()]
    return demo.main(models, counts, args.duration, args.size, args.threads, args.out)


def _chat(args: argparse.Namespace) -> int:
    """Like the classic chat client: a thread prints what arrives; stdin lines are sent;
    ``exit`` or end of input quits."""
    import threading

    from netlab.chat import ChatClient

    try:
        host, port = parse_target(args.target)
        client = ChatClient(host, port, nick=args.nick)
    except (OSError, ValueError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 1

    def printer() -> None:
        for line in client:
            print(line, flush=True)
        print("* disconnected", flush=True)

    who = f" as {client.nick}" if client.nick else ""
    print(f"* connected to {host}:{port}{who}; type exit to quit", flush=True)
    receiver = threading.Thread(target=printer, daemon=True)
    receiver.start()
    try:
        for raw in sys.stdin:
            line = raw.rstrip("\r\n")
            try:
                client.send(line)
            except OSError:
                break
            if line.strip() in ("exit", "/quit"):
                break
        else:
            if client.nick is not None:  # netlab's server: leave politely at end of input
                client.send("/quit")
    except (KeyboardInterrupt, OSError):
        pass
    receiver.join(timeout=2)  # netlab's server closes after /quit, which ends the printer
    client.close()
    # A plain server does not close: closing ends the printer's wait. It must have returned
    # from native code before the interpreter exits (a daemon thread still inside it is
    # unwound at exit, which aborts the process).
    receiver.join(timeout=2)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _build_parser().parse_args(argv)
    handlers = {"serve": _serve, "bench": _bench, "demo": _demo, "chat": _chat}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
