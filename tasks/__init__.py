"""Units of work that serflow's flows call."""
