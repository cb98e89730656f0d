"""Config: sources and their precedence, placeholders, provider choice, errors that name the culprit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metagpt.config import Config, ModelPrice
from metagpt.exceptions import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_config(root: Path, name: str, text: str) -> Path:
    path = root / "config" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_configured(tmp_path):
    config = Config.load(tmp_path, env={})

    assert config == Config()
    assert config.openai_api_model is None and config.resolved_model == "SmolLM2-135M-Instruct"
    assert Config(api_type="openai").resolved_model == "gpt-4o-mini"
    assert config.max_tokens == 4096
    assert config.max_budget == 3.0
    assert config.resolved_api_type == "local"


def test_key_yaml_beats_config_yaml_beats_environment(tmp_path):
    env = {"MAX_TOKENS": "100", "TEMPERATURE": "0.5", "RPM": "7"}
    write_config(tmp_path, "config.yaml", "MAX_TOKENS: 200\nTEMPERATURE: 0.7\n")
    write_config(tmp_path, "key.yaml", "MAX_TOKENS: 300\n")

    config = Config.load(tmp_path, env=env)

    assert (config.max_tokens, config.temperature, config.rpm) == (300, 0.7, 7)


def test_config_yaml_beats_environment_without_key_yaml(tmp_path):
    write_config(tmp_path, "config.yaml", "OPENAI_API_MODEL: gpt-4.1\n")

    config = Config.load(tmp_path, env={"OPENAI_API_MODEL": "gpt-4o", "MAX_TOKENS": "100"})

    assert (config.openai_api_model, config.max_tokens) == ("gpt-4.1", 100)


def test_empty_yaml_value_does_not_override_lower_source(tmp_path):
    write_config(tmp_path, "config.yaml", "OPENAI_API_MODEL: gpt-4.1\n")
    write_config(tmp_path, "key.yaml", "OPENAI_API_MODEL:\n")

    assert Config.load(tmp_path, env={}).openai_api_model == "gpt-4.1"


def test_environment_is_read_from_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_MODEL", "from-env")

    assert Config.load(tmp_path).openai_api_model == "from-env"


def test_default_reads_metagpt_root(tmp_path, monkeypatch):
    root = tmp_path / "elsewhere"
    write_config(root, "key.yaml", "OPENAI_API_MODEL: rooted\n")
    monkeypatch.setenv("METAGPT_ROOT", str(root))

    assert Config.default().openai_api_model == "rooted"


def test_model_prices_from_yaml(tmp_path):
    write_config(tmp_path, "key.yaml", "MODEL_PRICES:\n  my-model: {prompt: 0.5, completion: 1.5}\n")

    config = Config.load(tmp_path, env={})

    assert config.price_of("my-model") == ModelPrice(prompt=0.5, completion=1.5)
    assert config.price_of("other") is None


@pytest.mark.parametrize("source", ["env", "yaml"])
def test_legacy_openai_api_base_is_accepted(tmp_path, source):
    env = {}
    if source == "env":
        env["OPENAI_API_BASE"] = "http://localhost:11434/v1"
    else:
        write_config(tmp_path, "key.yaml", "OPENAI_API_BASE: http://localhost:11434/v1\n")

    config = Config.load(tmp_path, env=env)

    assert config.openai_base_url == "http://localhost:11434/v1"
    assert config.resolved_api_type == "openai"


def test_current_base_url_name_wins_over_legacy_name_in_environment(tmp_path):
    env = {"OPENAI_BASE_URL": "http://new/v1", "OPENAI_API_BASE": "http://legacy/v1"}

    assert Config.load(tmp_path, env=env).openai_base_url == "http://new/v1"


@pytest.mark.parametrize("placeholder", ["sk-...", "YOUR_API_KEY", "", "   ", "<your key here>"])
def test_placeholder_keys_count_as_missing(tmp_path, placeholder):
    write_config(tmp_path, "key.yaml", f'OPENAI_API_KEY: "{placeholder}"\n')

    config = Config.load(tmp_path, env={"OPENAI_API_KEY": placeholder})

    assert config.openai_api_key is None
    assert config.resolved_api_type == "local"


def test_verbose_says_a_placeholder_key_was_seen_and_ignored_without_quoting_it(tmp_path):
    write_config(tmp_path, "key.yaml", 'OPENAI_API_KEY: "<your key here>"\n')

    config, sources = Config.load_with_sources(tmp_path, env={})
    (line,) = [line for line in config.describe(sources) if line.startswith("OPENAI_API_KEY")]

    assert line.startswith("OPENAI_API_KEY = (unset)  [")
    assert "key.yaml: OPENAI_API_KEY holds a placeholder" in line and line.endswith("ignored]")
    assert "your key" not in line
    real, real_sources = Config.load_with_sources(tmp_path, env={"OPENAI_API_KEY": "sk-real-0123456789"})
    assert real.openai_api_key and real_sources["openai_api_key"] == "environment variable OPENAI_API_KEY"


def test_shipped_template_sets_nothing_so_exported_variables_take_effect(tmp_path):
    """Every key of `config/config.yaml` is commented out: the environment is not shadowed by it."""
    import yaml

    template = (REPO_ROOT / "config" / "config.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(template) is None
    for key in Config.field_aliases():
        if key != "OPENAI_API_BASE":  # the legacy name is mentioned, not listed
            assert f"# {key}:" in template, f"{key} is not documented in the template"
    write_config(tmp_path, "config.yaml", template)
    write_config(tmp_path, "key.yaml", template)  # copied as the template says, not yet edited
    env = {"OPENAI_API_KEY": "sk-real-0123456789", "OPENAI_API_MODEL": "gpt-4o", "TIMEOUT": "7", "MAX_RETRIES": "1"}

    config = Config.load(tmp_path, env=env)

    assert config.openai_api_key == "sk-real-0123456789"
    assert (config.openai_api_model, config.timeout, config.max_retries) == ("gpt-4o", 7.0, 1)


def test_real_key_is_kept(tmp_path):
    config = Config.load(tmp_path, env={"OPENAI_API_KEY": "sk-proj-Ab12Cd34Ef56"})

    assert config.openai_api_key == "sk-proj-Ab12Cd34Ef56"
    assert config.resolved_api_type == "openai"


def test_real_key_containing_xxx_is_kept(tmp_path):
    key = "sk-proj-4fGxXx9Lm2Qa7Zt0"

    assert Config.load(tmp_path, env={"OPENAI_API_KEY": key}).openai_api_key == key


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "local"),
        ({"openai_api_key": "sk-abc123"}, "openai"),
        ({"openai_base_url": "http://localhost:8000/v1"}, "openai"),
        ({"api_type": "fake", "openai_api_key": "sk-abc123"}, "fake"),
        ({"api_type": "azure"}, "azure"),
        ({"api_type": "local", "openai_base_url": "http://localhost:8000/v1"}, "local"),
    ],
)
def test_resolved_api_type(settings, expected):
    assert Config(**settings).resolved_api_type == expected


def test_unknown_key_names_file_and_key(tmp_path):
    path = write_config(tmp_path, "config.yaml", "OPENAI_KEY: sk-abc123\n")

    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})

    message = str(info.value)
    assert message.startswith(f"{path}: unknown key 'OPENAI_KEY'.")
    assert "OPENAI_API_KEY" in message  # lists the keys that are known


def test_unknown_environment_variables_are_ignored(tmp_path):
    assert Config.load(tmp_path, env={"OPENAI_KEY": "x", "PATH": "/bin"}) == Config()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MAX_TOKENS: -1", "MAX_TOKENS: Input should be greater than 0 (got -1)."),
        ("MAX_TOKENS: abc", "MAX_TOKENS: Input should be a valid integer"),
        ("TEMPERATURE: 3", "TEMPERATURE: Input should be less than or equal to 2 (got 3)."),
        ("API_TYPE: cohere", "API_TYPE: is not a known provider; use one of: openai, azure, anthropic"),
        ("API_TYPE: bedrock", "API_TYPE: is not supported here: AWS Bedrock"),
        ("MODEL_PRICES: {m: {prompt: -1, completion: 1}}", "MODEL_PRICES: Input should be greater than or equal"),
    ],
)
def test_bad_value_names_file_and_key(tmp_path, line, expected):
    path = write_config(tmp_path, "key.yaml", line + "\n")

    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})

    assert str(info.value).startswith(f"{path}: {expected}")


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={"MAX_TOKENS": "lots"})

    assert str(info.value).startswith("environment variable MAX_TOKENS: Input should be a valid integer")


def test_bad_value_in_config_yaml_is_reported_even_if_key_yaml_is_fine(tmp_path):
    path = write_config(tmp_path, "config.yaml", "RPM: -5\n")
    write_config(tmp_path, "key.yaml", "MAX_TOKENS: 10\n")

    with pytest.raises(ConfigError, match="greater than or equal to 0") as info:
        Config.load(tmp_path, env={})

    assert str(info.value).startswith(f"{path}: RPM:")


@pytest.mark.parametrize("text", ["MAX_TOKENS: [1, 2\n", "- a\n- b\n"])
def test_malformed_yaml_names_the_file(tmp_path, text):
    path = write_config(tmp_path, "key.yaml", text)

    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})

    assert str(info.value).startswith(f"{path}: ")


def test_overrides_win_and_none_overrides_are_ignored(tmp_path):
    write_config(tmp_path, "key.yaml", "OPENAI_API_MODEL: gpt-4.1\nMAX_TOKENS: 300\n")

    config = Config.load(tmp_path, env={}, openai_api_model=None, max_tokens=50, openai_base_url=None)

    assert (config.openai_api_model, config.max_tokens, config.openai_base_url) == ("gpt-4.1", 50, None)


def test_bad_override_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^setting max_tokens: Input should be greater than 0"):
        Config.load(tmp_path, env={}, max_tokens=0)


def test_config_is_frozen():
    with pytest.raises(ValueError, match="frozen"):
        Config().max_tokens = 1  # type: ignore[misc]


def test_resolve_workspace(tmp_path):
    assert Config().resolve_workspace(tmp_path) == tmp_path / "workspace"
    assert Config(workspace_path=tmp_path / "ws").resolve_workspace(Path("/ignored")) == tmp_path / "ws"


def test_importing_the_package_reads_and_writes_nothing(tmp_path):
    """Import every module in a folder whose config is broken, with an empty HOME: no error, no files."""
    cwd, home = tmp_path / "cwd", tmp_path / "home"
    write_config(cwd, "key.yaml", "NOT_A_KEY: [unclosed\n")
    home.mkdir()
    modules = [
        "metagpt",
        "metagpt.config",
        "metagpt.cli",
        "metagpt.llm",
        "metagpt.software_company",
        "metagpt.roles",
        "metagpt.actions",
        "metagpt.utils.token_counter",
        "metagpt.provider.fake",
    ]
    env = {k: v for k, v in os.environ.items() if k not in Config.field_aliases() and k != "TIKTOKEN_CACHE_DIR"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), PYTHONPATH=str(REPO_ROOT))
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    result = subprocess.run(
        [sys.executable, "-c", "import " + ", ".join(modules)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
