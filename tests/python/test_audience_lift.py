"""The CVM loop (issue 25): audiences publish with a deterministic stratified holdout, and fct_audience_lift recovers
a known campaign effect.

Simulated campaigns (clvlayer.generate_campaigns.simulate: 100 waves of 400 customers with a true effect, 100
without) are built once, through the SQL marts themselves (`+fct_audience_lift` only, about 30 s): each metric's
95% interval must hold the true lift in at least 90 of the 100 waves, and 0 in at least 90 of the 100 waves without
an effect; the interval must be the Welch one computed from the raw rows. The same build carries contract-breaking
contact rows (quarantined with their reason). The sample's audiences are checked on the shared sample warehouse
(conftest.sample_warehouse; a custom audience on a copy of it), the absent-input status on
conftest.orders_only_warehouse.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from clvlayer import settings
from clvlayer.generate_campaigns import simulate
from conftest import build, built_once

METRICS = ["repurchase_rate", "orders_per_customer", "revenue_per_customer", "margin_per_customer"]
CAMPAIGNS = 100
MIN_COVERED = 90
Z95 = 1.959964


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).df()


# rows that break the contract, appended to the simulated contacts (audience probe, not declared): one row per
# customer x audience x wave, so a conflicting pair (treated and held out) is quarantined whole and an exact copy as
# exact_duplicate; an unknown assignment, a missing wave and an unreadable time each with their reason
BAD_CONTACTS = """\
p1,PROBE,w1,2024-03-01 10:00,email,treated
p1,probe,w1,2024-03-01 10:00,email,held_out
p2,probe,w1,2024-03-01 10:00,,treated
p2,probe,w1,2024-03-01 10:00,,treated
p3,probe,w1,2024-03-01 10:00,sms,control
p4,probe,,2024-03-01 10:00,sms,treated
p5,probe,w1,not a time,sms,treated
p6,probe,w1,2024-03-01T10:00:00Z,sms,Held_Out
"""


@pytest.fixture(scope="module")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    def make(tmp: Path) -> None:
        simulate(tmp / "raw", campaigns=CAMPAIGNS)
        with (tmp / "raw" / "campaign_contacts.csv").open("a") as contacts:
            contacts.write(BAD_CONTACTS)
        build(tmp, tmp / "raw", ["--select", "+fct_audience_lift", "+quarantine_shop__campaign_contacts",
                                 "--indirect-selection", "cautious"])

    folder = built_once(tmp_path_factory, "campaigns", make)
    return folder, json.loads((folder / "raw" / "campaign_truth.json").read_text())


def _lift(campaigns: tuple[Path, dict], audience: str) -> pd.DataFrame:
    folder, _ = campaigns
    rows = _frame(folder / "warehouse.duckdb", f"select * from marts.fct_audience_lift where audience = '{audience}'")
    assert len(rows) == CAMPAIGNS and set(rows["lift_status"]) == {"ok"}, rows[["wave", "lift_status"]]
    return rows


def _covered(rows: pd.DataFrame, metric: str, truth: float | pd.Series) -> int:
    return int(((rows[f"{metric}_lift_lower"] <= truth) & (truth <= rows[f"{metric}_lift_upper"])).sum())


@pytest.mark.parametrize("metric", METRICS)
def test_interval_holds_the_true_effect(campaigns: tuple[Path, dict], metric: str) -> None:
    rows, truth = _lift(campaigns, "sim_effect"), campaigns[1]["true_lift"]["sim_effect"][metric]
    assert truth > 0
    assert _covered(rows, metric, truth) >= MIN_COVERED, (metric, truth, _covered(rows, metric, truth))
    # unbiased: the mean of 100 independent estimates is within 4 standard errors of the truth
    assert abs(rows[f"{metric}_lift"].mean() - truth) < 4 * rows[f"{metric}_lift"].std() / np.sqrt(CAMPAIGNS)


def test_incremental_revenue_holds_the_true_effect(campaigns: tuple[Path, dict]) -> None:
    rows = _lift(campaigns, "sim_effect")
    truth = campaigns[1]["true_lift"]["sim_effect"]["revenue_per_customer"] * rows["treated_customers"]
    covered = ((rows["incremental_revenue_lower"] <= truth) & (truth <= rows["incremental_revenue_upper"])).sum()
    assert covered >= MIN_COVERED


@pytest.mark.parametrize("metric", METRICS)
def test_no_effect_when_there_is_none(campaigns: tuple[Path, dict], metric: str) -> None:
    rows = _lift(campaigns, "sim_null")
    assert campaigns[1]["true_lift"]["sim_null"][metric] == 0
    assert _covered(rows, metric, 0.0) >= MIN_COVERED, _covered(rows, metric, 0.0)


def test_interval_is_welch_on_the_window(campaigns: tuple[Path, dict]) -> None:
    """An oracle from the raw files: net revenue of each contact's orders in (contacted_at, + window], difference
    in means and its Welch interval, for every wave of both audiences."""
    folder, truth = campaigns
    orders = pd.read_csv(folder / "raw" / "orders.csv", parse_dates=["ordered_at"])
    simulated = 2 * CAMPAIGNS * truth["customers_per_campaign"]  # the rows before BAD_CONTACTS
    contacts = pd.read_csv(folder / "raw" / "campaign_contacts.csv", parse_dates=["contacted_at"], nrows=simulated)
    joined = contacts.merge(orders, on="customer_id", how="left")
    window = pd.Timedelta(days=truth["window_days"])
    inside = (joined["ordered_at"] > joined["contacted_at"]) & (joined["ordered_at"] <= joined["contacted_at"] + window)
    joined["revenue"] = joined["amount"].where(inside, 0.0)
    per_customer = joined.groupby(["audience", "wave", "customer_id", "assignment"], as_index=False)["revenue"].sum()
    stats = per_customer.groupby(["audience", "wave", "assignment"])["revenue"].agg(["mean", "var", "count"]).unstack()
    diff = stats[("mean", "treated")] - stats[("mean", "held_out")]
    se = np.sqrt(stats[("var", "treated")] / stats[("count", "treated")]
                 + stats[("var", "held_out")] / stats[("count", "held_out")])
    mart = _frame(folder / "warehouse.duckdb", "select * from marts.fct_audience_lift where audience like 'sim_%'")
    mart = mart.set_index(["audience", "wave"]).loc[diff.index]
    np.testing.assert_allclose(mart["revenue_per_customer_lift"], diff, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mart["revenue_per_customer_lift_lower"], diff - Z95 * se, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mart["revenue_per_customer_lift_upper"], diff + Z95 * se, rtol=1e-9, atol=1e-9)


def test_declared_audiences_without_contacts_say_so(campaigns: tuple[Path, dict]) -> None:
    folder, _ = campaigns
    rows = _frame(folder / "warehouse.duckdb", "select * from marts.fct_audience_lift where is_declared")
    declared = [a["name"] for a in settings.default("audiences")]
    assert sorted(rows["audience"]) == sorted(declared)
    assert set(rows["lift_status"]) == {"not_contacted"} and rows["wave"].isna().all()


# --- the embedded sample ---------------------------------------------------------------------------------------

def test_sample_audiences_publish_with_their_holdout(sample_warehouse: Path) -> None:
    audiences = _frame(sample_warehouse, "select * from marts.fct_audiences order by audience_order")
    assert list(audiences["audience"]) == [a["name"] for a in settings.default("audiences")]
    assert (audiences["members"] > 0).all(), audiences[["audience", "members"]]
    members = _frame(sample_warehouse, "select * from marts.fct_audience_members")
    share = float(settings.default("audience_holdout_share"))
    strata = members.groupby(["audience", "holdout_stratum"])["is_held_out"].agg(["sum", "count"])
    assert (strata["sum"] == np.floor(strata["count"] * share + 0.5)).all(), strata
    # the rule, recomputed: within audience x stratum, the first by md5(customer | audience | wave) are held out
    members["draw"] = [int(hashlib.md5(f"{c}|{a}|{w}".encode()).hexdigest()[:15], 16)
                       for c, a, w in zip(members["customer_id"], members["audience"], members["wave"])]
    stratum = members.sort_values(["draw", "customer_id"]).groupby(["audience", "holdout_stratum"])
    members["rank"] = stratum.cumcount() + 1
    expected = members["rank"] <= np.floor(stratum["draw"].transform("size").reindex(members.index) * share + 0.5)
    assert (members["is_held_out"] == expected).all()
    due = members[members["audience"] == "due_for_reorder"]
    assert due["due_on"].notna().all() and due["reason"].str.startswith("next purchase due").all()


def test_sample_lift_of_the_seeded_wave(sample_warehouse: Path) -> None:
    """The sample's campaign_contacts (seeds/raw_campaign_contacts.csv: the audiences of a build as of 2025-03-01,
    contacted the next day) are measured: every audience has its wave's lift with a complete window."""
    rows = _frame(sample_warehouse, "select * from marts.fct_audience_lift order by audience")
    assert set(rows["lift_status"]) == {"ok"} and set(rows["wave"]) == {"2025-03-01"}, rows
    for metric in METRICS:
        assert (rows[f"{metric}_lift_lower"] <= rows[f"{metric}_lift_upper"]).all()


def test_an_audience_exports_as_a_file(sample_warehouse: Path, tmp_path: Path) -> None:
    from clvlayer.exports import write_export_file

    out = tmp_path / "vip.parquet"
    rows = write_export_file(sample_warehouse, "audiences.vip", "parquet", out)
    [(size,)] = _frame(sample_warehouse, "select members from marts.fct_audiences where audience = 'vip'").values
    assert rows == size == len(pd.read_parquet(out))


def test_absent_contacts_table_says_so(orders_only_warehouse: Path) -> None:
    rows = _frame(orders_only_warehouse, "select * from marts.fct_audience_lift")
    assert len(rows) == len(settings.default("audiences"))
    assert set(rows["lift_status"]) == {"no_campaign_contacts_table"}


def test_bad_contacts_are_quarantined_with_their_reason(campaigns: tuple[Path, dict]) -> None:
    warehouse = campaigns[0] / "warehouse.duckdb"
    reasons = _frame(warehouse, "select raw_customer_id, quarantine_reason "
                                "from quarantine.quarantine_shop__campaign_contacts")
    assert sorted(map(tuple, reasons.values)) == [
        ("p1", "conflicting_duplicate_contact"), ("p1", "conflicting_duplicate_contact"), ("p2", "exact_duplicate"),
        ("p3", "unknown_assignment"), ("p4", "missing_wave"), ("p5", "unparseable_contacted_at")]
    clean = _frame(warehouse, "select customer_id, audience, channel, assignment, is_held_out "
                              "from staging.stg_shop__campaign_contacts where audience = 'probe' order by customer_id")
    assert list(map(tuple, clean.values)) == [("p2", "probe", "unknown", "treated", False),
                                              ("p6", "probe", "sms", "held_out", True)]
    [(status,)] = _frame(warehouse, "select lift_status from marts.fct_audience_lift where audience = 'probe'").values
    assert status == "too_few_treated"  # one treated, one held out: no interval


def test_a_custom_audience_publishes_beside_the_built_in_ones(sample_warehouse: Path, tmp_path: Path) -> None:
    """custom_audiences (--vars) adds an audience with its own table; a name declared twice stops the build."""
    from clvlayer.dbt_runner import run_dbt

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    custom = {"custom_audiences": [{"name": "north_buyers", "where": "region = 'north' and has_completed_order",
                                    "reason": "buyer in the north"}]}
    select = ["--select", "fct_audience_members", "fct_audiences", "--exclude", "resource_type:unit_test"]
    outcome = run_dbt(["build", *select, "--vars", json.dumps(custom), "--target-path", str(tmp_path / "t1")],
                      duckdb_path=warehouse, quiet=True)
    assert outcome.success, outcome.failures
    [(members, is_custom)] = _frame(warehouse, "select members, is_custom from marts.fct_audiences "
                                               "where audience = 'north_buyers'").values
    [(north,)] = _frame(warehouse, "select count(*) from marts.fct_customer_segments "
                                   "where region = 'north' and has_completed_order").values
    assert is_custom and members == north == len(_frame(warehouse, "select * from audiences.north_buyers")) > 0
    twice = {"custom_audiences": [{"name": "vip", "where": "true", "reason": "again"}]}
    refused = run_dbt(["build", *select, "--vars", json.dumps(twice), "--target-path", str(tmp_path / "t2")],
                      duckdb_path=warehouse, quiet=True)
    assert not refused.success
    assert any("audience 'vip' is declared twice" in failure for failure in refused.failures), refused.failures
