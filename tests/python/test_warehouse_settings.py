"""The DuckDB profile's settings survive a spill: dbt-duckdb opens the database once with the profile's
config_options and applies its `settings` again on every new cursor (each dbt thread and node). DuckDB refuses to
switch the temp directory once something spilled there, so a temp directory among `settings` failed every node after
the first spill (the 100M-order build in docs/benchmarks.md failed that way after `base_shop__orders`)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml
from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.adapters.duckdb.environments import Environment

from clvlayer.project import PROJECT_ROOT

SPILLING_QUERY = ("create table spilled as select range % 1000003 as k, md5(range::varchar) as v "
                  "from range(2000000) order by v")


def rendered_output(env: dict[str, str]) -> dict:
    """The profile's dev output as dbt renders it, with `env` as the environment."""
    template = jinja2.Template((PROJECT_ROOT / "profiles.example.yml").read_text())
    text = template.render(env_var=lambda name, default=None: env.get(name, default))
    return yaml.safe_load(text)["customer_value"]["outputs"]["dev"]


def test_a_new_cursor_after_a_spill_gets_the_profiles_settings(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    output = rendered_output({"DUCKDB_PATH": str(tmp_path / "w.duckdb"), "DUCKDB_TEMP_DIR": str(spill),
                              "DUCKDB_MEMORY_LIMIT": "40MB"})
    output.pop("type"), output.pop("threads")
    credentials = DuckDBCredentials.from_dict({**output, "database": "w", "schema": "main"})
    connection = Environment.initialize_db(credentials)
    try:
        first = Environment.initialize_cursor(credentials, connection.cursor())
        first.execute("set threads = 1")
        first.execute(SPILLING_QUERY)
        assert any(spill.iterdir()), "the query did not spill: the test proves nothing"
        second = Environment.initialize_cursor(credentials, connection.cursor())  # the next node's cursor
        assert second.execute("select current_setting('temp_directory'), current_setting('memory_limit')") \
            .fetchone() == (str(spill), "38.1 MiB")
    finally:
        connection.close()

