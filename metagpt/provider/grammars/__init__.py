"""GBNF grammars for llama.cpp, kept as package data."""
