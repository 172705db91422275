"""Persistence of the contracts domain."""
