"""Nightly exports of a generated shop: day 0 and the next days, in both shapes a shop's extractor delivers.

From a folder written by :func:`clvlayer.generate.generate` (day 0: the shop at the end of its window), each next day
``end + k`` changes the source the way a night of trading does (deterministic by ``seed`` and the day):

* **new orders**: ``NEW_ORDER_SHARE`` (0.1%) of the orders so far, placed during the day; each copies the amount,
  currency and order lines of a random earlier order with order lines, under a buyer (or, for ``NEW_CUSTOMER_SHARE``
  of them, a new customer signing up minutes before);
* **status changes**: ``STATUS_CHANGE_SHARE`` (0.05%) of the orders so far, completed orders of the last
  ``CHANGE_WINDOW_DAYS`` days, turn cancelled, refunded (a refund row of the whole amount) or partially refunded (a
  refund row of 10-60%); their ``updated_at`` moves to the time of the change;
* **a changed customer**: one buyer joins the loyalty programme and moves to another region;
* **marketing spend**: one row per paid channel for the day (the channel's mean of the last 7 days, noise as the
  generator's).

The exports are written in two shapes, one complete raw folder per day (``<out>/<shape>/day<k>/``):

* ``snapshot``: every table rewritten as one file per table (``orders.parquet``, ...), today's input contract;
* ``batch``: the tables in ``batch_tables`` (default orders) delivered as a folder named after the table holding
  batch files, how extractors deliver (``orders/2025-07-01.parquet``): day 0 holds the history split by the day
  (``history_files="day"``), month or not at all (``"one"``) of each row's cursor (orders ``updated_at``, refunds
  ``refunded_at``, order lines their order's ``updated_at``); day k adds one file named ``<end + k>`` with the rows
  new or changed that day (a changed order as a new version, its ``updated_at`` later). The other tables are the
  snapshot's files of the day. Fault cases, on the days given in ``faults``: ``changed`` rewrites an old history
  file of orders (up to 3 completed orders without a later version turn cancelled, ``updated_at`` one second
  later), ``vanished`` removes another one (its orders leave the source).

Unchanged files are hard links to the previous day's (a copy across file systems). ``<out>/nightly.json`` lists what
each day changed (ids, files, faults): the ground truth of the nightly equivalence tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from clvlayer.generate import SECONDS_PER_DAY, SPEND_NOISE_SIGMA, TABLES, _decimal, _format_ids, _write_csv, \
    _write_parquet

__all__ = ["generate_nightly", "SHAPES", "FAULTS", "NEW_ORDER_SHARE", "STATUS_CHANGE_SHARE"]

NEW_ORDER_SHARE = 0.001
STATUS_CHANGE_SHARE = 0.0005
NEW_CUSTOMER_SHARE = 0.15
CHANGE_WINDOW_DAYS = 60
CHANGE_KINDS = {"cancelled": 0.4, "refunded": 0.4, "partially_refunded": 0.2}
PARTIAL_RANGE = (0.10, 0.60)
CHANGED_FILE_ORDERS = 3
NIGHTLY_STREAM = 0x4E17
SHAPES = ("snapshot", "batch")
FAULTS = ("changed", "vanished")
BATCH_TABLES = ("orders", "refunds", "order_items")

_TS, _MONEY = pa.timestamp("s"), pa.decimal128(14, 2)
SCHEMAS: dict[str, pa.Schema] = {
    "orders": pa.schema([("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", _TS),
                         ("amount", _MONEY), ("status", pa.string()), ("currency", pa.string()),
                         ("updated_at", _TS)]),
    "customers": pa.schema([("customer_id", pa.string()), ("created_at", _TS), ("acquisition_channel", pa.string()),
                            ("region", pa.string()), ("birth_year", pa.int32()), ("is_loyalty_member", pa.bool_()),
                            ("loyalty_joined_at", _TS)]),
    "order_items": pa.schema([("order_id", pa.string()), ("product_id", pa.string()), ("quantity", pa.int32()),
                              ("unit_price", _MONEY), ("discount_amount", _MONEY)]),
    "products": pa.schema([("product_id", pa.string()), ("category", pa.string()), ("unit_cost", _MONEY),
                           ("launched_at", pa.date32())]),
    "refunds": pa.schema([("refund_id", pa.string()), ("order_id", pa.string()), ("refunded_at", _TS),
                          ("amount", _MONEY)]),
    "marketing_spend": pa.schema([("spend_date", pa.date32()), ("channel", pa.string()), ("amount", _MONEY)]),
}
Tables = dict[str, pa.Table]


# --- reading and writing --------------------------------------------------------------------------------------------

def read_shop(folder: Path) -> tuple[Tables, str]:
    """The generator's tables present in `folder` (typed as the generator writes them) and their format."""
    tables, formats = {}, set()
    for name in TABLES:
        for fmt in ("parquet", "csv"):
            if (folder / f"{name}.{fmt}").exists():
                tables[name] = _read(folder / f"{name}.{fmt}", fmt, SCHEMAS[name])
                formats.add(fmt)
    if "orders" not in tables:
        raise FileNotFoundError(f"{folder}: no orders.parquet or orders.csv. Fix: point at a `clv generate` folder.")
    if len(formats) > 1:
        raise ValueError(f"{folder}: both CSV and Parquet tables. Fix: generate the shop in one format.")
    return tables, formats.pop()


def _read(path: Path, fmt: str, schema: pa.Schema) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path).select(schema.names).cast(schema)
    options = pacsv.ConvertOptions(column_types=dict(zip(schema.names, schema.types)))
    return pacsv.read_csv(path, convert_options=options).select(schema.names)


def _write(table: pa.Table, path: Path, fmt: str) -> None:
    (_write_csv if fmt == "csv" else _write_parquet)(table, path)


def _replace(table: pa.Table, rows: np.ndarray, values: dict[str, pa.Array | pa.ChunkedArray]) -> pa.Table:
    """`table` with the given columns' values at the (ascending) row positions `rows` replaced by `values`."""
    mask = pa.array(np.isin(np.arange(table.num_rows), rows))
    for name, new in values.items():
        new = new.combine_chunks() if isinstance(new, pa.ChunkedArray) else new
        column = pc.replace_with_mask(table[name].combine_chunks(), mask, new.cast(table.schema.field(name).type))
        table = table.set_column(table.schema.get_field_index(name), name, column)
    return table


def _link(source: Path, target: Path) -> None:
    """`target` as a hard link to `source` (a copy when the file system refuses)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# --- one night's changes --------------------------------------------------------------------------------------------

@dataclass
class Night:
    """What one day changed: the rows added or rewritten per table, and the ids (nightly.json)."""

    day: date
    new_rows: dict[str, pa.Table] = field(default_factory=dict)  # per batch table: the rows new or changed that day
    summary: dict[str, Any] = field(default_factory=dict)


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    return column.cast(pa.int64()).to_numpy(zero_copy_only=False)


def _cents(column: pa.ChunkedArray) -> np.ndarray:
    return np.rint(column.cast(pa.float64()).to_numpy(zero_copy_only=False) * 100).astype(np.int64)


def _next_ids(ids: pa.ChunkedArray | None, prefix: str, count: int, width: int) -> pa.Array:
    """`count` ids after the largest numeric one of `ids` (same prefix and width)."""
    numbers = pc.cast(pc.utf8_slice_codeunits(ids, 1), pa.int64()) if ids is not None and len(ids) else None
    last = int(pc.max(numbers).as_py()) if numbers is not None else 0
    width = len(ids[0].as_py()) - 1 if numbers is not None else width
    return _format_ids(prefix, np.arange(last + 1, last + 1 + count), width)


def _new_orders(rng: np.random.Generator, tables: Tables, day: date) -> tuple[Tables, dict[str, Any]]:
    """New orders of the day (copies of random earlier orders with lines), their lines and new customers."""
    orders = tables["orders"]
    count = max(1, round(NEW_ORDER_SHARE * orders.num_rows))
    items = tables.get("order_items")
    with_lines = np.flatnonzero(pc.is_in(orders["order_id"], pc.unique(items["order_id"])).to_numpy(
        zero_copy_only=False)) if items is not None else np.arange(orders.num_rows)
    templates = orders.take(rng.choice(with_lines, size=min(count, with_lines.size), replace=False))
    count = templates.num_rows
    at = _epoch(day) + np.sort(rng.integers(0, SECONDS_PER_DAY, count))
    order_ids = _next_ids(orders["order_id"], "O", count, 8)
    buyers = pc.unique(orders["customer_id"])
    customer_ids = buyers.take(pa.array(rng.integers(0, len(buyers), count))).to_pylist()
    new_customer = rng.random(count) < NEW_CUSTOMER_SHARE
    out: Tables = {}
    customers = tables.get("customers")
    fresh = _next_ids(customers["customer_id"] if customers is not None else orders["customer_id"], "C",
                      int(new_customer.sum()), 7).to_pylist()
    for position, new_id in zip(np.flatnonzero(new_customer), fresh):
        customer_ids[position] = new_id
    if customers is not None and fresh:
        clones = customers.take(rng.integers(0, customers.num_rows, len(fresh)))
        signup = at[new_customer] - rng.integers(60, 1800, len(fresh))
        out["customers"] = clones.set_column(0, "customer_id", pa.array(fresh)) \
            .set_column(1, "created_at", pa.array(signup, _TS)) \
            .set_column(5, "is_loyalty_member", pa.array(np.zeros(len(fresh), bool))) \
            .set_column(6, "loyalty_joined_at", pa.nulls(len(fresh), _TS))
    out["orders"] = pa.table({
        "order_id": order_ids, "customer_id": pa.array(customer_ids), "ordered_at": pa.array(at, _TS),
        "amount": templates["amount"], "status": pa.array(["completed"] * count), "currency": templates["currency"],
        "updated_at": pa.array(at, _TS)}, schema=SCHEMAS["orders"])
    if items is not None:
        lines = items.filter(pc.is_in(items["order_id"], templates["order_id"]))
        renamed = dict(zip(templates["order_id"].to_pylist(), order_ids.to_pylist()))
        out["order_items"] = lines.set_column(0, "order_id", pa.array([renamed[o] for o in
                                                                      lines["order_id"].to_pylist()]))
    summary = {"new_orders": order_ids.to_pylist(), "new_customers": fresh}
    return out, summary


def _status_changes(rng: np.random.Generator, tables: Tables, day: date) -> tuple[np.ndarray, Tables, dict]:
    """Earlier completed orders turned cancelled or (partially) refunded during the day: (their row positions in
    orders, ascending; their new versions in that order, and the refund rows; the summary)."""
    orders = tables["orders"]
    count = max(1, round(STATUS_CHANGE_SHARE * orders.num_rows))
    completed = pc.equal(orders["status"], "completed").to_numpy(zero_copy_only=False)
    recent = _seconds(orders["ordered_at"]) >= _epoch(day) - CHANGE_WINDOW_DAYS * SECONDS_PER_DAY
    candidates = np.flatnonzero(completed & recent)
    if candidates.size < count:
        candidates = np.flatnonzero(completed)
    rows = np.sort(rng.choice(candidates, size=min(count, candidates.size), replace=False))
    kinds = rng.choice(list(CHANGE_KINDS), size=rows.size, p=list(CHANGE_KINDS.values()))
    at = _epoch(day) + rng.integers(0, SECONDS_PER_DAY, rows.size)
    changed = orders.take(rows).set_column(4, "status", pa.array(kinds.tolist())) \
        .set_column(6, "updated_at", pa.array(at, _TS))
    refunded = kinds != "cancelled"
    cents = _cents(changed["amount"])
    share = np.where(kinds == "partially_refunded", rng.uniform(*PARTIAL_RANGE, rows.size), 1.0)
    refund_cents = np.maximum(np.rint(cents * share).astype(np.int64), 1)[refunded]
    out = {"orders": changed}
    if "refunds" in tables:
        out["refunds"] = pa.table({
            "refund_id": _next_ids(tables["refunds"]["refund_id"], "R", int(refunded.sum()), 7),
            "order_id": changed["order_id"].filter(pa.array(refunded)), "refunded_at": pa.array(at[refunded], _TS),
            "amount": _decimal(refund_cents)}, schema=SCHEMAS["refunds"])
    summary = {"status_changes": dict(zip(changed["order_id"].to_pylist(), kinds.tolist()))}
    return rows, out, summary


def _changed_customer(rng: np.random.Generator, customers: pa.Table, buyers: pa.ChunkedArray,
                      day: date) -> tuple[pa.Table, dict]:
    """One buyer outside the loyalty programme joins it during the day and moves to another region."""
    member = customers["is_loyalty_member"].fill_null(False).to_numpy(zero_copy_only=False)
    bought = pc.is_in(customers["customer_id"], buyers).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(~member & bought)
    if not candidates.size:
        return customers, {}
    row = int(rng.choice(candidates))
    regions = sorted(set(pc.unique(customers["region"]).drop_null().to_pylist()) - {customers["region"][row].as_py()})
    region = regions[int(rng.integers(0, len(regions)))] if regions else customers["region"][row].as_py()
    joined = _epoch(day) + int(rng.integers(0, SECONDS_PER_DAY))
    customers = _replace(customers, np.array([row]), {"region": pa.array([region]),
                                                      "is_loyalty_member": pa.array([True]),
                                                      "loyalty_joined_at": pa.array([joined], _TS)})
    return customers, {"changed_customer": customers["customer_id"][row].as_py(), "new_region": region}


def _spend_of_day(rng: np.random.Generator, spend: pa.Table, day: date) -> pa.Table:
    """One row per channel: its mean spend over the last 7 days x mean-one lognormal noise."""
    days = spend["spend_date"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    recent = spend.filter(pa.array(days > int(pc.max(spend["spend_date"].cast(pa.int32())).as_py()) - 7))
    channels = sorted(pc.unique(recent["channel"]).to_pylist())
    cents = _cents(recent["amount"])
    names = recent["channel"].to_pylist()
    means = np.array([cents[[n == c for n in names]].mean() for c in channels])
    noise = np.exp(rng.normal(-0.5 * SPEND_NOISE_SIGMA ** 2, SPEND_NOISE_SIGMA, len(channels)))
    return pa.table({"spend_date": pa.array([day] * len(channels), pa.date32()), "channel": pa.array(channels),
                     "amount": _decimal(np.rint(means * noise).astype(np.int64))}, schema=SCHEMAS["marketing_spend"])


def next_night(tables: Tables, day: date, seed: int, index: int) -> tuple[Tables, Night]:
    """The source at the end of `day`, the `index`-th night after day 0 (module docstring)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, NIGHTLY_STREAM, index])))
    rows, changed, summary = _status_changes(rng, tables, day)
    new, new_summary = _new_orders(rng, tables, day)
    night = Night(day, summary={"day": day.isoformat(), **new_summary, **summary})
    orders = tables["orders"]
    replaced = _replace(orders, rows, {name: changed["orders"][name] for name in ("status", "updated_at")})
    after = dict(tables)
    after["orders"] = pa.concat_tables([replaced, new["orders"]])
    night.new_rows["orders"] = pa.concat_tables([changed["orders"], new["orders"]])
    for name in ("refunds", "order_items"):
        parts = [part[name] for part in (changed, new) if name in part]
        if name in tables and parts:
            night.new_rows[name] = pa.concat_tables(parts)
            after[name] = pa.concat_tables([tables[name], night.new_rows[name]])
    if "customers" in tables:
        customers, customer_summary = _changed_customer(rng, tables["customers"], orders["customer_id"], day)
        after["customers"] = pa.concat_tables([customers, new["customers"]]) if "customers" in new else customers
        night.summary.update(customer_summary)
    if "marketing_spend" in tables and tables["marketing_spend"].num_rows:
        after["marketing_spend"] = pa.concat_tables([tables["marketing_spend"],
                                                     _spend_of_day(rng, tables["marketing_spend"], day)])
    night.summary["rows"] = {name: table.num_rows for name, table in after.items()}
    return after, night


# --- the two shapes -------------------------------------------------------------------------------------------------

def _cursor(name: str, table: pa.Table, orders: pa.Table) -> np.ndarray:
    """Epoch seconds of each row's extraction cursor: when the row (its latest version) was last written."""
    if name == "orders":
        return _seconds(table["updated_at"])
    if name == "refunds":
        return _seconds(table["refunded_at"])
    index = pc.index_in(table["order_id"], orders["order_id"])  # order lines: their order's updated_at
    return _seconds(orders["updated_at"].take(index.fill_null(0)))


def _label(seconds: np.ndarray, history_files: str) -> np.ndarray:
    days = (seconds // SECONDS_PER_DAY).astype("datetime64[D]")
    return days.astype("datetime64[M]").astype(str) if history_files == "month" else days.astype(str)


def _write_history(folder: Path, name: str, table: pa.Table, orders: pa.Table, fmt: str, history_files: str,
                   end: date) -> list[str]:
    """Day 0 of a batch table: its rows split by the day (or month) of their cursor, or one file."""
    folder.mkdir(parents=True, exist_ok=True)
    if history_files == "one":
        _write(table, folder / f"{end.isoformat()}.{fmt}", fmt)
        return [f"{end.isoformat()}.{fmt}"]
    labels = _label(_cursor(name, table, orders), history_files)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    bounds = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1], True])
    written = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        _write(table.take(pa.array(order[start:stop])), folder / f"{sorted_labels[start]}.{fmt}", fmt)
        written.append(f"{sorted_labels[start]}.{fmt}")
    return written


def _write_snapshot(folder: Path, tables: Tables, previous: Tables | None, previous_folder: Path | None,
                    fmt: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        if previous is not None and previous_folder is not None and previous.get(name) is table:
            _link(previous_folder / f"{name}.{fmt}", folder / f"{name}.{fmt}")
        else:
            _write(table, folder / f"{name}.{fmt}", fmt)


def _copy_batch_day(previous: Path, folder: Path, snapshot: Path, batch_tables: Sequence[str]) -> None:
    """Day k's batch folder before its new files: the previous day's batch files, the snapshot's other tables."""
    folder.mkdir(parents=True, exist_ok=True)
    for entry in sorted(snapshot.iterdir()):
        if entry.name.partition(".")[0] not in batch_tables:
            _link(entry, folder / entry.name)
    for name in batch_tables:
        if (previous / name).is_dir():
            (folder / name).mkdir()
            for part in sorted((previous / name).iterdir()):
                _link(part, folder / name / part.name)


def _fault(kind: str, folder: Path, fmt: str, history: list[str], later_ids: set[str]) -> dict[str, Any]:
    """Apply a fault to day k's orders folder: `changed` rewrites the old history file a third of the way in,
    `vanished` removes the one two thirds of the way in (module docstring)."""
    name = history[len(history) // 3] if kind == "changed" else history[(2 * len(history)) // 3]
    path = folder / "orders" / name
    if kind == "vanished":
        path.unlink()
        return {"vanished_file": f"orders/{name}"}
    table = _read(path, fmt, SCHEMAS["orders"])
    free = pc.and_(pc.equal(table["status"], "completed"),
                   pc.invert(pc.is_in(table["order_id"], pa.array(sorted(later_ids), pa.string()))))
    rows = np.flatnonzero(free.to_numpy(zero_copy_only=False))[:CHANGED_FILE_ORDERS]
    table = _replace(table, rows, {"status": pa.array(["cancelled"] * rows.size),
                                   "updated_at": pa.array(_seconds(table["updated_at"])[rows] + 1, _TS)})
    path.unlink()  # a hard link to the previous days' file: write a new file, never through the link
    _write(table, path, fmt)
    return {"changed_file": f"orders/{name}", "cancelled_in_changed_file": table["order_id"].take(
        pa.array(rows)).to_pylist()}


def generate_nightly(
    shop: Path,
    out: Path,
    *,
    days: int = 2,
    seed: int = 42,
    shapes: Iterable[str] = SHAPES,
    fmt: Literal["parquet", "csv"] | None = None,
    batch_tables: Sequence[str] = ("orders",),
    history_files: Literal["day", "month", "one"] = "day",
    faults: dict[str, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write day 0 and `days` next days of the shop in `shop` under `out/<shape>/day<k>/` (module docstring);
    `faults` maps a fault (changed, vanished) to the day (1..days) it happens on, in the batch shape. Returns the
    manifest also written to `out/nightly.json`."""
    report = progress or (lambda _message: None)
    shapes, faults = list(shapes), dict(faults or {})
    _check(shapes, batch_tables, history_files, faults, days)
    tables, source_fmt = read_shop(Path(shop))
    fmt = fmt or source_fmt
    end = _last_day(tables["orders"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"shop": str(shop), "seed": seed, "format": fmt, "shapes": shapes,
                                "batch_tables": list(batch_tables), "history_files": history_files,
                                "day0": end.isoformat(), "days": []}
    previous: Tables | None = None
    history: list[str] = []
    later_ids: set[str] = set()
    for k in range(days + 1):
        night = None
        if k:
            report(f"day {k}: {end + timedelta(days=k)}")
            tables, night = next_night(tables, end + timedelta(days=k), seed, k)
            later_ids.update(night.new_rows["orders"]["order_id"].to_pylist())
        snapshot = out / "snapshot" / f"day{k}"
        _write_snapshot(snapshot, tables, previous, out / "snapshot" / f"day{k - 1}", fmt)
        entry = night.summary if night else {"day": end.isoformat(), "rows": {n: t.num_rows for n, t in
                                                                               tables.items()}}
        if "batch" in shapes:
            entry["files"] = _write_batch_day(out / "batch", k, tables, night, snapshot, fmt, batch_tables,
                                              history_files, end)
            if k == 0:
                history = entry["files"].get("orders", [])
            for kind, day in faults.items():
                if day == k:
                    entry.update(_fault(kind, out / "batch" / f"day{k}", fmt, history, later_ids))
        manifest["days"].append(entry)
        previous = tables
    if "snapshot" not in shapes:
        shutil.rmtree(out / "snapshot")
    (out / "nightly.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _write_batch_day(root: Path, k: int, tables: Tables, night: Night | None, snapshot: Path, fmt: str,
                     batch_tables: Sequence[str], history_files: str, end: date) -> dict[str, list[str]]:
    folder = root / f"day{k}"
    if k == 0:
        folder.mkdir(parents=True, exist_ok=True)
        _copy_batch_day(folder, folder, snapshot, batch_tables)
        return {name: _write_history(folder / name, name, tables[name], tables["orders"], fmt, history_files, end)
                for name in batch_tables if name in tables}
    _copy_batch_day(root / f"day{k - 1}", folder, snapshot, batch_tables)
    written = {}
    for name in batch_tables:
        if name in night.new_rows:
            (folder / name).mkdir(exist_ok=True)
            _write(night.new_rows[name], folder / name / f"{night.day.isoformat()}.{fmt}", fmt)
            written[name] = [f"{night.day.isoformat()}.{fmt}"]
    return written


def _last_day(orders: pa.Table) -> date:
    """Day 0: the last day with an order or a status change."""
    return max(pc.max(orders[column]).as_py() for column in ("ordered_at", "updated_at")).date()


def _check(shapes: list[str], batch_tables: Sequence[str], history_files: str, faults: dict[str, int],
           days: int) -> None:
    problems = [f"unknown shape {s!r} (expected {', '.join(SHAPES)})" for s in shapes if s not in SHAPES]
    problems += [f"{t!r} cannot be a batch table (expected some of {', '.join(BATCH_TABLES)})"
                 for t in batch_tables if t not in BATCH_TABLES]
    problems += [f"history_files {history_files!r} (expected day, month or one)"] \
        if history_files not in ("day", "month", "one") else []
    problems += [f"fault {f!r} on day {d} (expected {' or '.join(FAULTS)} on a day 1..{days}, with the batch shape "
                 "and orders as a batch table)" for f, d in faults.items()
                 if f not in FAULTS or not 1 <= d <= days or "batch" not in shapes or "orders" not in batch_tables]
    if days < 0:
        problems.append("days must be >= 0")
    if problems:
        raise ValueError("; ".join(problems))


# --- clv generate-nightly ------------------------------------------------------------------------------------------

def run_cli(args: argparse.Namespace, console: Any) -> int:
    faults = {kind: int(day) for kind, _, day in (fault.partition(":") for fault in args.fault)}
    with console.status("writing nightly exports...") as status:
        manifest = generate_nightly(Path(args.shop), Path(args.out), days=args.days, seed=args.seed,
                                    shapes=args.shapes.split(","), fmt=args.format,
                                    batch_tables=args.batch_tables.split(","), history_files=args.history_files,
                                    faults=faults, progress=lambda message: status.update(message))
    console.print(f"day 0 ({manifest['day0']}) and {args.days} next days in {args.out}/<shape>/day<k>; what each day "
                  f"changed: {args.out}/nightly.json")
    return 0
