"""Customer-value metrics layer: data generator, dbt orchestration and model fitting."""
