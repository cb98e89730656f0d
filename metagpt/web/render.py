"""Model text as HTML a browser may show: markdown rendered, then sanitized; code highlighted.

Markdown is rendered with raw HTML off (markdown-it), and the result goes through nh3 (the
`ammonia` sanitizer) anyway, with a short list of tags and attributes and only http(s) and
mailto links. A diagram's mermaid source is shown as text, with the project's rendered
picture of it beside it when there is one (an `<img>`: an image runs no script).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from metagpt.const import RESOURCES_DIR
from metagpt.report import highlight_code as highlight
from metagpt.utils.safe_read import UnsafeFile, read_text, walk_files

TAGS = {
    *[
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
    ],
    *[
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
    ],
    *["table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"],
}
ATTRIBUTES = {
    "*": {"class", "title"},  # no `id`: a document must not clobber the page's own elements
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
PICTURES = ("svg", "png")


def sanitize(markup: str) -> str:
    """`markup` with every tag, attribute and URL scheme not allowed above removed."""
    import nh3

    return nh3.clean(
        markup,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def diagram_pictures(root: Path) -> dict[str, str]:
    """Mermaid source (stripped) -> the project path of its rendered picture (SVG first, else PNG)."""
    found: dict[str, str] = {}
    entries = {p.as_posix() for p, note in walk_files(root / RESOURCES_DIR) if not note and len(p.parts) == 1}
    for name in sorted(entries):
        if not name.endswith(".mmd"):
            continue
        stem = name[: -len(".mmd")]
        picture = next((f"{stem}.{ext}" for ext in PICTURES if f"{stem}.{ext}" in entries), None)
        if picture is None:
            continue
        try:
            source = read_text(root, f"{RESOURCES_DIR}/{name}", 1 << 20)
        except UnsafeFile:
            continue
        found[source.strip()] = f"{RESOURCES_DIR}/{picture}"
    return found


def markdown(text: str, pictures: dict[str, str] | None = None, image_base: str = "") -> str:
    """Sanitized HTML of a markdown document; `pictures` maps diagram sources to project paths
    of their renderings, shown from `image_base` + path."""
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    default_fence = cast(RendererHTML, md.renderer).rules["fence"]  # MarkdownIt's default renderer

    def fence(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        language = token.info.strip().split(" ")[0].lower()
        if language == "mermaid":
            code = token.content.strip()
            picture = (pictures or {}).get(code)
            image = (
                f'<img class="diagram" src="{html.escape(image_base + quote(picture))}" alt="diagram">'
                if picture
                else ""
            )
            return f'<figure class="diagram">{image}<details><summary>mermaid source</summary>' \
                   f'<pre>{html.escape(code)}</pre></details></figure>\n'  # fmt: skip
        if language:
            return highlight(token.content, language=language)
        return default_fence(tokens, idx, options, env)

    md.add_render_rule("fence", fence)
    return sanitize(md.render(text))
