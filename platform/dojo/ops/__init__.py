"""ops stage of the platform."""
