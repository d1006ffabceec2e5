"""serving stage of the platform."""
