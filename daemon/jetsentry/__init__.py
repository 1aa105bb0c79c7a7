"""jetsentry: edge video analytics. capture -> batch -> infer -> track -> publish."""

__version__ = "0.1.0"


def _load_gcc_unwinder_first() -> None:
    # GStreamer links libunwind, whose _Unwind_* functions shadow libgcc_s's when libunwind
    # enters the process first; a C++ exception (ONNX Runtime reports a failed run with one)
    # then aborts the process instead of reaching Python. Loading libgcc_s globally before
    # anything else keeps exceptions working whatever is imported in which order.
    import ctypes
    import os

    try:
        ctypes.CDLL("libgcc_s.so.1", mode=os.RTLD_GLOBAL)
    except OSError:  # not a glibc system: no libgcc_s to prefer
        pass


_load_gcc_unwinder_first()
