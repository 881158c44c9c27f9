"""tropt.tracker (stand-in)."""
