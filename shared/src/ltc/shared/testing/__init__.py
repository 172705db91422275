"""Test support for the LTC services: the pytest plugin providing real PostgreSQL and Kafka."""
