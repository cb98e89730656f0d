"""Data helpers for the user's CSV and Excel files in the project folder, read link-safely."""

from __future__ import annotations

import csv
import io

from metagpt.exceptions import UserError
from metagpt.tools.context import tool_context
from metagpt.tools.registry import register_tool
from metagpt.utils.safe_read import UnsafeFile, read_bytes

MAX_FILE = 50 << 20
MAX_ROWS = 10_000


def _read(path: str) -> bytes:
    try:
        return read_bytes(tool_context().workdir, path, MAX_FILE)
    except (UnsafeFile, OSError, ValueError) as exc:
        raise UserError(f"Cannot read {path} in the project folder: {exc}") from None


def _number(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


@register_tool(tags=["csv", "table", "spreadsheet", "data", "load", "rows", "columns"])
def read_csv_rows(path: str, limit: int = 1000) -> list[dict]:
    """Read a CSV file (relative to the project folder) as rows of column -> value; numbers become numbers.

    Args:
        path: the file, e.g. "sales.csv".
        limit: at most this many rows.
    """
    text = _read(path).decode("utf-8-sig", errors="replace")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append({k: _number(v) if isinstance(v, str) else v for k, v in row.items()})
        if len(rows) >= min(int(limit), MAX_ROWS):
            break
    return rows


@register_tool(tags=["excel", "xlsx", "spreadsheet", "sheet", "workbook", "data", "table"])
def read_excel_rows(path: str, sheet: str | None = None, limit: int = 1000) -> list[dict]:
    """Read an Excel sheet (.xlsx, relative to the project folder) as rows; the first row names the columns.

    Args:
        path: the workbook, e.g. "sales.xlsx".
        sheet: the sheet's name; default the first sheet.
        limit: at most this many rows.
    """
    try:
        from openpyxl import load_workbook
    except ImportError:
        raise UserError("Reading Excel files needs openpyxl: pip install -e '.[office]'.") from None
    book = load_workbook(io.BytesIO(_read(path)), read_only=True, data_only=True)
    ws = book[sheet] if sheet else book.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(h) for h in next(rows, ())]
    out = []
    for values in rows:
        out.append(dict(zip(header, values, strict=False)))
        if len(out) >= min(int(limit), MAX_ROWS):
            break
    return out


@register_tool(tags=["csv", "statistics", "summary", "describe", "columns", "mean", "data"])
def describe_csv(path: str) -> dict:
    """Summarise a CSV file: its row count and, per column, the type, count, min, max and mean of numbers.

    Args:
        path: the file, relative to the project folder.
    """
    rows = read_csv_rows(path, MAX_ROWS)
    columns: dict[str, dict] = {}
    for name in rows[0].keys() if rows else []:
        values = [r[name] for r in rows if r.get(name) not in (None, "")]
        numbers = [v for v in values if isinstance(v, (int, float))]
        info: dict = {"count": len(values), "type": "number" if numbers and len(numbers) == len(values) else "text"}
        if numbers:
            info.update(min=min(numbers), max=max(numbers), mean=sum(numbers) / len(numbers))
        columns[name] = info
    return {"rows": len(rows), "columns": columns}
