"""monitoring stage of the platform."""
