"""REST API of the contracts service."""
