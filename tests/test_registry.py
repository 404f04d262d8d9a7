"""The app registry and the option tables: every option written once in C++ reaches the
Python classes, the CLI and the README, and a value set anywhere is the value the running
engine holds."""

from __future__ import annotations

import ast
import inspect
import os
import re
import subprocess
import tempfile
import time
import sys
from pathlib import Path
from typing import Any

import pytest

import netlab
from conftest import CliServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def non_default(option: dict[str, Any], app: str, tmp: Path) -> Any:
    """A valid value other than the default, for each kind of option; paths lie under
    ``tmp`` (pytest's tmp_path), so runs leave nothing behind."""
    name, default = option["name"], option["default"]
    if name == "host":
        return "127.0.0.1" if default != "127.0.0.1" else "localhost"
    if name == "port":
        return 0
    if name == "target":
        return f"127.0.0.1:{free_port()}"
    if name == "upstreams":
        return f"127.0.0.1:{free_port()} 127.0.0.1:{free_port()}"
    if name == "access_log":
        return os.path.join(tempfile.mkdtemp(dir=tmp), "access.log")
    if name == "data_dir":
        return os.path.join(tempfile.mkdtemp(dir=tmp), "logs")
    if name == "root":
        return os.path.join(tempfile.mkdtemp(dir=tmp), "files")
    texts = {"set_headers": "X-Test: 1", "remove_headers": "X-Debug",
             "deny": "path=/admin from=10.0.0.0/8", "connect_allow": "127.0.0.1:443",
             "health_check": "/healthz", "gzip_types": "text/html application/json",
             "allow": "127.0.0.0/8 ::1", "token": "s3cret"}
    if name in texts:
        return texts[name]
    if option["choices"]:
        return next(c for c in option["choices"] if c != default)
    if option["type"] == "bool":
        return not default
    if option["type"] == "int":
        base = option["min"] if default is None else default
        value = int(base) + 7
        return value if value <= option["max"] else int(base) - 7
    if option["type"] == "float":
        base = option["min"] if default is None else default
        value = round(float(base) + 1.25, 3)
        return value if value <= option["max"] else round(float(base) - 0.25, 3)
    raise AssertionError(f"no test value for {option}")


def all_options(app: str) -> list[dict[str, Any]]:
    return list(netlab.APPS[app]["options"]) + list(netlab.SERVER_OPTIONS)


@pytest.mark.parametrize("app", sorted(netlab.APPS))
def test_every_option_set_from_python_reaches_the_running_engine(app: str,
                                                                   tmp_path: Path) -> None:
    cls = netlab.SERVERS[app]
    assert cls.app == app
    for option in all_options(app):
        if option["name"] in ("port", "host"):
            continue
        value = non_default(option, app, tmp_path)
        kwargs: dict[str, Any] = {option["name"]: value}
        if app == "relay" and option["name"] != "target":
            kwargs["target"] = "127.0.0.1:9"
        if app == "http-proxy" and option["name"] != "upstreams":
            kwargs["upstreams"] = "127.0.0.1:9"
        data_dir = [o for o in all_options(app) if o["name"] == "data_dir"]
        if data_dir and option["name"] != "data_dir":  # not ./netlab-logs in the repository
            kwargs["data_dir"] = non_default(data_dir[0], app, tmp_path)
        with cls(0, **kwargs) as server:
            held = server.options()[option["name"]]
            assert held == value, (option["name"], held, value)
            assert server.running


@pytest.mark.parametrize("app", sorted(netlab.APPS))
def test_signature_and_docstring_list_every_option_with_its_engine_default(app: str) -> None:
    cls = netlab.SERVERS[app]
    params = inspect.signature(cls).parameters
    for option in all_options(app):
        assert option["name"] in params, option["name"]
        if option["name"] in ("port", "host"):
            continue  # positional, documented in Server's own docstring
        assert params[option["name"]].default == option["default"], option["name"]
        assert f"{option['name']}: " in (cls.__doc__ or "")


def test_every_option_set_on_the_command_line_reaches_the_running_engine(tmp_path: Path) -> None:
    """One CLI run per app, every option at a non-default value at once."""
    for app in sorted(netlab.APPS):
        args: list[str] = [app, "-v"]
        expected: dict[str, Any] = {}
        for option in all_options(app):
            name = option["name"]
            if name in ("port", "host", "log_connections", "workers"):
                continue
            value = non_default(option, app, tmp_path)
            expected[name] = value
            if option["type"] == "bool":
                if value:
                    args.append("--" + name.replace("_", "-"))
            else:
                args += ["--" + name.replace("_", "-"), str(value)]
        with CliServer(*args) as server:
            line = server.proc.stdout.readline()  # -v prints them after the banner
            code, output = server.stop()
        assert code == 0, output
        assert line.startswith("options: "), line
        held = ast.literal_eval(line[len("options: "):])
        for name, value in expected.items():
            assert held.get(name) == value, (app, name, line, value)


def test_a_flag_of_another_app_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "netlab", "serve", "echo", "--max-queue",
                             "5000", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "--max-queue applies to chat, not echo" in result.stderr


def test_unknown_option_is_a_type_error_and_a_wrong_type_a_value_error() -> None:
    with pytest.raises(TypeError, match="the echo server has no option 'max_queue'"):
        netlab.EchoServer(0, max_queue=10)
    with pytest.raises(ValueError, match="^high_water must be an integer$"):
        netlab.EchoServer(0, high_water=1.5)
    with pytest.raises(ValueError, match="^log_connections must be True or False$"):
        netlab.EchoServer(0, log_connections=1)
    with pytest.raises(TypeError, match="option backlog cannot be a list"):
        netlab.EchoServer(0, backlog=[1])


def test_codec_only_where_the_app_takes_one() -> None:
    with pytest.raises(ValueError, match="the pingpong server takes no codec"):
        netlab.PingPongServer(0, codec=netlab.LineCodec())


def test_locustfile_serves_every_app_of_the_registry_but_relay() -> None:
    source = (ROOT / "locust" / "tcp.py").read_text()
    assert "netlab.SERVERS" in source
    assert not re.search(r'"pingpong":\s*netlab\.PingPongServer', source)


def test_readme_option_tables_are_the_generated_ones() -> None:
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- options:begin -->\n", "<!-- options:end -->"
    assert begin in readme and end in readme
    block = readme.split(begin, 1)[1].split(end, 1)[0]
    assert block == netlab.servers.options_markdown(), (
        "README's option tables differ from the engine's: regenerate them with "
        "`python -m netlab options`")


def test_every_load_option_set_from_python_reaches_the_engine(tmp_path: Path) -> None:
    """The load generator's options come from one C++ table too: its signature shows them
    with the engine's defaults, and each value set is the value the engine holds."""
    params = inspect.signature(netlab.LoadGenerator).parameters
    codec = netlab.LengthPrefixCodec()
    for option in netlab.load.LOAD_OPTIONS:
        name = option["name"]
        assert name in params, name
        if name in ("host", "port"):
            continue
        assert params[name].default == option["default"], name
        value: Any = {"scenario": "framed", "request": b"abc", "expect": b"xyz",
                      "duration": 2.5, "rate": 50.0, "method": "PUT", "path": "/a /b",
                      "headers": b"X-A: 1\nX-B: 2", "body": b"{}"}.get(name)
        if value is None:
            value = non_default(option, "load", tmp_path)
        kwargs: dict[str, Any] = {name: value}
        if name == "think_time":
            kwargs["rate"] = None
        if name == "rooms":
            kwargs["connections"] = value
        gen = netlab.LoadGenerator("127.0.0.1", 9, codec=codec, **kwargs)
        assert gen.options()[name] == value, name


def test_load_option_errors_name_the_option_and_its_range() -> None:
    with pytest.raises(ValueError, match=r"pipeline must be between 1 and 1,?024 \(got 0\)"):
        netlab.LoadGenerator("127.0.0.1", 9, pipeline=0)
    with pytest.raises(ValueError, match=r"requests must be between 0 and .* \(got -1\)"):
        netlab.LoadGenerator("127.0.0.1", 9, requests=-1)
    with pytest.raises(TypeError, match="LoadGenerator has no option 'conections'"):
        netlab.LoadGenerator("127.0.0.1", 9, conections=5)
    with pytest.raises(ValueError, match="size must be an integer"):
        netlab.LoadGenerator("127.0.0.1", 9, size="big")


def test_chat_client_defaults_are_the_engines() -> None:
    defaults = {o["name"]: o["default"] for o in netlab._core.line_client_options()}
    params = inspect.signature(netlab.ChatClient).parameters
    for name in ("host", "port", "timeout", "max_line"):
        assert params[name].default == defaults[name], name
    with pytest.raises(ValueError, match="max_line must be between 1 and"):
        netlab.ChatClient("127.0.0.1", 9, max_line=0)


def test_async_client_completions_are_named_objects() -> None:
    with netlab.PingPongServer(port=0) as server:
        client = netlab._core.AsyncClient(host="127.0.0.1", port=server.port, scenario="line",
                                          request=b"ping", expect=b"pong")
        try:
            conn = client.open_connection()
            assert client.submit(conn, 7)
            assert client.submit(conn, 8, "hello", "nope")
            done: list[Any] = []
            deadline = time.monotonic() + 10
            while len(done) < 2 and time.monotonic() < deadline:
                done += client.drain()
                time.sleep(0.01)
        finally:
            client.shutdown()
    by_ticket = {d.ticket: d for d in done}
    assert by_ticket[7].ok and by_ticket[7].error_kind == "" and by_ticket[7].latency_ns > 0
    assert by_ticket[7].bytes == len(b"pong\n")
    failed = by_ticket[8]
    assert not failed.ok and failed.error_kind in ("mismatch", "timeout"), failed
    assert "Completion ticket=8 failed" in repr(failed)


def test_codec_exceptions_are_the_engines_and_live_in_netlab_codecs() -> None:
    from netlab import codecs
    assert codecs.FrameError is netlab._core.FrameError
    assert codecs.FrameTooLarge.__module__ == "netlab.codecs"
    with pytest.raises(codecs.FrameTooLarge) as caught:
        netlab.LineCodec(max_length=4).decoder().feed(b"ok\ntoolong\n")
    assert caught.value.frames == [b"ok"] and caught.value.offset == 3
    assert isinstance(caught.value, ValueError)


def test_readme_load_option_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- load-options:begin -->\n", "<!-- load-options:end -->"
    block = readme.split(begin, 1)[1].split(end, 1)[0]
    assert block == netlab.load.load_options_markdown(), (
        "README's load option table differs from the engine's: regenerate it with "
        "`python -m netlab options`")
