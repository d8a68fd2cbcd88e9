"""Schemas, label table and expectation suites: what every serflow table must look like."""
