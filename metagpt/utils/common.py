"""Helpers MetaGPT scripts import from `metagpt.utils.common`.

Routing names (`any_to_str` and friends), JSON and text files (`read_json_file`, `awrite`, ...),
images as base64 (`encode_image`, `decode_image`; Pillow is imported only for PIL images) and the
markdown parsers `CodeParser` and `OutputParser` (`metagpt.utils.parsers`).
"""

from __future__ import annotations

import base64
import json
import re
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from metagpt.schema import any_to_str, any_to_str_set
from metagpt.utils.parsers import CodeParser, OutputParser

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = [
    "CodeParser",
    "OutputParser",
    "any_to_name",
    "any_to_str",
    "any_to_str_set",
    "aread",
    "awrite",
    "decode_image",
    "encode_image",
    "get_class_name",
    "read_json_file",
    "write_json_file",
]


def get_class_name(cls: type) -> str:
    """`module.QualName` of a class (the routing key `any_to_str` gives it)."""
    return any_to_str(cls)


def any_to_name(value: object) -> str:
    """The bare class name of a class, an instance or a dotted routing key (`WritePRD`)."""
    return any_to_str(value).rsplit(".", 1)[-1]


# -- files ----------------------------------------------------------------------------------------


def read_json_file(json_file: str | Path, encoding: str = "utf-8") -> Any:
    """The JSON value stored in `json_file`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it does not hold JSON.
    """
    path = Path(json_file)
    if not path.exists():
        raise FileNotFoundError(f"json_file: {path} not exist")
    try:
        return json.loads(path.read_text(encoding=encoding))
    except json.JSONDecodeError as error:
        raise ValueError(f"read json file: {path} failed: {error}") from error


def write_json_file(json_file: str | Path, data: Any, encoding: str = "utf-8", indent: int = 4) -> None:
    """Write `data` as JSON (pydantic models and paths included), creating the parent folders."""
    path = Path(json_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=to_jsonable_python)
    path.write_text(text, encoding=encoding)


async def awrite(filename: str | Path, data: str, encoding: str = "utf-8") -> None:
    """Write `data` to `filename` off the event loop, creating the parent folders."""
    import asyncio  # loaded by every async caller already; not needed to import this module

    def write() -> None:
        path = Path(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data, encoding=encoding)

    await asyncio.to_thread(write)


async def aread(filename: str | Path, encoding: str = "utf-8") -> str:
    """The text of `filename`, read off the event loop; "" when there is no such file.

    Bytes that are not valid in `encoding` are replaced rather than failing the read.
    """
    import asyncio

    path = Path(filename)
    if not filename or not path.is_file():
        return ""
    raw = await asyncio.to_thread(path.read_bytes)
    return raw.decode(encoding, errors="replace")


# -- images ---------------------------------------------------------------------------------------


def encode_image(image_path_or_pil: str | Path | Image, encoding: str = "utf-8") -> str:
    """Base64 text of an image file's bytes, or of a PIL image saved as JPEG.

    Raises:
        FileNotFoundError: the path does not exist.
    """
    if isinstance(image_path_or_pil, str | Path):
        path = Path(image_path_or_pil)
        if not path.exists():
            raise FileNotFoundError(f"{path} not exists")
        data = path.read_bytes()
    else:
        buffer = BytesIO()
        image_path_or_pil.convert("RGB").save(buffer, format="JPEG")
        data = buffer.getvalue()
    return base64.b64encode(data).decode(encoding)


def decode_image(img_url_or_b64: str) -> Image:
    """A PIL image from base64 text (optionally a `data:image/...;base64,` URL) or an http(s) URL."""
    from PIL import Image as PILImage

    if img_url_or_b64.startswith(("http://", "https://")):
        try:  # the openai SDK's HTTP client: httpx2 from openai 3 on (it installs no httpx), httpx before
            import httpx2 as httpx
        except ImportError:  # pragma: no cover - depends on the installed openai
            import httpx  # type: ignore[no-redef]  # the same API under its older name

        response = httpx.get(img_url_or_b64, follow_redirects=True, timeout=30)
        response.raise_for_status()
        data = response.content
    else:
        data = base64.b64decode(re.sub(r"^data:image/[^;]+;base64,", "", img_url_or_b64))
    return PILImage.open(BytesIO(data))
