"""Every error MetaGPT raises on purpose.

The split follows the cause, so the CLI and callers can react correctly:

* `UserError` and its children: the user can fix it (config, CLI input, a missing key).
* `ProviderError` and its children: the model endpoint failed or refused.
* `ModelBehaviorError`: the model answered, but not in the shape we asked for.
* `NoMoneyException`: the investment cannot pay for the next call.
* `DiagramError` and its children: a mermaid diagram could not be checked or rendered; the run
  reports them and goes on.

Each error carries an `exit_code` the CLI uses (2 input or configuration, 3 budget, 4 endpoint,
5 model output), and a message that says what to do next.
"""

from __future__ import annotations


class MetaGPTError(Exception):
    """Base of every MetaGPT error."""

    exit_code: int = 1


class UserError(MetaGPTError):
    """Something the user can fix: bad input or configuration."""

    exit_code = 2


class ConfigError(UserError):
    """The configuration is missing a value or holds a wrong one."""


class ProjectFolderError(UserError):
    """The project folder cannot be created or written safely (a foreign link, no permission)."""


class HistoryError(UserError):
    """A project's git history is needed (to change the project) and cannot be read or written."""


class SandboxUnavailable(UserError):
    """`SANDBOX: bwrap` requires isolation, and bubblewrap cannot provide it here."""


class DocumentError(UserError):
    """A document cannot be read, or holds nothing to index."""


class SearchEngineError(UserError):
    """A web search engine is not configured, not installed or not reachable."""


class ProviderError(MetaGPTError):
    """The model endpoint failed; `retryable` says whether trying again may help.

    `billable` is set where the endpoint may have generated (and billed) an answer we did not
    get whole: a time-out, an answer cut off or not a chat completion. Such a call is charged
    at its worst case. `status` is the HTTP status, where there was one.
    """

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        billable: bool = False,
        status: int | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.billable = billable
        self.status = status


class AuthenticationError(ProviderError):
    """The endpoint refused the API key or the key lacks permission; retrying cannot help."""


class ResponseFormatUnsupported(ProviderError):
    """The endpoint rejected the requested `response_format`; the caller may fall back."""


class ModelBehaviorError(MetaGPTError):
    """The model's answer could not be used (for instance invalid JSON), even after retries."""

    exit_code = 5


class NoMoneyException(MetaGPTError):
    """The next call could cost more than what is left of the investment.

    Raised *before* the request is sent, so total spend never exceeds the investment.
    """

    exit_code = 3

    def __init__(self, spent: float, investment: float, estimate: float):
        self.spent = spent
        self.investment = investment
        self.estimate = estimate
        super().__init__(
            f"Budget exhausted: spent ${spent:.4f} of ${investment:.4f}; the next call could cost up to "
            f"${estimate:.4f}. Raise --investment to continue."
        )


class TotalBudgetExhausted(NoMoneyException):
    """The total budget shared by a batch of companies cannot hold the next call."""

    def __init__(self, spent: float, investment: float, estimate: float):
        super().__init__(spent, investment, estimate)
        self.args = (
            f"Total budget exhausted: the batch spent or holds ${spent:.4f} of ${investment:.4f}; the next call "
            f"could cost up to ${estimate:.4f}. Raise --investment-total and rerun with --resume.",
        )


class TotalBudgetTooSmall(NoMoneyException):
    """What is left of a batch's total cannot hold any new company's first call: nothing starts."""

    def __init__(self, total: float, before: float, smallest: float):
        super().__init__(before, total, smallest)
        spent = f" (the batch's projects spent ${before:.4f} before)" if before > 0 else ""
        self.args = (
            f"--investment-total ${total:.4f} leaves ${max(0.0, total - before):.4f}{spent}, less than the smallest "
            f"first call may cost (${smallest:.4f}, its worst case at MAX_TOKENS): nothing was started. Raise "
            f"--investment-total above ${before + smallest:.4f}, or lower MAX_TOKENS.",
        )


class BudgetLedgerUnavailable(NoMoneyException):
    """The shared budget could not be asked (its process died or restarted): spending is refused."""

    def __init__(self, reason: str, estimate: float = 0.0):
        super().__init__(0.0, 0.0, estimate)
        self.args = (f"The shared budget is unavailable ({reason}); no call is sent without it. Rerun with --resume.",)


class HumanStopped(MetaGPTError):
    """The person playing a role (`is_human=True`) asked to stop. `Team.run` ends the run on it
    and returns the history so far (`team.stopped_by` holds it)."""

    exit_code = 130


class HumanInputClosed(UserError):
    """The input a human role reads its answers from ran out (a closed terminal, an exhausted
    pipe). `Team.run` ends the run on it and returns the history so far (`team.stopped_by`)."""


class DiagramError(MetaGPTError):
    """A mermaid diagram could not be rendered; never fatal to a run."""


class MermaidSyntaxError(DiagramError):
    """Mermaid's parser rejected the diagram; the message is the parser's error."""


class RenderEngineError(DiagramError):
    """The rendering engine failed (did not start, crashed or timed out); retrying may help."""


class ForbiddenInTests(MetaGPTError):
    """A real model provider was created while tests forbid real model requests."""


QUOTE_LIMIT = 200
"""Most characters of a value, or of another library's message, an error message quotes."""


def brief(value: object, limit: int = QUOTE_LIMIT) -> str:
    """`value` as a short, single-line quote for an error message: `repr` with bounded depth and length.

    Error messages quote what they got so the user can find it, but a value may be huge (a YAML
    alias bomb expands a 1 KB file into gigabytes) or span lines. The repr is built with limits
    on every level (`reprlib`), so even a huge nested value costs little, then cut to `limit`.
    """
    import reprlib

    shorter = reprlib.Repr()
    shorter.maxlevel, shorter.maxstring, shorter.maxother, shorter.maxlong = 3, limit, limit, 40
    shorter.maxlist = shorter.maxtuple = shorter.maxdict = shorter.maxset = 8
    try:
        text = " ".join(shorter.repr(value)[: limit * 2].split())
    except ValueError:  # an int too long to convert to text (Python's 4300-digit limit)
        text = f"<a {type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def brief_error(exc: BaseException, limit: int = QUOTE_LIMIT) -> str:
    """Another library's exception as `Type: message`, on one line and at most `limit` characters."""
    message = " ".join(str(exc)[: limit * 2].split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
