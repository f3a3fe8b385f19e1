"""Every warehouse read of the dashboard and the static report: one function per dataset, SQL on marts only.

Rules (tests/python/test_dashboard_data.py enforces the first two, with no exception):
- Each function is registered with `@dataset(<marts it reads>)`; its SQL names only those `marts.` relations and
  nothing outside the `marts` schema. models/exposures.yml declares the same marts for the dashboard and the report.
- Metrics come finished from the marts. No loader divides or averages: SQL here selects mart rows and columns,
  filters and joins them and adds up additive columns (counts and money). A ratio at a segment's grain (LTV, average
  check, orders per year, LTV/CAC, ...) is read from fct_ltv_by_segment, which has one row per as-of snapshot x
  segment type x value; the app shows the segment the filters select rather than aggregating customers.
- The warehouse is opened read-only, once per query, and closed straight away: no lock is held between queries,
  and `clv build`'s atomic rename of a new warehouse over the file is never blocked (readers keep the old file
  until they reopen).
- Through the metrics service: when one is configured ($CLV_SERVICE_URL; `clv dashboard` starts one), every
  loader is answered by it - the overview's value tiles as MetricFlow metrics (service.SERVICE_TILE_METRICS, the
  call `clv query` makes), everything else as a named dataset (GET /dataset?name=<loader>&args=<JSON>: the service
  runs this module's loader on its read-only snapshot, so the SQL below runs in the service and never travels over
  HTTP). The page then never opens the warehouse file itself. Without a service each loader opens the file.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd

from clvlayer.dashboard import service
from clvlayer.dashboard.currency import reporting_currency

Loader = Callable[..., pd.DataFrame]
DATASETS: dict[str, tuple[str, ...]] = {}
#: the loaders as written (what the service runs), by name; data.<name> is the routed loader the pages call
LOADERS: dict[str, Loader] = {}


class Reader(Protocol):
    """Where a loader's SQL runs other than the published file: the metrics service's read-only snapshot."""

    def frame(self, sql: str, params: dict[str, Any]) -> pd.DataFrame: ...
LOYALTY_CHOICES = ("all", "members", "non_members")


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read (missing, locked, or without the marts the dashboard reads). Says the fix."""


@dataclass(frozen=True)
class Filters:
    """Sidebar filters. Empty tuples and 'all' mean no filter; dates are inclusive."""

    date_from: date | None = None
    date_to: date | None = None
    channels: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    loyalty: str = "all"

    def __post_init__(self) -> None:
        if self.loyalty not in LOYALTY_CHOICES:
            raise ValueError(f"loyalty must be one of {LOYALTY_CHOICES}, not {self.loyalty!r}")


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def _first_of_month(day: date, months_later: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months_later
    return date(index // 12, index % 12 + 1, 1)


def comparison_periods(end: date, months: int) -> tuple[Period, Period]:
    """The calendar period of `months` months (1, 3 or 12) containing `end`, up to `end`, and the period before it
    up to the same day of the period (a month end matches a month end): Q2 to 15 May vs Q1 to 15 February."""
    start = date(end.year, (end.month - 1) // months * months + 1, 1)
    previous_start = _first_of_month(start, -months)
    month = _first_of_month(previous_start, (end.year - start.year) * 12 + end.month - start.month)
    month_end = _first_of_month(month, 1) - timedelta(days=1)
    is_month_end = _first_of_month(end, 1) - timedelta(days=1) == end
    previous_end = month_end if is_month_end else month.replace(day=min(end.day, month_end.day))
    return Period(start, end), Period(previous_start, previous_end)


def dataset(*marts: str) -> Callable[[Loader], Loader]:
    """Register a loader with the marts it reads (tests compare this with its SQL and with the exposures)."""

    def register(function: Loader) -> Loader:
        name = function.__name__
        DATASETS[name], LOADERS[name] = tuple(sorted(marts)), function

        @functools.wraps(function)
        def routed(warehouse: Path | Reader, *args: Any, **kwargs: Any) -> pd.DataFrame:
            url = service.service_url() if isinstance(warehouse, Path) else None
            if url is None:
                return function(warehouse, *args, **kwargs)
            try:
                return service.dataset(url, name, encode_arguments(args, kwargs)).frame
            except service.ServiceUnavailable as error:
                raise WarehouseUnavailable(str(error)) from error

        return routed

    return register


def _currency(warehouse: Path) -> str:
    try:
        return reporting_currency(warehouse)
    except service.ServiceUnavailable as error:
        raise WarehouseUnavailable(str(error)) from error


# --- a loader's arguments as JSON (the service's /dataset request) ------------------------------------------------

_ARGUMENT_TYPES = {"Filters": Filters, "Period": Period}


def _encoded(value: Any) -> Any:
    if isinstance(value, (Filters, Period)):
        return {type(value).__name__: {f.name: _encoded(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encoded(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a loader argument of type {type(value).__name__} cannot be sent to the service")


def _decoded(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decoded(item) for item in value)
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError(f"a tagged argument has one key (date, {', '.join(_ARGUMENT_TYPES)}), not {sorted(value)}")
    (kind, body), = value.items()
    if kind == "date" and isinstance(body, str):
        return date.fromisoformat(body)
    if kind in _ARGUMENT_TYPES and isinstance(body, dict):
        return _ARGUMENT_TYPES[kind](**{key: _decoded(item) for key, item in body.items()})
    raise ValueError(f"unknown argument tag {kind!r} (known: date, {', '.join(_ARGUMENT_TYPES)})")


def encode_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A loader call's arguments (after the warehouse) as the JSON the service's /dataset reads."""
    return json.dumps({"args": _encoded(list(args)), "kwargs": {k: _encoded(v) for k, v in kwargs.items()}})


def decode_arguments(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inverse of encode_arguments; raises ValueError/TypeError on anything else."""
    document = json.loads(text or "{}")
    if not isinstance(document, dict) or set(document) - {"args", "kwargs"}:
        raise ValueError('send {"args": [...], "kwargs": {...}}')
    args, kwargs = document.get("args", []), document.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError('"args" is a list and "kwargs" an object')
    return _decoded(args), {key: _decoded(value) for key, value in kwargs.items()}


def marts_read(functions: list[str] | None = None) -> set[str]:
    """The marts the given loaders (default: all) read."""
    names = functions if functions is not None else list(DATASETS)
    return {mart for name in names for mart in DATASETS[name]}


def _query(warehouse: Path | Reader, sql: str, **params: Any) -> pd.DataFrame:
    used = set(re.findall(r"\$(\w+)", sql))
    bound = {name: value for name, value in params.items() if name in used}
    if not isinstance(warehouse, Path):
        return warehouse.frame(sql, bound)
    if not warehouse.exists():
        raise WarehouseUnavailable(f"No published warehouse at {warehouse}: run `make build` (or `clv build`).")
    try:
        connection = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as error:
        raise WarehouseUnavailable(
            f"Cannot open {warehouse} read-only ({error}). Another process may hold it open for writing "
            "(e.g. `clv mf` or `dbt` pointed at the published file); retry when it has finished.") from error
    try:
        return connection.execute(sql, bound).df()
    except (duckdb.CatalogException, duckdb.BinderException) as error:
        raise WarehouseUnavailable(
            f"{warehouse} lacks a mart or column the dashboard reads ({str(error).splitlines()[0]}). "
            "Rebuild it with `clv build` from this checkout.") from error
    finally:
        connection.close()


def _filter_params(filters: Filters) -> dict[str, Any]:
    return {"channels": list(filters.channels), "regions": list(filters.regions), "loyalty": filters.loyalty,
            "date_from": filters.date_from, "date_to": filters.date_to}


def _customer_filter(alias: str) -> str:
    """SQL predicate for the channel / region / loyalty filters on a customer-level mart aliased `alias`."""
    return (f"(len($channels::varchar[]) = 0 or list_contains($channels::varchar[], {alias}.acquisition_channel))"
            f" and (len($regions::varchar[]) = 0 or list_contains($regions::varchar[], {alias}.region))"
            f" and ($loyalty = 'all' or {alias}.is_loyalty_member = ($loyalty = 'members'))")


def _date_filter(column: str) -> str:
    return (f"($date_from::date is null or {column} >= $date_from::date)"
            f" and ($date_to::date is null or {column} <= $date_to::date)")


def _channel_filter(column: str) -> str:
    return f"(len($channels::varchar[]) = 0 or list_contains($channels::varchar[], {column}))"


# --- segments of fct_ltv_by_segment that the sidebar filters select ---------------------------------------------

OVERALL = ("overall", "all")
# the sidebar filters that are segment types of fct_ltv_by_segment, and the segment value of each loyalty choice
FILTERED_SEGMENT_TYPES = {"acquisition_channel": "channel", "region": "region", "loyalty": "loyalty"}
LOYALTY_SEGMENTS = {"members": "member", "non_members": "non_member"}


def filter_values(filters: Filters, segment_type: str) -> tuple[str, ...]:
    """The values of `segment_type` the sidebar selects (empty: no filter on that type, or not a filtered type)."""
    if segment_type == "acquisition_channel":
        return filters.channels
    if segment_type == "region":
        return filters.regions
    if segment_type == "loyalty" and filters.loyalty != "all":
        return (LOYALTY_SEGMENTS[filters.loyalty],)
    return ()


def selected_segments(filters: Filters) -> list[tuple[str, str]]:
    """Every (segment type, value) of fct_ltv_by_segment the channel / region / loyalty filters select.

    The mart has one row per segment, not per combination of segments: email customers in the north region is not a
    row. A page that reads it shows one of these segments at a time (or the overall row when none is selected).
    """
    return [(segment_type, value) for segment_type in FILTERED_SEGMENT_TYPES
            for value in filter_values(filters, segment_type)]


def _segment_value_filter(alias: str) -> str:
    return f"(len($values::varchar[]) = 0 or list_contains($values::varchar[], {alias}.segment_value))"


# --- warehouse-wide facts ---------------------------------------------------------------------------------------

@dataset("dim_customers", "fct_channel_economics", "fct_clv_model_parameters", "fct_customer_segments")
def data_coverage(warehouse: Path) -> pd.DataFrame:
    """One row: the as-of date, the data span and which optional inputs the marts show were present."""
    return _query(warehouse, """
        with customers as (
            select
                max(as_of_date) as as_of_date,
                min(first_order_on) as first_order_on,
                count(*) as customers,
                count(*) filter (where has_completed_order) as buyers,
                bool_or(coalesce(acquisition_channel, 'unknown') <> 'unknown') as has_channels,
                bool_or(coalesce(region, 'unknown') <> 'unknown') as has_regions,
                bool_or(coalesce(is_loyalty_member, false)) as has_loyalty_members,
                bool_or(birth_year is not null) as has_birth_years,
                bool_or(margin_source in ('item_costs', 'mixed')) as has_item_costs
            from marts.dim_customers
        ),
        spend as (
            select bool_or(has_spend_recorded) as has_marketing_spend from marts.fct_channel_economics
        ),
        items as (
            select bool_or(preferred_category is not null) as has_order_items from marts.fct_customer_segments
        ),
        fit as (
            select
                string_agg(distinct status, ', ') as predictive_status,
                string_agg(distinct status_reason, '; ') as predictive_reason
            from marts.fct_clv_model_parameters
            -- the published model's fits (every fit when no model could be chosen: their reasons say why)
            where fit_name = 'full' and (is_chosen_model or not exists (
                select 1 from marts.fct_clv_model_parameters where is_chosen_model))
        )
        select * from customers cross join spend cross join items cross join fit
    """)


@dataset("fct_ltv_by_segment")
def ltv_snapshots(warehouse: Path) -> pd.DataFrame:
    """The as-of snapshots of fct_ltv_by_segment: current and each earlier one (var ltv_previous_periods_months)."""
    return _query(warehouse, """
        select distinct as_of_snapshot, months_before_current, as_of_date
        from marts.fct_ltv_by_segment
        order by months_before_current
    """)


@dataset("dim_customers")
def filter_options(warehouse: Path) -> pd.DataFrame:
    """Distinct acquisition channels and regions (column `dimension`, `value`) for the sidebar."""
    return _query(warehouse, """
        select distinct 'channel' as dimension, acquisition_channel as value
        from marts.dim_customers where acquisition_channel is not null
        union all
        select distinct 'region' as dimension, region as value
        from marts.dim_customers where region is not null
        order by dimension, value
    """)


# --- overview ---------------------------------------------------------------------------------------------------

@dataset("dim_customers", "fct_orders")
def period_flows(warehouse: Path, filters: Filters, current: Period, previous: Period) -> pd.DataFrame:
    """Net revenue, completed orders, new and active customers of the selected customers in the current and the
    previous calendar period: additive sums of fct_orders / dim_customers. One row per `period` (current, previous).
    """
    return _query(warehouse, f"""
        with periods as (
            select 'current' as period, $current_start::date as period_start, $current_end::date as period_end
            union all
            select 'previous', $previous_start::date, $previous_end::date
        ),
        customers as (
            select customer_id, first_order_on from marts.dim_customers as c where {_customer_filter('c')}
        ),
        orders as (
            select o.customer_id, o.ordered_on, o.net_revenue, o.is_completed
            from marts.fct_orders as o inner join customers using (customer_id)
        ),
        flows as (
            select
                p.period,
                p.period_start,
                p.period_end,
                coalesce(sum(o.net_revenue), 0) as net_revenue,
                count(*) filter (where o.is_completed) as completed_orders,
                count(distinct o.customer_id) filter (where o.is_completed) as active_customers
            from periods as p
            left join orders as o on o.ordered_on between p.period_start and p.period_end
            group by all
        ),
        acquired as (
            select p.period, count(c.customer_id) as new_customers
            from periods as p
            left join customers as c on c.first_order_on between p.period_start and p.period_end
            group by all
        )
        select flows.*, acquired.new_customers
        from flows inner join acquired using (period)
        order by period
    """, current_start=current.start, current_end=current.end, previous_start=previous.start,
                  previous_end=previous.end, **_filter_params(filters))


@dataset("fct_ltv_by_segment")
def segment_kpis(warehouse: Path, segment_type: str = OVERALL[0], segment_value: str = OVERALL[1]) -> pd.DataFrame:
    """One segment of fct_ltv_by_segment (default: the overall row) at every as-of snapshot, current first."""
    return _query(warehouse, """
        select
            as_of_snapshot, months_before_current, as_of_date, segment_type, segment_value, customers, buyers,
            repeat_customer_rate, average_check, orders_per_year, average_realised_ltv, realised_ltv_12m,
            mature_buyers_12m, expected_lifetime_months, expected_lifetime_status, ltv_formula_a, ltv_formula_b,
            discounted_clv, cac, cac_status, ltv_to_cac, ltv_to_cac_12m
        from marts.fct_ltv_by_segment
        where segment_type = $segment_type and segment_value = $segment_value
        order by months_before_current
    """, segment_type=segment_type, segment_value=segment_value)


@dataset("fct_ltv_by_segment")
def channel_ltv_to_cac(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """The acquisition-channel rows of fct_ltv_by_segment (CAC, LTV/CAC at 3/6/12/24 months, LTV formula B / CAC)
    at every as-of snapshot, for the selected channels."""
    return _query(warehouse, f"""
        select
            as_of_snapshot, months_before_current, as_of_date, segment_value as channel, customers, buyers,
            marketing_spend, cac_new_customers, cac, cac_status, ltv_formula_b, ltv_to_cac, discounted_clv,
            discounted_ltv_to_cac, ltv_to_cac_3m, ltv_to_cac_6m, ltv_to_cac_12m, ltv_to_cac_24m
        from marts.fct_ltv_by_segment
        where segment_type = 'acquisition_channel' and {_channel_filter('segment_value')}
        order by months_before_current, channel
    """, **_filter_params(filters))


@dataset("fct_ltv_by_segment")
def pooled_ltv_to_cac(warehouse: Path) -> pd.DataFrame:
    """The overall row of fct_ltv_by_segment at every as-of snapshot: CAC and LTV/CAC with every channel pooled
    (what the unsegmented metrics cac and ltv_to_cac_<h>m return)."""
    return _query(warehouse, """
        select
            as_of_snapshot, months_before_current, as_of_date, marketing_spend, cac_new_customers, cac, cac_status,
            ltv_to_cac_3m, ltv_to_cac_6m, ltv_to_cac_12m, ltv_to_cac_24m
        from marts.fct_ltv_by_segment
        where segment_type = 'overall'
        order by months_before_current
    """)


@dataset("dim_customers", "fct_orders")
def revenue_by_month(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Net revenue and completed orders per calendar month of the selected customers (additive sums)."""
    return _query(warehouse, f"""
        select
            o.order_month,
            sum(o.net_revenue) as net_revenue,
            count(*) filter (where o.is_completed) as completed_orders
        from marts.fct_orders as o
        inner join marts.dim_customers as c using (customer_id)
        where {_customer_filter('c')} and {_date_filter('o.ordered_on')}
        group by o.order_month
        order by o.order_month
    """, **_filter_params(filters))


# --- cohorts ----------------------------------------------------------------------------------------------------

@dataset("fct_cohort_retention", "fct_cohort_retention_by_channel")
def cohort_retention(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Cohort month x months since first order: retention and cumulative revenue / margin per customer.

    Without a channel filter, all channels pooled (fct_cohort_retention, `acquisition_channel` = 'all channels');
    with one, each selected channel's own cohorts (fct_cohort_retention_by_channel). Cohort months in the date range.
    """
    columns = ("cohort_month, months_since_first_order, activity_month, is_complete_month, cohort_size, "
               "active_customers, retention_rate, cumulative_net_revenue_per_customer, "
               "cumulative_gross_margin_per_customer")
    return _query(warehouse, f"""
        select 'all channels' as acquisition_channel, {columns}
        from marts.fct_cohort_retention
        where len($channels::varchar[]) = 0 and {_date_filter('cohort_month')}
        union all
        select acquisition_channel, {columns}
        from marts.fct_cohort_retention_by_channel
        where list_contains($channels::varchar[], acquisition_channel) and {_date_filter('cohort_month')}
        order by acquisition_channel, cohort_month, months_since_first_order
    """, **_filter_params(filters))


@dataset("fct_cohort_curves")
def cohort_curves(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """fct_cohort_curves: the all-channels curve and each selected channel's (all channels when none is selected),
    by months since the first order: pooled retention and the cumulative revenue / margin per customer."""
    return _query(warehouse, f"""
        select
            curve, months_since_first_order, as_of_date, cohorts, cohort_customers, active_customers,
            cohort_retention_rate, cohort_ltv_curve, cohort_margin_curve
        from marts.fct_cohort_curves
        where curve = 'all_channels' or {_channel_filter('curve')}
        order by curve = 'all_channels' desc, curve, months_since_first_order
    """, **_filter_params(filters))


# --- acquisition ------------------------------------------------------------------------------------------------

@dataset("fct_channel_economics", "fct_channel_predicted_ltv_to_cac")
def channel_economics(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """fct_channel_economics rows (channel x cohort month) for the selected channels and cohort months, with the
    cohort's predicted LTV/CAC from fct_channel_predicted_ltv_to_cac."""
    return _query(warehouse, f"""
        select
            e.channel, e.cohort_month, e.new_customers, e.marketing_spend, e.has_spend_recorded, e.cac,
            e.cac_status, e.blended_cac, e.months_observed, e.ltv_to_cac_3m, e.ltv_to_cac_6m, e.ltv_to_cac_12m,
            e.ltv_to_cac_24m, e.discounted_ltv_to_cac, p.predicted_ltv_to_cac, e.payback_months, e.payback_status
        from marts.fct_channel_economics as e
        left join marts.fct_channel_predicted_ltv_to_cac as p using (channel_cohort_key)
        where {_channel_filter('e.channel')} and {_date_filter('e.cohort_month')}
        order by e.channel, e.cohort_month
    """, **_filter_params(filters))


# --- segments ---------------------------------------------------------------------------------------------------

@dataset("fct_ltv_by_segment", "fct_segment_comparison", "fct_predicted_clv_by_segment")
def segment_values(warehouse: Path, filters: Filters, segment_type: str) -> pd.DataFrame:
    """The current rows of one segment type of fct_ltv_by_segment, with the share of customers and the lifts over
    the rest of the type from fct_segment_comparison and the average predicted CLV from fct_predicted_clv_by_segment.
    Where the type is a sidebar filter (channel, region, loyalty), only the selected values."""
    return _query(warehouse, f"""
        select
            l.segment_type, l.segment_value, l.as_of_date, l.customers, l.buyers, l.average_realised_ltv,
            l.average_check, l.orders_per_year, l.repeat_customer_rate, l.ltv_formula_a, l.ltv_formula_b,
            l.discounted_clv, p.average_predicted_clv, c.share_of_customers, c.ltv_lift, c.average_check_lift,
            c.orders_per_year_lift
        from marts.fct_ltv_by_segment as l
        left join marts.fct_segment_comparison as c
            on l.segment_type = c.segment_type and l.segment_value = c.segment_value
        left join marts.fct_predicted_clv_by_segment as p on l.segment_key = p.segment_key
        where l.as_of_snapshot = 'current' and l.segment_type = $segment_type and {_segment_value_filter('l')}
        order by l.customers desc, l.segment_value
    """, segment_type=segment_type, values=list(filter_values(filters, segment_type)))


@dataset("fct_category_penetration")
def category_penetration(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Category x calendar month: active customers, category buyers and penetration."""
    return _query(warehouse, f"""
        select category, activity_month, active_customers, category_buyers, penetration_rate, is_partial_month,
            is_launched_by_month_end
        from marts.fct_category_penetration
        where {_date_filter('activity_month')}
        order by category, activity_month
    """, **_filter_params(filters))


@dataset("fct_launch_penetration")
def launch_penetration(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Launches (product or category) launched in the date range, with penetration in their first window."""
    return _query(warehouse, f"""
        select launch_key, launch_type, category, product_id, launched_on, window_days, observed_days,
            is_window_complete, active_customers, launch_buyers, launch_penetration, active_loyalty_members,
            loyalty_member_buyers, loyalty_member_launch_penetration
        from marts.fct_launch_penetration
        where {_date_filter('launched_on')}
        order by launch_type, launched_on desc, launch_key
    """, **_filter_params(filters))


# --- predictive -------------------------------------------------------------------------------------------------

@dataset("fct_customer_clv_predictions")
def clv_predictions_sample(warehouse: Path, filters: Filters, max_rows: int = 5000) -> pd.DataFrame:
    """Predicted customers (P(alive), predicted CLV, tier), a repeatable sample of at most max_rows for plotting."""
    return _query(warehouse, f"""
        select customer_id, model, frequency, p_alive, predicted_clv, predicted_clv_tier,
            case when frequency = 0 then 'one purchase day' else 'repeat buyer' end as buyer_type
        from marts.fct_customer_clv_predictions as p
        where p.is_predicted and {_customer_filter('p')}
        using sample reservoir({int(max_rows)} rows) repeatable (42)
    """, **_filter_params(filters))


@dataset("fct_customer_clv_predictions")
def clv_distribution(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Customers per predicted-CLV bin (5 bins per power of ten, below 1 in one bin) and tier."""
    return _query(warehouse, f"""
        with binned as (
            select
                predicted_clv_tier,
                case when predicted_clv < 1 then -1
                    else floor(log10(predicted_clv) * 5) * 0.2 end as bin_log10
            from marts.fct_customer_clv_predictions as p
            where p.is_predicted and {_customer_filter('p')}
        )
        select
            predicted_clv_tier,
            case when bin_log10 < 0 then 0 else power(10, bin_log10) end as clv_from,
            case when bin_log10 < 0 then 1 else power(10, bin_log10 + 0.2) end as clv_to,
            count(*) as customers
        from binned
        group by all
        order by clv_from, predicted_clv_tier
    """, **_filter_params(filters))


@dataset("fct_customer_clv_predictions")
def clv_tiers(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Per predicted-CLV tier: customers, predicted CLV range and total; customers without a prediction too."""
    return _query(warehouse, f"""
        select
            coalesce(predicted_clv_tier, 'not predicted') as predicted_clv_tier,
            count(*) as customers,
            min(predicted_clv) as min_predicted_clv,
            max(predicted_clv) as max_predicted_clv,
            sum(predicted_clv) as total_predicted_clv,
            string_agg(distinct prediction_status, '; ') as prediction_status
        from marts.fct_customer_clv_predictions as p
        where {_customer_filter('p')}
        group by all
        order by min(predicted_clv) desc nulls last
    """, **_filter_params(filters))


@dataset("fct_clv_holdout_validation")
def holdout_validation(warehouse: Path) -> pd.DataFrame:
    """Holdout, every count model side by side: predicted vs actual purchases per calibration-frequency bucket
    (and the total row), holdout log-likelihood and interval coverage; the published model first."""
    return _query(warehouse, """
        select model, is_chosen_model, frequency_bucket, bucket_order, holdout_split_date, as_of_date,
            holdout_length, time_unit, customers, actual_purchases, predicted_purchases,
            actual_purchases_per_customer, predicted_purchases_per_customer, relative_error, mean_absolute_error,
            root_mean_squared_error, holdout_log_likelihood_per_customer, interval_level, interval_coverage,
            interval_covered_share, prediction_status
        from marts.fct_clv_holdout_validation
        order by is_chosen_model desc, model, bucket_order
    """)


@dataset("fct_clv_model_parameters")
def model_parameters(warehouse: Path) -> pd.DataFrame:
    """Fitted parameters of every model (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma) with standard errors, per fit
    (full, calibration) and stratum (pooled, or the acquisition channel); is_chosen_model marks the published ones,
    stratification whether the model's channels are scored by their own fits."""
    return _query(warehouse, """
        select fit_name, model, stratum, stratification, is_chosen_model, parameter, estimate, standard_error, log_likelihood, n_customers,
            converged, status, status_reason, freq_monetary_correlation, fitted_through_date, time_unit
        from marts.fct_clv_model_parameters
        order by fit_name desc, is_chosen_model desc, model, stratum <> 'pooled', stratum, parameter
    """)


# --- actions ----------------------------------------------------------------------------------------------------

@dataset("dim_customers", "fct_customer_next_purchase")
def reorder_list(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Customers due for a reorder reminder today (fct_customer_next_purchase.due_for_reorder)."""
    return _query(warehouse, f"""
        select
            n.customer_id, n.expected_next_purchase_on, n.days_overdue, n.typical_interval_days,
            n.interval_source, n.last_order_on, n.cvm_stage, n.preferred_category, c.acquisition_channel,
            c.region, c.is_loyalty_member
        from marts.fct_customer_next_purchase as n
        inner join marts.dim_customers as c using (customer_id)
        where n.due_for_reorder and {_customer_filter('c')}
        order by n.days_overdue desc, n.customer_id
    """, **_filter_params(filters))


@dataset("fct_customer_clv_predictions", "fct_customer_segments")
def at_risk_high_value(warehouse: Path, filters: Filters, max_p_alive: float = 0.5,
                       tiers: tuple[str, ...] = ("top", "high")) -> pd.DataFrame:
    """Customers the model thinks are slipping away (P(alive) below a threshold) in the high predicted-CLV tiers."""
    return _query(warehouse, f"""
        select
            p.customer_id, p.predicted_clv_tier, p.predicted_clv, p.p_alive, p.expected_purchases,
            s.realised_ltv, s.recency_days, s.completed_orders, s.cvm_stage, s.rfm_segment, s.recommended_action,
            s.preferred_category, p.acquisition_channel, p.region, p.is_loyalty_member
        from marts.fct_customer_clv_predictions as p
        inner join marts.fct_customer_segments as s using (customer_id)
        where p.is_predicted and p.p_alive < $max_p_alive
            and list_contains($tiers::varchar[], p.predicted_clv_tier) and {_customer_filter('p')}
        order by p.predicted_clv desc, p.customer_id
    """, max_p_alive=max_p_alive, tiers=list(tiers), **_filter_params(filters))



@dataset("fct_customer_clv_predictions")
def churn_risk_bands(warehouse: Path, filters: Filters) -> pd.DataFrame:
    """Band sizes of the churn risk (P(no purchase in the next churn_risk_days days), chosen model)."""
    return _query(warehouse, f"""
        select
            coalesce(churn_risk_band, 'not predicted') as churn_risk_band,
            count(*) as customers,
            min(churn_risk) as min_churn_risk,
            max(churn_risk) as max_churn_risk,
            max(churn_risk_days) as churn_risk_days
        from marts.fct_customer_clv_predictions as p
        where {_customer_filter('p')}
        group by all
        order by min(churn_risk) nulls last
    """, **_filter_params(filters))


@dataset("fct_churn_risk_calibration")
def churn_risk_calibration(warehouse: Path) -> pd.DataFrame:
    """The published model's churn-risk calibration on the holdout, per band and total (fct_churn_risk_calibration)."""
    return _query(warehouse, """
        select
            churn_risk_band, customers, mean_predicted_churn_risk, observed_no_purchase_share, calibration_error,
            calibration_z, no_purchase_customers, churn_window_days, window_status, holdout_split_date, model
        from marts.fct_churn_risk_calibration
        where is_chosen_model
        order by band_order
    """)

@dataset("fct_audiences")
def audiences(warehouse: Path) -> pd.DataFrame:
    """The declared audiences of the build's wave: size, holdout and value (fct_audiences)."""
    return _query(warehouse, """
        select
            audience, wave, audience_reason, members, treated_customers, held_out_customers, held_out_share,
            expected_value_total, mean_p_alive, customers_with_due_date, definition, is_custom
        from marts.fct_audiences
        order by audience_order
    """)


@dataset("fct_audience_members")
def audience_members(warehouse: Path, audience: str = "") -> pd.DataFrame:
    """The members of one audience ("" = all) with why, value, P(alive), due date and assignment."""
    return _query(warehouse, """
        select
            audience, wave, customer_id, assignment, reason, expected_value, p_alive, churn_risk, churn_risk_band,
            due_on, value_tier, cvm_stage, realised_ltv
        from marts.fct_audience_members
        where $audience = '' or audience = $audience
        order by audience, assignment desc, expected_value desc nulls last, customer_id
    """, audience=audience)


@dataset("fct_audience_lift")
def audience_lift(warehouse: Path) -> pd.DataFrame:
    """Measured lift per audience and wave with 95% intervals (fct_audience_lift)."""
    return _query(warehouse, """
        select *
        from marts.fct_audience_lift
        order by audience, wave
    """)

@dataclass(frozen=True)
class Snapshot:
    """An as-of snapshot of fct_ltv_by_segment (`as_of_snapshot`): current, or n months earlier."""

    name: str
    months_before_current: int
    as_of_date: date

    @property
    def label(self) -> str:
        when = "current" if self.months_before_current == 0 else f"{self.months_before_current} months earlier"
        return f"{when} ({self.as_of_date})"


@dataclass(frozen=True)
class Coverage:
    """What the input held, read from the marts (data_coverage, ltv_snapshots), for empty states and comparisons."""

    as_of_date: date | None
    first_order_on: date | None
    buyers: int
    has_channels: bool
    has_regions: bool
    has_loyalty_members: bool
    has_birth_years: bool
    has_item_costs: bool
    has_marketing_spend: bool
    has_order_items: bool
    predictive_status: str
    predictive_reason: str
    snapshots: tuple[Snapshot, ...] = ()
    missing: list[str] = field(default_factory=list)
    currency: str = "USD"  # the reporting currency of every money value (clvlayer.dashboard.currency)

    @property
    def previous_snapshots(self) -> tuple[Snapshot, ...]:
        """The earlier as-of snapshots the segment mart holds, nearest first (var ltv_previous_periods_months)."""
        return tuple(snapshot for snapshot in self.snapshots if snapshot.months_before_current > 0)

    @classmethod
    def read(cls, warehouse: Path) -> "Coverage":
        row = data_coverage(warehouse).iloc[0]

        def flag(name: str) -> bool:
            return bool(row[name]) if pd.notna(row[name]) else False

        def text(name: str) -> str:
            return str(row[name]) if pd.notna(row[name]) else ""

        def day(name: str) -> date | None:
            return pd.Timestamp(row[name]).date() if pd.notna(row[name]) else None

        coverage = cls(
            as_of_date=day("as_of_date"), first_order_on=day("first_order_on"), buyers=int(row["buyers"]),
            has_channels=flag("has_channels"), has_regions=flag("has_regions"),
            has_loyalty_members=flag("has_loyalty_members"), has_birth_years=flag("has_birth_years"),
            has_item_costs=flag("has_item_costs"), has_marketing_spend=flag("has_marketing_spend"),
            has_order_items=flag("has_order_items"),
            predictive_status=text("predictive_status") or "not_fitted", predictive_reason=text("predictive_reason"),
            snapshots=tuple(Snapshot(str(r.as_of_snapshot), int(r.months_before_current),
                                     pd.Timestamp(r.as_of_date).date())
                            for r in ltv_snapshots(warehouse).itertuples()),
            currency=_currency(warehouse))
        coverage.missing.extend(coverage._missing())
        return coverage

    def _missing(self) -> list[str]:
        notes = []
        if not self.has_channels:
            notes.append("no acquisition channel (customers table absent or empty): every customer is `unknown`")
        if not self.has_regions:
            notes.append("no customer region: region filter and region segments unavailable")
        if not self.has_loyalty_members:
            notes.append("no loyalty members: loyalty lift unavailable")
        if not self.has_marketing_spend:
            notes.append("no marketing spend in the input: CAC, LTV/CAC and payback unavailable")
        if not self.has_order_items:
            notes.append("no order items: preferred category and category / launch penetration unavailable")
        if not self.has_item_costs:
            notes.append("no product costs: margin uses the default rate (var gross_margin_rate)")
        if self.predictive_status != "ok":
            notes.append(f"predictive CLV not available ({self.predictive_status}: {self.predictive_reason})")
        return notes


@dataset("fct_ltv_backtest_verdicts")
def backtest_verdicts(warehouse: Path) -> pd.DataFrame:
    """Per question (compare channels, forecast a cohort, set a CAC ceiling, the best forward value) each
    estimator's backtest score on this data; is_verdict marks the value to trust (docs/backtest.md)."""
    return _query(warehouse, """
        select question, estimator, is_verdict, compared_with, cells, mean_relative_absolute_error,
            mean_relative_bias, rank_correlation, interval_coverage
        from marts.fct_ltv_backtest_verdicts
        order by question, is_verdict desc, estimator
    """)


@dataset("fct_ltv_backtest")
def backtest_overall(warehouse: Path) -> pd.DataFrame:
    """The overall segment's backtest cells: per as-of date, horizon and estimator the forward value per buyer
    against what the buyers spent, with the error (horizons past the data's end: null with their status)."""
    return _query(warehouse, """
        select as_of_date, horizon_months, estimator, compared_with, buyers, estimated_forward_value,
            actual_forward_value, relative_bias, interval_lower, interval_upper, is_covered, backtest_status
        from marts.fct_ltv_backtest
        where segment_type = 'overall'
        order by as_of_date, horizon_months, estimator
    """)
