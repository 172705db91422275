"""REST API of the leads service."""
