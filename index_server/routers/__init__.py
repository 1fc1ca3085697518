"""HTTP routers, one per concern: simple (the Simple API), files, upload (/legacy/), web (pages, logs)."""
