"""`call_json_api`: GET or POST a JSON API on a host the user allowed, with time and size limits."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from urllib.parse import urlencode, urlsplit

from metagpt.exceptions import UserError
from metagpt.tools.context import tool_context
from metagpt.tools.registry import register_tool

TIMEOUT = 15.0
MAX_BYTES = 1 << 20
"""Largest response body read; a larger one is refused."""


def host_allowed(url: str, allowed: list[str]) -> bool:
    """True when the URL's `host` or `host:port` is on the allow-list (http and https only)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    names = {a.lower().strip() for a in allowed}
    return host in names or f"{host}:{port}" in names


@register_tool(tags=["http", "api", "json", "web service", "rest", "fetch", "request"])
async def call_json_api(url: str, method: str = "GET", params: dict | None = None, body: dict | None = None) -> object:
    """Call an HTTP JSON API (REST web service) and return its decoded JSON answer.

    Only hosts in HTTP_ALLOWED_HOSTS can be called; redirects are not followed.

    Args:
        url: the full http(s) URL of the endpoint.
        method: GET or POST.
        params: query-string parameters.
        body: a JSON body for POST.
    """
    context = tool_context()
    allowed = context.config.http_allowed_hosts
    if not host_allowed(url, allowed):
        raise UserError(
            f"{urlsplit(url).netloc or url} is not an allowed host; add it to HTTP_ALLOWED_HOSTS "
            f"(allowed: {', '.join(allowed) or 'none'})."
        )
    if method.upper() not in ("GET", "POST"):
        raise ValueError("method must be GET or POST")
    if params:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
    status, data = await asyncio.to_thread(_fetch, url, method.upper(), body)
    if status >= 400:
        raise ValueError(f"{url} answered HTTP {status}: {data[:300].decode(errors='replace')}")
    try:
        return json.loads(data)
    except ValueError:
        raise ValueError(f"{url} did not answer JSON: {data[:200].decode(errors='replace')!r}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead off the allow-list
        return None


def _fetch(url: str, method: str, body: dict | None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {})}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        response = opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        response = exc
    with response:
        payload = response.read(MAX_BYTES + 1)
        if len(payload) > MAX_BYTES:
            raise ValueError(f"the answer from {url} is over {MAX_BYTES} bytes")
        return response.status if hasattr(response, "status") else response.code, payload
