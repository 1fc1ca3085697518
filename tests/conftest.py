"""Shared by every test folder: `spec_builders` (importable once this folder is on sys.path)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
