"""Every figure README.md, the docs pages and the docs blocks quote about the embedded sample is the warehouse's
(sample build): each sentence is found in the text and its numbers are recomputed. A figure that changes makes this
test fail until the text is updated; a new figure about the sample belongs here. README.md describes the sample;
docs/tour.md quotes the marts' numbers on it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clvlayer.project import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text()
TOUR = (PROJECT_ROOT / "docs" / "tour.md").read_text()
LIFETIME_DOC = (PROJECT_ROOT / "docs" / "definitions" / "lifetime.md").read_text()
TEXTS = {"README": README, "tour": TOUR, "lifetime doc": LIFETIME_DOC}


def numbers(pattern: str, text: str) -> tuple[str, ...]:
    match = re.search(pattern, " ".join(text.split()))
    assert match, f"sentence not found: {pattern}"
    return match.groups()


def test_sample_size(sample_warehouse: Path, query) -> None:
    [(customers, orders, first, last)] = query(sample_warehouse, """
        select (select count(*) from marts.dim_customers), (select count(*) from marts.fct_orders),
               (select strftime(min(ordered_on), '%Y-%m') from marts.fct_orders),
               (select strftime(max(ordered_on), '%Y-%m') from marts.fct_orders)""")
    assert numbers(r"On the sample \(([\d,]+) customers, ([\d,]+) orders\)", TOUR) == (f"{customers:,}",
                                                                                       f"{orders:,}")
    assert numbers(r"embedded sample \(dbt seeds `seeds/raw_\*\.csv`, ([\d,]+) customers, (\d+)k orders, "
                   r"(\d{4}-\d\d) to (\d{4}-\d\d)", README) == (f"{customers:,}", str(round(orders / 1000)), first,
                                                                  last)


def test_sample_ltv_figures(sample_warehouse: Path, query) -> None:
    [row] = query(sample_warehouse, """
        select average_observed_lifespan_months, expected_lifetime_months, ltv_formula_a, ltv_formula_b,
               discounted_clv, average_realised_ltv
        from marts.fct_ltv_by_segment where segment_key = 'current|overall:all'""")
    observed, expected, a, b, discounted, realised = row
    assert numbers(r"the observed lifespan averages ([\d.]+) months, the expected lifetime ([\d.]+) months; formula A "
                   r"is (\d+), formula B (\d+) and discounted CLV (\d+) per buyer, against (\d+) of realised LTV",
                   TOUR) == (f"{observed:.1f}", f"{expected:.1f}", f"{a:.0f}", f"{b:.0f}", f"{discounted:.0f}",
                             f"{realised:.0f}")
    [(months,)] = query(sample_warehouse, "select date_diff('month', min(ordered_on), max(ordered_on)) + 1 "
                                          "from marts.fct_orders")
    assert numbers(r"on the sample, which spans (\d+) months, its mean is ([\d.]+) months", LIFETIME_DOC) == (
        str(months), f"{observed:.1f}")


def test_sample_segment_figures(sample_warehouse: Path, query) -> None:
    [(frequency_lift, ltv_lift)] = query(sample_warehouse, """
        select orders_per_year_lift, ltv_lift from marts.fct_segment_comparison where segment_key = 'loyalty:member'""")
    [(launched, penetration, members)] = query(sample_warehouse, """
        select strftime(launched_on, '%Y-%m-%d'), launch_penetration, loyalty_member_launch_penetration
        from marts.fct_launch_penetration where launch_key = 'category:sauces'""")
    assert numbers(r"loyalty members buy \+(\d+)% orders a year and have \+([\d.]+)% realised LTV", TOUR) == (
        f"{frequency_lift:.0%}".rstrip("%"), f"{ltv_lift * 100:.1f}")
    assert numbers(r"sauces line \(launched (\S+)\) reached (\d+)% of customers active in its first 60 days "
                   r"\((\d+)% of active loyalty members\)", TOUR) == (launched, f"{penetration:.0%}".rstrip("%"),
                                                                     f"{members:.0%}".rstrip("%"))


@pytest.mark.parametrize("text", sorted(TEXTS))
def test_no_unchecked_sample_figure(text: str) -> None:
    """Sentences about the sample with a number are the ones above (a new one must be added here)."""
    body = " ".join(TEXTS[text].split())
    sentences = [s for s in re.split(r"(?<=[.;:])\s", body) if re.search(r"\bon the sample\b", s, re.IGNORECASE)
                 and re.search(r"\d", s)]
    known = ("On the sample (", "On the sample: loyalty", "on the sample, which spans", "On the sample (4,000")
    assert [s for s in sentences if not any(k in s for k in known)] == []
