"""A design's own settings, as a section of ``[sequencer]``.

``Sequencer`` holds what every design shares (block time, outages, the batch poster…). A
design with settings of its own owns their model and adds it, when it registers
(``seqlab.sequencing.register``), as one typed field ``[sequencer.<key>]``. The field goes
into the one ``Sequencer`` class, not a copy, so every module that imported ``Sequencer``
validates the same sections; and since it is an ordinary field, a scenario file, its
defaults, the JSON schema and the errors read exactly as if it were written in the class.
The built-in designs add theirs as ``seqlab.sequencing`` is imported, which reading a
scenario (``parse_scenario``) does first; this package cannot import it at the top, as
the designs import the schema.
"""
from __future__ import annotations

from keyword import iskeyword

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from seqlab.scenario.schema import Model, Scenario, Sequencer

# The sections added so far, by key, in the order ``[sequencer]`` lists them.
SECTIONS: dict[str, type[Model]] = {}


def add_section(key: str, model: type[Model]) -> None:
    """Make ``[sequencer.<key>]`` a table read into ``model``, defaulting to ``model()``.

    Refused (nothing changes) when the key is taken or is not a plain name, when the model
    is not a ``seqlab.scenario.schema.Model`` (whose unknown keys are errors and whose
    values are frozen), or when it has a setting without a default: a scenario that does
    not run the design leaves the section out."""
    if key in Sequencer.model_fields:
        raise ValueError(f"[sequencer] already has a '{key}' setting")
    if not (key.isascii() and key.isidentifier() and key.islower()) or key.startswith("_"):
        raise ValueError(f"a [sequencer] section key is lower-case letters, digits and "
                         f"'_', not first (got '{key}')")
    if iskeyword(key) or hasattr(Sequencer, key):  # cfg.<key> must read the section
        raise ValueError(f"'{key}' is a Python keyword or a method of every scenario "
                         "table, so it cannot name a [sequencer] section")
    if not (isinstance(model, type) and issubclass(model, Model)):
        raise ValueError(f"the settings of [sequencer.{key}] must subclass "
                         f"seqlab.scenario.schema.Model (got {model!r})")
    try:
        default = model()
    except ValidationError as exc:
        missing = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise ValueError(f"every setting of [sequencer.{key}] needs a valid default "
                         f"(not: {missing})") from None
    Sequencer.model_fields[key] = FieldInfo.from_annotated_attribute(model, default)
    SECTIONS[key] = model
    _rebuild()


def remove_section(key: str) -> None:
    """Take ``[sequencer.<key>]`` away again (a design unregistered); the shared settings
    cannot be removed."""
    if key not in SECTIONS:
        raise ValueError(f"[sequencer.{key}] is no design's section")
    del SECTIONS[key]
    del Sequencer.model_fields[key]
    _rebuild()


def _rebuild() -> None:
    """Rebuild the validators of ``Sequencer`` and of the ``Scenario`` holding it, whose
    default ``[sequencer]`` must now carry the new section's default too."""
    Sequencer.model_rebuild(force=True)
    Scenario.model_fields["sequencer"] = FieldInfo.from_annotated_attribute(Sequencer,
                                                                            Sequencer())
    Scenario.model_rebuild(force=True)
