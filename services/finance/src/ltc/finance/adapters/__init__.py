"""Persistence of the finance domain."""
