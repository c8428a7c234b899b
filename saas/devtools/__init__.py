"""Local tooling behind ./dev: the embedded database, `run` and `test`. Not imported by the
product itself."""
