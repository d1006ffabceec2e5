"""ingestion stage of the platform."""
