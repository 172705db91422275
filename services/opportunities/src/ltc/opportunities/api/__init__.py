"""REST API of the opportunities service."""
