"""The contracts domain: plain Python, no I/O."""
