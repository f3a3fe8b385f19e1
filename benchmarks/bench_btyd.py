"""Benchmarks and reports of the BTYD model library (clvlayer.btyd). Not a test; prints markdown tables.

Sub-commands (all use public tools only):

``speed``        fit, scoring and intervals of BG/NBD, MBG/NBD and Pareto/NBD at --sizes customers (simulated from
                 each model, day-grained ages and recency), optionally against ``lifetimes`` and PyMC-Marketing
                 (MAP) run from side venvs (--lifetimes-python, --pymc-python) at --reference-size customers.
``cdnow``        the CDNOW log shipped in the ``lifetimes`` wheel (pip download into a temp dir): each model's
                 parameters on the Fader-Hardie 2,357-customer summary vs the published values, and the 39/39-week
                 calibration/holdout split (holdout error, log-likelihood, the model the choice rule picks).
``calibration``  coverage of the 80% holdout purchase-count intervals by frequency bucket, and of segment-sum
                 intervals over repeated seeds, on simulated data with a fresh fit per seed.
``clv-calibration``  coverage of the CLV predictive intervals on the realised discounted value of simulated
                 customers (count process + Gamma-Gamma spend), per bucket and for segment sums.
``covariates``   BG/NBD with covariates on ``generate()`` data against generate.CHANNELS / the loyalty multiplier
                 (day-grained and on order timestamps), Pareto/NBD with covariates on simulated data.
``sample``       each model fitted on the embedded sample's RFM summary (seeds/raw_orders.csv, completed orders).

Usage::

    PYTHONPATH=scripts .venv/bin/python benchmarks/bench_btyd.py speed --sizes 100000 1000000 \\
        --lifetimes-python /tmp/lifetimes-venv/bin/python --pymc-python /tmp/pymcm-venv/bin/python
    PYTHONPATH=scripts .venv/bin/python benchmarks/bench_btyd.py cdnow --lifetimes-python /tmp/lifetimes-venv/bin/python
    PYTHONPATH=scripts .venv/bin/python benchmarks/bench_btyd.py calibration --n 10000 --seeds 100
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "python"))

import btyd_oracles as sim  # noqa: E402  (simulators of the three processes)
from rfm_reference import rfm_summary  # noqa: E402  (the Python RFM summary the tests check the SQL one with)

from clvlayer.btyd import (  # noqa: E402
    BUCKETS,
    MODELS,
    choose_model,
    clv_intervals,
    fit_gamma_gamma,
    frequency_bucket,
    model_lifetime_value,
    purchase_intervals,
    score_models,
)

WEEKLY_TRUTH = {"bgnbd": (0.243, 4.414, 0.793, 2.426), "mbgnbd": (0.25, 4.0, 0.8, 2.5), "paretonbd": (0.55, 10.58, 0.61, 11.67)}
PUBLISHED = {"bgnbd": (0.243, 4.414, 0.793, 2.426), "paretonbd": (0.55, 10.58, 0.61, 11.67)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def timed_median(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median wall seconds, median CPU seconds of this process, last result) over ``repeat`` runs.

    On the shared machine the wall time includes waiting for a core; the CPU time does not.
    """
    walls, cpus, out = [], [], None
    for _ in range(max(1, repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), out


def simulate(model: str, n: int, seed: int, holdout: float = 0.0, day_recency: bool = True) -> tuple[np.ndarray, ...]:
    """RFM (weeks) from ``model``: ages 1..730 whole days; recency rounded up to a whole day when ``day_recency``
    (the pattern count of day-grained warehouse data, for speed), else exact (for calibration: rounding recency
    up makes every customer look ~half a day more recent than he is, a ~0.5% over-forecast of holdout sums)."""
    truth = WEEKLY_TRUTH[model]
    if model == "paretonbd":
        x, tx, T, y = sim.simulate_pareto(n, seed, *truth, holdout, T_low=1 / 7, T_high=730 / 7)
    else:
        x, tx, T, y = sim.simulate_bg(n, seed, *truth, holdout, T_low=1 / 7, T_high=730 / 7, modified=model == "mbgnbd")
    if day_recency:
        tx = np.minimum(np.ceil(tx * 7 - 1e-9) / 7, T)
    return x, tx, T, y


def spend(x: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    nu = rng.gamma(3.74, 1 / 15.44, len(x))
    return np.where(x > 0, rng.gamma(6.25 * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)


REFERENCE_RUNNER = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
lib, model, path, out = sys.argv[1:5]
d = np.load(path); df = pd.DataFrame({k: d[k] for k in ("frequency", "recency", "T")})
res = {}
if lib == "lifetimes":
    import lifetimes
    cls = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter, "paretonbd": lifetimes.ParetoNBDFitter}[model]
    t0 = time.perf_counter(); f = cls().fit(df["frequency"], df["recency"], df["T"]); res["fit"] = time.perf_counter() - t0
    res["params"] = {k: float(v) for k, v in f.params_.items()}
    t0 = time.perf_counter()
    f.conditional_probability_alive(df["frequency"], df["recency"], df["T"])
    f.conditional_expected_number_of_purchases_up_to_time(30 / 7, df["frequency"], df["recency"], df["T"])
    res["score"] = time.perf_counter() - t0
else:
    from pymc_marketing import clv
    cls = {"bgnbd": clv.BetaGeoModel, "mbgnbd": clv.ModifiedBetaGeoModel, "paretonbd": clv.ParetoNBDModel}[model]
    data = df.assign(customer_id=np.arange(len(df)))
    t0 = time.perf_counter(); m = cls(data=data); m.fit(method="map"); res["fit"] = time.perf_counter() - t0
    post = getattr(m.fit_result, "posterior", m.fit_result)
    res["params"] = {k: float(post[k].values.ravel()[0]) for k in post.data_vars if post[k].size == 1}
json.dump(res, open(out, "w"))
'''


HOLDOUT_RUNNER = r'''
import json, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import lifetimes
_, model, path, out, t = sys.argv[:5]
d = np.load(path)
cls = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter, "paretonbd": lifetimes.ParetoNBDFitter}[model]
f = cls().fit(d["frequency"], d["recency"], d["T"])
pred = f.conditional_expected_number_of_purchases_up_to_time(float(t), d["frequency"], d["recency"], d["T"])
json.dump({"params": {k: float(v) for k, v in f.params_.items()}, "predicted": [float(v) for v in np.asarray(pred)]}, open(out, "w"))
'''


def reference(lib: str, python: str, model: str, x: np.ndarray, tx: np.ndarray, T: np.ndarray, timeout: float,
              holdout: float | None = None) -> dict[str, Any]:
    """Run ``lifetimes`` / PyMC-Marketing on (x, t_x, T) in a side interpreter: speed (holdout None) or
    per-customer predicted purchases over ``holdout`` time units (lifetimes only)."""
    work = Path(tempfile.mkdtemp(prefix="bench_btyd_"))
    np.savez(work / "d.npz", frequency=x, recency=tx, T=T)
    (work / "run.py").write_text(REFERENCE_RUNNER if holdout is None else HOLDOUT_RUNNER)
    args = [lib, model] if holdout is None else [model]
    tail = [] if holdout is None else [str(holdout)]
    try:
        proc = subprocess.run([python, str(work / "run.py"), *args, str(work / "d.npz"), str(work / "out.json"), *tail],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (stopped)"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1][:120] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads((work / "out.json").read_text())


def cmd_speed(args: argparse.Namespace) -> None:
    print(f"medians of {args.repeat} runs: wall s (CPU s of this process)\n")
    print("| model | customers | patterns | fit | scoring: P(alive) + E[30 d] + 12-month CLV | fit + scoring "
          "| count intervals, 30 draws | CLV intervals, 30 draws | lifetimes fit / scoring (s) | PyMC-Marketing MAP fit (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    cell = lambda w, c: f"{w:.2f} ({c:.2f})"  # noqa: E731
    for n in args.sizes:
        for name, spec in MODELS.items():
            if args.models and name not in args.models:
                continue
            x, tx, T, _ = simulate(name, n, 0)
            m = spend(x, 1)
            t_fit, c_fit, fit = timed_median(lambda: spec.fit(x, tx, T), args.repeat)
            gg = fit_gamma_gamma(x, m)

            def score() -> None:
                spec.p_alive(fit, x, tx, T)
                spec.expected_purchases(fit, 30 / 7, x, tx, T)
                model_lifetime_value(name, fit, gg, x, tx, T, m, months=12, time_unit="week")

            t_score, c_score, _ = timed_median(score, args.repeat)
            t_int, c_int, _ = timed_median(lambda: purchase_intervals(name, fit, 30 / 7, x, tx, T, n_draws=30), args.repeat)
            t_clv, c_clv, _ = timed_median(
                lambda: clv_intervals(name, fit, gg, x, tx, T, m, periods_per_month=4.345, n_draws=30), args.repeat)
            lt, pm = "-", "-"
            if n == args.reference_size and args.lifetimes_python:
                r = reference("lifetimes", args.lifetimes_python, name, x, tx, T, args.timeout)
                lt = r.get("error") or f"{r['fit']:.1f} / {r['score']:.2f}"
            if n == args.reference_size and args.pymc_python:
                r = reference("pymc", args.pymc_python, name, x, tx, T, args.timeout)
                pm = r.get("error") or f"{r['fit']:.1f}"
            print(f"| {spec.label} | {n:,} | {fit.n_patterns:,} | {cell(t_fit, c_fit)} | {cell(t_score, c_score)} "
                  f"| {cell(t_fit + t_score, c_fit + c_score)} | {cell(t_int, c_int)} | {cell(t_clv, c_clv)} | {lt} | {pm} |",
                  flush=True)
            if not fit.converged:
                print(f"  (not converged: {fit.message})")


def _cdnow_files() -> Path:
    work = Path(tempfile.mkdtemp(prefix="cdnow_"))
    subprocess.run([sys.executable, "-m", "pip", "download", "lifetimes==0.11.3", "--no-deps", "-d", str(work), "-q"],
                   check=True, capture_output=True)
    wheel = next(p for p in work.glob("*.whl") if p.name.lower().startswith("lifetimes-"))
    with zipfile.ZipFile(wheel) as z:
        for name in ("lifetimes/datasets/CDNOW_sample.txt", "lifetimes/datasets/cdnow_customers_summary.csv"):
            (work / Path(name).name).write_bytes(z.read(name))
    return work


def cmd_cdnow(args: argparse.Namespace) -> None:
    work = _cdnow_files()
    summary = pd.read_csv(work / "cdnow_customers_summary.csv")
    x, tx, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    print(f"Fader-Hardie CDNOW summary: {len(x):,} customers, weeks\n")
    print("| model | parameters (ours) | SE | published | log-likelihood | fit (s) |")
    print("|---|---|---|---|---:|---:|")
    for name, spec in MODELS.items():
        t, fit = timed(lambda: spec.fit(x, tx, T))
        est = ", ".join(f"{k}={fit.params[k]:.4g}" for k in spec.parameters)
        ses = ", ".join(f"{fit.standard_errors[k]:.3g}" for k in spec.parameters)
        pub = ", ".join(f"{k}={v}" for k, v in zip(spec.parameters, PUBLISHED[name])) if name in PUBLISHED else "-"
        print(f"| {spec.label} | {est} | {ses} | {pub} | {fit.log_likelihood:.2f} | {t:.3f} |")
    raw = pd.read_csv(work / "CDNOW_sample.txt", sep=r"\s+", header=None, names=["id", "cust", "date", "cds", "amount"])
    raw["ts"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    cal = rfm_summary(raw, "cust", "ts", None, as_of="1997-09-30", time_unit="week")
    days = raw[(raw["ts"] > "1997-09-30") & (raw["ts"] <= "1998-06-30")].drop_duplicates(["cust", "ts"])
    y = days.groupby("cust").size().reindex(cal.index).fillna(0).to_numpy(float)
    x, tx, T = (cal[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fits = {name: spec.fit(x, tx, T) for name, spec in MODELS.items()}
    models, buckets = score_models(fits, 39.0, x, tx, T, y)
    print(f"\n39/39-week split from CDNOW_sample.txt: {len(x):,} customers, {int(y.sum()):,} holdout purchase days\n")
    print(models.drop(columns=["usable", "customers"]).to_markdown(index=False, floatfmt=".4g"))
    wide = buckets.pivot(index="bucket", columns="model", values="predicted").reindex(list(BUCKETS))
    wide.insert(0, "actual", buckets[buckets["model"] == "bgnbd"].set_index("bucket")["actual"].reindex(list(BUCKETS)))
    print("\nholdout purchases by calibration frequency\n")
    print(wide.to_markdown(floatfmt=".1f"))
    if args.lifetimes_python:
        print("\nthe same calibration summary through `lifetimes` (side venv): predicted holdout purchases\n")
        print("| model | ours | lifetimes | lifetimes parameters | actual |")
        print("|---|---:|---:|---|---:|")
        for name, spec in MODELS.items():
            ref = reference("lifetimes", args.lifetimes_python, name, x, tx, T, args.timeout, holdout=39.0)
            if "error" in ref:
                print(f"| {spec.label} | - | {ref['error']} | - | {y.sum():.0f} |")
                continue
            ours = float(models.set_index("model").loc[name, "predicted_purchases"])
            pars = ", ".join(f"{k}={v:.4g}" for k, v in ref["params"].items())
            print(f"| {spec.label} | {ours:.1f} | {np.sum(ref['predicted']):.1f} | {pars} | {y.sum():.0f} |")
    print(f"\nmodel chosen by the rule: {choose_model(models)}")
    res = purchase_intervals(choose_model(models), fits[choose_model(models)], 39.0, x, tx, T, actual=y)
    print(f"80% count-interval coverage on CDNOW (randomized PIT): {res.coverage.mean():.3f}; "
          f"integer intervals: {res.covered_integer.mean():.3f}")


def cmd_calibration(args: argparse.Namespace) -> None:
    n, seeds = args.n, args.seeds
    print(f"80% intervals on holdout purchase counts (39 weeks), {n:,} customers per seed, {seeds} seeds, fresh fit "
          f"per seed, exact recency; segment sums: 8 random segments per seed\n")
    print("| model | all | " + " | ".join(BUCKETS) + " | segment sums covered | +- (by seed) | segment PIT mean, sd "
          "| (actual - expected) / expected |")
    print("|---|" + "---:|" * (len(BUCKETS) + 5))
    for name in args.models or list(MODELS):
        cov = {b: [] for b in BUCKETS}
        seg_cov, tot, pits, rel, by_seed = [], [], [], [], []
        for seed in range(seeds):
            x, tx, T, y = simulate(name, n, 1000 + seed, holdout=39.0, day_recency=False)
            fit = MODELS[name].fit(x, tx, T)
            seg = np.array(list("ABCDEFGH"))[np.random.default_rng(seed).integers(0, 8, n)]
            res = purchase_intervals(name, fit, 39.0, x, tx, T, actual=y, segments=seg, seed=seed)
            b = frequency_bucket(x)
            for k in BUCKETS:
                cov[k].append(res.coverage[b == k])
            tot.append(res.coverage)
            sg = res.segments
            seg_cov += list(sg["covered"])
            by_seed.append(sg["covered"].mean())
            pits += list(sg["pit"])
            rel += list((sg["actual"] - sg["expected"]) / sg["expected"])
        row = " | ".join(f"{np.concatenate(cov[k]).mean():.3f}" for k in BUCKETS)
        print(f"| {MODELS[name].label} | {np.concatenate(tot).mean():.3f} | {row} | {np.mean(seg_cov):.3f} ({len(seg_cov)}) "
              f"| {np.std(by_seed) / np.sqrt(len(by_seed)):.3f} | {np.mean(pits):.3f}, {np.std(pits):.3f} "
              f"| {np.mean(rel):+.4f} |", flush=True)
    print("\nsegment PIT: the normal-mixture CDF at the actual sum; uniform (mean 0.5, sd 0.289) when calibrated. The 8 "
          "segments of a seed share one fit, so the coverage's standard error is taken over seeds.")


def cmd_clv_calibration(args: argparse.Namespace) -> None:
    n, seeds = args.n, args.seeds
    print(f"80% predictive intervals of the realised 12-month discounted value (1%/month), {n:,} customers per seed "
          f"(ages 20-40 weeks), {seeds} seeds, fresh count and Gamma-Gamma fits; coverage by the randomized-PIT rule\n")
    print("| model | all | " + " | ".join(BUCKETS) + " | plain [lower, upper] | segment sums covered | segment PIT mean, sd "
          "| expected-value-only segment intervals covered |")
    print("|---|" + "---:|" * (len(BUCKETS) + 5))
    for name in args.models or list(MODELS):
        cov = {b: [] for b in BUCKETS}
        tot, plain, seg_cov, pits, exp_cov = [], [], [], [], []
        for seed in range(seeds):
            x, tx, T, m, val = sim.simulate_value(name, n, 500 + seed, WEEKLY_TRUTH[name], (6.25, 3.74, 15.44), 12, 4.345, 0.01)
            fit, gg = MODELS[name].fit(x, tx, T), fit_gamma_gamma(x, m)
            seg = np.array(list("ABCD"))[np.random.default_rng(seed).integers(0, 4, n)]
            res = clv_intervals(name, fit, gg, x, tx, T, m, periods_per_month=4.345, seed=seed, segments=seg, actual=val)
            c = res.coverage(val)
            b = frequency_bucket(x)
            for k in BUCKETS:
                cov[k].append(c[b == k])
            tot.append(c)
            plain.append(np.mean((res.lower <= val) & (val <= res.upper)))
            sg = res.segments
            seg_cov += list(sg["covered"])
            pits += list(sg["pit"])
            exp_cov += list((sg["expected_lower"] <= sg["actual"]) & (sg["actual"] <= sg["expected_upper"]))
        row = " | ".join(f"{np.concatenate(cov[k]).mean():.3f}" for k in BUCKETS)
        print(f"| {MODELS[name].label} | {np.concatenate(tot).mean():.3f} | {row} | {np.mean(plain):.3f} "
              f"| {np.mean(seg_cov):.3f} ({len(seg_cov)}) | {np.mean(pits):.3f}, {np.std(pits):.3f} | {np.mean(exp_cov):.3f} |",
              flush=True)


def cmd_covariates(args: argparse.Namespace) -> None:
    """BG/NBD with covariates on generator data (truth: generate.CHANNELS and the loyalty multiplier) and the
    Pareto/NBD with covariates on data simulated from it."""
    from datetime import date

    from btyd_covariates import fit_bgnbd_covariates, fit_paretonbd_covariates, likelihood_ratio_test

    from clvlayer import generate as gen
    from clvlayer.btyd import fit_bgnbd, fit_paretonbd

    work = Path(tempfile.mkdtemp(prefix="bench_cov_"))
    t0 = time.perf_counter()
    gen.generate(work, customers=args.customers, seed=args.seed, start=date(2023, 1, 1), end=date(2025, 6, 30), fmt="parquet")
    orders = pd.read_parquet(work / "orders.parquet")
    customers = pd.read_parquet(work / "customers.parquet")
    t_gen = time.perf_counter() - t0
    as_of = pd.Timestamp("2025-06-30")
    s = rfm_summary(orders, "customer_id", "ordered_at", None, as_of=as_of, time_unit="day")  # every order: the process
    cust = customers.set_index("customer_id").loc[s.index]
    channels = [c for c in gen.CHANNELS if c != "organic"]
    zp = np.column_stack([(cust["acquisition_channel"] == c).to_numpy(float) for c in channels]
                         + [cust["is_loyalty_member"].to_numpy(float)])
    zd = zp[:, :-1]
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    t0 = time.perf_counter()
    fit = fit_bgnbd_covariates(x, tx, T, zp, zd, purchase_names=channels + ["loyalty"], dropout_names=channels)
    t_fit = time.perf_counter() - t0
    lrt = likelihood_ratio_test(fit, fit_bgnbd(x, tx, T))
    truth = {f"purchase:{c}": math.log(gen.CHANNELS[c].rate_multiplier) for c in channels}
    truth["purchase:loyalty"] = math.log(gen.LOYALTY_RATE_MULTIPLIER)
    truth.update({f"dropout_b:{c}": math.log(gen.CHANNELS[c].dropout_b_multiplier) for c in channels})
    truth.update({f"dropout_a:{c}": 0.0 for c in channels})
    base_truth = {"r": gen.BGNBD["r"], "alpha": gen.BGNBD["alpha"], "a": gen.BGNBD["a"], "b": gen.BGNBD["b"]}
    print(f"generator: {args.customers:,} customers (seed {args.seed}), {len(x):,} with an order, as of {as_of.date()}, days; "
          f"generate {t_gen:.1f} s, covariate fit {t_fit:.1f} s, converged {fit.converged}\n")
    print("| parameter | estimate | SE | truth | (estimate - truth) / SE |")
    print("|---|---:|---:|---:|---:|")
    z_all = []
    for k, v in {**base_truth, **truth}.items():
        est, se = fit.params[k], fit.standard_errors[k]
        z_all.append((est - v) / se)
        print(f"| {k} | {est:.4f} | {se:.4f} | {v:.4f} | {z_all[-1]:+.2f} |")
    z_all = np.array(z_all)
    print(f"\n|z| <= 2: {np.mean(np.abs(z_all) <= 2):.2f} of {len(z_all)}; max |z| {np.abs(z_all).max():.2f}; "
          f"LRT vs BG/NBD without covariates: chi2 {lrt.statistic:.1f} on {lrt.df} df, p = {lrt.p_value:.2g}")
    # the same fit on order timestamps (continuous time, no merging of same-day orders)
    ts = pd.to_datetime(orders["ordered_at"])
    grp = ts.groupby(orders["customer_id"])
    first, last, count = grp.min(), grp.max(), grp.size()
    end = as_of + pd.Timedelta(days=1)  # the window ends at the end of the as-of day
    xc = (count - 1).to_numpy(float)
    txc, Tc = ((last - first) / pd.Timedelta(days=1)).to_numpy(), ((end - first) / pd.Timedelta(days=1)).to_numpy()
    cc = customers.set_index("customer_id").loc[count.index]
    zc = np.column_stack([(cc["acquisition_channel"] == c).to_numpy(float) for c in channels]
                         + [cc["is_loyalty_member"].to_numpy(float)])
    fc = fit_bgnbd_covariates(xc, txc, Tc, zc, zc[:, :-1], purchase_names=channels + ["loyalty"], dropout_names=channels)
    merged = 1.0 - float(np.sum(x)) / float(np.sum(xc))
    zc_all = [(fc.params[k] - v) / fc.standard_errors[k] for k, v in {**base_truth, **truth}.items()]
    print(f"same fit on order timestamps (continuous time; the day grain merges {merged:.1%} of repeat orders into "
          "another order's day): " + ", ".join(f"{k} {fc.params[k]:.4g} ({(fc.params[k] - v) / fc.standard_errors[k]:+.2f} SE)"
                                             for k, v in base_truth.items())
          + f"; max |z| over all {len(zc_all)} parameters {np.abs(zc_all).max():.2f}")
    # Pareto/NBD with covariates on data simulated from that model (CLVTools pnbd static covariates)
    sys.path.insert(0, str(ROOT / "tests" / "python"))
    import test_btyd

    print("\nPareto/NBD with covariates, simulated (loyalty 30%, paid_social 40%; purchase effects ln 1.25, ln 0.85; "
          "dropout effects 0, ln 1.6)\n")
    print("| customers | fit (s) | " + " | ".join(["purchase:loyal", "purchase:paid_social", "dropout:loyal", "dropout:paid_social"])
          + " | LRT chi2 (4 df) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.pareto_sizes:
        px, ptx, pT, z, ptruth = test_btyd._simulate_pareto_covariates(n, 3)
        pT = np.round(pT * 7) / 7
        ptx = np.minimum(np.ceil(ptx * 7) / 7, pT)  # a day grid, as warehouse data
        base = fit_paretonbd(px, ptx, pT)
        t0 = time.perf_counter()
        pf = fit_paretonbd_covariates(px, ptx, pT, z, z, purchase_names=["loyal", "paid_social"],
                                      dropout_names=["loyal", "paid_social"], initial=base)
        tp = time.perf_counter() - t0
        cells = " | ".join(f"{pf.params[k]:+.3f} ({pf.standard_errors[k]:.3f}; truth {v:+.3f})" for k, v in ptruth.items())
        print(f"| {n:,} | {tp:.2f} | {cells} | {likelihood_ratio_test(pf, base).statistic:.1f} |", flush=True)


def cmd_sample(args: argparse.Namespace) -> None:
    orders = pd.read_csv(ROOT / "seeds" / "raw_orders.csv")
    orders = orders[orders["status"] != "cancelled"]
    as_of = pd.to_datetime(orders["ordered_at"]).max().normalize()
    s = rfm_summary(orders, "customer_id", "ordered_at", "amount", as_of=as_of, time_unit="day")
    x, tx, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    print(f"embedded sample: {len(x):,} customers, as of {as_of.date()}, days (orders not cancelled)\n")
    print("| model | parameters | SE | log-likelihood | converged |")
    print("|---|---|---|---:|---|")
    for name, spec in MODELS.items():
        fit = spec.fit(x, tx, T)
        est = ", ".join(f"{k}={fit.params[k]:.4g}" for k in spec.parameters)
        ses = ", ".join(f"{fit.standard_errors[k]:.3g}" for k in spec.parameters)
        print(f"| {spec.label} | {est} | {ses} | {fit.log_likelihood:.1f} | {fit.converged} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    sp.add_argument("--reference-size", type=int, default=100_000)
    sp.add_argument("--lifetimes-python")
    sp.add_argument("--pymc-python")
    sp.add_argument("--timeout", type=float, default=900.0)
    sp.add_argument("--repeat", type=int, default=3, help="runs per step; the table shows medians")
    sp.add_argument("--models", nargs="*", choices=sorted(MODELS), help="only these models (default: all)")
    cd = sub.add_parser("cdnow")
    cd.add_argument("--lifetimes-python", help="python of a side venv with lifetimes: same summary through it")
    cd.add_argument("--timeout", type=float, default=900.0)
    cv = sub.add_parser("covariates")
    cv.add_argument("--customers", type=int, default=60_000)
    cv.add_argument("--seed", type=int, default=7)
    cv.add_argument("--pareto-sizes", type=int, nargs="+", default=[20_000, 100_000])
    cl = sub.add_parser("clv-calibration")
    cl.add_argument("--n", type=int, default=10_000)
    cl.add_argument("--seeds", type=int, default=20)
    cl.add_argument("--models", nargs="*", choices=sorted(MODELS))
    cp = sub.add_parser("calibration")
    cp.add_argument("--n", type=int, default=10_000)
    cp.add_argument("--seeds", type=int, default=100)
    cp.add_argument("--models", nargs="*", choices=sorted(MODELS))
    sub.add_parser("sample")
    args = ap.parse_args(argv)
    commands = {"speed": cmd_speed, "cdnow": cmd_cdnow, "calibration": cmd_calibration, "sample": cmd_sample,
                "clv-calibration": cmd_clv_calibration, "covariates": cmd_covariates}
    commands[args.cmd](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
