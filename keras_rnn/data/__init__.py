"""Data for the two predictors: price series and windows (stock), corpora and tokens (text)."""
