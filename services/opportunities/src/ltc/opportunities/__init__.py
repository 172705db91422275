"""LTC opportunities service."""
