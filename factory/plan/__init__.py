"""Planning (pure): the matrix, the knowledge of what PyTorch ships, recipes, and the tuples they expand to."""
