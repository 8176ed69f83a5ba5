"""Mail out: who is told about what and why, rendered, composed and delivered exactly once."""
