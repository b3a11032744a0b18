"""finpy protocol adapters."""
