"""The finance domain: plain Python, no I/O."""
