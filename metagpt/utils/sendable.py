"""Whether a key, model name or URL can be sent at all: checked with the settings, before any request.

An API key travels in an HTTP header and a URL in the request line, both ASCII without spaces;
a key copied with its trailing newline, or a base URL that does not parse, would otherwise fail
deep inside the HTTP client and be blamed on the endpoint (and retried).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from metagpt.exceptions import QUOTE_LIMIT, UserError

_PLACEHOLDER = re.compile(r"^(|sk-\.\.\.|your[_ -]?api[_ -]?key|<.*>|x{3,}|\.\.\.)$", re.IGNORECASE)


def is_placeholder(value: str | None) -> bool:
    """True when a secret is empty or still a template placeholder (`sk-...`, `YOUR_API_KEY`)."""
    return value is None or bool(_PLACEHOLDER.match(value.strip()))


def unsendable(text: str | None) -> str | None:
    """What makes `text` unfit for an HTTP header or URL (`a line break at position 12`); None when fine."""
    for position, char in enumerate(text or "", start=1):
        if "!" <= char <= "~":
            continue
        if char in "\r\n":
            kind = "a line break"
        elif char.isspace():
            kind = "a space"
        elif ord(char) < 32 or ord(char) == 127:
            kind = "a control character"
        else:
            kind = "a non-ASCII character"
        return f"{kind} at position {position}"
    return None


_HOST = re.compile(r"[A-Za-z0-9._~-]+|[0-9A-Fa-f:.]+(%[\w.~-]+)?")


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an endpoint (`no http:// or https:// scheme`); None when it can."""
    problem = unsendable(url)
    if problem:
        return f"it holds {problem}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError as exc:
        return " ".join(str(exc)[:QUOTE_LIMIT].split())
    if parts.scheme.lower() not in ("http", "https"):
        return "no http:// or https:// scheme"
    if not parts.hostname or not _HOST.fullmatch(parts.hostname):
        return "no valid host name"
    return None


def sendable_key(value: str | None) -> str | None:
    """`value`, when it can be sent as a key in an HTTP header.

    Raises:
        ValueError: saying what it holds that a header cannot (a settings validator's message).
    """
    problem = unsendable(value)
    if problem:
        hint = " (a line break copied with it?)" if problem.startswith("a line break") else ""
        raise ValueError(
            f"holds {problem}{hint}; a key is sent in an HTTP header, which takes only printable ASCII "
            "without spaces: copy it again from the provider"
        )
    return value


def check_sendable_text(text: str, what: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate, from bytes that were not UTF-8).

    Such text fails every request and every file write, so it is refused before any of them,
    as a user error rather than an endpoint failure that would be retried.

    Raises:
        UserError: naming `what` and the position of the bad character.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UserError(
            f"{what} holds a character that is not valid Unicode (U+{ord(exc.object[exc.start]):04X} at position "
            f"{exc.start + 1}); pass it as UTF-8 text (check the terminal's locale or how the text was decoded)."
        ) from None
