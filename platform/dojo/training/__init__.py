"""training stage of the platform."""
