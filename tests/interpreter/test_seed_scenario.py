"""The seed scenario: a loopback weather API, the catalogue's document store, code combining both."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from metagpt.document_store.faiss_store import FaissStore
from metagpt.embeddings.fake import FakeEmbedding
from metagpt.roles import DataInterpreter
from metagpt.roles.di.data_interpreter import StopReason
from tests.interpreter.conftest import code, make_context, plan

EXAMPLE_PDF = Path(__file__).resolve().parents[2] / "data" / "example.pdf"


class Weather(BaseHTTPRequestHandler):
    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        city = parse_qs(parts.query).get("city", [""])[0]
        Weather.requests.append(city)
        body = json.dumps({"city": city, "forecast": "sunny", "uv_index": 9, "temperature_c": 31}).encode()
        self.send_response(200 if parts.path == "/forecast" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def weather_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Weather)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Weather.requests.clear()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_forecast_and_catalogue_answer_cites_the_page(workspace, weather_api, tmp_path):
    url = f"http://{weather_api}/forecast"
    store = FaissStore(EXAMPLE_PDF, cache_dir=tmp_path, embedding=FakeEmbedding())
    answers = [
        plan(
            ("1", [], f"get the forecast for Lisbon from {url}"),
            ("2", ["1"], "search the catalogue for a product that suits that weather"),
            ("3", ["1", "2"], "answer citing the page"),
        ),
        code(f"weather = call_json_api({url!r}, params={{'city': 'Lisbon'}})\nprint(weather)"),
        code(
            "query = 'sun protection SPF UV' if weather['uv_index'] >= 6 else 'moisturiser for dry skin'\n"
            "hits = search_knowledge_base(query, k=3)\nprint([h['citation'] for h in hits])"
        ),
        code(
            "best = hits[0]\n"
            "name = best['text'].split('Best for')[0].strip()\n"
            "print(f\"Lisbon: {weather['forecast']}, UV {weather['uv_index']}, {weather['temperature_c']} C. \"\n"
            "      f\"Suggested: {name} ({best['citation']}).\")"
        ),
    ]
    context, provider = make_context(workspace, answers, HTTP_ALLOWED_HOSTS=[weather_api])
    di = DataInterpreter(context=context, tools=["call_json_api", "search_knowledge_base"], store=store)
    message = await di.run(f"What is the forecast for Lisbon (weather API at {url}), and which product suits it?")
    provider.assert_complete()
    assert di.outcome.stop_reason is StopReason.DONE
    assert Weather.requests == ["Lisbon"]
    assert (
        message.content == "Lisbon: sunny, UV 9, 31 C. Suggested: Daily Shield Sunscreen SPF 50 (example.pdf, page 6)."
    )
    # the prompts described the tools BM25 picked for each task
    assert "call_json_api(" in provider.calls[1].messages[-1]["content"]
    assert "search_knowledge_base(" in provider.calls[2].messages[-1]["content"]


async def test_hosts_off_the_allow_list_are_refused(workspace, weather_api):
    url = f"http://{weather_api}/forecast"
    answers = [
        plan(("1", [], "call the API")),
        code(f"try:\n    call_json_api({url!r})\nexcept ToolError as exc:\n    print('refused:', exc)"),
    ]
    context, _ = make_context(workspace, answers)
    di = DataInterpreter(context=context, tools=["call_json_api"])
    message = await di.run("call the API")
    assert message.content.startswith(f"refused: UserError: {weather_api} is not an allowed host")
    assert Weather.requests == []


async def test_the_kernel_itself_cannot_reach_the_loopback_api_when_isolated(workspace, weather_api):
    from metagpt.sandbox import isolation

    if isolation("auto") != "bwrap":
        pytest.skip("bubblewrap does not work here: the kernel is not isolated")
    answers = [
        plan(("1", [], "fetch directly")),
        code(
            "import urllib.request\ntry:\n"
            f"    urllib.request.urlopen('http://{weather_api}/forecast', timeout=3)\n    print('reached')\n"
            "except OSError as exc:\n    print('unreachable')"
        ),
    ]
    context, _ = make_context(workspace, answers, HTTP_ALLOWED_HOSTS=[weather_api])
    di = DataInterpreter(context=context, tools=["call_json_api"])
    message = await di.run("fetch directly")
    assert message.content == "unreachable" and Weather.requests == []
