"""Config input checks: what can be sent, sane ranges, paths, settings files that are not files, bounded quotes."""

from __future__ import annotations

from pathlib import Path

import pytest

from metagpt.config import Config, check_sendable_text, unsendable, url_problem
from metagpt.exceptions import ConfigError, UserError, brief, brief_error
from metagpt.utils.yaml_file import read_yaml_mapping


def write_key_yaml(root: Path, text: str) -> Path:
    path = root / "config" / "key.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sk-abc", None),
        ("sk-abc\n", "a line break at position 7"),
        ("sk-a bc", "a space at position 5"),
        ("sk-\tabc", "a space at position 4"),
        ("sk-\x00abc", "a control character at position 4"),
        ("sk-ébc", "a non-ASCII character at position 4"),
        ("sk-\udce9bc", "a non-ASCII character at position 4"),  # a byte that was not UTF-8, from the environment
    ],
)
def test_unsendable_names_the_first_bad_character(text, problem):
    assert unsendable(text) == problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://localhost:8000/v1", None),
        ("https://api.openai.com/v1", None),
        ("http://[::1]:8080/v1", None),
        ("http://127.0.0.1:11434", None),
        ("http://[::1", "Invalid IPv6 URL"),
        ("not a url", "it holds a space at position 4"),
        ("api.openai.com/v1", "no http:// or https:// scheme"),
        ("file:///etc/passwd", "no http:// or https:// scheme"),
        ("http://", "no valid host name"),
        ("http://exa$mple.com/v1", "no valid host name"),
        ("http://localhost:port/v1", "Port could not be cast to integer value as 'port'"),
    ],
)
def test_url_problem(url, problem):
    assert url_problem(url) == problem


def test_secrets_are_never_quoted_in_their_errors(tmp_path):
    for key in ("OPENAI_API_KEY", "EMBEDDING_API_KEY", "SERPAPI_API_KEY", "SERPER_API_KEY", "GOOGLE_API_KEY"):
        with pytest.raises(ConfigError) as info:
            Config.load(tmp_path, env={key: "sk-secret-ü-0123456789"})
        assert str(info.value).startswith(f"environment variable {key}: holds a non-ASCII character at position 11")
        assert "secret" not in str(info.value) and str(info.value).endswith("(got (hidden)).")


def test_every_numeric_setting_has_an_upper_bound():
    numeric = [
        name
        for name, info in Config.model_fields.items()
        if info.annotation in (int, float, int | None, float | None) and name != "temperature"
    ]
    assert len(numeric) >= 14
    for name in numeric:
        with pytest.raises(ConfigError, match=r"less than or equal to"):
            Config.load(Path("/nonexistent"), env={}, **{name: 10**30})


def test_model_prices_are_bounded(tmp_path):
    write_key_yaml(tmp_path, "MODEL_PRICES: {m: {prompt: 1e30, completion: 1}}\n")

    with pytest.raises(ConfigError, match=r"MODEL_PRICES: Input should be less than or equal to 100000"):
        Config.load(tmp_path, env={})


def test_paths_expand_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))

    config = Config.load(tmp_path, env={"WORKSPACE_PATH": "~/ws", "LOCAL_MODEL_PATH": "~/m.gguf", "MMDC": "~/mmdc"})

    assert config.resolve_workspace() == tmp_path / "ws"
    assert (config.local_model_path, config.mmdc) == (tmp_path / "m.gguf", tmp_path / "mmdc")
    assert Config(chromium_path="~/chrome").chromium_path == tmp_path / "chrome"
    assert Config(state_db="~/.metagpt/state.db").state_db == tmp_path / ".metagpt" / "state.db"


def test_a_path_with_a_nul_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^environment variable WORKSPACE_PATH: holds a NUL character"):
        Config.load(tmp_path, env={"WORKSPACE_PATH": "/tmp/a\x00b"})


def test_duplicate_keys_are_reported_at_any_depth(tmp_path):
    path = write_key_yaml(tmp_path, "MAX_TOKENS: 10\nMODEL_PRICES:\n  m: {prompt: 1, completion: 2}\n  m: {}\n")

    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})

    assert str(info.value) == f"{path}: line 4: duplicate key 'm' (first set at line 3); keep only one."


def test_anchors_without_aliases_are_fine_but_merge_keys_are_aliases(tmp_path):
    write_key_yaml(tmp_path, "MODEL_PRICES:\n  m: &p {prompt: 1, completion: 2}\n")
    assert Config.load(tmp_path, env={}).price_of("m").completion == 2

    write_key_yaml(tmp_path, "MODEL_PRICES:\n  m: &p {prompt: 1, completion: 2}\n  n: {<<: *p}\n")
    with pytest.raises(ConfigError, match=r"line 3: YAML aliases \(\*name\) are not allowed"):
        Config.load(tmp_path, env={})


def test_a_huge_settings_file_is_refused_without_reading_it(tmp_path):
    path = write_key_yaml(tmp_path, "")
    with path.open("wb") as handle:
        handle.truncate(2 << 30)  # sparse: 2 GiB that take no disk space

    with pytest.raises(ConfigError, match=r"larger than 1048576 bytes"):
        Config.load(tmp_path, env={})


def test_a_missing_file_or_a_file_in_place_of_the_folder_is_no_settings(tmp_path):
    assert read_yaml_mapping(tmp_path / "config" / "key.yaml") is None
    (tmp_path / "config").write_text("not a folder")
    assert read_yaml_mapping(tmp_path / "config" / "key.yaml") is None
    assert Config.load(tmp_path, env={}) == Config()


def test_an_unreadable_file_is_an_error(tmp_path):
    path = write_key_yaml(tmp_path, "MAX_TOKENS: 1\n")
    path.chmod(0)
    try:
        if path.open("rb"):  # root reads anything: nothing to test then
            pytest.skip("running as root")
    except PermissionError:
        with pytest.raises(ConfigError, match=r"cannot be read \(Permission denied\)"):
            Config.load(tmp_path, env={})
    finally:
        path.chmod(0o600)


def test_a_huge_value_is_quoted_briefly(tmp_path):
    write_key_yaml(tmp_path, "MAX_TOKENS: [" + ", ".join(["word" * 50] * 5000) + "]\n")

    with pytest.raises(ConfigError) as info:
        Config.load(tmp_path, env={})

    assert "MAX_TOKENS: Input should be a valid integer" in str(info.value)
    assert len(str(info.value)) < 400 + len(str(tmp_path))


def test_brief_bounds_any_value():
    huge = [[["x" * 10_000] * 1000] * 1000]
    assert len(brief(huge)) <= 200
    assert len(brief(10**5000)) <= 200  # too many digits for str(): still a short line
    assert "\n" not in brief("a\nb") and brief("a\nb") == "'a\\nb'"
    assert brief_error(ValueError("line one\nline two " + "y" * 1000)).startswith("ValueError: line one line two y")
    assert len(brief_error(ValueError("y" * 10_000))) == 200


def test_check_sendable_text_refuses_a_lone_surrogate():
    check_sendable_text("a snake game, naïve 中文 ok", "The idea")

    with pytest.raises(
        UserError, match=r"^The idea holds a character that is not valid Unicode \(U\+DCE9 at position 3\)"
    ):
        check_sendable_text("ab\udce9cd", "The idea")


def test_a_bad_value_through_the_python_api_is_a_config_error_too():
    with pytest.raises(ConfigError, match=r"^setting openai_base_url: is not a usable URL: Invalid IPv6 URL"):
        Config(openai_base_url="http://[::1")
    with pytest.raises(
        ConfigError, match=r"^setting openai_api_key: holds a line break at position 7 .*\(got \(hidden\)\)\.$"
    ):
        Config(openai_api_key="sk-abc\n")
    with pytest.raises(ConfigError, match=r"^setting max_tokens: Input should be less than or equal to 1048576"):
        Config(max_tokens=10**30)
