"""`metric_time` is said per metric: it is a different date per metric (the order date for `net_revenue`, the first
order date for `ltv_formula_a`, the cohort month for retention, the as-of date for the curves), so every MetricFlow
metric's description starts with one sentence naming its time dimension and one saying what grouping by
`metric_time__month` gives:

    Time: <agg time dimension>, <what that date is>. By metric_time__month: <what a monthly grouping means>. ...

The named dimension must be the metric's actual agg time dimension in dbt's semantic manifest (each input measure's
own `agg_time_dimension`, else its semantic model's default), so the sentence cannot drift from the YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

TIME_SENTENCE = re.compile(r"Time: (?P<dimension>\w+), [^.]+\. By metric_time__month: [^.]+\. ")


@pytest.fixture(scope="module")
def semantic(sample_warehouse: Path) -> dict:
    return json.loads((sample_warehouse.parent / "target" / "semantic_manifest.json").read_text())


def agg_time_dimensions(semantic: dict) -> dict[str, tuple[str, str]]:
    """measure name -> (semantic model, the measure's agg time dimension)."""
    out = {}
    for model in semantic["semantic_models"]:
        default = (model.get("defaults") or {}).get("agg_time_dimension")
        for measure in model["measures"]:
            out[measure["name"]] = (model["name"], measure.get("agg_time_dimension") or default)
    return out


def actual_time_dimension(metric: dict, measures: dict[str, tuple[str, str]]) -> set[str]:
    return {measures[m["name"]][1] for m in metric["type_params"].get("input_measures", [])}


def test_every_metric_says_its_time_dimension(semantic: dict) -> None:
    unsaid = [m["name"] for m in semantic["metrics"] if not TIME_SENTENCE.match(m.get("description") or "")]
    assert unsaid == [], ("metrics whose description does not start with 'Time: <dimension>, <what>. By "
                          f"metric_time__month: <meaning>. ': {unsaid}")


def test_the_said_dimension_is_the_agg_time_dimension(semantic: dict) -> None:
    measures = agg_time_dimensions(semantic)
    time_dimensions = {(model["name"], d["name"]) for model in semantic["semantic_models"]
                       for d in model["dimensions"] if d["type"] == "time"}
    wrong = {}
    for metric in semantic["metrics"]:
        actual = actual_time_dimension(metric, measures)
        assert len(actual) == 1, f"{metric['name']}: its input measures disagree on the time dimension: {actual}"
        said = TIME_SENTENCE.match(metric["description"])["dimension"]
        if {said} != actual:
            wrong[metric["name"]] = (said, actual.pop())
    assert wrong == {}, f"metric: (said, actual agg time dimension): {wrong}"
    said_models = {measures[m["name"]] for metric in semantic["metrics"]
                   for m in metric["type_params"]["input_measures"]}
    assert said_models <= time_dimensions, "an agg time dimension that is not a time dimension of its model"


def test_the_sentence_is_the_same_for_metrics_of_one_time_dimension(semantic: dict) -> None:
    """One consistent phrasing: metrics of the same semantic model and kind say the same sentence."""
    measures = agg_time_dimensions(semantic)
    sentences: dict[tuple, set[str]] = {}
    for metric in semantic["metrics"]:
        model = {measures[m["name"]][0] for m in metric["type_params"]["input_measures"]}
        key = (tuple(sorted(model)), metric["type"] == "cumulative")
        sentences.setdefault(key, set()).add(TIME_SENTENCE.match(metric["description"]).group(0))
    assert {key: texts for key, texts in sentences.items() if len(texts) > 1} == {}


def test_a_cohort_metric_says_it_is_not_a_time_series(semantic: dict) -> None:
    """The trap the sentence exists for: `--metrics ltv_formula_a --group-by metric_time__month` is a cohort table."""
    by_name = {m["name"]: m["description"] for m in semantic["metrics"]}
    assert by_name["ltv_formula_a"].startswith("Time: first_order_on, ")
    assert "not a time series" in TIME_SENTENCE.match(by_name["ltv_formula_a"]).group(0)
    assert "not a time series" not in TIME_SENTENCE.match(by_name["net_revenue"]).group(0)
