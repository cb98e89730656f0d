"""Web search APIs: SerpAPI, Serper and Google Programmable Search over HTTP, DuckDuckGo via `ddgs`.

HTTP goes through the standard library in a worker thread, so no HTTP client is added to the
dependencies. Every failure becomes one `SearchEngineError` sentence that says what to check.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from metagpt.exceptions import SearchEngineError
from metagpt.tools.search_base import SearchEngine, SearchResult


class HttpSearchEngine(SearchEngine):
    """A JSON search API; `base_url` can point elsewhere (a proxy, or a test server)."""

    key_setting: str = ""

    def __init__(self, base_url: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def _request(self, path: str, params: dict[str, Any] | None = None, body: Any = None, headers=None) -> Any:
        url = f"{self.base_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        return await asyncio.to_thread(self._send, request)

    def _send(self, request: urllib.request.Request) -> Any:
        host = urllib.parse.urlsplit(self.base_url).netloc
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            reason = _error_message(exc.read())
            if exc.code in (401, 403):
                raise SearchEngineError(
                    f"{self.name} refused the API key ({exc.code}: {reason}); check {self.key_setting}."
                ) from None
            raise SearchEngineError(f"{self.name} search failed ({exc.code}: {reason}).") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            cause = getattr(exc, "reason", exc)
            raise SearchEngineError(
                f"Could not reach {self.name} at {_brief(host)} ({_brief(cause)}); check the network."
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SearchEngineError(f"{self.name} answered with something that is not JSON ({_brief(exc)}).") from None


def _error_message(raw: bytes) -> str:
    """The API's own error text (`{"error": "..."}` or `{"error": {"message": "..."}}`), else the body."""
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _brief(raw.decode("utf-8", "replace")) or "no details"
    error = body.get("error", body.get("message", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return _brief(error)


def _brief(value: object, limit: int = 200) -> str:
    """`value` as one line of at most `limit` characters: an error quotes what it got, never all of it."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _results(items: Any, link: str = "link", snippet: str = "snippet") -> list[SearchResult]:
    return [
        SearchResult(title=item.get("title", ""), link=item.get(link, ""), snippet=item.get(snippet, ""))
        for item in items or []
        if isinstance(item, dict) and item.get(snippet)
    ]


def _answer_box(box: Any) -> list[SearchResult]:
    """Google's direct answer, when the API returns one, as the first result."""
    if not isinstance(box, dict):
        return []
    text = box.get("answer") or box.get("snippet")
    return [SearchResult(title=box.get("title", "Answer"), link=box.get("link", ""), snippet=text)] if text else []


class SerpAPIEngine(HttpSearchEngine):
    """Google results through serpapi.com (`SERPAPI_API_KEY`)."""

    name = "SerpAPI (Google)"
    key_setting = "SERPAPI_API_KEY"

    def __init__(self, api_key: str, base_url: str = "https://serpapi.com", timeout: float = 30.0):
        super().__init__(base_url, timeout)
        self.api_key = api_key

    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        params = {"engine": "google", "q": query, "num": max_results, "api_key": self.api_key, "output": "json"}
        data = await self._request("/search", params=params)
        return (_answer_box(data.get("answer_box")) + _results(data.get("organic_results")))[:max_results]


class SerperEngine(HttpSearchEngine):
    """Google results through google.serper.dev (`SERPER_API_KEY`)."""

    name = "Serper (Google)"
    key_setting = "SERPER_API_KEY"

    def __init__(self, api_key: str, base_url: str = "https://google.serper.dev", timeout: float = 30.0):
        super().__init__(base_url, timeout)
        self.api_key = api_key

    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        data = await self._request(
            "/search", body={"q": query, "num": max_results}, headers={"X-API-KEY": self.api_key}
        )
        return (_answer_box(data.get("answerBox")) + _results(data.get("organic")))[:max_results]


class GoogleEngine(HttpSearchEngine):
    """Google Programmable Search (Custom Search JSON API): `GOOGLE_API_KEY` and `GOOGLE_CSE_ID`."""

    name = "Google Programmable Search"
    key_setting = "GOOGLE_API_KEY and GOOGLE_CSE_ID"

    def __init__(self, api_key: str, cse_id: str, base_url: str = "https://www.googleapis.com", timeout: float = 30.0):
        super().__init__(base_url, timeout)
        self.api_key = api_key
        self.cse_id = cse_id

    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        params = {"key": self.api_key, "cx": self.cse_id, "q": query, "num": min(max_results, 10)}
        data = await self._request("/customsearch/v1", params=params)
        return _results(data.get("items"))[:max_results]


class DuckDuckGoEngine(SearchEngine):
    """DuckDuckGo through the `ddgs` package (no key; `pip install ddgs`)."""

    name = "DuckDuckGo"

    async def search(self, query: str, max_results: int = 8) -> list[SearchResult]:
        try:
            from ddgs import DDGS
        except ImportError:
            raise SearchEngineError("SEARCH_ENGINE is ddg but the ddgs package is missing: pip install ddgs.") from None

        def text() -> list[dict[str, Any]]:
            try:
                return list(DDGS().text(query, max_results=max_results) or [])
            except Exception as exc:  # ddgs raises its own exception types for network failures
                raise SearchEngineError(f"DuckDuckGo search failed ({_brief(exc)}); check the network.") from None

        return _results(await asyncio.to_thread(text), link="href", snippet="body")[:max_results]
