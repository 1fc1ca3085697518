"""Running tuples: one tuple's pipeline, the matrix run, progress, build numbers and publishing."""
