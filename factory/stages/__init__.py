"""The stages of one tuple: provision, fetch, sources, build, repair, verify, and the records they hand on."""
