"""Page templates, kept as package data (the project report)."""
