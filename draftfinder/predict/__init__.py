"""Predictions: speedup math (Leviathan et al. 2023), the latency model and hardware profiles, the acceptance prior, the estimator API."""
