"""Metrics (pure NumPy, in functional.py) and the model-over-a-split evaluation."""
