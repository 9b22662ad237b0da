"""Reading model answers: the JSON object among prose and fences, and the confidence."""

from __future__ import annotations

import math

import pytest

from ledgerpilot.agent.backends.answers import answer_confidence, extract_json, read_answer

SCHEME = (
    '{"document": "SI-1", "kind": "supplier_invoice", "explanation": "rent", "lines": ['
    '{"account": "4100", "debit": "100.00", "credit": "0.00", "description": "rent"}, '
    '{"account": "1600", "debit": "0.00", "credit": "100.00", "description": "R-1"}]}'
)


@pytest.mark.parametrize(
    "answer",
    [
        SCHEME,
        f"Here is the posting scheme:\n```json\n{SCHEME}\n```\nLet me know if you need more.",
        f"```\n{SCHEME}\n```",
        f'Thinking... the set {{a, b}} is not JSON. {{"note": 1}} Answer: {SCHEME} done.',
        f"  \n{SCHEME}\n<|im_end|>",
    ],
    ids=["bare", "fenced-json", "fenced", "after-prose-and-other-objects", "trailing-token"],
)
def test_the_scheme_is_found_wherever_the_model_puts_it(answer: str) -> None:
    assert extract_json(answer) == SCHEME
    scheme, found = read_answer(answer)
    assert found == ()
    assert scheme is not None
    assert [ln.account for ln in scheme.lines] == ["4100", "1600"]


def test_without_a_lines_object_the_first_object_is_taken() -> None:
    assert extract_json('x {"a": 1} y {"b": 2}') == '{"a": 1}'
    scheme, found = read_answer('x {"a": 1} y')
    assert scheme is None
    assert [v.code for v in found] == ["malformed"]
    assert found[0].message == 'the scheme has no "lines"'


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "the answer is empty"),
        ("   \n", "the answer is empty"),
        (
            "I cannot help with that.",
            "the answer holds no complete JSON object (cut off?); it begins 'I cannot help with that.'",
        ),
        (
            SCHEME[:60],
            "the answer holds no complete JSON object (cut off?); it begins " + repr(SCHEME[:60]),
        ),
    ],
    ids=["empty", "blank", "prose", "cut-off"],
)
def test_unreadable_answers_are_violations(answer: str, message: str) -> None:
    scheme, found = read_answer(answer)
    assert scheme is None
    assert [(v.code, v.message) for v in found] == [("malformed", message)]


def test_json_numbers_are_still_caught_after_extraction() -> None:
    answer = "Sure: " + SCHEME.replace('"debit": "100.00"', '"debit": 100.0')
    scheme, found = read_answer(answer)
    assert [v.code for v in found] == ["bad_amount"]
    assert scheme is not None and len(scheme.lines) == 1


def test_raw_control_characters_inside_strings_are_tolerated() -> None:
    answer = SCHEME.replace('"description": "rent"', '"description": "rent\n\tJanuary"')
    answer = answer.replace(", ", ",\n  ")  # and newlines between fields, which JSON allows
    scheme, found = read_answer(answer)
    assert found == ()
    assert scheme is not None and scheme.lines[0].description == "rent\n\tJanuary"


def test_deeply_nested_garbage_is_a_violation() -> None:
    scheme, found = read_answer("[" * 100_000 + "{" * 100_000)
    assert scheme is None and [v.code for v in found] == ["malformed"]


def test_confidence_is_the_probability_of_the_least_certain_account() -> None:
    text = '{"lines":[{"account":"41"},{"account":"16"}]}'
    half = math.log(0.5)
    tokens = [
        ('{"lines":[{"account":"', -0.01),
        ("4", half),
        ("1", half),  # account 41: 0.25
        ('"},{"account":"', -0.01),
        ("1", 0.0),
        ("6", half),  # account 16: 0.5
        ('"}]}', -0.01),
    ]
    assert answer_confidence(tokens, text) == pytest.approx(0.25)


def test_confidence_falls_back_to_the_mean_token_probability() -> None:
    tokens = [("ab", math.log(0.5)), ("c", math.log(0.125))]
    assert answer_confidence(tokens, "abc") == pytest.approx(0.25)  # no account
    assert answer_confidence(tokens, "other") == pytest.approx(0.25)  # pieces do not spell it
    assert answer_confidence([], "abc") == 0.0
