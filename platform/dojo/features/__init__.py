"""features stage of the platform."""
