"""One module per task, each: inputs → preprocess → model → postprocess → a typed result."""
