"""Compact prompts (for small fine-tuned models) and where the local backend stops decoding."""

from __future__ import annotations

from ledgerpilot.agent.backends.base import DraftRequest
from ledgerpilot.agent.backends.local import SchemeEnd
from ledgerpilot.agent.prompts import COMPACT_SYSTEM_PROMPT, build_prompt, prompt_for

from .test_prompts import CHART, blocks, hostile_invoice, rent_invoice


def test_a_compact_prompt_without_examples_shows_no_chart() -> None:
    document = rent_invoice()
    full = build_prompt(document, CHART)
    compact = build_prompt(document, CHART, compact=True)
    assert compact.system == COMPACT_SYSTEM_PROMPT
    assert compact.accounts == () and "CHART" not in compact.user
    assert "EXAMPLES" not in compact.user
    assert compact.chars < full.chars / 2
    assert [value for _, _, value in blocks(compact.user)] == [
        value for _, _, value in blocks(full.user)
    ][-1:]  # only the document, the same data as in the full prompt


def test_a_compact_prompt_shows_the_accounts_its_examples_posted_to() -> None:
    example = rent_invoice("SI-0", posted=True)
    compact = build_prompt(rent_invoice(), CHART, [example], compact=True)
    assert compact.examples == ("SI-0",)
    assert sorted(compact.accounts) == ["1400", "1600", "4100"]


def test_a_compact_prompt_keeps_hostile_text_in_its_data_block() -> None:
    compact = build_prompt(hostile_invoice(), CHART, compact=True)
    (_, _, data), *_ = blocks(compact.user)
    assert isinstance(data, dict) and data["number"].startswith('"}]')
    assert "<|im_start|>" not in compact.user and compact.user.count("```") == 2


def test_prompt_for_shows_at_most_max_examples() -> None:
    examples = tuple(rent_invoice(f"SI-{n}", posted=True) for n in range(3))
    request = DraftRequest(rent_invoice(), CHART, examples)
    assert prompt_for(request).examples == ("SI-0", "SI-1", "SI-2")
    assert prompt_for(request, max_examples=1).examples == ("SI-0",)
    assert prompt_for(request, compact=True, max_examples=0).examples == ()


def feed(text: str) -> int | None:
    """The position in ``text`` at which a :class:`SchemeEnd` reading it says stop."""
    scanner = SchemeEnd()
    return next((n for n, char in enumerate(text) if scanner.feed(char)), None)


def test_decoding_stops_after_the_first_valid_scheme_object() -> None:
    answer = '{"document": "D", "lines": [{"description": "a } and a { and \\" quote"}]}'
    assert feed(f"Here it is: {answer} and more text") == len("Here it is: ") + len(answer) - 1


def test_decoding_goes_on_past_objects_that_are_not_schemes() -> None:
    echoed = '{"document": id, "lines": [{"account": code}]}'  # the template, not JSON
    other = '{"note": "no lines here"}'
    answer = '{"lines": []}'
    text = f"{echoed} {other} {answer}"
    assert feed(text) == len(text) - 1
    assert feed(f"{echoed} {other}") is None
