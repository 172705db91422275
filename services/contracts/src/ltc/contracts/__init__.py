"""LTC contracts service."""
