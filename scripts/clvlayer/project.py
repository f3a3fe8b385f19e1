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
        raw = os.environ.get("RAW_DATA_DIR", "").strip()
        return cls(warehouse=warehouse, raw_data_dir=Path(raw).resolve() if raw else None)


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
