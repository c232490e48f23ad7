"""A plugin's own settings, as a section of the scenario table it belongs to.

``Sequencer`` holds what every design shares (block time, outages, the batch poster…),
``Oracle`` what every oracle kind reads, ``Rollups`` how several rollups are laid out. A
design, an oracle kind or a design for several rollups with settings of its own owns
their model and adds it, when it registers (``seqlab.sequencing.register``,
``seqlab.oracle.register``), as one typed field ``[<table>.<key>]``. The field goes into
the one table class, not a copy, so every module that imported it validates the same
sections; and since it is an ordinary field, a scenario file, its defaults, the JSON
schema and the errors read exactly as if it were written in the class. The built-in
plugins add theirs as their registries are imported, which reading a scenario
(``parse_scenario``) does first; this package cannot import them at the top, as they
import the schema.
"""
from __future__ import annotations

from keyword import iskeyword

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from seqlab.scenario.schema import Model, Oracle, Rollups, Scenario, Sequencer

# The scenario tables a plugin may add a section to, by their key in ``Scenario``.
TABLES: dict[str, type[Model]] = {"sequencer": Sequencer, "oracle": Oracle,
                                  "rollups": Rollups}

# The sections added so far, per table and by key, in the order the table lists them.
SECTIONS: dict[str, dict[str, type[Model]]] = {table: {} for table in TABLES}


def add_section(key: str, model: type[Model], table: str = "sequencer") -> None:
    """Make ``[<table>.<key>]`` a table read into ``model``, defaulting to ``model()``.

    Refused (nothing changes) when the key is taken or is not a plain name, when the model
    is not a ``seqlab.scenario.schema.Model`` (whose unknown keys are errors and whose
    values are frozen), or when it has a setting without a default: a scenario that does
    not use the plugin leaves the section out."""
    parent = TABLES[table]
    if key in parent.model_fields:
        raise ValueError(f"[{table}] already has a '{key}' setting")
    if not (key.isascii() and key.isidentifier() and key.islower()) or key.startswith("_"):
        raise ValueError(f"a [{table}] section key is lower-case letters, digits and "
                         f"'_', not first (got '{key}')")
    if iskeyword(key) or hasattr(parent, key):  # cfg.<key> must read the section
        raise ValueError(f"'{key}' is a Python keyword or a method of every scenario "
                         f"table, so it cannot name a [{table}] section")
    if not (isinstance(model, type) and issubclass(model, Model)):
        raise ValueError(f"the settings of [{table}.{key}] must subclass "
                         f"seqlab.scenario.schema.Model (got {model!r})")
    try:
        default = model()
    except ValidationError as exc:
        missing = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise ValueError(f"every setting of [{table}.{key}] needs a valid default "
                         f"(not: {missing})") from None
    parent.model_fields[key] = FieldInfo.from_annotated_attribute(model, default)
    SECTIONS[table][key] = model
    _rebuild(table)


def remove_section(key: str, table: str = "sequencer") -> None:
    """Take ``[<table>.<key>]`` away again (its plugin unregistered); the table's own
    settings cannot be removed."""
    if key not in SECTIONS[table]:
        raise ValueError(f"[{table}.{key}] is no plugin's section")
    del SECTIONS[table][key]
    del TABLES[table].model_fields[key]
    _rebuild(table)


def _rebuild(table: str) -> None:
    """Rebuild the validators of the table and of the ``Scenario`` holding it, whose
    default table must now carry the new section's default too."""
    parent = TABLES[table]
    parent.model_rebuild(force=True)
    Scenario.model_fields[table] = FieldInfo.from_annotated_attribute(parent, parent())
    Scenario.model_rebuild(force=True)
