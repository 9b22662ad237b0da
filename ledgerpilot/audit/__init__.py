"""Journal entry tests, Benford analysis, model-based surprise and the audit report."""
