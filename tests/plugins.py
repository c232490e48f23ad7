"""A plugin written outside seqlab, as a user would: a module in a folder of its own."""
import importlib
import sys
from types import ModuleType


def import_written(tmp_path, monkeypatch, name: str, source: str) -> ModuleType:
    """Write ``source`` as module ``name`` under ``tmp_path`` and import it from there
    (the folder leaves ``sys.path`` with the test; call ``forget(name)`` after it)."""
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(name)


def forget(name: str) -> None:
    """Drop the written module, so another test can write one of the same name."""
    sys.modules.pop(name, None)
