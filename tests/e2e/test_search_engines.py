"""Web search engines against recorded API answers on loopback, and SearchAndSummarize over them."""

from __future__ import annotations

import json

import pytest

from metagpt.actions import SearchAndSummarize
from metagpt.config import Config
from metagpt.context import Context
from metagpt.exceptions import SearchEngineError
from metagpt.llm import LLM
from metagpt.provider.fake import FakeProvider
from metagpt.tools.search_engine import NOT_CONFIGURED, SearchEngineType, engine_from_config
from metagpt.tools.web_search import DuckDuckGoEngine, GoogleEngine, SerpAPIEngine, SerperEngine
from tests.e2e.recorded_http import RecordedServer, recorded

QUERY = "best moisturiser for oily skin"
ANSWER_BOX = "Look for oil-free, non-comedogenic gel moisturisers with niacinamide or hyaluronic acid."
TOP_LINK = "https://www.example-health.com/best-moisturizers-oily-skin"


async def test_serpapi_sends_the_key_and_reads_answer_box_then_organic_results():
    with RecordedServer({("GET", "/search"): recorded("serpapi_search.json")}) as server:
        results = await SerpAPIEngine("serp-key", base_url=server.base_url).search(QUERY, max_results=3)

    (request,) = server.requests
    assert request.query["q"] == [QUERY] and request.query["api_key"] == ["serp-key"]
    assert request.query["engine"] == ["google"] and request.query["num"] == ["3"]
    assert next(r.snippet for r in results) == ANSWER_BOX
    assert [r.link for r in results][1:] == [TOP_LINK, "https://www.example-derm.org/oily-skin-faq"]


async def test_serper_posts_the_query_with_the_key_header():
    with RecordedServer({("POST", "/search"): recorded("serper_search.json")}) as server:
        results = await SerperEngine("serper-key", base_url=server.base_url).search(QUERY, max_results=2)

    (request,) = server.requests
    assert request.headers["x-api-key"] == "serper-key"
    assert request.body == {"q": QUERY, "num": 2}
    assert [(r.title, r.link) for r in results] == [
        (
            "Best moisturisers for oily skin, tested by dermatologists",
            "https://www.example-beauty.com/oily-skin-moisturisers",
        ),
        ("The 12 Best Moisturizers for Oily Skin of 2025", TOP_LINK),
    ]


async def test_google_programmable_search_sends_key_and_engine_id():
    with RecordedServer({("GET", "/customsearch/v1"): recorded("google_cse.json")}) as server:
        engine = GoogleEngine("g-key", "cse-id", base_url=server.base_url)
        text = await engine.run(QUERY, max_results=20)

    (request,) = server.requests
    assert (request.query["key"], request.query["cx"], request.query["num"]) == (["g-key"], ["cse-id"], ["10"])
    assert text.startswith(f"The 12 Best Moisturizers for Oily Skin of 2025 - {TOP_LINK}\nLightweight gel-cream")
    assert text.count("\n\n") == 1


@pytest.mark.parametrize(
    ("engine_class", "route", "recording", "status", "message"),
    [
        (
            SerpAPIEngine,
            ("GET", "/search"),
            "serpapi_invalid_key.json",
            401,
            r"refused the API key \(401: Invalid API key.*check SERPAPI_API_KEY",
        ),
        (
            SerperEngine,
            ("POST", "/search"),
            "serpapi_invalid_key.json",
            403,
            r"Serper \(Google\) refused the API key \(403",
        ),
    ],
)
async def test_a_refused_key_names_the_setting(engine_class, route, recording, status, message):
    with (
        RecordedServer({route: recorded(recording, status=status)}) as server,
        pytest.raises(SearchEngineError, match=message),
    ):
        await engine_class("bad", base_url=server.base_url).search(QUERY)


async def test_google_errors_carry_the_api_message():
    route = {("GET", "/customsearch/v1"): recorded("google_invalid_key.json", status=400)}
    with RecordedServer(route) as server, pytest.raises(SearchEngineError, match=r"search failed \(400: API key not"):
        await GoogleEngine("bad", "cx", base_url=server.base_url).search(QUERY)


async def test_no_network_is_one_clear_error():
    with RecordedServer({}) as server:
        closed = server.base_url
    with pytest.raises(
        SearchEngineError, match=r"Could not reach Serper \(Google\) at 127\.0\.0\.1:\d+ .*check the network"
    ):
        await SerperEngine("key", base_url=closed, timeout=5).search(QUERY)


def test_engine_from_config_picks_the_configured_engine():
    assert isinstance(engine_from_config(Config(serpapi_api_key="s")), SerpAPIEngine)
    assert isinstance(engine_from_config(Config(serpapi_api_key="s", serper_api_key="k")), SerperEngine)
    google = engine_from_config(Config(search_engine="google", google_api_key="g", google_cse_id="cx"))
    assert (google.api_key, google.cse_id) == ("g", "cx")
    assert isinstance(engine_from_config(Config(search_engine="ddg")), DuckDuckGoEngine)
    with pytest.raises(SearchEngineError, match="SEARCH_ENGINE is google but GOOGLE_CSE_ID is not set"):
        engine_from_config(Config(search_engine="google", google_api_key="g"))
    with pytest.raises(SearchEngineError, match="Web search is not configured"):
        engine_from_config(Config(serper_api_key="YOUR_API_KEY"))


async def test_duckduckgo_without_its_package_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ddgs", None)
    with pytest.raises(SearchEngineError, match="pip install ddgs"):
        await DuckDuckGoEngine().search(QUERY)


def summarizer(responses: list[str], **config) -> tuple[LLM, FakeProvider]:
    provider = FakeProvider(responses)
    return LLM(Context(Config(api_type="fake", **config), provider=provider), role="Searcher"), provider


async def test_search_and_summarize_answers_from_web_results_and_cites_them():
    llm, provider = summarizer(
        [json.dumps({"found": True, "answer": "Pick an oil-free gel moisturiser.", "sources": [2, 1]})]
    )
    with RecordedServer({("POST", "/search"): recorded("serper_search.json")}) as server:
        action = SearchAndSummarize(engine=SerperEngine("key", base_url=server.base_url), max_results=3, llm=llm)
        reply = await action.run(QUERY)

    assert reply == (
        "Pick an oil-free gel moisturiser.\n\nSources:\n"
        f"- [The 12 Best Moisturizers for Oily Skin of 2025]({TOP_LINK})\n"
        "- [Best moisturisers for oily skin, tested by dermatologists](https://www.example-beauty.com/oily-skin-moisturisers)"
    )
    prompt = provider.calls[0].messages[-1]["content"]
    assert (
        '<reference number="1" source="Best moisturisers for oily skin, tested by dermatologists - '
        f'https://www.example-beauty.com/oily-skin-moisturisers">\n{ANSWER_BOX}\n</reference>' in prompt
    )
    assert f"### Current Question\n{QUERY}" in prompt
    assert "never invent" in provider.calls[0].messages[0]["content"]
    assert action.result.startswith("Best moisturisers for oily skin")


async def test_search_and_summarize_uses_the_configured_engine_type():
    llm, _provider = summarizer(
        [json.dumps({"found": False, "answer": "", "sources": []})], serpapi_api_key="s", serper_api_key="k"
    )
    action = SearchAndSummarize(engine=SearchEngineType.SERPAPI_GOOGLE, llm=llm)

    assert isinstance(action._engine(), SerpAPIEngine)


async def test_search_and_summarize_without_a_key_explains_and_asks_no_model():
    llm, provider = summarizer([])

    reply = await SearchAndSummarize(llm=llm).run(QUERY)

    assert reply == NOT_CONFIGURED
    assert provider.calls == []


async def test_search_and_summarize_without_network_explains():
    llm, provider = summarizer([])
    with RecordedServer({}) as server:
        closed = server.base_url

    reply = await SearchAndSummarize(engine=SerperEngine("k", base_url=closed, timeout=5), llm=llm).run(QUERY)

    assert reply.startswith("Could not reach Serper (Google)") and provider.calls == []


async def test_a_huge_error_answer_is_quoted_in_one_short_line():
    huge = {"error": {"message": "quota exceeded\n" + "x" * 1_000_000}}
    route = {("GET", "/customsearch/v1"): lambda request: (429, huge)}
    with RecordedServer(route) as server, pytest.raises(SearchEngineError) as caught:
        await GoogleEngine("key", "cx", base_url=server.base_url).search(QUERY)
    message = str(caught.value)
    assert "429: quota exceeded x" in message and "\n" not in message
    assert len(message) < 300
