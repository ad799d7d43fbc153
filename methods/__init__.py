"""Visualization methods built on minigrad's swappable backward rules."""
