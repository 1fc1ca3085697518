"""What stores: the SQLite catalog, files written atomically, run reports, generations, fsck."""
