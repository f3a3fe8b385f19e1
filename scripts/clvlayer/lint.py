"""Run sqlfluff (dbt templater) over models/, macros used in place, against an already seeded warehouse.

Usage: python -m clvlayer.lint DUCKDB_PATH PROFILES_DIR [extra sqlfluff args]
The dbt templater compiles each model, and compiling reads the seeded raw tables' columns, hence the warehouse.
"""

from __future__ import annotations

import os
import sys

from clvlayer.project import PROJECT_ROOT


def main(argv: list[str]) -> int:
    database, profiles_dir, *extra = argv
    os.environ["DUCKDB_PATH"] = database
    os.environ["DBT_PROFILES_DIR"] = profiles_dir
    os.environ.pop("RAW_DATA_DIR", None)
    os.environ.pop("CLV_INPUT_MANIFEST", None)
    os.chdir(PROJECT_ROOT)
    from sqlfluff.cli.commands import cli

    try:
        cli.main(args=["lint", "models", "analyses", *extra], prog_name="sqlfluff", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
