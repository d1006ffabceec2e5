"""cli stage of the platform."""
