"""Where things are: the project root, the warehouse paths and the dbt profile the CLI uses."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROFILE_TEMPLATE = PROJECT_ROOT / "profiles.example.yml"
PROFILES_DIR = PROJECT_ROOT / ".dbt"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "warehouse" / "customer_value.duckdb"
SOURCES_YML = PROJECT_ROOT / "models" / "staging" / "_sources.yml"
RAW_DIR_ENV = "RAW_DATA_DIR"


def raw_folder(value: str | os.PathLike[str] | None) -> Path | None:
    """The one normalisation of a raw input folder (--raw-dir, RAW_DATA_DIR, `clv check-input FOLDER`, the dbt
    plugin): absolute against the working directory, symbolic links kept, so a message names the path the user
    gave (the resolver follows the links itself); empty or unset = None, the embedded sample."""
    text = os.fspath(value).strip() if value is not None else ""
    return Path(os.path.abspath(os.path.expanduser(text))) if text else None


@dataclass(frozen=True)
class Settings:
    """Paths a command works with, resolved from the environment (the same variables the profile reads)."""

    warehouse: Path
    raw_data_dir: Path | None

    @classmethod
    def from_env(cls) -> "Settings":
        warehouse = Path(os.environ.get("DUCKDB_PATH", str(DEFAULT_WAREHOUSE)))
        if not warehouse.is_absolute():
            warehouse = PROJECT_ROOT / warehouse
        return cls(warehouse=warehouse, raw_data_dir=raw_folder(os.environ.get(RAW_DIR_ENV)))


def ensure_profiles_dir() -> Path:
    """Install profiles.example.yml as the dbt profile (a copy under .dbt/, git-ignored) and return its folder.

    The example file is the only profile definition; this copy exists because dbt only reads a file named
    profiles.yml. Users never copy it by hand.
    """
    PROFILES_DIR.mkdir(exist_ok=True)
    target = PROFILES_DIR / "profiles.yml"
    if not target.exists() or target.read_bytes() != PROFILE_TEMPLATE.read_bytes():
        shutil.copyfile(PROFILE_TEMPLATE, target)
    return PROFILES_DIR
