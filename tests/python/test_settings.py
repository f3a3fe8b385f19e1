"""The one settings surface (settings.yml): the generated files agree with it, every var read is declared and every
declared var is read, the Python and the compile-time checks refuse the same things with the same message, and the
build's own unit tests pass with a non-default value of every setting (they pin what they rely on)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from clvlayer import settings
from clvlayer.project import PROJECT_ROOT

READERS = [*(PROJECT_ROOT / "models").rglob("*.sql"), *(PROJECT_ROOT / "models").rglob("*.yml"),
           *(PROJECT_ROOT / "macros").rglob("*.sql"), *(PROJECT_ROOT / "analyses").rglob("*.sql")]
VAR_CALL = re.compile(r"""\bvar\(\s*['"]([A-Za-z_]\w*)['"]""")


def test_generated_files_agree_with_the_declarations() -> None:
    assert settings.stale() == [], f"stale: {settings.stale()}. Fix: {settings.GENERATOR}"


def test_every_var_read_is_declared_and_every_declared_var_is_read() -> None:
    read = {name for path in READERS for name in VAR_CALL.findall(path.read_text())}
    declared = set(settings.declarations())
    assert read - declared == set(), "read but not declared in settings.yml"
    # raw_data_dir and input_manifest are also read by the CLI; the input group by the resolver (Python)
    python = (PROJECT_ROOT / "scripts" / "clvlayer" / "inputs.py").read_text()
    unread = {name for name in declared - read if f'"{name}"' not in python}
    assert unread == set(), "declared but never read: remove them from settings.yml"


def test_no_var_call_restates_a_default() -> None:
    restated = [f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)}" for path in READERS
                for match in re.finditer(r"""\bvar\(\s*['"]\w+['"]\s*,[^)]*\)""", path.read_text())]
    assert restated == [], "the default lives in settings.yml only"


def test_every_default_is_valid_and_every_check_passes_at_the_defaults() -> None:
    assert settings.problems(settings.defaults()) == []


def given(text: str) -> dict[str, Any]:
    return {**settings.defaults(), **settings.user_vars(["--vars", text])}


@pytest.mark.parametrize("vars_, message", [
    ("{clv_horizon_month: 12}", "var clv_horizon_month is not a setting of this project (did you mean "
                                "clv_horizon_months?); the settings are: raw_data_dir, input_manifest,"),
    ("{lifetime_min_at_risk: 0}", "var lifetime_min_at_risk must be a whole number >= 1, got 0"),
    ("{lifetime_min_at_risk: 2.5}", "var lifetime_min_at_risk must be a whole number >= 1, got 2.5"),
    ("{clv_interval_level: 1}", "var clv_interval_level must be a number strictly between 0 and 1, got 1"),
    ("{clv_model: pareto}", 'var clv_model must be empty (chosen on the holdout) or one of bgnbd, mbgnbd, '
                            'paretonbd, got "pareto"'),
    ("{as_of_date: '2024-13-01'}", 'var as_of_date must be empty (the date of the last clean order) or a date '
                                 '(YYYY-MM-DD), got "2024-13-01"'),
    ("{cvm_stage_actions: {new: hello}}", "var cvm_stage_actions must be a mapping (keys no_purchases, new, active"),
    ("{rfm_segment_rules: [{segment: a, r_minimum: 3}]}", "var rfm_segment_rules must be a list, each item a mapping"),
    ("{as_of_date: 2024-06-30, clv_holdout_split_date: 2024-06-30}",
     "var clv_holdout_split_date (2024-06-30) must be before the calibration end (2024-06-30, as_of_date)"),
    ("{as_of_date: 2024-06-30, clv_as_of_date: 2024-07-31}",
     "var clv_as_of_date (2024-07-31) is after as_of_date (2024-06-30)"),
    ("{cvm_vip_value_tier: gold}", "var cvm_vip_value_tier must be one of the tiers of value_tier_shares"),
    ("{churn_risk_medium_from: 0.9}", "var churn_risk_medium_from (0.9) must not exceed churn_risk_high_from (0.8)"),
    ("{value_tier_shares: {top: 0.1, high: 0.3, low: 0.9}}",
     "var value_tier_shares must end at 1 (its largest cumulative share is 0.9)"),
])
def test_python_refuses_a_bad_setting_naming_it(vars_: str, message: str) -> None:
    with pytest.raises(settings.SettingsError) as error:
        settings.check(given(vars_))
    assert message in str(error.value)


def test_dbt_refuses_what_python_refuses_with_the_same_message(tmp_path: Path) -> None:
    """One dbt invocation (the hook fails it before the model runs): the check of macros/settings/check_settings.sql
    on a misspelt name and three bad values gives the Python message, word for word."""
    from clvlayer.dbt_runner import run_dbt

    text = "{clv_horizon_month: 12, clv_time_unit: month, value_tier_shares: {top: 2}, null_tokens: nan}"
    with pytest.raises(settings.SettingsError) as error:
        settings.check(given(text))
    outcome = run_dbt(["run", "--select", "int_as_of_dates", "--vars", text, "--target-path",
                       str(tmp_path / "target")], duckdb_path=tmp_path / "w.duckdb", quiet=True)
    assert not outcome.success
    assert any(str(error.value) in failure for failure in outcome.failures), (str(error.value), outcome.failures)


def non_default(spec: dict[str, Any]) -> Any:
    """A valid value other than the default: the declared test_value, else one derived from the declaration (the
    lowest allowed number, which is where a threshold is most often relied on)."""
    if "test_value" in spec:
        return spec["test_value"]
    kind, value = spec["type"], spec["default"]
    if "allowed" in spec:
        return next(a for a in spec["allowed"] if str(a).upper() != str(value).upper())
    if kind in ("integer", "number"):
        low = spec.get("min", spec.get("above", 0) + (1 if kind == "integer" else 0.25))
        high = spec.get("max", spec.get("below", (value or low) * 2 + 1))
        candidates = [low, value + 1 if value != "" else None, (low + high) / 2]
        return next(c for c in candidates if c is not None and c != value and settings.valid(c, spec))
    if kind == "list" and spec["items"]["type"] == "integer":
        return [item + 1 for item in value] or [1]
    raise AssertionError(f"declare a test_value for {spec}")


def non_default_vars() -> dict[str, Any]:
    values = {name: non_default(spec) for name, spec in settings.declarations().items() if not spec.get("cli_only")}
    for name, value in values.items():
        spec = settings.declarations()[name]
        assert settings.valid(value, spec) and value != spec["default"], name
    assert settings.problems({**settings.defaults(), **values}) == []
    return values


def test_the_unit_tests_pass_with_a_non_default_value_of_every_setting(sample_warehouse: Path,
                                                                        tmp_path: Path) -> None:
    """No setting a user may choose fails the build's own unit tests: each pins the vars it relies on."""
    from clvlayer.dbt_runner import run_dbt

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    outcome = run_dbt(["test", "--select", "test_type:unit", "--vars", json.dumps(non_default_vars()),
                       "--target-path", str(tmp_path / "target")], duckdb_path=warehouse, quiet=True)
    assert outcome.success and outcome.passed > 0, outcome.failures


SETTINGS_MACROS = {"check_settings", "settings_declared", "settings_user_vars", "settings_value_ok",
                   "settings_combination_problems", "settings_closest"}


def vars_read(unique_id: str, manifest: dict[str, Any]) -> set[str]:
    """The vars a model reads when it compiles: in its SQL and in every macro it calls, transitively (a dispatched
    macro's implementations included; the settings check itself left out)."""
    macros = manifest["macros"]
    by_name: dict[str, list[str]] = {}
    for macro_id, macro in macros.items():
        by_name.setdefault(macro["name"].split("__")[-1], []).append(macro_id)
    node = manifest["nodes"][unique_id]
    found, seen = set(VAR_CALL.findall(node["raw_code"])), set()
    pending = list(node["depends_on"]["macros"])
    while pending:
        macro_id = pending.pop()
        macro = macros.get(macro_id)
        if macro_id in seen or macro is None or macro["name"] in SETTINGS_MACROS:
            continue
        seen.add(macro_id)
        found |= set(VAR_CALL.findall(macro["macro_sql"]))
        pending += macro["depends_on"]["macros"] + by_name.get(macro["name"], [])
    return found & set(settings.declarations())


@pytest.fixture(scope="module")
def manifest(sample_warehouse: Path) -> dict[str, Any]:
    """dbt's manifest of the project: the one the sample fixture's build wrote (conftest: target/ beside the
    warehouse), not a parse of its own."""
    return json.loads((sample_warehouse.parent / "target" / "manifest.json").read_text())


def test_every_unit_test_pins_the_vars_its_model_reads(manifest: dict[str, Any]) -> None:
    """GUIDE: unit tests pin the vars they rely on (overrides: vars:), so a user's --vars never fails them."""
    unpinned = {}
    for test in manifest["unit_tests"].values():
        model = next(n for n in test["depends_on"]["nodes"] if n.startswith("model."))
        pinned = set(((test.get("overrides") or {}).get("vars") or {}))
        missing = vars_read(model, manifest) - pinned - {"raw_data_dir", "input_manifest"}
        if missing:
            unpinned[f"{test['original_file_path']}: {test['name']}"] = sorted(missing)
    assert unpinned == {}
