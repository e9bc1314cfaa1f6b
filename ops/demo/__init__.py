"""Demo data and load for the local stack: `ops demo seed` and `ops demo traffic`."""
