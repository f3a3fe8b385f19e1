"""BI tools: the SQLAlchemy URI of docs/analyst_guide.md (Superset via duckdb-engine) reads the marts read-only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy


def test_superset_uri_reads_marts_and_refuses_writes(sample_warehouse: Path) -> None:
    engine = sqlalchemy.create_engine(f"duckdb:///{sample_warehouse.resolve()}?access_mode=read_only")
    try:
        with engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("select current_setting('access_mode')")).scalar() == \
                "read_only"
            buyers = connection.execute(sqlalchemy.text(
                "select count(*) from marts.fct_customer_ltv where has_completed_order")).scalar()
            assert buyers == 3789
            # the dashboard (another process) reads while the BI connection is open
            dashboard = subprocess.run(
                [sys.executable, "-c", "import sys; from pathlib import Path; from clvlayer.dashboard import data; "
                 "print(data.data_coverage(Path(sys.argv[1]))['buyers'].iloc[0])", str(sample_warehouse)],
                capture_output=True, text=True, check=True)
            assert int(dashboard.stdout) == buyers
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only|read only|Cannot execute"):
                connection.execute(sqlalchemy.text("create table marts.scratch (x integer)"))
    finally:
        engine.dispose()
