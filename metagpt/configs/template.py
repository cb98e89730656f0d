"""`metagpt --init-config`: MetaGPT 0.7's `~/.metagpt/config2.yaml`, commented, to fill in."""

from __future__ import annotations

from pathlib import Path

from metagpt.exceptions import UserError
from metagpt.utils.atomic import write_atomic

HOME_CONFIG = Path("~/.metagpt/config2.yaml")

TEMPLATE = """\
# MetaGPT configuration (config2.yaml, as MetaGPT 0.7+ writes it). Uncomment and fill in.
# Read after the environment and before config/config.yaml and config/key.yaml of a project;
# `metagpt --config FILE` reads another one over all of them. `metagpt -v IDEA` shows what is used.

# Until llm: is filled in, this file changes nothing (with no key anywhere: the embedded model).
# llm:
#   # api_type: openai, azure, anthropic (claude), gemini (google), ollama, deepseek, moonshot, mistral,
#   # openrouter, groq, together, fireworks, siliconflow, dashscope, zhipuai, xai, open_llm (any other).
#   api_type: "openai"
#   model: "gpt-4o-mini"
#   # base_url: "https://api.openai.com/v1"   # default: the provider's own
#   api_key: "YOUR_API_KEY"                   # the key of the provider api_type names
#   # max_token: 4096
#   # temperature: 0.0
#   # timeout: 120

# A model per role: roles not listed use llm: above. Role names are class names or profiles.
# roles:
#   - role: "Architect"
#     llm:
#       api_type: "anthropic"
#       model: "claude-sonnet-4-5"
#       api_key: "YOUR_ANTHROPIC_API_KEY"
#   - role: "Engineer"
#     llm:
#       api_type: "ollama"
#       model: "qwen2.5-coder:7b"
#       base_url: "http://127.0.0.1:11434"

# Other sections MetaGPT has, where they take effect here:
# embedding: {api_type: openai, model: text-embedding-3-small}
# search: {api_type: serper, api_key: "YOUR_API_KEY"}
# mermaid: {engine: nodejs}
# workspace: {path: ./workspace}
# exp_pool: {enabled: false}
"""


def write_home_config(path: Path | None = None) -> Path:
    """Write `TEMPLATE` to `path` (default `~/.metagpt/config2.yaml`), owner-only: it will hold keys.

    Raises:
        UserError: the file exists already (it is never overwritten), or no home folder is known.
    """
    try:
        target = (path or HOME_CONFIG).expanduser()
    except RuntimeError:
        raise UserError("No home folder is known (HOME is unset): set HOME, or write config/config2.yaml.") from None
    if target.exists() or target.is_symlink():
        raise UserError(f"{target} exists already; edit it, or move it away to write a fresh one.")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(target, TEMPLATE.encode("utf-8"), mode=0o600)
    return target
