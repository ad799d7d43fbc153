"""Data sets, figures and the command line (``python -m demos``)."""

import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads (minigrad/kernels/process_settings.py)
