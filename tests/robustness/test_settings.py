"""The settings users set take effect, say where they came from, and never leak a secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metagpt.config import Config
from metagpt.cost_manager import TOKEN_PRICES, CostManager
from metagpt.exceptions import ConfigError, UserError
from metagpt.software_company import SoftwareCompany
from tests.robustness.conftest import API_KEY, IDEA, error_lines, invoke

TEMPLATE = Path(__file__).resolve().parents[2] / "config" / "config.yaml"


def copy_template(cwd: Path) -> None:
    """What the README tells a user to do: the template as config.yaml and as key.yaml."""
    (cwd / "config").mkdir()
    shutil.copy(TEMPLATE, cwd / "config" / "config.yaml")
    shutil.copy(TEMPLATE, cwd / "config" / "key.yaml")


def test_exported_model_and_limits_take_effect_over_the_shipped_template(server, tmp_path):
    copy_template(tmp_path)

    result = invoke(server, tmp_path / "ws", IDEA, "--no-implement", OPENAI_API_MODEL="gpt-4o", MAX_TOKENS="1500")

    assert result.exit_code == 0, result.output
    assert {body["model"] for body in server.bodies} == {"gpt-4o"}
    assert {body["max_tokens"] for body in server.bodies} == {1500}
    price = TOKEN_PRICES["gpt-4o"]
    spent = sum(u["prompt_tokens"] * price.prompt + u["completion_tokens"] * price.completion for u in server.usages)
    assert f"Spent ${spent / 1e6:.4f} of $3.0000" in result.output  # priced as the model really used


def test_verbose_prints_every_setting_with_its_source_and_hides_the_key(server, tmp_path):
    (tmp_path / "config").mkdir()
    key_file = tmp_path / "config" / "key.yaml"
    key_file.write_text("MAX_TOKENS: 1200\n")

    result = invoke(server, tmp_path / "ws", IDEA, "-v", "--no-implement", "--model", "gpt-4.1", RPM="100")

    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "OPENAI_API_MODEL = gpt-4.1  [command line]" in lines
    assert f"MAX_TOKENS = 1200  [{key_file}: MAX_TOKENS]" in lines
    assert "RPM = 100  [environment variable RPM]" in lines
    assert "TEMPERATURE = 0.0  [default]" in lines
    assert "OPENAI_API_KEY = (hidden)  [environment variable OPENAI_API_KEY]" in lines
    assert "API_TYPE = openai (chosen automatically)  [default]" in lines
    assert API_KEY not in result.output
    log = next((tmp_path / "ws").glob("*/logs/metagpt.log")).read_text()
    assert API_KEY not in log


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"OPENAI_API_KEY: {API_KEY}\nMAX_TOKENS: [1, 2\n", "not valid YAML at line 3, column 1"),
        (f"OPENAI_API_KEY: [{API_KEY}]\n", "OPENAI_API_KEY: Input should be a valid string (got (hidden))."),
        (f"OPENAI_API_KEY: {{{API_KEY}: 1}}\n", "OPENAI_API_KEY: Input should be a valid string (got (hidden))."),
        (f"{API_KEY}: 1\n", "unknown key 'sk-...'"),
        (f"OPENAI_API_KEY: {API_KEY}\n\tMAX_TOKENS: 1\n", "not valid YAML at line 2"),
    ],
)
def test_config_errors_never_quote_the_key(server, tmp_path, text, expected):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text(text)

    result = invoke(server, tmp_path / "ws", IDEA)

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert expected in line
    assert API_KEY not in result.output and "robust" not in result.output
    assert not (tmp_path / "ws").exists()


def test_a_non_utf8_key_file_is_one_line_and_exit_2(server, tmp_path):
    (tmp_path / "config").mkdir()
    key_file = tmp_path / "config" / "key.yaml"
    key_file.write_bytes(b"OPENAI_API_MODEL: caf\xe9\n")

    result = invoke(server, tmp_path / "ws", IDEA)

    assert result.exit_code == 2
    expected = f"Error: {key_file}: not UTF-8 text (byte 0xe9 at offset 21); save it as UTF-8."
    assert error_lines(result.output) == [expected]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("amount", ["nan", "inf", "-inf", "1e400", "-1", "0"])
def test_investment_must_be_finite_and_positive(server, tmp_path, amount):
    result = invoke(server, tmp_path / "ws", IDEA, "--investment", amount)

    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert line.startswith("Error: Investment must be")
    assert server.requests == []
    assert not (tmp_path / "ws").exists()


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), "nan", "$inf", -0.5, 0, "lots"])
def test_invest_and_the_cost_manager_refuse_what_would_switch_the_budget_off(fake_config, amount):
    with pytest.raises(UserError, match="Investment"):
        SoftwareCompany(fake_config).invest(amount)
    with pytest.raises(UserError, match="Investment"):
        CostManager(max_budget=amount)


def test_invest_accepts_dollar_strings(fake_config):
    company = SoftwareCompany(fake_config)

    company.invest("$2.5")

    assert company.cost_manager.max_budget == 2.5


@pytest.mark.parametrize(
    "line",
    ["MAX_BUDGET: .nan", "MAX_BUDGET: .inf", "MAX_BUDGET: 0", "MODEL_PRICES: {m: {prompt: .nan, completion: 1}}"],
)
def test_budget_and_prices_in_yaml_must_be_finite(tmp_path, line):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "key.yaml").write_text(line + "\n")

    with pytest.raises(ConfigError, match=line.split(":")[0]):
        Config.load(tmp_path, env={})
