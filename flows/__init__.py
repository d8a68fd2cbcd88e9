"""Prefect flows: each reads like a table of contents over tasks/."""
