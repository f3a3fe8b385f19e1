"""The dbt-duckdb plugin that lets plain dbt read a user's folder: `RAW_DATA_DIR=/data dbt build --profiles-dir .dbt`.

The project's profile (profiles.example.yml) names it under `plugins:`. When dbt opens its DuckDB connection and
RAW_DATA_DIR is set but no resolved-input manifest was given (CLV_INPUT_MANIFEST, which the `clv` commands always
pass and which stays an override), the plugin runs the one input path (clvlayer.dbt_inputs.prepare_inputs: the
input vars checked, the folder resolved, with this invocation's --vars) and hands the manifest to the staging macros
in this invocation's environment, which their `env_var` reads. The macro `input_manifest()` opens the connection
first when it finds no manifest, so the plugin has run before any model reads a file. Once per dbt invocation.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from dbt_common.context import get_invocation_context
from dbt_common.exceptions import DbtRuntimeError

from clvlayer.contract import InputError
from clvlayer.dbt_inputs import INPUTS_WORK_DIR, manifest_env, prepare_inputs
from clvlayer.inputs import MANIFEST_ENV
from clvlayer.project import RAW_DIR_ENV


def _cli_vars() -> list[str]:
    """This invocation's --vars, as dbt parsed them (the input settings may be among them)."""
    from dbt.flags import get_flags

    values = getattr(get_flags(), "VARS", None) or {}
    return ["--vars", json.dumps(values, default=str)] if values else []


def publish_manifest(env: dict[str, str]) -> None:
    """Resolve RAW_DATA_DIR into CLV_INPUT_MANIFEST of `env` unless it holds a manifest already (or no folder)."""
    if not env.get(RAW_DIR_ENV, "").strip() or env.get(MANIFEST_ENV, "").strip():
        return
    try:
        inputs = prepare_inputs(env[RAW_DIR_ENV], dbt_args=_cli_vars(), work_dir=INPUTS_WORK_DIR)
    except InputError as error:
        raise DbtRuntimeError(str(error)) from None
    env.update({key: value or "" for key, value in manifest_env(inputs.manifest_json).items()})


class Plugin(BasePlugin):
    _lock = threading.Lock()

    def configure_cursor(self, cursor: Any) -> None:
        """Run on every cursor dbt-duckdb hands out (not in `initialize`: its environment, this plugin with it, can
        outlive an invocation in one process); a no-op once the invocation has its manifest."""
        with self._lock:  # dbt's threads open their cursors at once
            env = get_invocation_context().env  # a dict of this invocation (dbt reads env_var from it)
            publish_manifest(env)  # type: ignore[arg-type]
