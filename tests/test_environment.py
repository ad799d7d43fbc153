"""The process settings minigrad makes for speed: each only where the user has not decided."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("code, expected", [
    # imported first: OpenBLAS's threads may sleep right after each call
    ("import minigrad, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))", "4"),
    # NumPy already loaded OpenBLAS: too late, so nothing is changed
    ("import numpy, minigrad, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))", "None"),
    # the main job's package imports minigrad before NumPy
    ("import demos.train, os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))", "4"),
])
def test_openblas_thread_timeout(code, expected):
    assert _run(code) == expected


def test_a_users_openblas_setting_is_kept():
    code = "import minigrad, os; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    assert _run(code, OPENBLAS_THREAD_TIMEOUT="12") == "12"


def test_glibc_settings_apply_once_and_respect_the_user():
    code = "import minigrad.kernels.process_settings as m; print(m.keep_freed_memory())"
    expected = "True" if sys.platform.startswith("linux") else "False"
    assert _run(code) == expected
    assert _run(code, MALLOC_TOP_PAD_="1") == "False"
    assert _run(code, MINIGRAD_KEEP_MALLOC="1") == "False"
