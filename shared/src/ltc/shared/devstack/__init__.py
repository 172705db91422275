"""Real PostgreSQL and Kafka servers for local development and tests, started without Docker.

`ltc-dev infra` (see `cli`) runs both for `make run`; the pytest plugin in `ltc.shared.testing`
uses the same building blocks for throwaway servers.
"""
