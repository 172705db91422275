"""The leads domain: plain Python, no I/O."""
