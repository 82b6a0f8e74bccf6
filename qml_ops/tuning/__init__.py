"""Hyper-parameter tuning with Optuna (studies, workers, MLflow child runs)."""
