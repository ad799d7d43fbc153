"""The walker every bad-input table uses: the call must raise ValueError or TypeError (or the type
the row asks for) before returning anything, and the message must name the argument."""
import re

import pytest


def rejects(call, name, errors=(ValueError, TypeError)):
    """Run ``call()``; it must raise one of ``errors`` whose message contains ``name``."""
    with pytest.raises(errors) as info:
        result = call()
        pytest.fail(f"returned {result!r:.80} instead of raising")
    assert re.search(re.escape(name), str(info.value)), f"message does not name {name!r}: {info.value}"
    assert "Traceback" not in str(info.value)


def ids(table):
    return [row[0] for row in table]
