"""The metric contract, read from the dbt manifest and the semantic manifest of a real build (zero exceptions):

- every metric has a label and a description, and its description is a docs block (`{{ doc('metric_...') }}` in the
  YAML), so the docs site, docs/metrics.md and the YAML cannot drift;
- every measure, dimension and entity of every semantic model has a description;
- every column of every mart (what the warehouse actually has, not only what YAML lists) has a description;
- every metric is mentioned by name in a test (Python test, dbt unit test or singular test);
- a name says its grain: no ratio, derived or average metric shares its name with a column of a customer- or
  order-grain mart (a mean of a customer column is a different number from the segment ratio).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from clvlayer.project import PROJECT_ROOT

FINE_GRAIN_MARTS = {"fct_orders", "dim_customers", "fct_customer_ltv", "fct_customer_segments",
                    "fct_customer_next_purchase", "fct_customer_clv_predictions"}


@pytest.fixture(scope="module")
def manifests(sample_warehouse: Path) -> tuple[dict, dict]:
    target = sample_warehouse.parent / "target"
    return (json.loads((target / "manifest.json").read_text()),
            json.loads((target / "semantic_manifest.json").read_text()))


def mart_models(manifest: dict) -> dict[str, dict]:
    return {node["name"]: node for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["schema"] == "marts"}


def test_every_metric_has_a_label_and_a_docs_block(manifests: tuple[dict, dict]) -> None:
    _, semantic = manifests
    missing = [m["name"] for m in semantic["metrics"] if not (m.get("label") and (m.get("description") or "").strip())]
    assert missing == []
    raw_descriptions = {}
    for path in (PROJECT_ROOT / "models").rglob("*.yml"):
        for metric in (yaml.safe_load(path.read_text()) or {}).get("metrics", []) or []:
            raw_descriptions[metric["name"]] = metric.get("description", "")
    not_blocks = [name for name, text in raw_descriptions.items()
                  if not re.fullmatch(r"(Time: [^{}]+ )?\{\{ doc\('metric_\w+'\) \}\}", text.strip())]
    assert not_blocks == []
    assert set(raw_descriptions) == {m["name"] for m in semantic["metrics"]}


def test_every_measure_dimension_and_entity_is_described(manifests: tuple[dict, dict]) -> None:
    _, semantic = manifests
    missing = []
    for model in semantic["semantic_models"]:
        if not (model.get("description") or "").strip():
            missing.append(model["name"])
        for kind in ("measures", "dimensions", "entities"):
            missing += [f"{model['name']}.{kind}.{element['name']}" for element in model.get(kind, [])
                        if not (element.get("description") or "").strip()]
    assert missing == []


def test_every_mart_column_is_described(manifests: tuple[dict, dict], sample_warehouse: Path) -> None:
    manifest, _ = manifests
    marts = mart_models(manifest)
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        actual = con.execute("select table_name, column_name from information_schema.columns "
                             "where table_schema = 'marts'").fetchall()
    assert {table for table, _ in actual} == set(marts)
    missing = [f"{table}.{column}" for table, column in actual
               if not (marts[table]["columns"].get(column, marts[table]["columns"].get(column.lower(), {}))
                       .get("description") or "").strip()]
    assert missing == []
    assert [name for name, node in marts.items() if not node["description"].strip()] == []


def test_every_metric_is_mentioned_by_a_test(manifests: tuple[dict, dict]) -> None:
    manifest, semantic = manifests
    texts = [path.read_text() for path in (PROJECT_ROOT / "tests").rglob("*.py") if path.name != Path(__file__).name]
    texts += [path.read_text() for path in (PROJECT_ROOT / "tests" / "dbt").glob("*.sql")]
    texts += [json.dumps(node) for node in manifest.get("unit_tests", {}).values()]
    corpus = "\n".join(texts)
    untested = [m["name"] for m in semantic["metrics"] if not re.search(rf"\b{re.escape(m['name'])}\b", corpus)]
    assert untested == []


def test_names_say_their_grain(manifests: tuple[dict, dict], sample_warehouse: Path) -> None:
    _, semantic = manifests
    measures = {measure["name"]: measure for model in semantic["semantic_models"] for measure in model["measures"]}
    non_additive = set()
    for metric in semantic["metrics"]:
        if metric["type"] in ("ratio", "derived"):
            non_additive.add(metric["name"])
        elif metric["type"] == "simple":
            measure = measures[metric["type_params"]["measure"]["name"]]
            if measure["agg"] in ("average", "count_distinct"):
                non_additive.add(metric["name"])
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        columns = con.execute("select table_name, column_name from information_schema.columns "
                              "where table_schema = 'marts'").fetchall()
    clashes = [f"{table}.{column}" for table, column in columns
               if table in FINE_GRAIN_MARTS and column.lower() in non_additive]
    assert clashes == []
    assert len(non_additive) > 30  # the rule has teeth: most segment metrics are ratios or means


def test_docs_md_is_generated_from_the_docs_blocks(manifests: tuple[dict, dict]) -> None:
    """docs/metrics.md is the rendering of the docs blocks and YAML descriptions: it cannot drift from dbt docs."""
    from clvlayer.docs_md import DOCS_MD, render

    manifest, semantic = manifests
    assert DOCS_MD.read_text() == render(manifest, semantic), "docs/metrics.md is stale: run `clv docs-md`"


def test_data_flows_one_way(manifests: tuple[dict, dict]) -> None:
    """Intermediate models never read a mart; no descriptive mart (CAC, LTV by segment, ...) waits for the predictive
    fit (a failed fit holds back only the predictive marts)."""
    manifest, _ = manifests
    nodes = manifest["nodes"]

    def upstream(unique_id: str) -> set[str]:
        seen, todo = set(), [unique_id]
        while todo:
            for parent in nodes.get(todo.pop(), {}).get("depends_on", {}).get("nodes", []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    models = {node["name"]: node for node in nodes.values() if node["resource_type"] == "model"}
    reads_marts = [name for name, node in models.items() if node["schema"] == "intermediate"
                   and any(nodes[parent]["schema"] == "marts" for parent in node["depends_on"]["nodes"]
                           if parent in nodes and nodes[parent]["resource_type"] == "model")]
    assert reads_marts == []
    predictive = {node_id for node_id, node in nodes.items()
                  if node["resource_type"] == "model" and "predictive" in node["fqn"]}
    # an audience carries its members' P(alive) and expected value (issue 25), so it waits for the fit; its measured
    # lift (fct_audience_lift) does not
    with_predictions = {"fct_audience_members", "fct_audiences"}
    descriptive_marts = [name for name, node in models.items() if node["schema"] == "marts"
                         and "predictive" not in node["fqn"] and name not in with_predictions]
    assert "fct_channel_economics" in descriptive_marts and "fct_audience_lift" in descriptive_marts
    assert "fct_ltv_by_segment" in descriptive_marts
    assert [name for name in descriptive_marts if predictive & upstream(models[name]["unique_id"])] == []
    assert models["fct_channel_predicted_ltv_to_cac"]["unique_id"] in predictive
    assert models["fct_predicted_clv_by_segment"]["unique_id"] in predictive
