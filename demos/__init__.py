"""Data sets, figures and the command line (``python -m demos``); ``gallery_model(name)`` gives the
gallery's trained networks with their data."""

import minigrad  # noqa: F401  first: it configures OpenBLAS before NumPy loads (minigrad/kernels/process_settings.py)
from demos.gallery_models import gallery_model  # noqa: E402

__all__ = ["gallery_model"]
