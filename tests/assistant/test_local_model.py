"""The ``local`` backend's model in process: the test suite's tiny model (random weights)
is asked the ``scheme`` task for real, and its babble is refused, never shown."""

from __future__ import annotations

from pathlib import Path

from ledgerpilot.agent.backends.local import LocalBackend
from ledgerpilot.assistant import Assistant
from ledgerpilot.assistant.model import LocalSchemeModel
from ledgerpilot.connectors import ReferenceAIS
from tests.agent.conftest import tiny_model_dir  # noqa: F401 - a fixture

QUESTION = "Kako knjižiti račun za struju od Drava Elektro?"


def test_the_tiny_models_answer_is_refused_and_auto_keeps_the_memory(
    hr_ais_url: str,
    tiny_model_dir: Path,  # noqa: F811
) -> None:
    model = LocalSchemeModel(LocalBackend(tiny_model_dir), max_new_tokens=48)
    with ReferenceAIS(hr_ais_url) as ais:
        assistant = Assistant(ais, models=lambda name: None if name == "memory" else model)
        alone = assistant.ask(QUESTION, backend="local")
        together = assistant.ask(QUESTION, backend="auto")
    assert alone.status == "refused" and alone.backend == "local" and not alone.lines
    assert alone.violations and alone.model == tiny_model_dir.name
    assert together.status == "answered" and together.backend == "memory"
    assert [ln.account for ln in together.lines] == ["140000", "407000", "223000"]
    assert "The model's answer was not used" in together.explanation
