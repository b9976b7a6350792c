"""embtable."""
