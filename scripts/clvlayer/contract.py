"""The raw input contract (read from models/staging/_sources.yml) and the error a folder that breaks it raises.

The check itself is clvlayer.inputs (one resolver for the pre-flight, the build and plain dbt): structural
problems (missing folder, missing required file or column, a file of the wrong type, an empty or unreadable file)
fail before dbt with a message that names the file, the column and the fix. Row-level problems (bad values) are not
errors: staging quarantines those rows with a reason.
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

