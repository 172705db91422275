"""Operator tooling: the `ltc` command."""
