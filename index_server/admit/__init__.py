"""What admits files: the one ingest path and the validators every wheel and sdist goes through."""
