"""Ways mail gets in. Each only stores the raw message durably and hands over its id."""
