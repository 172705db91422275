"""Persistence of the opportunities domain."""
