"""What renders: Simple pages (HTML and JSON), web pages, channels, the page cache, negotiation."""
