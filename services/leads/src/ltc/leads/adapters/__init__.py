"""Persistence of the leads domain."""
