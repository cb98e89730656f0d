"""The design as the Engineer's prompts show it: plain lists instead of mermaid source.

A raw `classDiagram` block in a code prompt is a trap for a small model: `classDiagram` tokenizes
as `class`, `Di`, `agram` at a line start, and SmolLM2-135M then writes `classGame:` (measured:
after `class` it gives `Game` 0.667 and ` Game` 0.174; with the class diagram as a plain list,
` Game` 0.79 and `Game` 0.000). Strong models lose nothing: the same classes, members, relations
and calls are there, as a list. Both lists are parsed forgivingly; what is not recognised is left out.

The same parse gives `skeleton`: a file written from the design when the model's code never
parses, marked as such so no one takes it for working code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from metagpt.const import SKELETON_NOTE

if TYPE_CHECKING:
    from metagpt.actions.design_api import SystemDesign

_CLASS = re.compile(r"^class\s+([A-Za-z_]\w*)")
_MEMBER = re.compile(r"^[+#~-]?\s*(.+?)\s*$")
_METHOD = re.compile(r"^([A-Za-z_]\w*)\s*\(([^)]*)\)\s*:?\s*([\w\[\], ]*)$")
_ATTRIBUTE = re.compile(r"^(?:([A-Za-z_][\w\[\], ]*)\s+([A-Za-z_]\w*)|([A-Za-z_]\w*)\s*:\s*([\w\[\], ]+))$")
_RELATION = re.compile(r"^([A-Za-z_]\w*)\s*(<\|--|\*--|o--|-->|--\*|--o|\.\.>|\.\.\|>|--|\.\.)\s*([A-Za-z_]\w*)")
_OWNER_MEMBER = re.compile(r"^([A-Za-z_]\w*)\s*:\s*(.+)$")
_PARTICIPANT = re.compile(r"^(?:participant|actor)\s+(\w+)(?:\s+as\s+(.+))?$")
_MESSAGE = re.compile(r"^(\w+)\s*(-->>|->>|-->|->|--x|-x|--\)|-\))\s*[+-]?(\w+)\s*:\s*(.*)$")
RELATION_WORDS = {"<|--": "is the base of", "..|>": "implements", "*--": "is made of", "o--": "holds"}


@dataclass
class DesignClass:
    """One class of the class diagram."""

    name: str
    attributes: list[tuple[str, str]] = field(default_factory=list)
    """(name, type) pairs."""
    methods: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, parameters, return type) triples, the parameters as written."""


def parse_classes(mermaid: str) -> tuple[list[DesignClass], list[str]]:
    """The classes of a mermaid classDiagram, and its relations as sentences."""
    classes: dict[str, DesignClass] = {}
    relations: list[str] = []
    current: DesignClass | None = None
    for raw in mermaid.replace("\\n", "\n").splitlines():
        line = raw.strip()
        if not line or line.startswith("%%") or line == "classDiagram":
            continue
        if line.startswith("}"):
            current = None
            continue
        if match := _CLASS.match(line):
            current = classes.setdefault(match.group(1), DesignClass(match.group(1)))
            if not line.rstrip().endswith("{"):
                current = None
            continue
        if current is None and (match := _RELATION.match(line)):
            left, arrow, right = match.groups()
            word = RELATION_WORDS.get(arrow, "uses")
            relations.append(f"{right} inherits from {left}" if arrow == "<|--" else f"{left} {word} {right}")
            continue
        owner = current
        if owner is None and (match := _OWNER_MEMBER.match(line)):
            owner = classes.setdefault(match.group(1), DesignClass(match.group(1)))
            line = match.group(2)
        if owner is not None:
            _add_member(owner, _MEMBER.match(line).group(1))  # type: ignore[union-attr]
    return list(classes.values()), relations


def _add_member(owner: DesignClass, text: str) -> None:
    text = text.rstrip("$*")
    if match := _METHOD.match(text):
        name, params, returns = match.groups()
        owner.methods.append((name, params.strip(), returns.strip() or "None"))
    elif match := _ATTRIBUTE.match(text):
        kind, name, name2, kind2 = match.groups()
        owner.attributes.append((name or name2, (kind or kind2 or "").strip()))


def parse_calls(mermaid: str) -> list[str]:
    """The messages of a mermaid sequenceDiagram as `Caller -> Callee: what` lines, aliases resolved."""
    names: dict[str, str] = {}
    calls = []
    for raw in mermaid.replace("\\n", "\n").splitlines():
        line = raw.strip()
        if match := _PARTICIPANT.match(line):
            names[match.group(1)] = (match.group(2) or match.group(1)).strip()
        elif match := _MESSAGE.match(line):
            caller, arrow, callee, text = match.groups()
            verb = "answers" if arrow.startswith("--") else "calls"
            calls.append(f"{names.get(caller, caller)} {verb} {names.get(callee, callee)}: {text.strip()}")
    return calls


def class_list(classes: list[DesignClass], relations: list[str]) -> str:
    """Classes, their members and relations as a markdown list (no mermaid)."""
    lines = []
    for cls in classes:
        lines.append(f"- {cls.name}")
        lines += [f"  - attribute {name}: {kind}".rstrip(": ") for name, kind in cls.attributes]
        lines += [f"  - method {name}({params}) -> {returns}" for name, params, returns in cls.methods]
    lines += [f"- {relation}" for relation in relations]
    return "\n".join(lines) or "(none)"


def design_for_code(design: SystemDesign) -> str:
    """The system design for the Engineer's prompts: every section, diagrams as plain lists."""
    classes, relations = parse_classes(design.data_structures_and_interfaces)
    calls = parse_calls(design.program_call_flow)
    files = "\n".join(f"- {name}" for name in design.file_list) or "(none)"
    flow = "\n".join(f"- {call}" for call in calls) or "(none)"
    return (
        f"# System Design\n\n## Implementation approach\n\n{design.implementation_approach.strip() or '(none)'}\n\n"
        f"## Python package name\n\n{design.python_package_name}\n\n## File list\n\n{files}\n\n"
        f"## Classes (data structures and interfaces)\n\n{class_list(classes, relations)}\n\n"
        f"## Program call flow\n\n{flow}\n"
    )


def skeleton(filename: str, design: SystemDesign, classes_here: list[str] | None = None) -> str:
    """A runnable stand-in for `filename`: the design's classes with `NotImplementedError` bodies.

    `classes_here` are the classes this file should hold (default: `classes_of_file`); `main.py`,
    or a file with no class, gets a `main()` that exits saying the program is not implemented.
    The file says, in its docstring and in every body, that it was written from the design.
    """
    classes, _ = parse_classes(design.data_structures_and_interfaces)
    if classes_here is None:
        classes_here = classes_of_file(filename, [cls.name for cls in classes], list(design.file_list))
    classes = [cls for cls in classes if cls.name in classes_here]
    lines = [f'"""{filename}: {SKELETON_NOTE}"""', ""]
    for cls in classes:
        lines += ["", f"class {cls.name}:", f'    """{cls.name} of the design. {SKELETON_NOTE}"""', ""]
        lines.append("    def __init__(self) -> None:")
        body = [f"        self.{name} = None" for name, _ in cls.attributes if name.isidentifier()]
        lines += body or ["        pass"]
        for name, params, _ in cls.methods:
            if not name.isidentifier() or name == "__init__":
                continue
            arguments = ", ".join(_param_names(params))
            lines += [
                "",
                f"    def {name}(self{', ' + arguments if arguments else ''}):",
                f'        raise NotImplementedError("{cls.name}.{name}: written from the design, not implemented")',
            ]
    if filename.endswith("main.py") or not classes:
        lines += [
            "",
            "",
            "def main() -> None:",
            f'    raise SystemExit("{filename}: {SKELETON_NOTE}")',
            "",
            "",
            'if __name__ == "__main__":',
            "    main()",
        ]
    return "\n".join(lines).replace("\n\n\n\n", "\n\n\n") + "\n"


def from_design(root: Path) -> list[str]:
    """The Python files under `root` that were written from the design (they carry `SKELETON_NOTE`)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if ".git" in path.parts or ".metagpt" in path.parts or path.is_symlink() or not path.is_file():
            continue  # a folder the model named `a.py`, or a link planted by generated code
        if SKELETON_NOTE in path.read_text(encoding="utf-8", errors="replace")[:400]:
            found.append(path.relative_to(root).as_posix())
    return found


def classes_of_file(filename: str, classes: list[str], files: list[str]) -> list[str]:
    """The classes a file holds by name (`snake_game.py` holds `SnakeGame`); a file other than
    `main.py` that is the only one left also takes the classes no file is named after."""

    def stem(name: str) -> str:
        return name.rsplit("/", 1)[-1].removesuffix(".py").replace("_", "").lower()

    stems = {stem(name) for name in files}
    mine = [cls for cls in classes if cls.lower() == stem(filename)]
    others = [name for name in files if stem(name) != "main" and name.endswith(".py")]
    if others == [filename]:
        mine += [cls for cls in classes if cls.lower() not in stems and cls not in mine]
    return mine


def _param_names(params: str) -> list[str]:
    """Parameter names of `int x, y: str, z` (mermaid's `type name` or Python's `name: type`)."""
    names = []
    for part in params.split(","):
        words = part.replace(":", " ").split()
        if not words:
            continue
        name = words[0] if ":" in part else words[-1]
        if name.isidentifier() and name not in names and name != "self":
            names.append(name)
    return names
