"""Subcommands of the `factory` CLI, one module per concern; each exposes `register(subparsers)`."""
