"""The raw input contract (read from models/staging/_sources.yml) and the pre-flight check of a user's folder.

The pre-flight runs before dbt, so structural problems (missing folder, missing required file or column, a file of
the wrong type, an empty or unreadable file) fail fast with a message that names the file, the column and the fix.
Row-level problems (bad values) are not errors: staging quarantines those rows with a reason. Finding and
inspecting the files is clvlayer.inputs (one resolver for the pre-flight and the build).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from clvlayer.project import SOURCES_YML


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


def check_input_folder(folder: Path, dbt_args: list[str] | None = None) -> dict[str, Path]:
    """Validate a RAW_DATA_DIR folder against the contract; return the file found for each present table.

    The resolver in clvlayer.inputs does the work (the same one the build uses). Raises InputError listing every
    structural problem found (not only the first).
    """
    from clvlayer.inputs import resolve_inputs

    manifest = resolve_inputs(folder, dbt_args=dbt_args)
    return {name: Path(table.given_path) for name, table in manifest.tables.items()}
