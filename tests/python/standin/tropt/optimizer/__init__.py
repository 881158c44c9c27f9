"""tropt.optimizer (stand-in)."""
