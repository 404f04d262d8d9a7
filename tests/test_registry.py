"""The app registry and the option tables: every option written once in C++ reaches the
Python classes, the CLI and the README, and a value set anywhere is the value the running
engine holds."""

from __future__ import annotations

import ast
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import netlab
from conftest import CliServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def non_default(option: dict[str, Any], app: str) -> Any:
    """A valid value other than the default, for each kind of option."""
    name, default = option["name"], option["default"]
    if name == "host":
        return "127.0.0.1" if default != "127.0.0.1" else "localhost"
    if name == "port":
        return 0
    if name == "target":
        return f"127.0.0.1:{free_port()}"
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
def test_every_option_set_from_python_reaches_the_running_engine(app: str) -> None:
    cls = netlab.SERVERS[app]
    assert cls.app == app
    for option in all_options(app):
        if option["name"] in ("port", "host"):
            continue
        value = non_default(option, app)
        kwargs: dict[str, Any] = {option["name"]: value}
        if app == "relay" and option["name"] != "target":
            kwargs["target"] = "127.0.0.1:9"
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


def test_every_option_set_on_the_command_line_reaches_the_running_engine() -> None:
    """One CLI run per app, every option at a non-default value at once."""
    for app in sorted(netlab.APPS):
        args: list[str] = [app, "-v"]
        expected: dict[str, Any] = {}
        for option in all_options(app):
            name = option["name"]
            if name in ("port", "host", "log_connections", "workers"):
                continue
            value = non_default(option, app)
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
