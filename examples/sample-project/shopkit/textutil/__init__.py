"""Text utilities: case conversion, tokenising, wrapping, slugs and toy ciphers."""
