"""The one resolver of raw input files: finds each contract table in the user's folder, inspects it and says how to
read it. Every command reaches it through clvlayer.dbt_inputs.prepare_inputs, and plain `dbt build` through the
profile's dbt-duckdb plugin (clvlayer.dbt_plugin); the staging macros never look for files themselves.

Its output is a resolved-input manifest (JSON): per table the real path, the format, the exact DuckDB reader call
(path escaped, CSV options fixed), the contract columns present and the number of data rows counted from the
source itself (CSV records by a byte scan, Parquet row counts from the file metadata). dbt gets the manifest in the
environment variable CLV_INPUT_MANIFEST; the staging macro `raw_relation` reads the tables through it and the
audit compares its counts with what staging produced, so no reader loss can go unnoticed.

Why Python and not a dbt macro: the checks that must happen before dbt (symlinks, directories, permissions,
encodings, line endings, a record count that is independent of DuckDB's CSV reader) are file-system work Jinja
cannot do, and doing them once means the pre-flight and the build cannot disagree about which file is read.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clvlayer import settings
from clvlayer.contract import InputError, TableContract, load_contract
from clvlayer.csvscan import scan_csv

READABLE_SUFFIXES = (".parquet", ".csv")
# Python codec -> DuckDB CSV encoding. Anything else (UTF-16 big-endian, which DuckDB reads as an empty table;
# Windows-1252; other codecs) is read through a UTF-8 copy. Latin-1 too when the file has bytes 0x80-0x9F, which
# DuckDB's Latin-1 decoder refuses for the whole file.
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16-le": "utf-16", "latin-1": "latin-1"}
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
MANIFEST_ENV = "CLV_INPUT_MANIFEST"
MAX_LINE_BYTES = 8 << 20


@dataclass
class InputSettings:
    """The 'input' vars the resolver needs; defaults from settings.yml (overridable with --vars)."""

    encoding: str = settings.default("input_encoding")
    delimiter: str = settings.default("csv_delimiter")
    quote: str = settings.default("csv_quote")
    escape: str = settings.default("csv_escape")

    @classmethod
    def from_vars(cls, values: dict[str, Any]) -> "InputSettings":
        return cls(encoding=str(values.get("input_encoding", cls.encoding)).strip().lower() or "auto",
                   delimiter=str(values.get("csv_delimiter", cls.delimiter)) or "auto",
                   quote=str(values.get("csv_quote", cls.quote)), escape=str(values.get("csv_escape", cls.escape)))


@dataclass
class TableInput:
    table: str
    path: str  # the real file read (symlinks followed)
    given_path: str  # the entry in the user's folder
    format: str  # csv | parquet
    reader_sql: str  # a DuckDB table function call, path escaped
    columns: dict[str, str]  # contract column -> column of the reader's output
    source_rows: int
    count_method: str
    rejects_table: str | None = None  # CSV: DuckDB's reject table for lines the reader could not parse
    encoding: str | None = None
    delimiter: str | None = None
    numeric_columns: list[str] = field(default_factory=list)  # Parquet: contract columns stored as numbers
    column_types: dict[str, str] = field(default_factory=dict)  # Parquet: contract column -> DuckDB type (typed once)
    header_columns: list[str] = field(default_factory=list)  # CSV: the reader's column names, in file order
    read_path: str | None = None  # CSV: the file the reader reads (a UTF-8 copy when the encoding needs one)
    header_lines: int = 1  # CSV: lines before the data (2 with Excel's sep= line)
    notes: list[str] = field(default_factory=list)
    size: int = 0  # bytes of the file (a batch folder: of all its files)
    sha256: str = ""  # the file's checksum (the load ledger compares it run to run); "" for a batch folder
    file_name: str = ""  # the file's name as given (a batch: its name inside the table's folder)
    # a table delivered as a folder of batch files: one entry per file, in name order (each read and counted like
    # a single file; the table's reader_sql is then empty and raw_relation reads the batches)
    batches: list["TableInput"] = field(default_factory=list)


@dataclass
class InputManifest:
    folder: str
    tables: dict[str, TableInput]
    version: int = 1

    def to_json(self) -> str:
        return json.dumps({"version": self.version, "folder": self.folder,
                           "tables": {name: asdict(t) for name, t in self.tables.items()}})

    def write(self, path: Path) -> Path:
        path.write_text(self.to_json())
        return path


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_file_literal(path: str | Path) -> str:
    """A SQL string literal naming exactly one file: quotes doubled and glob characters bracketed.

    DuckDB's file readers expand `*`, `?` and `[...]` in a path (and '**' recursively), so a folder named `shop[1]`
    or `exports?` would read other folders' files. `[*]`, `[?]` and `[[]` match the character itself.
    """
    escaped = re.sub(r"[\[*?]", lambda m: f"[{m.group(0)}]", str(path))
    return sql_string(escaped)


def project_vars(dbt_args: list[str] | None = None) -> dict[str, Any]:
    """Every var with its default from settings.yml, overridden by any `--vars` in dbt_args (as dbt would)."""
    return {**settings.defaults(), **settings.user_vars(dbt_args)}


def check_input_vars(values: dict[str, Any]) -> None:
    """Refuse vars dbt would refuse (settings.yml: names, types, allowed values, dates), before dbt runs; one
    message listing them all, the same as the compile-time check's (macros/settings/check_settings.sql)."""
    try:
        settings.check(values)
    except settings.SettingsError as error:
        raise InputError(str(error)) from None


# --- finding the file of each table -------------------------------------------------------------------------------

def _entries(folder: Path) -> dict[str, list[os.DirEntry]]:
    """Folder entries by lower-case name up to the first dot (orders.csv, ORDERS.CSV and orders.csv.gz: 'orders')."""
    by_stem: dict[str, list[os.DirEntry]] = {}
    with os.scandir(folder) as listing:
        for entry in listing:
            stem, dot, _ = entry.name.partition(".")
            if dot:
                by_stem.setdefault(stem.lower(), []).append(entry)
    return by_stem


def _check_entry_path(given: Path, table: TableContract) -> tuple[Path | None, str | None]:
    """The real file behind a folder entry, or the reason it cannot be read."""
    if given.is_symlink() and not given.exists():
        target = os.readlink(given)
        return None, (f"{given}: a symbolic link to {target}, which does not exist. Fix: point the link at the "
                      f"{table.name} export or remove it.")
    real = given.resolve()
    try:
        mode = real.stat().st_mode
    except OSError as error:
        return None, f"{given}: cannot be inspected ({error.strerror}). Fix: check the path and its permissions."
    if stat.S_ISDIR(mode):
        return None, (f"{given}: a directory, where the {table.name} table's file was expected. Fix: put the "
                      f"export itself at {given.name}, or batch files in a folder named {table.name}/ (no suffix).")
    if not stat.S_ISREG(mode):
        return None, f"{given}: not a regular file (a pipe or device). Fix: export the table to a file."
    if not os.access(real, os.R_OK):
        return None, f"{given}: not readable by this user. Fix: grant read permission (chmod a+r)."
    return real, None


def find_table_file(folder: Path, table: TableContract,
                    entries: dict[str, list[os.DirEntry]]) -> tuple[os.DirEntry | None, list[str]]:
    """The folder entry holding `table` (case-insensitive `<table>.parquet` / `<table>.csv`), or problems."""
    named = entries.get(table.name.lower(), [])
    readable = [e for e in named if "." + e.name.partition(".")[2].lower() in READABLE_SUFFIXES]
    if len(readable) > 1:
        names = " and ".join(sorted(e.name for e in readable))
        return None, [f"{folder}: {names} both hold table '{table.name}'. Fix: keep exactly one of them."]
    if readable:
        return readable[0], []
    others = sorted(e.name for e in named)
    if others:
        return None, [f"{folder / others[0]}: unsupported file type for table '{table.name}'. Fix: export it as "
                      f"{table.name}.parquet or {table.name}.csv."]
    if table.required:
        return None, [f"{folder}: required table '{table.name}' is missing. Fix: add {table.name}.parquet or "
                      f"{table.name}.csv with columns {', '.join(table.columns)}."]
    return None, []


# --- CSV -----------------------------------------------------------------------------------------------------------

BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def _bom(path: Path) -> tuple[int, str | None]:
    with path.open("rb") as handle:
        head = handle.read(4)
    for mark, encoding in BOMS:
        if head.startswith(mark):
            return len(mark), encoding
    return 0, None


def _normalise_encoding(name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise InputError(f"input_encoding '{name}' is not a known encoding. Fix: use auto, utf-8, utf-16, latin-1, "
                         "cp1252 or another Python codec name.") from None
    return {"utf-16": "utf-16-le", "iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(canonical, canonical)


def _first_invalid_utf8_line(path: Path) -> int | None:
    """1-based line of the first byte sequence that is not UTF-8, or None when the whole file is valid.

    Blocks of plain ASCII (the common case) are recognised with numpy and never decoded."""
    import numpy as np

    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, step = 1, 8 << 20
    for start in range(0, len(mapped), step):
        block = np.asarray(mapped[start:start + step])
        if decoder.getstate()[0] == b"" and not bool((block >= 0x80).any()):
            line += int(np.count_nonzero(block == 10))
            continue
        chunk = block.tobytes()
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            return line + chunk.count(b"\n", 0, max(error.start, 0))
        line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return line
    return None


def _choose_encoding(path: Path, declared: str) -> tuple[str, int, list[str]]:
    """(Python codec, BOM length, notes). 'auto': a byte-order mark decides; else UTF-8 when the whole file is
    valid UTF-8, else Windows-1252 (the superset of Latin-1 that spreadsheet exports use)."""
    bom_length, bom_encoding = _bom(path)
    if declared == "auto":
        if bom_encoding:
            return bom_encoding, bom_length, [f"encoding {bom_encoding} (byte-order mark)"]
        bad_line = _first_invalid_utf8_line(path)
        if bad_line is None:
            return "utf-8", 0, []
        return "cp1252", 0, [f"encoding cp1252 detected (not UTF-8 from line {bad_line}); set var input_encoding "
                             "to override"]
    encoding = _normalise_encoding(declared)
    if encoding.startswith("utf-16") and bom_encoding and bom_encoding.startswith("utf-16"):
        encoding = bom_encoding
    if bom_encoding and bom_encoding != encoding:
        bom_length = 0 if not bom_encoding.startswith("utf-16") or not encoding.startswith("utf-16") else bom_length
    if bom_encoding == "utf-8" and encoding == "utf-8":
        bom_length = 3
    return encoding, bom_length, [f"encoding {encoding} (var input_encoding)"]


def _has_c1_bytes(path: Path) -> bool:
    import numpy as np

    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    step = 16 << 20
    return any(bool(np.any((block >= 0x80) & (block < 0xA0)))
               for block in (np.asarray(mapped[i:i + step]) for i in range(0, len(mapped), step)))


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """Write a UTF-8 copy; bytes the codec cannot decode are kept as they are, so the reader rejects (and the
    build quarantines) exactly those lines instead of this step guessing."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
    with path.open("rb") as source, target.open("wb") as sink:
        while chunk := source.read(8 << 20):
            sink.write(decoder.decode(chunk).encode("utf-8", errors="surrogateescape"))
        sink.write(decoder.decode(b"", final=True).encode("utf-8", errors="surrogateescape"))


def _first_lines(path: Path, encoding: str, bom_length: int) -> list[str]:
    with path.open("rb") as handle:
        handle.seek(bom_length)
        raw = handle.read(1 << 20)
    text = raw.decode(encoding, errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n", 2)[:2]


EXCEL_SEPARATOR = re.compile(r"^\s*sep=(.)\s*$", re.IGNORECASE)  # Excel's first line naming the delimiter


def _header_fields(header: str, delimiter: str, quote: str) -> list[str]:
    reader = csv.reader(io.StringIO(header), delimiter=delimiter, quotechar=quote or None)
    return [name.strip().strip("\ufeff").strip().lower() for name in next(reader, [])]


def _choose_delimiter(header: str, table: TableContract, settings: InputSettings) -> tuple[str, list[str]]:
    if settings.delimiter != "auto":
        return settings.delimiter.replace("\\t", "\t"), [f"delimiter {settings.delimiter!r} (var csv_delimiter)"]
    scores = {d: len(set(_header_fields(header, d, settings.quote)) & set(table.columns)) for d in
              DELIMITER_CANDIDATES}
    best = max(DELIMITER_CANDIDATES, key=lambda d: (scores[d], -DELIMITER_CANDIDATES.index(d)))
    if scores[best] == 0:
        return ",", []
    return best, ([] if best == "," else [f"delimiter {best!r} (the header names the contract columns with it)"])


def _csv_reader_sql(path: Path, table: str, names: list[str], delimiter: str, settings: InputSettings,
                    encoding: str, skip: int = 0) -> str:
    """`table` names the reject tables: the table, or `<table>_<n>` for batch n of a batch folder."""
    columns = ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in names)
    return (f"read_csv({sql_file_literal(path)}, auto_detect = false, skip = {skip}, header = true, "
            f"delim = {sql_string(delimiter)}, quote = {sql_string(settings.quote)}, "
            f"escape = {sql_string(settings.escape)}, encoding = {sql_string(encoding)}, strict_mode = true, "
            f"max_line_size = {MAX_LINE_BYTES}, columns = {{{columns}}}, store_rejects = true, "
            f"rejects_table = 'clv_rejects_{table}', rejects_scan = 'clv_reject_scans_{table}')")


def inspect_csv(given: Path, real: Path, table: TableContract, settings: InputSettings,
                work_dir: Path | None, label: str | None = None, batch: bool = False) -> TableInput:
    """Decide how to read one CSV file (encoding, delimiter, columns) and count its records. `label` names its
    helper files and reject tables (default the table); a `batch` of a folder may hold no rows."""
    label = label or table.name
    notes: list[str] = []
    encoding, bom_length, encoding_notes = _choose_encoding(real, settings.encoding)
    notes += encoding_notes
    lines = _first_lines(real, encoding, bom_length) + [""]
    excel = EXCEL_SEPARATOR.match(lines[0])
    header = lines[1] if excel else lines[0]
    if excel and settings.delimiter == "auto":
        delimiter, delimiter_notes = excel.group(1), [f"delimiter {excel.group(1)!r} (the file's first line, sep=)"]
    else:
        delimiter, delimiter_notes = _choose_delimiter(header, table, settings)
    notes += delimiter_notes
    names = _header_fields(header, delimiter, settings.quote)
    _check_header(given, table, names)
    duckdb_encoding = DUCKDB_ENCODINGS.get(encoding)
    if encoding == "latin-1" and _has_c1_bytes(real):
        duckdb_encoding = None
    read_path = real
    if duckdb_encoding is None and work_dir is not None:
        read_path = work_dir / f"{label}.utf8.csv"
        _transcode(real, encoding, read_path)
        notes.append(f"read through a UTF-8 copy ({read_path.name}): DuckDB reads UTF-8, UTF-16 and Latin-1 only")
    scan = scan_csv(real, delimiter=delimiter, quote=settings.quote, escape=settings.escape,
                    encoding=encoding if encoding.startswith("utf-16") else "utf-8", bom_bytes=bom_length)
    if excel:  # the sep= line is a record of the scan, not data
        scan.data_records = max(scan.data_records - 1, 0)
    _check_structure(given, table, scan, batch)
    positional = [name if name in table.columns and name not in names[:i] else f"column_{i + 1}"
                  for i, name in enumerate(names)]
    return TableInput(
        table=table.name, path=str(real), given_path=str(given), format="csv",
        reader_sql=_csv_reader_sql(read_path, label, positional, delimiter, settings, duckdb_encoding or "utf-8",
                                   skip=1 if excel else 0),
        columns={c: c for c in table.columns if c in positional}, source_rows=scan.data_records,
        count_method="csv records (byte scan)", rejects_table=f"clv_rejects_{label}",
        encoding=encoding, delimiter=delimiter, notes=notes, header_columns=positional, read_path=str(read_path),
        header_lines=2 if excel else 1)


def _check_header(given: Path, table: TableContract, names: list[str]) -> None:
    duplicated = sorted({n for n in names if n and names.count(n) > 1 and n in table.columns})
    if duplicated:
        raise InputError(f"{given}: column '{duplicated[0]}' appears more than once in the header. Fix: keep one.")
    missing = [c for c in table.required_columns if c not in names]
    if missing:
        hint = ""
        if len(names) == 1:
            hint = " (the file parsed as a single column: check its delimiter and quoting)"
        raise InputError(f"{given}: required column '{missing[0]}' is missing{hint}; found columns: "
                         f"{', '.join(names)}. Fix: rename or add the column (contract: models/staging/_sources.yml).")


def _check_structure(given: Path, table: TableContract, scan: Any, batch: bool = False) -> None:
    if scan.unterminated_quote_line is not None:
        raise InputError(f"{given}: a quoted field opened on line {scan.unterminated_quote_line} never closes, so "
                         "every later line would be read as part of it. Fix: close or escape (\"\") the quote on "
                         "that line and re-export.")
    if scan.mixed_line_endings:
        styles = ", ".join(f"{count:,} {name}" for name, count in (("LF", scan.lf_terminators), (
            "CRLF", scan.crlf_terminators), ("CR", scan.cr_terminators)) if count)
        raise InputError(f"{given}: mixed line endings ({styles}); DuckDB's CSV reader needs one kind. Fix: convert "
                         "the file to one line ending (e.g. dos2unix) or re-export it.")
    if table.required and scan.data_records == 0 and not batch:
        raise InputError(f"{given}: the required table '{table.name}' has a header but no rows. Fix: export the "
                         "data again.")


# --- Parquet -------------------------------------------------------------------------------------------------------

def inspect_parquet(given: Path, real: Path, table: TableContract, batch: bool = False) -> TableInput:
    import duckdb

    literal = sql_file_literal(real)
    with duckdb.connect() as connection:
        try:
            rows = connection.execute(f"select sum(num_rows) from parquet_file_metadata({literal})").fetchone()
            described = connection.execute(f"describe select * from read_parquet({literal})").fetchall()
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise InputError(f"{given}: unreadable as parquet: {first_line}. Fix: check the file is a valid "
                             "Parquet file and re-export it.") from None
    lowered: dict[str, str] = {}
    types = {name.strip().lower(): str(kind).upper() for name, kind, *_ in described}
    for name, *_ in described:
        key = name.strip().lower()
        if key in lowered and key in table.columns:
            raise InputError(f"{given}: columns '{lowered[key]}' and '{name}' both map to '{key}'. Fix: keep one.")
        lowered.setdefault(key, name)
    missing = [c for c in table.required_columns if c not in lowered]
    if missing:
        raise InputError(f"{given}: required column '{missing[0]}' is missing; found columns: "
                         f"{', '.join(n for n, *_ in described)}. Fix: rename or add the column (contract: "
                         "models/staging/_sources.yml).")
    source_rows = int(rows[0] or 0) if rows else 0
    if table.required and source_rows == 0 and not batch:
        raise InputError(f"{given}: the required table '{table.name}' has no rows. Fix: export the data again.")
    return TableInput(table=table.name, path=str(real), given_path=str(given), format="parquet",
                      reader_sql=f"read_parquet({literal})",
                      columns={c: lowered[c] for c in table.columns if c in lowered}, source_rows=source_rows,
                      count_method="parquet metadata (row groups)",
                      numeric_columns=[c for c in table.columns if c in lowered and _is_numeric(types[c])],
                      column_types={c: types[c] for c in table.columns if c in lowered})


def _is_numeric(kind: str) -> bool:
    return kind.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL", "HUGEINT", "UHUGEINT")) or kind in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}


# --- one file, and a folder of batch files ------------------------------------------------------------------------

def _inspect_file(given: Path, table: TableContract, settings: InputSettings, work_dir: Path | None,
                  label: str | None = None, batch: bool = False) -> TableInput:
    """Check and describe one file of a table (its whole export, or one batch of a batch folder)."""
    real, problem = _check_entry_path(given, table)
    if problem or real is None:
        raise InputError(problem or f"{given}: unreadable")
    if real.stat().st_size == 0:
        raise InputError(f"{given}: the file is empty. Fix: export the table again (a header row at least), or "
                         f"remove the file{' (the table is required)' if table.required and not batch else ''}.")
    if real.suffix.lower() == ".parquet" or given.suffix.lower() == ".parquet":
        found = inspect_parquet(given, real, table, batch)
    else:
        found = inspect_csv(given, real, table, settings, work_dir, label, batch)
    found.size, found.sha256, found.file_name = real.stat().st_size, file_sha256(real), given.name
    return found


def file_sha256(path: Path) -> str:
    """The file's sha256 (the load ledger's checksum: a batch file rewritten after it was loaded is found by it)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _batch_folders(folder: Path) -> dict[str, os.DirEntry]:
    """Sub-folders named like a table (`orders/`, any letter case): tables delivered as batch files."""
    with os.scandir(folder) as listing:
        return {entry.name.lower(): entry for entry in listing if "." not in entry.name and entry.is_dir()}


def inspect_batch_folder(directory: Path, table: TableContract, files: list[os.DirEntry], settings: InputSettings,
                         work_dir: Path | None) -> TableInput:
    """A table delivered as a folder of batch files (`orders/2025-12-01.parquet`, ...): every file follows the same
    contract as a single export and is inspected, counted and checksummed on its own; the batches are read in name
    order (name them so that it is delivery order: dates, sequence numbers). Hidden files (`.name`, an extractor's
    partial download) are skipped."""
    if files:
        raise InputError(f"{directory.parent}: {files[0].name} and the folder {directory.name}/ both hold table "
                         f"'{table.name}'. Fix: keep one of them.")
    with os.scandir(directory) as listing:
        names = sorted(entry.name for entry in listing if not entry.name.startswith("."))
    unsupported = [n for n in names if Path(n).suffix.lower() not in READABLE_SUFFIXES]
    if unsupported:
        raise InputError(f"{directory / unsupported[0]}: not a batch file of table '{table.name}' (a batch folder "
                         "holds only .parquet or .csv files). Fix: move it out of the folder.")
    kinds = {Path(n).suffix.lower() for n in names}
    if len(kinds) > 1:
        raise InputError(f"{directory}: mixes .csv and .parquet batch files. Fix: deliver one format per table.")
    if not names:
        raise InputError(f"{directory}: a batch folder with no batch files. Fix: add them, or remove the folder"
                         f"{' (the table is required)' if table.required else ''}.")
    batches = [_inspect_file(directory / name, table, settings, work_dir, f"{table.name}_{index}", batch=True)
               for index, name in enumerate(names)]
    total = sum(b.source_rows for b in batches)
    if table.required and total == 0:
        raise InputError(f"{directory}: the required table '{table.name}' has no rows in any batch file. Fix: "
                         "export the data again.")
    first = batches[0]
    shared_types = {c: t for c, t in first.column_types.items()
                    if all(b.column_types.get(c) == t for b in batches)}  # typed once only when typed alike
    return TableInput(
        table=table.name, path=str(directory.resolve()), given_path=str(directory), format=first.format,
        reader_sql="", columns={c: c for c in table.columns if any(c in b.columns for b in batches)},
        source_rows=total, count_method=f"{len(batches)} batch files: {first.count_method}",
        numeric_columns=sorted({c for b in batches for c in b.numeric_columns}), column_types=shared_types,
        size=sum(b.size for b in batches), file_name=directory.name, batches=batches,
        notes=[f"batch folder: {len(batches)} files"])


# --- the resolver --------------------------------------------------------------------------------------------------

def resolve_inputs(folder: Path, *, dbt_args: list[str] | None = None, work_dir: Path | None = None) -> InputManifest:
    """Find, check and describe every contract table in `folder`. Raises InputError listing every problem.

    work_dir: where helper files may be written (a UTF-8 copy of a file in an encoding DuckDB cannot read);
    None for a check that must not write anything.
    """
    values = project_vars(dbt_args)
    check_input_vars(values)
    settings = InputSettings.from_vars(values)
    if not folder.exists():
        if folder.is_symlink():
            raise InputError(f"RAW_DATA_DIR={folder} is a symbolic link to {os.readlink(folder)}, which does not "
                             "exist. Fix: point it at the folder holding the exports.")
        raise InputError(f"RAW_DATA_DIR={folder} does not exist. Fix: point RAW_DATA_DIR at the folder holding "
                         "orders.parquet or orders.csv (and the optional tables), or unset it to build the sample.")
    if not folder.is_dir():
        raise InputError(f"RAW_DATA_DIR={folder} is a file, not a folder. Fix: point it at the folder that holds it.")
    folder = folder.resolve()
    problems: list[str] = []
    tables: dict[str, TableInput] = {}
    entries = _entries(folder)
    batch_folders = _batch_folders(folder)
    for table in load_contract().values():
        if table.name.lower() in batch_folders:
            try:
                tables[table.name] = inspect_batch_folder(Path(batch_folders[table.name.lower()].path), table,
                                                          entries.get(table.name.lower(), []), settings, work_dir)
            except InputError as error:
                problems.append(str(error))
            continue
        entry, found_problems = find_table_file(folder, table, entries)
        problems += found_problems
        if entry is None:
            continue
        try:
            tables[table.name] = _inspect_file(Path(entry.path), table, settings, work_dir)
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError("Input check failed:\n  - " + "\n  - ".join(problems))
    return InputManifest(folder=str(folder), tables=tables)
