"""A small buy-till-you-die model library: BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma.

One module per model (likelihood, gradient, fit, predictions); a shared fitting layer (:mod:`._optim`),
prediction building blocks (:mod:`._predict`), intervals (:mod:`.intervals`), holdout model choice
(:mod:`.selection`) and a registry with one interface for every count model (:mod:`.registry`).
"""
