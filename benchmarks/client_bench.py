"""Placeholder while written."""
