import os

from hypothesis import HealthCheck, settings

# Numba compiles each kernel once per process (then loads it from its cache), so the
# first example of a test may be slow: no deadline.
# "ci" (the default) draws the same examples every run, so a red run can be replayed;
# HYPOTHESIS_PROFILE=thorough explores new ones.
settings.register_profile("ci", deadline=None, max_examples=25, print_blob=True, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", deadline=None, max_examples=300,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
