"""mlops-dojo: a runnable reference MLOps platform."""
