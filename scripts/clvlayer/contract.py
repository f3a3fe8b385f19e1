"""The raw input contract (read from models/staging/_sources.yml) and the pre-flight check of a user's folder.

The pre-flight runs before dbt, so structural problems (missing folder, missing required file or column, a file of
the wrong type, an empty or unreadable file) fail fast with a message that names the file, the column and the fix.
Row-level problems (bad values) are not errors: staging quarantines those rows with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from clvlayer.project import SOURCES_YML

READABLE_SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class TableContract:
    name: str
    required: bool
    columns: tuple[str, ...]
    required_columns: tuple[str, ...]


class InputError(Exception):
    """A structural problem with the input folder; the message says what and how to fix it."""


def load_contract(path: Path = SOURCES_YML) -> dict[str, TableContract]:
    """The contract tables in declaration order, from the `meta` in _sources.yml (its single definition)."""
    document = yaml.safe_load(path.read_text())
    source = next(s for s in document["sources"] if s["name"] == "shop")
    contract: dict[str, TableContract] = {}
    for table in source["tables"]:
        columns = table.get("columns", [])
        contract[table["name"]] = TableContract(
            name=table["name"],
            required=bool(table.get("meta", {}).get("required", False)),
            columns=tuple(c["name"] for c in columns),
            required_columns=tuple(c["name"] for c in columns if c.get("meta", {}).get("required", False)),
        )
    return contract


def _reader(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{quoted}')"
    # store_rejects: a malformed line is set aside (and reported below) instead of confusing the dialect sniffer
    return f"read_csv('{quoted}', header = true, all_varchar = true, auto_detect = true, store_rejects = true)"


def check_input_folder(folder: Path) -> dict[str, Path]:
    """Validate a RAW_DATA_DIR folder against the contract; return the file found for each present table.

    Raises InputError listing every structural problem found (not only the first).
    """
    import duckdb

    contract = load_contract()
    if not folder.exists():
        raise InputError(f"RAW_DATA_DIR={folder} does not exist. Fix: point RAW_DATA_DIR at the folder holding "
                         "orders.parquet or orders.csv (and the optional tables), or unset it to build the sample.")
    if not folder.is_dir():
        raise InputError(f"RAW_DATA_DIR={folder} is a file, not a folder. Fix: point it at the folder that holds it.")

    problems: list[str] = []
    found: dict[str, Path] = {}
    connection = duckdb.connect()
    for table in contract.values():
        candidates = [folder / f"{table.name}{suffix}" for suffix in READABLE_SUFFIXES]
        present = [p for p in candidates if p.exists()]
        others = sorted(p.name for p in folder.glob(f"{table.name}.*") if p.suffix not in READABLE_SUFFIXES)
        if not present:
            if others:
                problems.append(f"{folder / others[0]}: unsupported file type for table '{table.name}'. Fix: export "
                                f"it as {table.name}.parquet or {table.name}.csv.")
            elif table.required:
                problems.append(f"{folder}: required table '{table.name}' is missing. Fix: add {table.name}.parquet "
                                f"or {table.name}.csv with columns {', '.join(table.columns)}.")
            continue
        path = present[0]
        if len(present) > 1:
            problems.append(f"{folder}: both {present[0].name} and {present[1].name} exist for table "
                            f"'{table.name}'. Fix: keep one (the parquet file would be read).")
        if path.stat().st_size == 0:
            problems.append(f"{path}: the file is empty. Fix: export the table again (a header row at least), or "
                            f"remove the file{' (the table is required)' if table.required else ''}.")
            continue
        try:
            described = connection.execute(f"describe select * from {_reader(path)}").fetchall()
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            problems.append(f"{path}: unreadable as {path.suffix[1:]}: {first_line}. Fix: check the file is a "
                            f"valid {path.suffix[1:].upper()} file (delimiter, quoting, encoding) and re-export it.")
            continue
        if path.suffix == ".csv":
            connection.execute(f"select count(*) from {_reader(path)}").fetchall()
            rejects = connection.execute(
                "select distinct e.line, e.error_message from reject_errors as e join reject_scans as s "
                "on e.scan_id = s.scan_id and e.file_id = s.file_id where s.file_path = ? order by 1 limit 5",
                [str(path)]).fetchall()
            if rejects:
                lines = "; ".join(f"line {line}: {message}" for line, message in rejects)
                problems.append(f"{path}: malformed CSV ({lines}). Fix: repair or remove those lines (quote fields "
                                "that contain commas) and re-export.")
                continue
        columns = [row[0].lower() for row in described]
        missing = [c for c in table.required_columns if c not in columns]
        for column in missing:
            hint = ""
            if len(columns) == 1 and path.suffix == ".csv":
                hint = " (the file parsed as a single column: check its delimiter and quoting)"
            problems.append(f"{path}: required column '{column}' is missing{hint}; found columns: "
                            f"{', '.join(columns)}. Fix: rename or add the column (contract: "
                            "models/staging/_sources.yml).")
        if not missing and table.required:
            rows = connection.execute(f"select count(*) from {_reader(path)}").fetchone()
            if rows is not None and rows[0] == 0:
                problems.append(f"{path}: the required table '{table.name}' has a header but no rows. Fix: export "
                                "the data again.")
        found[table.name] = path
    connection.close()
    if problems:
        raise InputError("Input check failed:\n  - " + "\n  - ".join(problems))
    return found
