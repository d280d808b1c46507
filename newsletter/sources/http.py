"""HTTP GET with one overall deadline (connect, headers and body) and a redirect policy.

urllib's timeout bounds each socket operation, not the request: a server that sends its status
line and headers one byte at a time keeps a fetch alive for ever. Here every read and write on
the socket gets the time that is left until one deadline, and a redirect is followed only to
http(s) on a host the caller allows.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import urljoin, urlsplit


class DeadlineExceeded(TimeoutError):
    """The whole request took longer than its deadline."""


class RedirectRefused(OSError):
    """A redirect to a scheme or host the caller does not allow."""

    def __init__(self, target: str, why: str) -> None:
        super().__init__(f"redirect to {target} refused: {why}")
        self.target = target
        self.why = why


class Budget:
    """One request's deadline (time.monotonic()) and how many bytes have arrived so far."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.received = 0

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded("deadline passed")
        return left


class _DeadlineSocket:
    """A socket whose every blocking call is bounded by the time left until the deadline."""

    def __init__(self, sock: socket.socket, budget: Budget) -> None:
        self._sock = sock
        self._budget = budget

    def _arm(self) -> None:
        self._sock.settimeout(self._budget.left())

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._arm()
        got = self._sock.recv_into(buffer, nbytes)
        self._budget.received += got
        return got

    def recv(self, nbytes: int) -> bytes:
        self._arm()
        data = self._sock.recv(nbytes)
        self._budget.received += len(data)
        return data

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: Any) -> io.IOBase:
        # As socket.makefile does: the file holds a reference, so closing the connection's
        # socket (urllib does at once) leaves it open until the response is read.
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._sock._decref_socketios()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _connection(base: type[http.client.HTTPConnection], budget: Budget) -> Callable[..., Any]:
    class Connection(base):  # type: ignore[valid-type, misc]
        def connect(self) -> None:
            self.timeout = budget.left()  # the TCP connect and the TLS handshake
            super().connect()
            raw: socket.socket = self.sock  # type: ignore[has-type]
            self.sock = _DeadlineSocket(raw, budget)

    return Connection


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self._budget = budget

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(http.client.HTTPConnection, self._budget), req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, budget: Budget) -> None:
        super().__init__(context=ssl.create_default_context())
        self._budget = budget

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            _connection(http.client.HTTPSConnection, self._budget),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allowed_hosts: Collection[str]) -> None:
        super().__init__()
        self._allowed = {h.lower() for h in allowed_hosts}

    def http_error_302(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
    ) -> Any:
        # Checked before urllib's own handling, which answers a redirect to another scheme with
        # an HTTPError and would follow ftp:.
        location = headers.get("location") or headers.get("uri")
        if location:
            self._check(urljoin(req.full_url, location))
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    def _check(self, target: str) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https"):
            raise RedirectRefused(target, "only http and https are followed")
        host = (parts.hostname or "").lower()
        if host not in self._allowed:
            raise RedirectRefused(target, f"host {host or '(none)'} is not allowed")

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        target = urljoin(req.full_url, newurl)
        self._check(target)
        return super().redirect_request(req, fp, code, msg, headers, target)


def open_url(
    request: urllib.request.Request, budget: Budget, allowed_hosts: Collection[str]
) -> http.client.HTTPResponse:
    """Open request; every socket wait ends by the budget's deadline, redirects are checked.

    Raise DeadlineExceeded when the deadline passes (also while reading the body later),
    RedirectRefused for a redirect outside allowed_hosts or to another scheme, and urllib's
    own errors for the rest.
    """
    opener = urllib.request.OpenerDirector()
    for handler in (
        _HTTP(budget),
        _HTTPS(budget),
        _Redirects(allowed_hosts),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    response: http.client.HTTPResponse = opener.open(request, timeout=budget.left())
    return response
