"""`metagpt.utils.common` in the shape of MetaGPT 0.6-0.8's own tests of it."""

from __future__ import annotations

import base64

import pytest

from metagpt.actions import Action, UserRequirement, WritePRD
from metagpt.roles import ProductManager
from metagpt.schema import Message
from metagpt.utils.common import (
    CodeParser,
    OutputParser,
    any_to_name,
    any_to_str,
    any_to_str_set,
    aread,
    awrite,
    decode_image,
    encode_image,
    get_class_name,
    read_json_file,
    write_json_file,
)

ANSWER = '''
## Required Python third-party packages
```python
"""
flask==1.1.2
"""
```
## Task list
```python
[
    "game.py",
    "app.py",
]
```
## Anything UNCLEAR
```python
"We need clarification on how the high score should be stored."
```
'''


def test_any_to_str_names_classes_instances_and_strings():
    assert get_class_name(WritePRD) == "metagpt.actions.write_prd.WritePRD"
    assert any_to_str(WritePRD) == any_to_str(WritePRD()) == "metagpt.actions.write_prd.WritePRD"
    assert any_to_str("metagpt.actions.write_prd.WritePRD") == "metagpt.actions.write_prd.WritePRD"
    assert any_to_str(Message) == "metagpt.schema.Message"
    assert any_to_str_set([WritePRD, UserRequirement()]) == {
        "metagpt.actions.write_prd.WritePRD",
        "metagpt.actions.add_requirement.UserRequirement",
    }
    assert any_to_str_set(ProductManager) == {"metagpt.roles.product_manager.ProductManager"}
    assert any_to_name(WritePRD) == any_to_name(WritePRD()) == "WritePRD"
    assert any_to_name("a.b.Action") == "Action" and any_to_name(Action) == "Action"


def test_code_parser_reads_sections_of_a_markdown_answer():
    parser = CodeParser()
    assert "game.py" in parser.parse_blocks(ANSWER)["Task list"]
    assert "game.py" in parser.parse_block("Task list", ANSWER)
    assert parser.parse_block("Nope", ANSWER) == ""
    assert parser.parse_code("Task list", ANSWER, "python").startswith("[\n")
    assert parser.parse_str("Anything UNCLEAR", ANSWER, "python").startswith("We need clarification on how")
    assert parser.parse_file_list("Task list", ANSWER) == ["game.py", "app.py"]
    assert CodeParser.parse_code(block="", text="```python\nprint(1)\n```") == "print(1)"
    with pytest.raises(ValueError, match="no list literal"):
        parser.parse_file_list("Required Python third-party packages", ANSWER)


def test_output_parser_reads_a_whole_answer():
    assert OutputParser.parse_blocks("##block1\nThis is block 1.\n##block2\nThis is block 2.") == {
        "block1": "This is block 1.",
        "block2": "This is block 2.",
    }
    assert OutputParser.parse_code("```python\nprint('Hello, world!')```", "python") == "print('Hello, world!')"
    with pytest.raises(ValueError):
        OutputParser.parse_code("```python\nprint('Hello, world!')```", "java")
    assert OutputParser.parse_str("name = 'Alice'") == "Alice"
    assert OutputParser.parse_file_list("files=['file1', 'file2', 'file3']") == ["file1", "file2", "file3"]
    assert OutputParser.parse_file_list("a.py\nb.py") == ["a.py", "b.py"]
    data = "##block1\n```python\nprint('Hello, world!')\n```\n##block2\nfiles=['file1', 'file2', 'file3']"
    parsed = OutputParser.parse_data(data)
    assert parsed == {"block1": "print('Hello, world!')\n", "block2": ["file1", "file2", "file3"]}
    assert OutputParser.extract_content("x [CONTENT]\n{}\n[/CONTENT] y") == "{}"


@pytest.mark.parametrize(
    "text",
    [
        "```python\nprint('Hello, world!')```",
        "```python\nprint('Hello, world!')",
        "print('Hello, world!')",
        "print('Hello, world!')```",
    ],
)
def test_parse_python_code_with_or_without_its_fence(text):
    assert OutputParser.parse_python_code(text) == "print('Hello, world!')"


def test_parse_python_code_keeps_fences_inside_strings_and_refuses_non_code():
    expected = "print('```Hello, world!```')"
    assert OutputParser.parse_python_code("```python\nprint('```Hello, world!```')```") == expected
    assert OutputParser.parse_python_code("The code is: ```python\nprint('```Hello, world!```')```") == expected
    assert OutputParser.parse_python_code("xxx.\n```python\nprint('```Hello, world!```')```\nxxx") == expected
    with pytest.raises(ValueError):
        OutputParser.parse_python_code("xxx =")


@pytest.mark.parametrize(
    ("text", "data_type", "parsed"),
    [
        ('xxx [1, 2, ["a", [3, 4]], {"x": 5, "y": [6, 7]}] xxx', list, [1, 2, ["a", [3, 4]], {"x": 5, "y": [6, 7]}]),
        ('xxx ["1", "2", "3"] xxx \n xxx \t xx', list, ["1", "2", "3"]),
        ('xxx {"title": "x", \n "sub": [1, 2]} xxx', dict, {"title": "x", "sub": [1, 2]}),
        ("no structure here", dict, {}),
    ],
)
def test_extract_struct(text, data_type, parsed):
    assert OutputParser.extract_struct(text, data_type) == parsed


def test_extract_struct_refuses_what_does_not_parse():
    with pytest.raises(ValueError, match="does not parse"):
        OutputParser.extract_struct("xxx {'a': } xxx", dict)


def test_json_files_round_trip_and_fail_loudly(tmp_path):
    path = tmp_path / "deep" / "data.json"
    write_json_file(path, {"name": "张三", "path": tmp_path, "message": Message("hi")})
    data = read_json_file(path)
    assert data["name"] == "张三" and data["path"] == str(tmp_path) and data["message"]["content"] == "hi"
    assert "张三" in path.read_text(encoding="utf-8")  # not \\u-escaped
    with pytest.raises(FileNotFoundError):
        read_json_file(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json"):
        read_json_file(tmp_path / "bad.json")


async def test_awrite_and_aread(tmp_path):
    path = tmp_path / "a" / "b.txt"
    await awrite(path, "hello 世界")
    assert await aread(path) == "hello 世界" and await aread(str(path)) == "hello 世界"
    assert await aread(tmp_path / "missing.txt") == ""
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert (await aread(tmp_path / "latin1.txt")).startswith("caf")


def test_encode_and_decode_image(tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "red.png"
    image_module.new("RGB", (4, 3), (255, 0, 0)).save(path)

    b64 = encode_image(path)
    assert base64.b64decode(b64) == path.read_bytes() and encode_image(str(path)) == b64
    assert decode_image(b64).size == (4, 3)
    assert decode_image(f"data:image/png;base64,{b64}").getpixel((0, 0)) == (255, 0, 0)
    from_pil = decode_image(encode_image(image_module.open(path)))
    assert from_pil.format == "JPEG" and from_pil.size == (4, 3)
    with pytest.raises(FileNotFoundError):
        encode_image(tmp_path / "missing.png")


def test_decode_image_fetches_an_http_url_with_the_openai_sdks_client(tmp_path):
    """The client is httpx, or httpx2 from openai 3 on (which installs no `httpx`)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    image_module = pytest.importorskip("PIL.Image")
    path = tmp_path / "red.png"
    image_module.new("RGB", (4, 3), (255, 0, 0)).save(path)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        image = decode_image(f"http://127.0.0.1:{server.server_port}/red.png")
    finally:
        server.shutdown()
        server.server_close()

    assert image.size == (4, 3) and image.getpixel((0, 0)) == (255, 0, 0)
