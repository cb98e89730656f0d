"""Does a GBNF grammar admit a text? Asked of llama.cpp's own grammar sampler, without generating.

Used to check that every grammar agrees with the example the prompt shows next to it: a grammar
that forbids what its example contains pushes a small model off its preferred tokens and into
nonsense. Only a model's vocabulary is loaded (`vocab_only`), so a check takes milliseconds.
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path
from typing import Any

from metagpt.provider.llama_runtime import import_llama_cpp


class GrammarChecker:
    """Feeds a text, token by token, through llama.cpp's grammar sampler.

    Args:
        model_path: a GGUF file whose tokenizer splits the text (any vocabulary works: the
            grammar is matched character by character across token pieces).
    """

    def __init__(self, model_path: Path):
        llama_cpp = import_llama_cpp()
        self._llama: Any = llama_cpp.Llama(model_path=str(model_path), vocab_only=True, verbose=False)
        self._capi = llama_cpp.llama_cpp
        self._vocab = self._capi.llama_model_get_vocab(self._llama.model)

    def accepts(self, grammar: str, text: str, root: str = "root") -> bool:
        """True when `text`, and then the end of generation, are allowed by `grammar`.

        Each token is offered alone to the sampler (`apply` sets a forbidden token's logit to
        -inf, it never raises), then accepted; the end-of-generation token must be allowed last,
        so a text the grammar wants to go on after is refused too.
        """
        capi = self._capi
        sampler = capi.llama_sampler_init_grammar(self._vocab, grammar.encode(), root.encode())
        if not sampler:
            raise ValueError("llama.cpp cannot parse this grammar")
        eos = self._llama.token_eos()
        try:
            for token in [*self._llama.tokenize(text.encode(), add_bos=False, special=False), eos]:
                data = (capi.llama_token_data * 1)(capi.llama_token_data(token, 0.0, 0.0))
                candidates = capi.llama_token_data_array(data, 1, -1, False)
                capi.llama_sampler_apply(sampler, ctypes.byref(candidates))
                if math.isinf(data[0].logit):
                    return False
                if token != eos:
                    capi.llama_sampler_accept(sampler, token)
            return True
        finally:
            capi.llama_sampler_free(sampler)

    def close(self) -> None:
        self._llama.close()
