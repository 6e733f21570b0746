"""Model specs, Hub resolution and the model manager."""
