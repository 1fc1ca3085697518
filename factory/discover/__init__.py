"""Discovery: facts read from PyPI (torch releases, wheels' METADATA) and their difference to the tables."""
