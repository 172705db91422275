"""LTC finance service."""
