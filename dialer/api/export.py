"""CSV and XLSX downloads of any filtered list (calls, records, DNC …).

Routes build the rows with the same query as the page shows (filters, scope) and hand them
here with the column titles; :func:`export_response` answers with the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from typing import Any

from fastapi.responses import Response, StreamingResponse
from openpyxl import Workbook


class ExportFormat(StrEnum):
    """File formats a list can be exported to."""

    CSV = "csv"
    XLSX = "xlsx"


_XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Spreadsheet programs run cells starting with these as formulas (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, bool | int | float | dt.date):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def sheet_title(name: str) -> str:
    """``name`` as a spreadsheet tab title (no ``/ \\ ? * [ ] :``, at most 31 characters)."""
    return re.sub(r"[/\\?*\[\]:]", "-", name)[:31].strip("' ") or "export"


def _csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [v.isoformat(sep=" ") if isinstance(v, dt.datetime) else _cell(v) for v in row]
        )
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_response(
    fmt: ExportFormat,
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet: str = "export",
) -> Response:
    """The download of ``rows`` as ``filename.csv`` or ``filename.xlsx`` (times in UTC)."""
    if fmt is ExportFormat.CSV:
        return StreamingResponse(
            _csv_lines(header, rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet_title(sheet))
    ws.append(list(header))
    for row in rows:
        ws.append([_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type=_XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )
