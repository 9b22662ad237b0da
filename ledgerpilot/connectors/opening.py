"""Opening an AIS, whichever kind it is: the reference schema, Tryton, or a mapped schema.

``open_ais(url, mapping=None)`` picks the connector: a mapping file means
:class:`~.mapping.MappedAIS` (a ``tryton+`` prefix on the URL is then dropped: the mapping
reads the tables itself); a ``tryton+<SQLAlchemy URL>`` means the Tryton connector
(``ledgerpilot.connectors.tryton``, imported only then, as it needs the ``tryton`` extra);
anything else the reference schema. ``check_ais`` opens the same way without giving up
on what is missing, and returns the check-on-connect report.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .base import AIS, CheckItem, CheckReport
from .errors import ConnectorError
from .reference import ReferenceAIS, open_reference

TRYTON_PREFIX = "tryton+"
"""URLs starting so are Tryton databases: ``tryton+sqlite:///PATH``, ``tryton+postgresql://...``."""


def open_ais(url: str, mapping: str | Path | None = None) -> AIS:
    """Open the AIS at ``url`` (through the ``mapping`` file, when given).

    Raises a :class:`~.errors.ConnectorError`: :class:`~.errors.AISNotFound` when there is
    no such AIS, :class:`~.mapping_format.MappingError` for a bad mapping file, and a plain
    one when a ``tryton+`` URL is given without the Tryton extra installed.
    """
    if mapping is not None and str(mapping):
        from .mapping import open_mapped

        return open_mapped(url.removeprefix(TRYTON_PREFIX), mapping)
    if url.startswith(TRYTON_PREFIX):
        return cast(AIS, _tryton_opener()(url))
    return open_reference(url)


def check_ais(url: str, mapping: str | Path | None = None) -> CheckReport:
    """What the AIS at ``url`` (through ``mapping``) lacks; never raises for a lack."""
    kind = "mapping" if mapping else "tryton" if url.startswith(TRYTON_PREFIX) else "reference"
    ais: Any
    try:
        if mapping:
            from .mapping import open_mapped

            ais = open_mapped(url.removeprefix(TRYTON_PREFIX), mapping, verify=False)
        elif kind == "tryton":
            ais = _tryton_opener()(url)
        else:
            ais = ReferenceAIS(url)
    except ConnectorError as error:
        subject = "mapping" if mapping and not str(error).startswith("no AIS") else "database"
        items = tuple(CheckItem("error", subject, line) for line in str(error).splitlines())
        where = _display(url) + (f" (mapping {mapping})" if mapping else "")
        return CheckReport(where, kind, items)
    with ais:
        return cast(CheckReport, ais.check())


def _display(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL at all: shown as given
        return url


def _tryton_opener() -> Callable[[str], Any]:
    """``ledgerpilot.connectors.tryton.open_tryton``, or a clear error when it cannot load."""
    try:
        module = importlib.import_module(f"{__package__}.tryton")
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing.split(".")[0] in ("trytond", "proteus"):
            raise ConnectorError(
                "a tryton+ URL needs Tryton, which is not installed: "
                "pip install 'ledgerpilot[tryton]'"
            ) from None
        if missing == f"{__package__}.tryton":
            raise ConnectorError("this ledgerpilot has no Tryton connector") from None
        raise
    return cast(Callable[[str], Any], module.open_tryton)
