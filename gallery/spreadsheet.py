"""CSV for spreadsheets: a text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return is a formula to Excel, LibreOffice and Sheets, so it is written with a leading `'`
(OWASP's advice against CSV injection). Numbers are written as they are."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value`, with a leading `'` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeDictWriter(csv.DictWriter):
    """`csv.DictWriter` whose text cells are neutralised by `safe_cell`."""

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})
