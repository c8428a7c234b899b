"""Python's cyclic garbage collector around bulk work. A 10,000-row push allocates some
300,000 short-lived dicts, lists and tuples, none of them in reference cycles; counting
them as they come triggers full collections, which walk every object of the process
(Django, Wagtail and their ~1,000,000 objects) and cost a 10,000-row push about 150 ms.
Reference counting frees those objects anyway."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_loaded() -> None:
    """Move everything loaded so far (modules, settings, URL patterns, templates) out of
    the collector's sight: it lives as long as the process. Called once the application is
    loaded (saas.wsgi; a gunicorn master loading the app before forking also keeps those
    pages shared with its workers)."""
    gc.collect()
    gc.freeze()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (process-wide: keep the block to one bulk
    step). Collection resumes as it was afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
