"""`ExecuteNbCode`: run generated cells in the sandboxed kernel and keep them as a notebook.

Every cell (and its outputs) goes into an `nbformat` notebook, written as `notebook.ipynb`;
images the code displays are saved under `figures/`. `pip install` in a cell is refused unless
`ALLOW_PIP` is set (the cell is not run, and the model is told why).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from metagpt.actions.di.kernel import CellResult, SandboxedKernel

PIP = re.compile(r"(^|[\s;!%(\"'])(pip3?|python3?\s+-m\s+pip|pip\.main|uv\s+pip)\b[\s\"',(\[]*(install|main)", re.M)
"""`pip install` as generated code writes it: `!pip install`, `%pip`, `python -m pip`, `pip.main([...])`,
inside `subprocess`/`os.system` strings."""
PIP_REFUSED = (
    "PermissionError: installing packages is refused (ALLOW_PIP is off): use what is installed, "
    "or ask the user to set ALLOW_PIP: true."
)


def asks_pip(code: str) -> bool:
    """True when the code would install packages with pip."""
    return bool(PIP.search(code))


class ExecuteNbCode:
    """Runs cells in a kernel and records them in a notebook (MetaGPT's action name).

    Args:
        kernel: the sandboxed kernel the cells run in.
        allow_pip: run cells that `pip install` (the `ALLOW_PIP` setting).
    """

    def __init__(self, kernel: SandboxedKernel, allow_pip: bool = False):
        import nbformat

        self.kernel = kernel
        self.allow_pip = allow_pip
        self.nb = nbformat.v4.new_notebook()
        self.nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        self.figures: dict[str, bytes] = {}
        """`figures/<name>.png` -> the image bytes, for every image a cell displayed."""

    def add_markdown(self, text: str) -> None:
        import nbformat

        self.nb.cells.append(nbformat.v4.new_markdown_cell(text))

    async def run(self, code: str, label: str = "") -> CellResult:
        """Run one cell (unless it asks pip and pip is off); record it with its outputs."""
        import nbformat

        if not self.allow_pip and asks_pip(code):
            result = CellResult(error=PIP_REFUSED)
            result.outputs.append({"output_type": "error", "ename": "PermissionError", "evalue": PIP_REFUSED[17:],
                                   "traceback": [PIP_REFUSED]})  # fmt: skip
        else:
            result = await self.kernel.execute(code)
        cell = nbformat.v4.new_code_cell(code)
        cell.execution_count = len([c for c in self.nb.cells if c.cell_type == "code"]) + 1
        cell.outputs = [nbformat.from_dict(_for_notebook(o)) for o in result.outputs]
        if result.restarted:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=result.restarted + "\n"))
        self.nb.cells.append(cell)
        for n, output in enumerate(o for o in result.outputs if "image/png" in o.get("data", {})):
            name = f"figures/{label or 'cell'}_{cell.execution_count}_{n + 1}.png"
            self.figures[name] = base64.b64decode(output["data"]["image/png"])
        return result

    def notebook_json(self) -> str:
        import nbformat

        nbformat.validate(self.nb)
        return nbformat.writes(self.nb)


def _for_notebook(output: dict[str, Any]) -> dict[str, Any]:
    if output.get("output_type") == "execute_result" and output.get("execution_count") is None:
        return {**output, "execution_count": 0}
    return output
