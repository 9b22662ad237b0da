"""The mapping example in docs/mappings.md is the one the legacy-schema tests run."""

from __future__ import annotations

import re
from pathlib import Path

from ledgerpilot.connectors.mapping_format import load_mapping

from .test_mapping_legacy import write_mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "mappings.md"


def test_the_documented_example_is_the_tested_legacy_mapping(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1
    documented = tmp_path / "documented.toml"
    documented.write_text(blocks[0], encoding="utf-8")
    tested = write_mapping(tmp_path)
    shown = load_mapping(documented).model_dump()
    run = load_mapping(tested).model_dump()
    # The document shows a few lines of each value map ("... one line per class").
    for section, key in (("accounts", "type_values"), ("documents", "kind_values")):
        assert shown[section][key].items() <= run[section][key].items()
        assert len(shown[section][key]) >= 3
        del shown[section][key], run[section][key]
    assert shown == run
