"""progress domain: pure, no I/O."""
