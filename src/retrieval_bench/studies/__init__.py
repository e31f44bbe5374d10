"""The studies: one package each, registered on import (core/registry.py).

Importing this package registers every study found beside this file, in the
order of STUDY_ORDER and then by name; that order is the order of the report,
the claims and the command-line menu.
"""

import importlib
import pkgutil

STUDY_ORDER = ("incremental", "lifelong")  # the thesis's order; a study not named here follows, by name


def _discover() -> None:
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.ispkg]
    for name in sorted(found, key=lambda n: (STUDY_ORDER.index(n) if n in STUDY_ORDER else len(STUDY_ORDER), n)):
        importlib.import_module(f"{__name__}.{name}")


_discover()
