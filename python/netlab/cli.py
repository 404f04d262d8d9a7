"""Command line: python -m netlab serve|bench|demo|chat ... (see DESCRIPTION and EPILOG)."""

from __future__ import annotations

import argparse
import copy
import json
import logging
import signal
import sys
from typing import Any, Optional, Sequence

from netlab import MODELS
from netlab.codecs import FixedCodec, HeaderCodec, LengthPrefixCodec, LineCodec
from netlab.load import LOAD_OPTIONS, LoadGenerator, LoadResult, load_options_markdown, parse_url
from netlab._options import none_note, range_text
from netlab._types import TimelineSecond
from netlab.servers import APPS, SERVER_OPTIONS, SERVERS, options_markdown, parse_target

CODECS = {"length": LengthPrefixCodec, "line": LineCodec, "header": HeaderCodec}


DESCRIPTION = """\
netlab: network servers with a C++ engine, a load generator, and a demo that compares
I/O models (epoll, threaded, select).

commands:
  serve   run a server (echo, pingpong, chat, relay, http, http-proxy, files, logs) until Ctrl+C
  bench   load a server (echo, line, framed, connect, chat, http) and report
  demo    compare the I/O models under the same echo load, side by side
  chat    an interactive chat client for a chat server
  put     upload a file to a file server (resumes, checks sha256)
  get     download a file from a file server (resumes, checks sha256)

'python -m netlab COMMAND --help' lists a command's options and their defaults."""

EPILOG = """\
examples:
  python -m netlab demo --connections 50,1000 --duration 3
  python -m netlab serve pingpong --port 8888 --model threaded -v
  python -m netlab bench 127.0.0.1:8888 --scenario line --request ping --expect pong
  python -m netlab serve http --port 8080 &
  python -m netlab bench http://127.0.0.1:8080/get -c 100 -d 10 -H "Accept: */*"
  python -m netlab bench http://127.0.0.1:8080/post -m POST --body @file.json -R 5000
  python -m netlab serve files --port 12345 --root ./files &
  python -m netlab put 127.0.0.1:12345 big.iso
  python -m netlab get 127.0.0.1:12345 big.iso copy.iso"""


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
                   ("chat", "an interactive chat client", _add_chat),
                   ("put", "upload a file to a file server", _add_put),
                   ("get", "download a file from a file server", _add_get),
                   ("options", "print every server's options as Markdown tables",
                    lambda parser: None)]
    for name, purpose, add_options in subcommands:
        add_options(commands.add_parser(name, help=purpose, description=purpose,
                                        formatter_class=_HelpFormatter))
    return parser


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _range_text(option: dict[str, Any]) -> str:
    return range_text(option, "-")


def _add_option(parser: argparse.ArgumentParser, option: dict[str, Any], default: Any,
                help_text: str, aliases: Sequence[str] = ()) -> None:
    """One flag from one row of the engine's option tables."""
    flags = [_flag(option["name"]), *aliases]
    if option["type"] == "bool":
        # A flag that is on by default needs its --no- form to be turned off.
        action = argparse.BooleanOptionalAction if default else "store_true"
        parser.add_argument(*flags, action=action, default=default, help=help_text)
        return
    kinds = {"int": int, "float": float, "str": str, "bytes": str}
    metavar = (option["unit"] or option["type"]).split("/")[0].upper() \
        if not option["choices"] else None
    parser.add_argument(*flags, type=kinds[option["type"]], default=default, metavar=metavar,
                        choices=option["choices"] or None, help=help_text,
                        dest=option["name"])


def _app_options() -> dict[str, dict[str, Any]]:
    """Each app option once, with the apps that have it and each app's default."""
    merged: dict[str, dict[str, Any]] = {}
    for app in APPS.values():
        for option in app["options"]:
            entry = merged.setdefault(option["name"], {**option, "apps": {}})
            entry["apps"][app["name"]] = option["default"]
    return merged


def _add_serve(serve: argparse.ArgumentParser) -> None:
    """Every flag comes from the engine's tables (SERVER_OPTIONS and each app's options)."""
    serve.add_argument("app", choices=sorted(SERVERS), help="which server")
    for option in SERVER_OPTIONS:
        if option["name"] == "log_connections":
            continue  # -v below
        zero = none_note(option)[1:-1].replace("None or 0", "0")
        help_text = "; ".join(t for t in (option["help"], _range_text(option), zero) if t)
        _add_option(serve, option, option["default"], help_text)
    for option in _app_options().values():
        defaults = ", ".join(f"{app} {value!r}" for app, value in option["apps"].items()
                             if value is not None)
        help_text = f"{', '.join(option['apps'])}: {option['help']}"
        if defaults:
            help_text += f" (default: {defaults})"
        if _range_text(option):
            help_text += f"; {_range_text(option)}"
        _add_option(serve, option, None, help_text)
    for flag, (_, _, metavar, what) in _PROXY_REPEATABLE.items():
        serve.add_argument(f"--{flag}", action="append", default=[], metavar=metavar,
                           help=f"http-proxy: {what} (repeat for several)")
    serve.add_argument("--query-port", type=int, default=9998, metavar="PORT",
                       help="logs: the query port beside the ingest port (0: a free one; "
                            "-1: none)")
    serve.add_argument("--syslog-port", type=int, default=5514, metavar="PORT",
                       help="logs: the syslog port (RFC 5424/3164 over TCP; 0: a free one; "
                            "-1: none)")
    serve.add_argument("--forward", action="append", default=[], metavar="URL",
                       help="logs: forward every stored log to syslog://host:port (rsyslog) "
                            "or logs://host:port (another LogServer); repeat for failover "
                            "upstreams, in order of preference")
    serve.add_argument("-v", "--verbose", "--log-connections", dest="log_connections",
                       action="store_true", help="print a line per connection event")


# Repeatable flags that build one http-proxy option: flag -> (option, separator, metavar, help).
_PROXY_REPEATABLE = {
    "upstream": ("upstreams", " ", "HOST:PORT", "an upstream, as --upstreams 'A B'"),
    "set-header": ("set_headers", "\n", "'NAME: VALUE'", "a request field set for upstreams"),
    "remove-header": ("remove_headers", " ", "NAME", "a request field removed"),
}


def _serve_options(args: argparse.Namespace) -> tuple[Optional[dict[str, Any]], str]:
    """The options to build args.app's server with, or None and why the flags do not fit."""
    options: dict[str, Any] = {o["name"]: getattr(args, o["name"]) for o in SERVER_OPTIONS
                               if o["name"] not in ("host", "port")}
    mine = {o["name"] for o in APPS[args.app]["options"]}
    if args.app == "logs":  # LogServer: its query and syslog ports' options too
        mine |= {o["name"] for o in APPS["logs-query"]["options"]}
        mine |= {o["name"] for o in APPS["logs-syslog"]["options"]}
    for name, option in _app_options().items():
        value = getattr(args, name)
        if value is None:
            continue
        if name not in mine:
            return None, f"{_flag(name)} applies to {', '.join(option['apps'])}, not {args.app}"
        options[name] = value
    for flag, (name, separator, _, _) in _PROXY_REPEATABLE.items():
        given = getattr(args, flag.replace("-", "_"))
        if not given:
            continue
        if args.app != "http-proxy":
            return None, f"--{flag} applies to http-proxy, not {args.app}"
        options[name] = separator.join([*given, options.get(name) or ""]).strip()
    if args.app == "relay" and "target" not in options:
        return None, "serve relay needs --target HOST:PORT"
    if args.app == "http-proxy" and "upstreams" not in options:
        return None, "serve http-proxy needs --upstream HOST:PORT"
    return options, ""


# Short forms of bench's flags, wrk and ab style; the flags themselves come from LOAD_OPTIONS.
_BENCH_SHORT = {"connections": ["-c"], "threads": ["-t"], "duration": ["-d"],
                "requests": ["-n"], "rate": ["-R"], "size": ["-s"], "method": ["-m"],
                "response_timeout": ["--timeout"]}


def _add_bench(bench: argparse.ArgumentParser) -> None:
    """The load flags come from the engine's table (LOAD_OPTIONS), as serve's do."""
    bench.add_argument("target", metavar="HOST:PORT|URL",
                       help="the server; an http:// URL selects the http scenario and its path "
                            "(wrk style)")
    for option in LOAD_OPTIONS:
        if option["name"] in ("host", "port", "headers"):
            continue  # headers: -H below, once per header as wrk and curl take them
        zero = none_note(option)[1:-1].replace("None or 0", "0")
        help_text = "; ".join(t for t in (option["help"], _range_text(option), zero) if t)
        _add_option(bench, option, option["default"], help_text,
                    _BENCH_SHORT.get(option["name"], []))
    bench.add_argument("--codec", choices=sorted(CODECS), default=None,
                       help="framed scenario: the codec (default parameters)")
    bench.add_argument("--fixed-size", type=int, default=None,
                       help="framed scenario with FixedCodec of this size")
    bench.add_argument("-H", "--header", action="append", default=[], dest="header_lines",
                       metavar="'NAME: VALUE'", help="http: a request header (repeatable)")
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


def _add_put(put: argparse.ArgumentParser) -> None:
    put.add_argument("target", metavar="HOST:PORT", help="the file server")
    put.add_argument("path", help="the local file")
    put.add_argument("name", nargs="?", default=None,
                     help="its name on the server (default: the file's base name)")
    _add_transfer_flags(put)


def _add_get(get: argparse.ArgumentParser) -> None:
    get.add_argument("target", metavar="HOST:PORT", help="the file server")
    get.add_argument("name", help="the file's name on the server")
    get.add_argument("path", nargs="?", default=None,
                     help="where to write it (default: its base name here; a directory: "
                          "inside it)")
    _add_transfer_flags(get)


def _add_transfer_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="start from the first byte even if a partial transfer exists")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="longest silence of the server before giving up")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--models", default=",".join(MODELS),
                      help="comma-separated I/O models")
    demo.add_argument("--connections", default="50,1000", help="comma-separated counts")
    demo.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    demo.add_argument("--size", type=int, default=64, help="message bytes")
    demo.add_argument("--threads", type=int, default=1, help="load generator threads")
    demo.add_argument("--out", default=None,
                      help="also write the legend, tables and conclusions to this file")


def _options(args: argparse.Namespace) -> int:
    print(options_markdown())
    print("Load generator (`LoadGenerator` and `python -m netlab bench`):\n")
    print(load_options_markdown(), end="")
    return 0


def _print_stats_on_sigusr1(server: Any) -> None:
    """``kill -USR1 PID`` prints one ``stats: {...}`` JSON line (as dd prints its progress):
    how a benchmark reads a server's counters from outside its process."""
    def on_usr1(signum: int, frame: Any) -> None:
        print("stats: " + json.dumps(server.stats()), flush=True)

    signal.signal(signal.SIGUSR1, on_usr1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _serve(args: argparse.Namespace) -> int:
    options, problem = _serve_options(args)
    if options is None:
        print(f"netlab: error: {problem}", file=sys.stderr)
        return 2
    if args.log_connections:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        if args.app == "logs":
            from netlab.logs import LogServer
            query_port = None if args.query_port < 0 else args.query_port
            syslog_port = None if args.syslog_port < 0 else args.syslog_port
            server: Any = LogServer(args.port, args.host, query_port=query_port,
                                    syslog_port=syslog_port, forward=args.forward or None,
                                    **options)
        else:
            server = SERVERS[args.app](args.port, args.host, **options)
        server.listen()
    except (OSError, ValueError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 1
    # Whoever reads the banner may signal at once: the handlers come first.
    _print_stats_on_sigusr1(server)
    signal.signal(signal.SIGTERM, _interrupt)  # serve() puts its own in place in turn
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    try:
        query = f", queries on {server.query_port}" if getattr(server, "query_port", 0) else ""
        if getattr(server, "syslog_port", 0):
            query += f", syslog on {server.syslog_port}"
        if getattr(args, "forward", None) and args.app == "logs":
            query += f", forwarding to {' then '.join(args.forward)}"
        print(f"netlab {args.app} server ({args.model}{workers}) listening on "
              f"{args.host}:{server.port}{query}; Ctrl+C to stop", flush=True)
        if args.log_connections:
            print(f"options: {server.options()}", flush=True)
        server.serve()
    except KeyboardInterrupt:  # before serve() had taken over
        server.stop()
    if args.log_connections:
        print(f"stopped: {server.stats()}", flush=True)
    return 0


def _bench(args: argparse.Namespace) -> int:
    codec = None
    if args.fixed_size is not None:
        codec = FixedCodec(args.fixed_size)
    elif args.codec:
        codec = CODECS[args.codec]()
    try:
        options = {o["name"]: getattr(args, o["name"]) for o in LOAD_OPTIONS
                   if o["name"] not in ("host", "port", "headers")}
        options["headers"] = "\n".join(args.header_lines)
        if "://" in args.target:
            host, port, path = parse_url(args.target)
            options["scenario"] = "http"
            if options["path"] == "/":  # an explicit --path wins over the URL's
                options["path"] = path
        else:
            host, port = parse_target(args.target)
        body = options.get("body")
        if isinstance(body, str) and body.startswith("@"):  # curl's and wrk's @file
            with open(body[1:], "rb") as f:
                options["body"] = f.read()
        gen = LoadGenerator(host, port, codec=codec, **options)
    except (OSError, ValueError) as exc:
        print(f"netlab: error: {exc}", file=sys.stderr)
        return 2
    live = sys.stderr.isatty() and not args.json

    def progress(second: TimelineSecond) -> None:
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


def _transfer(args: argparse.Namespace) -> int:
    """put and get: a tqdm bar with throughput and ETA; the sha256 printed at the end."""
    from tqdm import tqdm

    from netlab.files import FileClient

    host, port = parse_target(args.target)
    client = FileClient(host, port, timeout=args.timeout)
    label = args.name or (args.path if args.command == "put" else "")
    bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
               disable=args.quiet or None, dynamic_ncols=True)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    try:
        if args.command == "put":
            result = client.upload(args.path, args.name, resume=args.resume, progress=progress)
        else:
            result = client.download(args.name, args.path, resume=args.resume,
                                     progress=progress)
    except OSError as e:
        bar.close()
        print(f"netlab {args.command}: {e.strerror or e}", file=sys.stderr)
        return 1
    bar.close()
    seconds = max(result["seconds"], 1e-9)
    moved = result["size"] - result["resumed_from"]
    resumed = f", resumed at byte {result['resumed_from']}" if result["resumed_from"] else ""
    print(f"{result['sha256']}  {result['name']}  ({result['size']} bytes in {seconds:.2f} s, "
          f"{moved / seconds / 1e6:.1f} MB/s{resumed})")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _build_parser().parse_args(argv)
    handlers = {"serve": _serve, "bench": _bench, "demo": _demo, "chat": _chat,
                "options": _options, "put": _transfer, "get": _transfer}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
