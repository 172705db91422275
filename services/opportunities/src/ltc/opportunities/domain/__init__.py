"""The opportunities domain: plain Python, no I/O."""
