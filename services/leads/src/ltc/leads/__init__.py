"""LTC leads service."""
