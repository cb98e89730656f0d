"""A GGUF without a chat template is loaded with a one-line warning, not silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from metagpt.provider import local_llama

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the local extra) is not installed")


@pytest.mark.parametrize(("metadata", "warned"), [({}, True), ({"tokenizer.chat_template": "{{ x }}"}, False)])
def test_a_model_without_chat_template_is_warned_about_in_one_line(monkeypatch, metadata, warned):
    class Stub:
        """Stands in for `llama_cpp.Llama`: only the metadata, with or without a chat template."""

        def __init__(self, **kwargs):
            self.metadata = metadata

        def detokenize(self, tokens, special=False):
            return b""

        def token_eos(self):
            return -1

        def token_bos(self):
            return -1

    monkeypatch.setattr(llama_cpp, "Llama", Stub)
    monkeypatch.setattr(local_llama, "_uses_amx", lambda module: False)
    seen: list[str] = []
    handler = logger.add(lambda message: seen.append(message.record["message"]), level="WARNING")
    try:
        local_llama._load(Path("/models/base-270m.gguf"), 0, 1)
    finally:
        logger.remove(handler)
    if warned:
        assert len(seen) == 1 and "\n" not in seen[0]
        assert seen[0].startswith("base-270m.gguf has no chat template (tokenizer.chat_template)")
        assert "use an instruct GGUF" in seen[0]
    else:
        assert seen == []
