"""The layouts of Criteo text the reader accepts, and their normalisation to raw Criteo TSV.

Two layouts, told apart by a file's first line (:func:`detect_layout`):

* **TSV** (Criteo Kaggle ``train.txt``, Terabyte ``day_*``): 40 tab-separated fields per line,
  no header. A first line that is exactly the header ``label I1 .. I13 C1 .. C26`` (tabs) is
  accepted and skipped.
* **CSV with header** (DeepCTR's ``criteo_sample.txt`` and the many public samples written by
  pandas): line 1 is ``label,I1,...,I13,C1,...,C26`` (names in any case, optionally quoted),
  then 40 comma-separated fields per line. Integer features may be float-formatted where they
  are whole (``260.0``, ``260.``, ``-1.00``); an empty field is missing, as in TSV.

:func:`csv_to_tsv` rewrites a chunk of CSV lines into the TSV the vectorised parser reads:
commas become tabs and the ``.0`` of whole floats is dropped, so every check and every
semantic of the TSV reader applies unchanged and line numbers are kept. A value that is not a
whole number (``2.5``) stays as it is and is reported by the parser, naming file, line and
field. A comma-separated first line that is not the header is refused at once: without it the
columns cannot be trusted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .criteo_parser import N_DENSE, N_TABLES, CriteoFormatError, _quote

__all__ = ["HEADER_NAMES", "CriteoLayout", "csv_to_tsv", "detect_layout"]

#: Column names of the header line, in order.
HEADER_NAMES = ("label", *(f"i{k}" for k in range(1, N_DENSE + 1)),
                *(f"c{k}" for k in range(1, N_TABLES + 1)))

# A digit, a dot and only zeros up to the end of the field: a whole number written as a float.
_WHOLE_FLOAT = re.compile(rb"(?<=[0-9])\.0*(?=[\t\n])")


@dataclass(frozen=True)
class CriteoLayout:
    """How one file's lines are laid out.

    Attributes
    ----------
    name : {"tsv", "csv"}
        Field separator: tab (raw Criteo) or comma (CSV with header).
    header : bool
        Line 1 is the column header (skipped; data starts at line 2).
    """

    name: str
    header: bool

    @property
    def separator(self) -> str:
        """``"tab"`` or ``"comma"``, as error messages name it."""
        return "tab" if self.name == "tsv" else "comma"

    def describe(self) -> str:
        """A short description for reports, e.g. ``"CSV with header"``."""
        if self.name == "csv":
            return "CSV with header"
        return "Criteo TSV with header" if self.header else "Criteo TSV"


def _names(line: bytes, separator: bytes) -> tuple[str, ...]:
    return tuple(field.strip().strip(b'"').decode("ascii", "replace").lower()
                 for field in line.split(separator))


def detect_layout(path: str, first_line: bytes) -> CriteoLayout:
    """The layout of the file ``path`` from its first line (without the newline).

    Raises
    ------
    CriteoFormatError
        The first line has commas and no tabs but is not the CSV header (line 1 named).
    """
    line = first_line.rstrip(b"\r\n")
    if b"\t" in line:
        return CriteoLayout("tsv", _names(line, b"\t") == HEADER_NAMES)
    if b"," in line:
        if _names(line, b",") == HEADER_NAMES:
            return CriteoLayout("csv", True)
        raise CriteoFormatError(
            path, 1,
            f"a comma-separated file must start with the header label,I1,...,I13,C1,...,C26 "
            f"(found {_quote(line, 60)}); raw Criteo files are tab-separated")
    return CriteoLayout("tsv", False)


def csv_to_tsv(data: bytes) -> bytes:
    """Whole CSV lines (``data`` ends with a newline) as Criteo TSV, line for line.

    Commas become tabs; a whole number written as a float loses its fraction (``260.0`` ->
    ``260``). Anything else is left for the parser to judge, so a malformed line is still
    reported at its own line number. A tab inside a CSV line is kept and so makes that line's
    field count wrong: reported, never silently read.
    """
    return _WHOLE_FLOAT.sub(b"", data.replace(b",", b"\t"))
