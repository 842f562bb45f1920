"""Makes the repository root importable (``tb``, ``scripts``) for every test."""
