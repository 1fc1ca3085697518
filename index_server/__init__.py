"""The factory's package index: Simple API 1.x, immutable uploads, CUDA channels, pass-through, web matrix."""
