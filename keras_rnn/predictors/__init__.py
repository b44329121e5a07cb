"""The two predictors (stock, text): builders, baselines, evaluation and SavedModel export."""
