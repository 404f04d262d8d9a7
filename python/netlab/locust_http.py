"""A Locust HTTP user whose requests go through netlab's native client, with the part of
Locust's ``FastHttpUser`` client that locustfiles use, so switching is one import::

    from netlab.locust import FastHttpUser      # was: from locust import FastHttpUser

    class Api(FastHttpUser):
        @task
        def get(self):
            self.client.get("/get", params={"q": 1}, name="/get")
            with self.client.post("/post", json={"a": 1}, catch_response=True) as r:
                if r.json()["body_size"] != 8:
                    r.failure("wrong size")

Requests are sent and responses parsed and timed by the C++ engine on a native I/O thread
(one per host in the process), as netlab.locust's TCP users are; each user keeps its own
keep-alive connection. Redirects are not followed unless ``allow_redirects=True`` (then at
most 5, same host only, since the connection belongs to one host).
"""

from __future__ import annotations

import datetime
import json as jsonlib
from typing import Any, Iterator, Mapping, Optional, Union
from urllib.parse import urlencode, urlsplit

from locust import User
from locust.env import Environment
from locust.exception import CatchResponseError, ResponseError

from netlab import _core
from netlab.locust import _Engine

Headers = Union[Mapping[str, str], list[tuple[str, str]], None]


class HttpError(ResponseError):
    """An HTTP status of 400 or more, or a transport failure (``kind``: refused, reset,
    timeout, closed, protocol, ...)."""


class CaseInsensitiveHeaders(Mapping[str, str]):
    """Response header fields by name, any case; a repeated field's values joined by ", "."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields
        self._index: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            self._index[key] = f"{self._index[key]}, {value}" if key in self._index else value
            self._names.setdefault(key, name)

    def __getitem__(self, name: str) -> str:
        return self._index[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._index)

    def items_raw(self) -> list[tuple[str, str]]:
        """Every field as received, in order."""
        return list(self._fields)

    def __repr__(self) -> str:
        return f"CaseInsensitiveHeaders({dict(self.items())!r})"


class HttpResponse:
    """A response as FastHttpUser's: ``status_code`` (0 when no response arrived),
    ``headers``, ``content``, ``text``, ``json()``, ``elapsed``, ``ok``, ``raise_for_status()``,
    ``url``, ``error``."""

    def __init__(self, url: str, status_code: int, headers: list[tuple[str, str]],
                 content: bytes, elapsed: datetime.timedelta,
                 error: Optional[Exception] = None) -> None:
        self.url = url
        self.status_code = status_code
        self.headers = CaseInsensitiveHeaders(headers)
        self.content = content
        self.elapsed = elapsed
        self.error = error

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type's charset (UTF-8 when none is given)."""
        charset = "utf-8"
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        return self.content.decode(charset, errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def ok(self) -> bool:
        return self.error is None and 0 < self.status_code < 400

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise self.error
        if self.status_code >= 400:
            raise HttpError(f"{self.status_code} for {self.url}")

    def __repr__(self) -> str:
        return f"<HttpResponse [{self.status_code}]>"


class ResponseContextManager(HttpResponse):
    """What ``catch_response=True`` returns: in a ``with`` block, call ``success()`` or
    ``failure(message)``; without either, the status decides (as without catch_response)."""

    def __init__(self, response: HttpResponse, report: Any) -> None:
        self.__dict__.update(response.__dict__)
        self._report = report
        self._verdict: Union[None, bool, Exception] = None

    def __enter__(self) -> "ResponseContextManager":
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if self._verdict is not None:
            self._report(None if self._verdict is True else self._verdict)
            return exc is None
        if exc is not None:
            if isinstance(exc, ResponseError):
                self._report(exc)
                return True
            return False
        try:
            self.raise_for_status()
            self._report(None)
        except Exception as error:  # noqa: BLE001 - reported to Locust, as FastHttpUser does
            self._report(error)
        return True

    def success(self) -> None:
        self._verdict = True

    def failure(self, message: Union[str, Exception]) -> None:
        self._verdict = message if isinstance(message, Exception) else CatchResponseError(message)


class HttpSession:
    """FastHttpUser's ``self.client``: ``get/post/put/patch/delete/head/options/request``.

    Args:
        base_url: ``http://host[:port]`` (Locust's ``--host``); paths are relative to it.
    """

    user_agent = "netlab-locust"

    def __init__(self, environment: Environment, base_url: str, *,
                 connect_timeout: float = 5.0, response_timeout: float = 60.0,
                 max_response: int = 64 << 20) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"expected --host http://HOST[:PORT], got {base_url!r} "
                             "(https is not spoken)")
        self.environment = environment
        self.base_url = base_url.rstrip("/")
        self.authority = url.netloc
        self.engine = _Engine.get(host=url.hostname, port=url.port or 80, scenario="http",
                                  connect_timeout=connect_timeout,
                                  response_timeout=response_timeout, max_response=max_response)
        self.conn = self.engine.native.open_connection()

    def request(self, method: str, url: str, name: Optional[str] = None,
                headers: Headers = None, params: Optional[Mapping[str, Any]] = None,
                data: Union[bytes, str, Mapping[str, Any], None] = None, json: Any = None,
                catch_response: bool = False, allow_redirects: bool = False,
                context: Optional[dict[str, Any]] = None,
                **_ignored: Any) -> Union[HttpResponse, ResponseContextManager]:
        """Sends one request and waits (cooperatively) for its response; reports it to
        Locust as ``method`` / ``name`` (default: the path)."""
        target = self._target(url, params)
        response = self._exchange(method.upper(), target, headers, data, json)
        for _ in range(5 if allow_redirects else 0):
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                break
            if response.status_code == 303 or (response.status_code in (301, 302) and method != "HEAD"):
                method, data, json = "GET", None, None
            response = self._exchange(method.upper(), self._target(location, None), headers,
                                      data, json)
        meta = {"request_type": method.upper(), "name": name or urlsplit(target).path,
                "response_time": response.elapsed.total_seconds() * 1000,
                "response_length": len(response.content), "response": response,
                "context": context or {}, "url": response.url}

        def report(exception: Optional[BaseException]) -> None:
            self.environment.events.request.fire(exception=exception, **meta)  # type: ignore[no-untyped-call]

        if catch_response:
            return ResponseContextManager(response, report)
        try:
            response.raise_for_status()
            report(None)
        except Exception as error:  # noqa: BLE001
            report(error)
        return response

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.request("DELETE", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> Any:
        return self.request("HEAD", url, **kwargs)

    def options(self, url: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", url, **kwargs)

    def close(self) -> None:
        self.engine.native.close_connection(self.conn)

    def _target(self, url: str, params: Optional[Mapping[str, Any]]) -> str:
        if "://" in url:
            parts = urlsplit(url)
            if parts.netloc != self.authority:
                raise ValueError(f"{url!r}: this client talks to {self.base_url} only")
            url = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not url.startswith("/"):
            url = "/" + url
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    def _exchange(self, method: str, target: str, headers: Headers, data: Any,
                  json: Any) -> HttpResponse:
        wire = self._wire(method, target, headers, data, json)
        done = self.engine.request_http(self.conn, wire, method == "HEAD")
        url = self.base_url + target
        if done is None:
            return HttpResponse(url, 0, [], b"", datetime.timedelta(0),
                                HttpError("the client's submission queue is full"))
        elapsed = datetime.timedelta(microseconds=done.latency_ns / 1000)
        if not done.ok:
            return HttpResponse(url, 0, [], b"", elapsed,
                                HttpError(f"{done.error_kind}: {done.message}"))
        return HttpResponse(url, done.status, done.headers, done.body, elapsed)

    def _wire(self, method: str, target: str, headers: Headers, data: Any, json: Any) -> bytes:
        fields = {"Host": self.authority, "User-Agent": self.user_agent, "Accept": "*/*"}
        body = b""
        if json is not None:
            body = jsonlib.dumps(json).encode()
            fields["Content-Type"] = "application/json"
        elif isinstance(data, Mapping):
            body = urlencode(data, doseq=True).encode()
            fields["Content-Type"] = "application/x-www-form-urlencoded"
        elif isinstance(data, str):
            body = data.encode()
        elif data is not None:
            body = bytes(data)
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or [])
        given = {name.lower() for name, _ in pairs}
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{n}: {v}" for n, v in fields.items() if n.lower() not in given]
        lines += [f"{n}: {v}" for n, v in pairs]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class FastHttpUser(User):
    """A Locust user with an :class:`HttpSession` as ``self.client`` for ``--host
    http://HOST:PORT``: a drop-in for ``locust.FastHttpUser`` in the locustfiles that use its
    common API. ``connect_timeout`` and ``network_timeout`` (the response timeout) are class
    attributes, as there."""

    abstract = True
    connect_timeout = 5.0
    network_timeout = 60.0
    max_response = 64 << 20

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        if not self.host:
            raise ValueError("no host: pass --host http://HOST:PORT or set host on the class")
        self.client = HttpSession(environment, self.host, connect_timeout=self.connect_timeout,
                                  response_timeout=self.network_timeout,
                                  max_response=self.max_response)

    def on_stop(self) -> None:
        self.client.close()


NetlabHttpUser = FastHttpUser
"""The same class under a name that says whose it is."""
