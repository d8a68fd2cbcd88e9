"""Prefect flows, one module per stage, each a table of contents over tasks/<stage>.py; plus the CLI,
the start-up settings and the Dask fan-out they share."""
