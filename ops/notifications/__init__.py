"""Operator and test tooling for the subscription notification pipeline."""
