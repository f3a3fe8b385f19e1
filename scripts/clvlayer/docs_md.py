"""docs/metrics.md, generated from the dbt manifest: the docs blocks (docs/*.md, docs/definitions/*.md) and the YAML
descriptions of the marts, their columns and the MetricFlow metrics. One source of every definition, two renderings
(dbt docs and this file); `clv docs-md` rewrites it and a test fails when it is stale.

Each metric's entry says in one place its formula (the SQL macro and the MetricFlow definition), its model (the
paths of its SQL and YAML) and its tests, so a reader goes from a metric's name to its definition, model and test in
two hops: this file, then the file it names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clvlayer.project import PROJECT_ROOT

DOCS_MD = PROJECT_ROOT / "docs" / "metrics.md"
#: marts in reading order; any other mart follows in name order
MART_ORDER = ["fct_orders", "dim_customers", "fct_customer_ltv", "fct_ltv_by_segment", "fct_cohort_retention",
              "fct_cohort_retention_by_channel", "fct_cohort_curves", "fct_channel_economics",
              "fct_customer_segments", "fct_segment_comparison", "fct_customer_next_purchase",
              "fct_category_penetration", "fct_launch_penetration", "fct_clv_model_parameters",
              "fct_customer_clv_predictions", "fct_clv_holdout_validation", "fct_channel_predicted_ltv_to_cac",
              "fct_predicted_clv_by_segment", "metricflow_time_spine"]
#: the tests that check every metric: by hand on a hand-made input, and through MetricFlow against its mart
EVERY_METRIC_TESTS = ("tests/python/test_metrics_by_hand.py", "tests/python/test_semantic_layer.py")
METRIC_MACROS = "macros/metrics.sql"


def _cell(text: str) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _block(manifest: dict, name: str) -> str:
    for doc in manifest["docs"].values():
        if doc["name"] == name:
            return doc["block_contents"].strip()
    raise KeyError(f"docs block {name!r} not found")


def _where(filter_spec: dict | None) -> str:
    wheres = [w["where_sql_template"] for w in (filter_spec or {}).get("where_filters", [])]
    text = re.sub(r"\{\{ Dimension\('(\w+)'\) \}\}", r"\1", " and ".join(wheres))
    return f" where {text}" if wheres else ""


def _measure_formula(measure: dict) -> str:
    return f"{measure['agg']}({measure.get('expr') or measure['name']})"


def _mf_formula(metric: dict, measures: dict[str, dict]) -> str:
    """The metric's MetricFlow definition in one line."""
    params = metric["type_params"]
    kind = metric["type"]
    if kind in ("simple", "cumulative"):
        measure = params["measure"]
        text = _measure_formula(measures[measure["name"]]) + _where(measure.get("filter"))
        text = f"running total of {text}" if kind == "cumulative" else text
    elif kind == "ratio":
        num, den = params["numerator"], params["denominator"]
        text = f"{num['name']}{_where(num.get('filter'))} / {den['name']}{_where(den.get('filter'))}"
    else:
        inputs = ", ".join(f"{m.get('alias') or m['name']} = {m['name']}{_where(m.get('filter'))}"
                           for m in params["metrics"] if m.get("alias") or m.get("filter"))
        text = params["expr"] + (f" ({inputs})" if inputs else "")
    return f"{kind}: `{text}{_where(metric.get('filter'))}`"


def _sql_macro(name: str, macros: dict[str, dict]) -> str | None:
    """The macro of macros/metrics.sql that computes the metric: one of its name (without a horizon suffix), or one
    that names it as a key (segment_ratio's ratios)."""
    for candidate in (name, re.sub(r"_\d+m$", "", name)):
        if candidate in macros:
            return f"`{candidate}`"
    for macro_name, macro in sorted(macros.items()):
        if re.search(rf"'{re.escape(name)}': \(", macro["macro_sql"]):
            return f"`{macro_name}('{name}')`"
    return None


def _unit_tests(name: str, model: str, manifest: dict) -> list[str]:
    """The dbt unit tests of the model that expect a column of the metric's name (else every unit test of it)."""
    tests = sorted((t for t in manifest.get("unit_tests", {}).values() if t["model"] == model),
                   key=lambda t: t["name"])
    expecting = [t for t in tests if any(name in row for row in t["expect"].get("rows") or []
                                         if isinstance(row, dict))]
    return [f"unit test `{t['name']}` ({t['original_file_path']})" for t in (expecting or tests)]


def _metric_entry(metric: dict, model: dict | None, measures: dict[str, dict], macros: dict[str, dict],
                  manifest: dict, columns_of: dict[str, list[str]]) -> list[str]:
    name = metric["name"]
    macro = _sql_macro(name, macros)
    formula = _mf_formula(metric, measures) + (f"; SQL macro {macro} ({METRIC_MACROS})" if macro else "")
    where = (f"`{model['original_file_path']}`; YAML (semantic model, metric): "
             f"`{model['patch_path'].split('://')[-1]}`") if model else "-"
    also = [m for m in columns_of.get(name, []) if not model or m != model["name"]]
    if also:
        where += "; the same number is the column `" + name + "` of " + ", ".join(f"`{m}`" for m in also)
    tests = (_unit_tests(name, model["name"], manifest) if model else []) + [f"`{t}`" for t in EVERY_METRIC_TESTS]
    return [f"#### `{name}`: {metric.get('label', '')}", "",
            f"- formula: {formula}",
            f"- model: {where}",
            f"- tests: {'; '.join(tests)}",
            f"- definition: {_cell(metric.get('description', ''))}", ""]


def render(manifest: dict, semantic_manifest: dict) -> str:
    """The whole of docs/metrics.md."""
    out = ["# Metric definitions", "",
           "<!-- Generated by `clv docs-md` from the dbt docs blocks (docs/) and the YAML descriptions of the marts and",
           "     metrics. Do not edit: change the docs block or the YAML, then run `clv docs-md`. -->", "",
           "Find a metric by its name (`#### name`): its entry gives its formula (MetricFlow and the SQL macro), its",
           "model (SQL and YAML paths) and its tests.", "",
           _block(manifest, "__overview__").replace("# Customer-value metrics layer", "## Overview", 1), "",
           "## Expected lifetime", "", _block(manifest, "expected_lifetime"), ""]
    marts = {node["name"]: node for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["schema"] == "marts"}
    order = [name for name in MART_ORDER if name in marts] + sorted(set(marts) - set(MART_ORDER))
    metrics_by_model: dict[str, list[dict]] = {}
    models_of_semantic = {sm["name"]: sm["node_relation"]["alias"] for sm in semantic_manifest["semantic_models"]}
    measure_model = {measure["name"]: models_of_semantic[sm["name"]]
                     for sm in semantic_manifest["semantic_models"] for measure in sm["measures"]}
    measures = {measure["name"]: measure for sm in semantic_manifest["semantic_models"] for measure in sm["measures"]}
    macros = {m["name"]: m for m in manifest["macros"].values()
              if m["package_name"] == manifest["metadata"].get("project_name", m["package_name"])
              and m["original_file_path"] == METRIC_MACROS}
    columns_of: dict[str, list[str]] = {}
    for mart_name in order:
        for column in marts[mart_name]["columns"]:
            columns_of.setdefault(column, []).append(mart_name)
    for metric in semantic_manifest["metrics"]:
        inputs = [m["name"] for m in metric["type_params"].get("input_measures", [])]
        model = measure_model.get(inputs[0]) if inputs else None
        metrics_by_model.setdefault(model or "", []).append(metric)
    out += ["## Marts", ""]
    for name in order:
        node = marts[name]
        out += [f"### `{name}`", "", f"`{node['original_file_path']}`, YAML `{node['patch_path'].split('://')[-1]}`",
                "", node["description"].strip(), "", "| column | definition |", "|---|---|"]
        out += [f"| `{column}` | {_cell(spec.get('description', ''))} |" for column, spec in node["columns"].items()]
        out.append("")
        if metrics_by_model.get(name):
            out += [f"MetricFlow metrics on `{name}`:", ""]
            for metric in sorted(metrics_by_model[name], key=lambda m: m["name"]):
                out += _metric_entry(metric, node, measures, macros, manifest, columns_of)
    out += ["## Decision log", "", _block(manifest, "decision_log"), ""]
    return "\n".join(out)


def write(target_dir: Path, path: Path = DOCS_MD) -> Path:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    semantic = json.loads((target_dir / "semantic_manifest.json").read_text())
    path.write_text(render(manifest, semantic))
    return path
