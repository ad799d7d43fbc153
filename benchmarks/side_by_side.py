"""Time minigrad and PyTorch in turn, each in a process of its own, in lockstep.

Why two processes: in one process the two libraries share one OpenMP runtime (the loader shares
libgomp by name), so whichever loads it first decides the other's settings. minigrad starts
libgomp with a short spin (``minigrad/kernels/process_settings.py``); PyTorch is tuned for its
default long spin. So the script runs twice: this process times minigrad, and a child process
running the same script with the same arguments times PyTorch, as a PyTorch user's process
would run it (its own libgomp, defaults). The two never run at once: at each ``interleaved``
call the child waits for a go, times its side for one round and reports, then this process
times the next round of its own, so machine noise still hits both alike.

``--one-process`` (or MINIGRAD_BENCH_ONE_PROCESS=1) times both sides here, as before.
"""
import os
import statistics
import subprocess
import sys
import time

_CHILD = "MINIGRAD_BENCH_CHILD_FDS"  # "read_fd,write_fd" in the child
_pipes = None  # (reader, writer) file objects to the other process, once started


def is_child():
    """True in the child process that times the reference library."""
    return _CHILD in os.environ


def one_process():
    """True when both sides are timed in this process (after ``start``)."""
    return _pipes is None and not is_child()


def start(argv):
    """In the parent: start the child (same script, same ``argv``) unless one process is asked
    for. In the child: connect to the parent. Call once, first thing in ``main``."""
    global _pipes
    if is_child():
        r, w = (int(fd) for fd in os.environ[_CHILD].split(","))
        _pipes = os.fdopen(r, "r"), os.fdopen(w, "w")
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  the parent prints; the child only reports
        return
    if "--one-process" in argv or os.environ.get("MINIGRAD_BENCH_ONE_PROCESS") == "1":
        return
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    # the child must not load minigrad's OpenMP runtime before PyTorch loads its own
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue", **{_CHILD: f"{to_child_r},{from_child_w}"})
    subprocess.Popen([sys.executable, os.path.abspath(sys.argv[0])] + list(argv), env=env,
                     pass_fds=(to_child_r, from_child_w))
    os.close(to_child_r)
    os.close(from_child_w)
    _pipes = os.fdopen(from_child_r, "r"), os.fdopen(to_child_w, "w")


def median_time(fn, repeats):
    """Median seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()  # warm-up (compilation, allocator)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _send(line):
    _pipes[1].write(line + "\n")
    _pipes[1].flush()


def _receive():
    line = _pipes[0].readline()
    if not line:  # both run the same calls in the same order: the other one can only have failed
        raise RuntimeError("the other timing process ended early (see its error above)")
    return line.strip()


def interleaved(ours, theirs, repeats, rounds=3):
    """Best of ``rounds`` medians per side, the sides timed in turn: -> (seconds for minigrad,
    seconds for the reference). With a child process, ``theirs`` runs there."""
    if _pipes is None:
        times = [(median_time(ours, repeats), median_time(theirs, repeats)) for _ in range(rounds)]
        return min(t[0] for t in times), min(t[1] for t in times)
    if is_child():
        _send("ready")
        for _ in range(rounds):
            _receive()
            _send(repr(median_time(theirs, repeats)))
        return float("nan"), float("nan")
    if _receive() != "ready":
        raise RuntimeError("the reference process lost step")
    mine, other = [], []
    for _ in range(rounds):
        mine.append(median_time(ours, repeats))
        _send("go")
        other.append(float(_receive()))
    return min(mine), min(other)
