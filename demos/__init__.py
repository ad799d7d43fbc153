"""Data sets, figures and the command line (``python -m demos``)."""
