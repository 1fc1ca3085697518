"""The rebuild workflow: per-tuple cibuildwheel settings and the check of .github/ against the plan."""
