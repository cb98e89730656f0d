"""The server's trust boundary, as one ASGI middleware in front of every route.

- `Host` must be the bound address or an allowed name (a DNS-rebinding page is refused);
- with a token, every request but the static files needs it: `Authorization: Bearer T`, or
  the HttpOnly SameSite=Strict cookie that `?token=T` sets (then redirects the token away);
- a request that changes something (not GET/HEAD) needs a same-origin `Origin` (or a Bearer
  token, which no cross-site page can send) and a JSON body within `max_body` bytes;
- every answer carries a strict Content-Security-Policy (no inline script, nothing from
  elsewhere), `nosniff`, no framing and no referrer.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

COOKIE = "metagpt_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
SAFE_METHODS = ("GET", "HEAD")
MAX_BODY_BYTES = 64 * 1024

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::")


@dataclass
class Guard:
    """What the middleware enforces."""

    port: int
    host: str = "127.0.0.1"
    token: str | None = None
    allowed_hosts: set[str] = field(default_factory=set)
    """Extra names (without port) a request's Host may carry."""
    max_body: int = MAX_BODY_BYTES

    def host_allowed(self, header: str) -> bool:
        name, _, port = header.rpartition(":") if not header.endswith("]") else (header, "", "")
        if not name or "]" in port:
            name, port = header, ""
        if port and port != str(self.port):
            return False
        name = name.lower()
        names = {self.host.lower(), *(h.lower() for h in self.allowed_hosts)}
        if is_loopback(self.host) or is_wildcard(self.host):
            names |= {"127.0.0.1", "localhost", "[::1]"}
        if ":" in self.host and not self.host.startswith("["):
            names.add(f"[{self.host.lower()}]")
        return name in names

    def token_ok(self, value: str | None) -> bool:
        if not self.token or value is None:
            return False
        return hmac.compare_digest(value.encode(), self.token.encode())


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _plain(send: Callable, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": text}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Applies `Guard` to every HTTP request (see the module docstring)."""

    def __init__(self, app: ASGIApp, guard: Guard):
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self.guard
        host = _header(scope, b"host") or ""
        if not guard.host_allowed(host):
            await _plain(send, 421, "this server does not answer for that Host")
            return
        method = scope["method"]
        path = scope.get("path", "")
        bearer = False
        if guard.token and not path.startswith("/static/"):
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            auth = _header(scope, b"authorization") or ""
            cookie = SimpleCookie()
            try:
                cookie.load(_header(scope, b"cookie") or "")
            except Exception:  # a malformed cookie header is no token
                cookie = SimpleCookie()
            bearer = auth.startswith("Bearer ") and guard.token_ok(auth[7:].strip())
            from_cookie = COOKIE in cookie and guard.token_ok(cookie[COOKIE].value)
            if method in SAFE_METHODS and guard.token_ok(query.get("token")):
                await self._set_cookie(scope, send, query)
                return
            if not (bearer or from_cookie):
                await _plain(send, 401, "a token is needed: open the URL the server printed, or send a Bearer token")
                return
        if method not in SAFE_METHODS:
            origin = _header(scope, b"origin")
            if not bearer and origin != f"http://{host}":
                await _plain(send, 403, "cross-origin request refused")
                return
            length = _header(scope, b"content-length")
            if length is not None and (not length.isdigit() or int(length) > guard.max_body):
                await _plain(send, 413, f"the body is over {guard.max_body} bytes")
                return
            receive = _limited(receive, guard.max_body)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":  # a route's own policy (a picture's) stays
                own = {key.lower() for key, _ in message.get("headers", [])}
                extra = [(key, value) for key, value in HEADERS if key not in own]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except _TooLarge:
            await _plain(send, 413, f"the body is over {guard.max_body} bytes")

    async def _set_cookie(self, scope: Scope, send: Callable, query: dict[str, str]) -> None:
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope.get("path", "/") + (f"?{rest}" if rest else "")
        cookie = f"{COOKIE}={self.guard.token}; HttpOnly; SameSite=Strict; Path=/"
        headers = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), *HEADERS]
        await send({"type": "http.response.start", "status": 303, "headers": [*headers, (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


class _TooLarge(Exception):
    pass


def _limited(receive: Callable, limit: int) -> Callable:
    seen = 0

    async def limited() -> dict:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return limited
