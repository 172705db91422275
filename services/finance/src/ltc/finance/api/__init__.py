"""REST API of the finance service."""
