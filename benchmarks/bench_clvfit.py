"""Benchmark of BG/NBD + Gamma-Gamma in clvlayer.btyd -- optionally against ``lifetimes``.

Not a test. Simulates an RFM summary of ``--n`` customers (default 1,000,000) on a
day grain from known BG/NBD + Gamma-Gamma parameters, then times:

* aggregation of identical (frequency, recency, T) patterns,
* the BG/NBD maximum-likelihood fit (which includes its own aggregation),
* the Gamma-Gamma fit,
* scoring every customer: P(alive), expected purchases in the next 30 days and
  the 12-month discounted CLV.

With ``--lifetimes-python /path/to/python`` (a separate venv that has the
unmaintained ``lifetimes`` package; never a project dependency) the same summary
is saved to an ``.npz`` file and the same steps are run there in a subprocess
with ``lifetimes.BetaGeoFitter`` / ``GammaGammaFitter``; the table then shows the
speed-up and the largest relative difference of parameters and predictions.

Usage::

    PYTHONPATH=scripts .venv/bin/python benchmarks/bench_clvfit.py \\
        --n 1000000 --lifetimes-python /tmp/lifetimes-venv/bin/python

Our timings are the best of ``--repeats`` runs; ``lifetimes`` steps run once
(they take long), which if anything flatters ``lifetimes``' warm-up-free steps
less than ours -- see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from clvlayer import btyd  # noqa: E402
from clvlayer.btyd import bgnbd, gammagamma  # noqa: E402

# Parameters in days: CDNOW-like (Fader, Hardie & Lee 2005 report r=0.243,
# alpha=4.414 weeks, a=0.793, b=2.426; Gamma-Gamma p=6.25, q=3.74, v=15.44).
TRUE_BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate_summary(n: int, seed: int, max_age_days: int = 730) -> dict[str, np.ndarray]:
    """Vectorised BG/NBD + Gamma-Gamma simulation, rounded to whole days.

    lambda ~ Gamma(r, alpha), p ~ Beta(a, b); the customer dies right after the
    D-th repeat purchase, D ~ Geometric(p); N(T) ~ Poisson(lambda T) events of the
    underlying process, x = min(D, N), and given N the x-th event time is
    T * Beta(x, N - x + 1). Recency is rounded up to a whole day (a day grain
    like the dbt model's; purchases closer than a day are not merged here, so
    this is an approximation of day-level data, fine for timing).
    """
    rng = np.random.default_rng(seed)
    T = rng.integers(1, max_age_days + 1, n).astype(np.float64)
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    p = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    D = rng.geometric(p)
    N = rng.poisson(lam * T)
    x = np.minimum(D, N)
    tx = np.zeros(n)
    pos = x > 0
    tx[pos] = np.minimum(np.ceil(T[pos] * rng.beta(x[pos], N[pos] - x[pos] + 1)), T[pos])
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["v"], n)
    m = np.zeros(n)
    m[pos] = rng.gamma(TRUE_GG["p"] * x[pos], 1.0 / (nu[pos] * x[pos]))
    return {"frequency": x.astype(np.float64), "recency": tx, "T": T, "monetary_value": m}


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


LIFETIMES_RUNNER = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter
data = np.load(sys.argv[1]); out_json = sys.argv[2]; out_npz = sys.argv[3]
fit_kw = {} if sys.argv[4] == "default" else {"tol": float(sys.argv[4])}
d = pd.DataFrame({k: data[k] for k in ("frequency", "recency", "T", "monetary_value")})
agg = {k: data["agg_" + k] for k in ("frequency", "recency", "T", "weights")}
res = {"version": lifetimes.__version__, "numpy": np.__version__, "pandas": pd.__version__}
import scipy; res["scipy"] = scipy.__version__
def timed(name, fn):
    t0 = time.perf_counter(); out = fn(); res[name] = time.perf_counter() - t0; return out
def fit_bg(*a, **k):
    return BetaGeoFitter().fit(*a, **fit_kw, **k)
bgf = timed("bg_fit", lambda: fit_bg(d["frequency"], d["recency"], d["T"]))
res["bg_params"] = {k: float(v) for k, v in bgf.params_.items()}
bga = timed("bg_fit_agg", lambda: fit_bg(agg["frequency"], agg["recency"], agg["T"], weights=agg["weights"]))
res["bg_params_agg"] = {k: float(v) for k, v in bga.params_.items()}
rep = d[(d["frequency"] > 0) & (d["monetary_value"] > 0)]
def fit_gg():
    return GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"], **fit_kw)
ggf = timed("gg_fit", fit_gg)
res["gg_params"] = {k: float(v) for k, v in ggf.params_.items()}
pa = timed("p_alive", lambda: bgf.conditional_probability_alive(d["frequency"], d["recency"], d["T"]))
ey = timed("expected_30", lambda: bgf.conditional_expected_number_of_purchases_up_to_time(30, d["frequency"], d["recency"], d["T"]))
clv = timed("clv_12m", lambda: ggf.customer_lifetime_value(bgf, d["frequency"], d["recency"], d["T"], d["monetary_value"], time=12, discount_rate=0.01, freq="D"))
np.savez(out_npz, p_alive=np.asarray(pa, dtype=float), expected_30=np.asarray(ey, dtype=float), clv_12m=np.asarray(clv, dtype=float))
with open(out_json, "w") as fh:
    json.dump(res, fh)
'''


def max_rel_diff(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


def pred_rel_diff(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, int]:
    """Largest relative difference over rows where lifetimes is finite; count of non-finite lifetimes rows."""
    finite = np.isfinite(theirs)
    denom = np.maximum(np.abs(theirs[finite]), 1e-12)
    diff = np.abs(ours[finite] - theirs[finite]) / denom
    return (float(diff.max()) if diff.size else float("nan")), int((~finite).sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="customers to simulate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="best-of repeats for our steps")
    ap.add_argument("--lifetimes-python", default=None, help="python of a side venv that has lifetimes")
    ap.add_argument("--lifetimes-timeout", type=float, default=3600.0, help="seconds before the lifetimes run is killed")
    ap.add_argument(
        "--lifetimes-tol",
        default="default",
        help="tol passed to lifetimes' fit (BFGS gtol); 'default' keeps lifetimes' 1e-7. Tighter values "
        "(1e-10) make its BFGS stop with 'precision loss', which lifetimes turns into ConvergenceError",
    )
    ap.add_argument("--workdir", default=None, help="where the shared .npz summary is written (default: a temp dir)")
    ap.add_argument("--json-out", default=None, help="also write all results as JSON here")
    args = ap.parse_args(argv)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    t0 = time.perf_counter()
    s = simulate_summary(args.n, args.seed)
    print(f"simulated {args.n:,} customers in {time.perf_counter() - t0:.2f} s "
          f"({int((s['frequency'] > 0).sum()):,} repeat buyers)")
    x, tx, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]

    rows: list[dict[str, Any]] = []
    t_agg, (ucols, counts, _) = best_of(lambda: btyd.aggregate_rfm(x, tx, T), args.repeats)
    rows.append({"step": f"aggregate to {len(counts):,} (x, t_x, T) patterns", "ours": t_agg, "key": None})
    t_bg, bg = best_of(lambda: btyd.fit_bgnbd(x, tx, T), args.repeats)
    rows.append({"step": "BG/NBD fit (raw customers)", "ours": t_bg, "key": "bg_fit"})
    t_bga, bga = best_of(lambda: btyd.fit_bgnbd(ucols[0], ucols[1], ucols[2], weights=counts), args.repeats)
    rows.append({"step": "BG/NBD fit (pre-aggregated, weights)", "ours": t_bga, "key": "bg_fit_agg"})
    t_gg, gg = best_of(lambda: btyd.fit_gamma_gamma(x, m), args.repeats)
    rows.append({"step": "Gamma-Gamma fit", "ours": t_gg, "key": "gg_fit"})
    t_pa, pa = best_of(lambda: bgnbd.conditional_probability_alive(bg, x, tx, T), args.repeats)
    rows.append({"step": f"P(alive), {args.n:,} customers", "ours": t_pa, "key": "p_alive"})
    t_ey, ey = best_of(
        lambda: bgnbd.conditional_expected_number_of_purchases_up_to_time(bg, 30.0, x, tx, T), args.repeats
    )
    rows.append({"step": "E[purchases next 30 days]", "ours": t_ey, "key": "expected_30"})
    t_clv, clv = best_of(
        lambda: btyd.customer_lifetime_value(bg, gg, x, tx, T, m, months=12, monthly_discount_rate=0.01, time_unit="day"),
        args.repeats,
    )
    rows.append({"step": "12-month discounted CLV", "ours": t_clv, "key": "clv_12m"})
    total_ours = t_bg + t_gg + t_pa + t_ey + t_clv
    print(f"BG/NBD: {bg}")
    print(f"Gamma-Gamma: {gg}")

    lt: dict[str, Any] | None = None
    lt_pred: dict[str, np.ndarray] = {}
    if args.lifetimes_python:
        work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_clvfit_"))
        work.mkdir(parents=True, exist_ok=True)
        summary = work / "summary.npz"
        np.savez(summary, frequency=x, recency=tx, T=T, monetary_value=m,
                 agg_frequency=ucols[0], agg_recency=ucols[1], agg_T=ucols[2], agg_weights=counts)
        runner = work / "lifetimes_runner.py"
        runner.write_text(LIFETIMES_RUNNER)
        out_json, out_npz = work / "lifetimes.json", work / "lifetimes_pred.npz"
        cmd = [args.lifetimes_python, str(runner), str(summary), str(out_json), str(out_npz), str(args.lifetimes_tol)]
        print(f"running lifetimes: {' '.join(cmd)} (timeout {args.lifetimes_timeout:.0f} s)", flush=True)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.lifetimes_timeout)
            if proc.returncode != 0:
                print(f"lifetimes run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            else:
                lt = json.loads(out_json.read_text())
                with np.load(out_npz) as z:
                    lt_pred = {k: z[k] for k in z.files}
        except subprocess.TimeoutExpired:
            print(f"lifetimes run exceeded {args.lifetimes_timeout:.0f} s and was stopped")
        print(f"lifetimes subprocess wall time {time.perf_counter() - t0:.1f} s")
        if lt:
            print(f"lifetimes {lt['version']} (numpy {lt['numpy']}, scipy {lt['scipy']}, pandas {lt['pandas']})")
            for note in lt.get("notes", []):
                print("note:", note)

    ours_pred = {"p_alive": pa, "expected_30": ey, "clv_12m": clv}
    # Our formulas evaluated at lifetimes' parameter estimates: isolates formula /
    # numerical differences from the (tiny) difference in where the optimisers stopped.
    same_param_pred: dict[str, np.ndarray] = {}
    if lt:
        lbg = tuple(lt["bg_params"][k] for k in ("r", "alpha", "a", "b"))
        lgg = tuple(lt["gg_params"][k] for k in ("p", "q", "v"))
        same_param_pred = {
            "p_alive": bgnbd.conditional_probability_alive(lbg, x, tx, T),
            "expected_30": bgnbd.conditional_expected_number_of_purchases_up_to_time(lbg, 30.0, x, tx, T),
            "clv_12m": btyd.customer_lifetime_value(lbg, lgg, x, tx, T, m, months=12,
                                                      monthly_discount_rate=0.01, time_unit="day"),
        }
        rep = (x > 0) & (m > 0)
        d_bg = bg.log_likelihood - bgnbd.bgnbd_log_likelihood(lbg, x, tx, T)
        d_gg = gg.log_likelihood - gammagamma.gamma_gamma_log_likelihood(lgg, x[rep], m[rep])
        print(f"log-likelihood at our estimate minus at lifetimes' estimate: BG/NBD {d_bg:+.2e}, "
              f"Gamma-Gamma {d_gg:+.2e} (relative to |LL| {abs(d_bg / bg.log_likelihood):.0e} and "
              f"{abs(d_gg / gg.log_likelihood):.0e}: the same maximum up to float rounding)")
    header = ("| step | ours (s) | lifetimes (s) | speed-up | max rel. difference vs lifetimes "
              "| same, our formulas at lifetimes' params |")
    print()
    print(header)
    print("|---|---:|---:|---:|---|---|")
    for row in rows:
        key = row["key"]
        their = lt.get(key) if (lt and key) else None
        diff, same = "", ""
        if lt and key == "bg_fit":
            diff = f"params {max_rel_diff(bg.params, lt['bg_params']):.1e}"
        elif lt and key == "bg_fit_agg":
            diff = f"params {max_rel_diff(bga.params, lt['bg_params_agg']):.1e}"
        elif lt and key == "gg_fit":
            diff = f"params {max_rel_diff(gg.params, lt['gg_params']):.1e}"
        elif lt and key in lt_pred:
            d, bad = pred_rel_diff(ours_pred[key], lt_pred[key])
            diff = f"values {d:.1e}" + (f" ({bad:,} lifetimes rows non-finite)" if bad else "")
            d2, _ = pred_rel_diff(same_param_pred[key], lt_pred[key])
            same = f"values {d2:.1e}"
        speed = f"{their / row['ours']:.0f}x" if their else ""
        their_s = f"{their:.2f}" if their is not None else "-"
        print(f"| {row['step']} | {row['ours']:.3f} | {their_s} | {speed} | {diff} | {same} |")
    total_lt = sum(lt[k] for k in ("bg_fit", "gg_fit", "p_alive", "expected_30", "clv_12m")) if lt else None
    print(f"| **total: fit both + score all** | {total_ours:.2f} | "
          f"{(f'{total_lt:.1f}' if total_lt else '-')} | {(f'{total_lt / total_ours:.0f}x' if total_lt else '')} | | |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({
            "n": args.n, "seed": args.seed,
            "ours": {r["step"]: r["ours"] for r in rows}, "lifetimes": lt,
            "bg": bg.params, "gg": gg.params,
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
