"""MetaGPT 0.7's config2.yaml (llm:, roles:, sections), --config, vendor presets and their keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from metagpt.config import Config
from metagpt.configs.catalogue import PRESETS, endpoint
from metagpt.configs.metagpt_config import MetaGPTConfig
from metagpt.configs.template import TEMPLATE, write_home_config
from metagpt.cost_manager import CostManager
from metagpt.exceptions import ConfigError, UserError
from metagpt.provider.base import Usage


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def caplog_loguru() -> Iterator[list[str]]:
    """The messages loguru logs at WARNING and above while the test runs."""
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level="WARNING")
    yield messages
    logger.remove(sink)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def test_an_llm_block_is_the_endpoint_it_names_and_its_key_goes_to_that_vendor(tmp_path, home):
    write(
        tmp_path / "config/config2.yaml", "llm:\n  api_type: claude\n  api_key: sk-ant-abc\n  model: claude-opus-4-1\n"
    )

    config, sources = Config.load_with_sources(tmp_path, env={"OPENAI_API_KEY": "sk-openai-123"})

    assert (config.resolved_api_type, config.resolved_model) == ("anthropic", "claude-opus-4-1")
    assert config.anthropic_api_key == "sk-ant-abc" and config.openai_api_key == "sk-openai-123"
    where = endpoint(config)
    assert (where.api_key, where.base_url, where.key_name) == (
        "sk-ant-abc",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
    )
    assert sources["anthropic_api_key"] == f"{tmp_path / 'config/config2.yaml'}: ANTHROPIC_API_KEY"
    assert MetaGPTConfig.of(config).llm.api_key == "sk-ant-abc"


def test_precedence_env_home_project_config_key_then_config_file_then_command_line(tmp_path, home):
    write(home / ".metagpt/config2.yaml", "llm: {model: m-home, temperature: 0.1}\nMAX_TOKENS: 100\n")
    write(tmp_path / "config/config2.yaml", "llm: {model: m-project}\n")
    write(tmp_path / "config/key.yaml", "TIMEOUT: 7\n")
    chosen = write(tmp_path / "chosen.yaml", "llm: {model: m-file, timeout: 9}\n")

    plain = Config.load(tmp_path, env={"OPENAI_API_MODEL": "m-env", "TEMPERATURE": "0.5"})
    over = Config.load(tmp_path, env={}, config_file=chosen)
    cli = Config.load(tmp_path, env={}, config_file=chosen, openai_api_model="m-cli")

    assert (plain.openai_api_model, plain.temperature, plain.max_tokens, plain.timeout) == ("m-project", 0.1, 100, 7)
    assert (over.openai_api_model, over.timeout) == ("m-file", 9)
    assert cli.openai_api_model == "m-cli"


def test_a_missing_config_file_and_unknown_keys_are_one_line_naming_the_file(tmp_path, home):
    with pytest.raises(ConfigError, match=r"--config .*nope.yaml: no such file"):
        Config.load(tmp_path, env={}, config_file=tmp_path / "nope.yaml")
    bad = write(tmp_path / "bad.yaml", "llm: {modle: x}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: llm: unknown key 'modle'"):
        Config.load(tmp_path, env={}, config_file=bad)
    section = write(tmp_path / "section.yaml", "searhc: {api_type: serper}\n")
    with pytest.raises(ConfigError, match=r"section.yaml: unknown key 'searhc'"):
        Config.load(tmp_path, env={}, config_file=section)


def test_metagpt_sections_set_ours_and_keys_without_effect_are_named_once(tmp_path, home, caplog_loguru):
    text = (
        "llm: {api_type: openai, api_key: sk-x1234567, top_p: 0.9, proxy: http://p}\n"
        "search: {api_type: serper, api_key: serper-key}\nmermaid: {engine: none}\n"
        "workspace: {path: /tmp/ws}\nexp_pool: {enabled: true}\nredis: {host: x}\n"
    )
    config = Config.load(tmp_path, env={}, config_file=write(tmp_path / "c.yaml", text))

    assert (config.search_engine, config.serper_api_key, config.mermaid_engine) == ("serper", "serper-key", "none")
    assert (config.workspace_path, config.exp_pool_enabled) == (Path("/tmp/ws"), True)
    warnings = [m for m in caplog_loguru if "change nothing here" in m]
    assert any("proxy, top_p" in m for m in warnings) and any("redis" in m for m in warnings)


def test_a_role_entry_is_applied_over_the_company_settings(tmp_path, home):
    text = (
        "llm: {api_type: openai, api_key: sk-company1, model: gpt-4.1, max_token: 1000}\n"
        "roles:\n  - role: Architect\n    llm: {api_type: anthropic, api_key: sk-ant-arch}\n"
        "  - role: Product Manager\n    llm: {model: gpt-5}\n"
    )
    config = Config.load(tmp_path, env={}, config_file=write(tmp_path / "c.yaml", text))

    architect = config.for_role("Architect", "Architect", "Bob")
    assert (architect.resolved_api_type, architect.resolved_model) == ("anthropic", "claude-sonnet-4-5")
    assert architect.max_tokens == 1000 and architect.anthropic_api_key == "sk-ant-arch" and architect.roles == ()
    manager = config.for_role("ProductManager")  # class name, profile or name, spacing and case ignored
    assert (manager.resolved_api_type, manager.resolved_model) == ("openai", "gpt-5")
    assert config.for_role("Engineer", "Alex") is config


def test_a_bad_role_entry_fails_at_load_naming_it(tmp_path, home):
    text = "roles:\n  - role: Engineer\n    llm: {api_type: bedrock}\n"
    with pytest.raises(ConfigError, match=r"roles\[0\] \(Engineer\): llm.api_type: 'bedrock' is not supported"):
        Config.load(tmp_path, env={}, config_file=write(tmp_path / "c.yaml", text))
    text = "roles:\n  - role: Engineer\n    llm: {temperature: 9}\n"
    with pytest.raises(ConfigError, match=r"roles\[0\] \(Engineer\): llm: .*temperature"):
        Config.load(tmp_path, env={}, config_file=write(tmp_path / "d.yaml", text))
    with pytest.raises(ConfigError, match="roles: must be a list"):
        Config.load(tmp_path, env={}, config_file=write(tmp_path / "e.yaml", "roles: Engineer\n"))


VENDORS = [name for name, p in PRESETS.items() if p.protocol == "openai" and p.key_field != "openai_api_key"]


@pytest.mark.parametrize("api_type", VENDORS)
def test_every_vendor_preset_needs_its_own_key_and_never_takes_openais(api_type):
    preset = PRESETS[api_type]
    key_name = {n: k for k, n in Config.field_aliases().items()}[preset.key_field]

    with pytest.raises(ConfigError, match=f"No API key for {api_type}: set {key_name}"):
        endpoint(Config(api_type=api_type, openai_api_key="sk-openai-never-sent"))

    where = endpoint(Config(**{"api_type": api_type, key_name: "vendor-key-123"}))
    assert (where.api_key, where.base_url, where.model) == ("vendor-key-123", preset.base_url.rstrip("/"), preset.model)
    moved = endpoint(
        Config(**{"api_type": api_type, "openai_base_url": "http://127.0.0.1:9/v1", "OPENAI_API_MODEL": "m"})
    )
    assert (moved.base_url, moved.model, moved.api_key) == ("http://127.0.0.1:9/v1", "m", None)


def test_ollama_host_is_read_as_ollama_reads_it():
    assert Config(OLLAMA_HOST="0.0.0.0").ollama_host == "http://127.0.0.1:11434"
    assert Config(OLLAMA_HOST="gpu-box:8080").ollama_host == "http://gpu-box:8080"
    assert Config(OLLAMA_HOST="https://o.example/base").ollama_host == "https://o.example:11434/base"
    assert endpoint(Config(api_type="ollama")).base_url == "http://127.0.0.1:11434"


def test_gemini_takes_google_api_key_when_its_own_is_unset():
    assert endpoint(Config(api_type="google", GOOGLE_API_KEY="g-key-1234")).api_key == "g-key-1234"
    assert endpoint(Config(api_type="gemini", GEMINI_API_KEY="gem-1234", GOOGLE_API_KEY="g-1234")).api_key == "gem-1234"


def test_open_llm_needs_a_url_and_a_model():
    with pytest.raises(ConfigError, match="needs a model"):
        endpoint(Config(api_type="open_llm", openai_base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ConfigError, match="needs OPENAI_BASE_URL"):
        endpoint(Config(api_type="open_llm", openai_api_model="m"))


def test_cache_tokens_are_priced_as_the_vendor_prices_them_and_the_reservation_covers_them():
    costs = CostManager(10.0)
    usage = Usage(prompt_tokens=10_000, completion_tokens=1_000, cache_read_tokens=6_000, cache_write_tokens=2_000)

    dollars = costs.cost_of("claude-sonnet-4-5-20250929", usage)

    assert dollars == pytest.approx((2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 1_000 * 15) / 1e6)
    worst = costs.worst_case("claude-sonnet-4-5", 10_000, 1_000)
    all_written = Usage(prompt_tokens=12_550, completion_tokens=1_000, cache_write_tokens=12_550)
    assert costs.cost_of("claude-sonnet-4-5", all_written) <= worst + 1e-12


def test_init_config_writes_an_owner_only_template_that_changes_nothing_until_filled_in(home, tmp_path):
    path = write_home_config()

    assert path == home / ".metagpt/config2.yaml" and path.stat().st_mode & 0o777 == 0o600
    assert path.read_text() == TEMPLATE
    assert Config.load(tmp_path, env={}) == Config()
    with pytest.raises(UserError, match="exists already"):
        write_home_config()


def test_known_models_have_their_context_window_and_config_overrides_it():
    from metagpt.configs.catalogue import context_window_of
    from metagpt.provider.openai_api import OpenAIProvider

    assert context_window_of("gpt-4o-mini-2024-07-18") == 128_000 and context_window_of("gpt-4") == 8_192
    assert context_window_of("my-model") is None
    for api_type in VENDORS:
        assert context_window_of(PRESETS[api_type].model), api_type
    deepseek = OpenAIProvider(Config(api_type="deepseek", DEEPSEEK_API_KEY="k-123456"))
    assert (deepseek.context_window, deepseek.base_url, deepseek.api_type) == (
        128_000,
        "https://api.deepseek.com/v1",
        "deepseek",
    )
    assert (
        OpenAIProvider(Config(api_type="deepseek", DEEPSEEK_API_KEY="k-1234", CONTEXT_WINDOW=9000)).context_window
        == 9000
    )
