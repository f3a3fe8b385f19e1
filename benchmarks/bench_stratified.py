"""Pooled vs per-channel (stratified) BTYD fits against the scenario harness's ground truth (issue 23, wt-chanfit).

Reads the warehouses bench_scenarios.py built (``--out FOLDER``: FOLDER/<scenario>/warehouse.duckdb and
raw/scenario_truth.parquet) and redoes the predictive step in Python from the warehouse's own inputs
(int_customers_rfm_summarised, int_customers_rfm_calibrated, int_clv_settings_resolved, fct_customer_ltv's channel):

* pooled: every count model fitted over all customers, the model chosen by holdout log-likelihood per customer (the
  warehouse's rule) - the published predicted CLV (checked: the mean over the buyers equals the warehouse's);
* stratified: the same with clvlayer.btyd.strata (a fit per acquisition channel with >= --min-stratum-customers
  customers and >= --min-stratum-repeat repeat buyers, pooled otherwise), Gamma-Gamma pooled;
* chosen: pooled or stratified by the same holdout criterion (clvlayer.btyd.strata.choose_stratification).

Prints per scenario x segment type (acquisition channel, comparable cohorts with >= 200 buyers) the mean and max
|relative error| of each against two truths: the realised discounted margin of the next 36 months (the harness's
truth; the relative standard error of its segment mean is the noise floor of that comparison) and its expectation
given each buyer's true latents (purchase rate lambda, dropout probability p per purchase, mean spend, alive at the
end): ``margin x NET_SHARE x spend x lambda (1 - exp(-(lambda p + delta) H)) / (lambda p + delta)`` for a buyer alive
at the end (0 otherwise), H = 36 months, delta the continuous monthly discount rate - free of the Poisson and spend
noise of the realised truth. And the holdout log-likelihood gain of the stratified fit (per 1,000 customers), the
likelihood-ratio test of the stratified vs the pooled full fit (chi-square, degrees of freedom) as the alternative
criterion, and the CPU seconds of the fits.
Usage: .venv/bin/python benchmarks/bench_stratified.py FOLDER [FOLDER ...]
       .venv/bin/python benchmarks/bench_stratified.py --cost WAREHOUSE [--share 0.1]  (CPU s of the fits and of
       point scoring, pooled vs per channel, on a share of a built warehouse's customers)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import chi2

from clvlayer.btyd import MODELS, fit_gamma_gamma, get_model, model_lifetime_value
from clvlayer import generate as gen
from clvlayer.generate_scenarios import HORIZON_MONTHS, MONTHLY_DISCOUNT_RATE, NET_SHARE
from clvlayer.btyd.strata import POOLED, STRATIFIED, StratifiedFit, choose_stratification, fit_stratified, \
    stratified_holdout_log_likelihood


def read(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.DataFrame]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        channel = con.execute("select customer_id, acquisition_channel, cast(cohort_month as varchar) as cohort_month "
                              "from marts.fct_customer_ltv where has_completed_order").df()
        full = con.execute("select * from intermediate.int_customers_rfm_summarised").df().rename(columns=str.lower)
        calibrated = con.execute("select * from intermediate.int_customers_rfm_calibrated").df().rename(
            columns=str.lower)
        settings = con.execute("select * from intermediate.int_clv_settings_resolved").df().iloc[0]
        segments = con.execute("select segment_type, segment_value, maturity_status from marts.fct_ltv_by_segment "
                               "where as_of_snapshot = 'current'").df()
    full = full.merge(channel, on="customer_id", how="left")
    calibrated = calibrated.merge(channel, on="customer_id", how="left")
    return full, calibrated, settings, segments


def rfm(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(frame[c].to_numpy(float) for c in ("frequency", "recency", "t"))


def holdout_scores(calibrated: pd.DataFrame, settings: pd.Series, min_customers: int, min_repeat: int
                   ) -> dict[tuple[str, str], float]:
    """Holdout log-likelihood per calibration customer of every count model, pooled and stratified."""
    y = calibrated["holdout_purchases"].to_numpy(float)
    strata = calibrated["acquisition_channel"]
    scores: dict[tuple[str, str], float] = {}
    for model in MODELS:
        fit = fit_stratified(model, *rfm(calibrated), strata, min_customers=min_customers,
                             min_repeat_customers=min_repeat, penalizer=float(settings["penalizer"]))
        for kind, used in ((POOLED, StratifiedFit(model, fit.pooled, {})), (STRATIFIED, fit)):
            ll = stratified_holdout_log_likelihood(used, float(settings["holdout_length"]), *rfm(calibrated), y, strata)
            scores[(model, kind)] = float(np.mean(ll)) if fit.pooled.converged else -np.inf
    return scores


def likelihood_ratio(fit: StratifiedFit, strata: pd.Series) -> dict[str, str]:
    """The likelihood-ratio test of the stratified vs the pooled fit (when every stratum has its own fit)."""
    if set(fit.fits) != set(strata.dropna()):
        return {"lr_chi2_df": "n/a", "lr_p": "n/a"}
    statistic = 2 * (sum(f.log_likelihood for f in fit.fits.values()) - fit.pooled.log_likelihood)
    df = len(fit.pooled.params) * (len(fit.fits) - 1)
    return {"lr_chi2_df": f"{statistic:.0f} ({df})", "lr_p": f"{chi2.sf(statistic, df):.1e}"}


def predictions(full: pd.DataFrame, calibrated: pd.DataFrame, settings: pd.Series, min_customers: int,
                min_repeat: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Predicted CLV per customer of ``full``: pooled, stratified and chosen (each its best model on the holdout)."""
    scores = holdout_scores(calibrated, settings, min_customers, min_repeat)
    best = {kind: max(MODELS, key=lambda m: scores[(m, kind)]) for kind in (POOLED, STRATIFIED)}
    chosen_kind = choose_stratification(scores[(best[POOLED], POOLED)], scores[(best[STRATIFIED], STRATIFIED)])
    penalizer = float(settings["penalizer"])
    x, tx, tt = rfm(full)
    m = full["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    gg = fit_gamma_gamma(x, m, penalizer=penalizer, min_repeat_customers=min_repeat)
    strata = full["acquisition_channel"]
    out, fits = {}, {}
    for kind, model in best.items():
        fit = fit_stratified(model, x, tx, tt, strata, min_customers=min_customers, min_repeat_customers=min_repeat,
                             penalizer=penalizer)
        fits[kind] = fit if kind == STRATIFIED else StratifiedFit(model, fit.pooled, {})
        out[kind] = fits[kind].apply(strata, lambda p, *a, model=model: model_lifetime_value(
            model, get_model(model).values(p), gg, *a, months=int(settings["horizon_months"]),
            monthly_discount_rate=float(settings["monthly_discount_rate"]), margin=float(settings["margin_rate"]),
            periods_per_month=float(settings["time_units_per_month"])), x, tx, tt, m)
    out["chosen"] = out[chosen_kind]
    gain = scores[(best[STRATIFIED], STRATIFIED)] - scores[(best[POOLED], POOLED)]
    # the likelihood-ratio test of the full fits: the alternative criterion
    return out, {"pooled_model": best[POOLED], "stratified_model": best[STRATIFIED], "choice": chosen_kind,
                 "ll_gain_per_1000": f"{1000 * gain:+.2f}", **likelihood_ratio(fits[STRATIFIED], strata)}


def expected_truth(raw: Path) -> pd.DataFrame:
    """Per buyer: the expected discounted revenue of the next 36 months given the true latents (module docstring)."""
    latent = pd.read_parquet(raw / "customers_truth.parquet")
    latent = latent[latent["has_orders"]]
    days = HORIZON_MONTHS * gen.DAYS_PER_MONTH
    delta = np.log1p(MONTHLY_DISCOUNT_RATE) / gen.DAYS_PER_MONTH
    hazard = latent["lambda"] * latent["p_dropout"] + delta
    purchases = latent["lambda"] * -np.expm1(-hazard * days) / hazard
    value = np.where(latent["is_alive_at_end"], purchases * latent["true_expected_spend"] * NET_SHARE, 0.0)
    return pd.DataFrame({"customer_id": latent["customer_id"], "expected_revenue": value})


def compare(folder: Path, min_buyers: int, min_customers: int, min_repeat: int) -> tuple[pd.DataFrame, dict]:
    full, calibrated, settings, segments = read(folder / "warehouse.duckdb")
    truth = pd.read_parquet(folder / "raw" / "scenario_truth.parquet")
    started = time.process_time()
    values, choice = predictions(full, calibrated, settings, min_customers, min_repeat)
    choice["cpu_s"] = f"{time.process_time() - started:.1f}"
    frame = full[["customer_id", "acquisition_channel", "cohort_month"]].assign(**values)
    frame = frame.merge(truth[["customer_id", "discounted_revenue_next_36m"]], on="customer_id")
    frame = frame.merge(expected_truth(folder / "raw"), on="customer_id")
    frame["truth"] = frame["discounted_revenue_next_36m"] * float(settings["margin_rate"])
    frame["expected_truth"] = frame["expected_revenue"] * float(settings["margin_rate"])
    comparable = set(segments.loc[(segments["segment_type"] == "cohort_month")
                                  & (segments["maturity_status"] == "comparable"), "segment_value"])
    rows = []
    for segment_type, column in (("acquisition_channel", "acquisition_channel"), ("cohort (comparable)",
                                                                                  "cohort_month")):
        grouped = frame.groupby(column)
        means = grouped[["truth", "expected_truth", POOLED, STRATIFIED, "chosen"]].mean()
        size, sd = grouped.size(), grouped["truth"].std()
        keep = size >= min_buyers
        if column == "cohort_month":
            keep &= means.index.isin(comparable)
        means = means[keep]
        row = {"segment_type": segment_type, "segments": len(means),
               "truth_rel_se": float((sd[keep] / np.sqrt(size[keep]) / means["truth"]).median())}
        for kind in (POOLED, STRATIFIED, "chosen"):
            for target, suffix in (("truth", ""), ("expected_truth", " vs expected")):
                error = (means[kind] / means[target] - 1).abs()
                row[kind + suffix] = f"{error.mean():.0%} / {error.max():.0%}"
        rows.append(row)
    return pd.DataFrame(rows), choice


def cost(warehouse: Path, share: float, min_customers: int, min_repeat: int) -> None:
    """Process CPU s of every count model's fit (both RFM summaries) and of discounted CLV for every customer,
    pooled vs per channel, on ``share`` of the customers of ``warehouse`` (opened read-only)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frames = {table: con.execute(f"""
            select s.frequency, s.recency, s.t, s.monetary_value, c.acquisition_channel
            from intermediate.{table} as s inner join marts.fct_customer_ltv as c using (customer_id)
            where hash(s.customer_id) % 1000 < {int(share * 1000)}""").df().rename(columns=str.lower)
            for table in ("int_customers_rfm_summarised", "int_customers_rfm_calibrated")}
    for table, frame in frames.items():
        for model in MODELS:
            started = time.process_time()
            get_model(model).fit(*rfm(frame), min_customers=1)
            pooled = time.process_time() - started
            started = time.process_time()
            fit = fit_stratified(model, *rfm(frame), frame["acquisition_channel"], min_customers=min_customers,
                                 min_repeat_customers=min_repeat)
            print(f"{table} {len(frame)} customers {model}: pooled fit {pooled:.2f} CPU s; pooled + "
                  f"{len(fit.fits)} strata {time.process_time() - started:.2f} CPU s", flush=True)
    frame = frames["int_customers_rfm_summarised"]
    x, tx, tt = rfm(frame)
    m = frame["monetary_value"].astype("Float64").fillna(0.0).to_numpy(float)
    gg = fit_gamma_gamma(x, m)
    for model in MODELS:
        fit = fit_stratified(model, x, tx, tt, frame["acquisition_channel"], min_customers=min_customers,
                             min_repeat_customers=min_repeat)

        def clv(params: object, *arrays: np.ndarray, model: str = model) -> np.ndarray:
            return model_lifetime_value(model, get_model(model).values(params), gg, *arrays, months=36,
                                        monthly_discount_rate=0.01, periods_per_month=30.4375)

        started = time.process_time()
        clv(fit.pooled, x, tx, tt, m)
        pooled = time.process_time() - started
        started = time.process_time()
        fit.apply(frame["acquisition_channel"], clv, x, tx, tt, m)
        print(f"scoring {len(frame)} customers {model}: pooled {pooled:.2f} CPU s; per stratum "
              f"{time.process_time() - started:.2f} CPU s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="*", type=Path, help="bench_scenarios.py --out folders")
    parser.add_argument("--cost", type=Path, help="a built warehouse: measure the CPU cost instead")
    parser.add_argument("--share", type=float, default=0.1, help="--cost: the share of its customers")
    parser.add_argument("--min-buyers", type=int, default=200)
    parser.add_argument("--min-stratum-customers", type=int, default=500)
    parser.add_argument("--min-stratum-repeat", type=int, default=100)
    args = parser.parse_args()
    if args.cost:
        cost(args.cost, args.share, args.min_stratum_customers, args.min_stratum_repeat)
        return
    tables = []
    for root in args.folders:
        for folder in sorted(p for p in root.iterdir() if (p / "warehouse.duckdb").exists()):
            table, choice = compare(folder, args.min_buyers, args.min_stratum_customers, args.min_stratum_repeat)
            tables.append(table.assign(run=root.name, scenario=folder.name, **choice))
    table = pd.concat(tables, ignore_index=True)
    columns = ["run", "scenario", "segment_type", "segments", "truth_rel_se", POOLED, STRATIFIED, "chosen",
               f"{POOLED} vs expected", f"{STRATIFIED} vs expected", "chosen vs expected", "choice",
               "pooled_model", "stratified_model", "ll_gain_per_1000", "lr_chi2_df", "lr_p", "cpu_s"]
    table["truth_rel_se"] = table["truth_rel_se"].map("{:.0%}".format)
    print(table[columns].to_markdown(index=False, disable_numparse=True))


if __name__ == "__main__":
    main()
