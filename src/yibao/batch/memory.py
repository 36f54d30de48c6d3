"""Keep the memory a batch run frees, for the run itself to use again.

A batch of ten million claims allocates and frees gigabytes of arrays, stage after stage. By
default the allocators give large blocks back to the operating system at once, and the next
stage's arrays are fresh pages again: each first touch is a page fault. On a virtual machine
whose freed memory the host takes back (virtio-balloon free page reporting, as on Firecracker
and most clouds), such a fault costs the host's work too, and page faults become the largest
part of a run. So for a batch process:

* the C allocator serves every block from its heap and never trims it (``M_MMAP_MAX`` = 0,
  ``M_TRIM_THRESHOLD`` = 1 TiB): a freed array's pages are reused by the next one;
* Arrow allocates through the same allocator (its system pool) rather than its own, which
  returns freed memory after a few milliseconds;
* NumPy does not ask for transparent huge pages for its arrays: a 2 MiB page freed whole goes
  back to the host at once, and is faulted in whole again.

It costs a larger resident set at the end of the run (the peak, kept), nothing else. Call
:func:`keep_freed_memory` once, early, in a process that settles batches (the command line
does); a library user decides for their own process.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_kept = False


def keep_freed_memory() -> bool:
    """Set this process's allocators to keep what they free (idempotent). Returns whether the
    C allocator accepted the settings (glibc; elsewhere only Arrow and NumPy are set)."""
    global _kept
    if _kept:
        return True
    import numpy as np
    import pyarrow as pa

    accepted = False
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is not None:
            accepted = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 40))
    pa.set_memory_pool(pa.system_memory_pool())
    hugepages = getattr(np._core.multiarray, "_set_madvise_hugepage", None)
    if hugepages is not None:
        hugepages(False)
    _kept = accepted
    return accepted
