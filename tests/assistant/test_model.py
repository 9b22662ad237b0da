"""With a model: the ``scheme`` task it was trained on, validated before anything is shown.

The model is :class:`~tests.assistant.conftest.ScriptedModel` (a model server at the edge
answering fixed texts) or a few lines of HTTP standing in for an OpenAI-compatible server;
the assistant, the history, the chart and validation are real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ledgerpilot.assistant.model import ServedSchemeModel, scheme_messages
from ledgerpilot.training.scheme_task import SCHEME_SYSTEM_PROMPT, scheme_question

from .conftest import scripted

QUESTION = "Kako knjižiti račun za struju od Drava Elektro?"
MEMORY = [
    ("140000", "debit", "tax at 13%"),
    ("407000", "debit", "net"),
    ("223000", "credit", "gross"),
]


def _answer(lines: list[tuple[str, str, str]], partner: str = "SUP-00002") -> str:
    return json.dumps(
        {
            "kind": "supplier_invoice",
            "partner": partner,
            "year": 2025,
            "lines": [{"account": a, "side": s, "amount": b} for a, s, b in lines],
        }
    )


def _shape(lines: Any) -> list[tuple[str, str, str]]:
    return [(ln.account, ln.side, ln.basis) for ln in lines]


def test_the_model_is_asked_the_scheme_task_it_was_trained_on(hr_ais_url: str) -> None:
    assistant, model, ais = scripted(hr_ais_url, _answer(MEMORY))
    with ais:
        answer = assistant.ask(QUESTION, backend="llm")
    assert answer.status == "answered" and answer.backend == "llm"
    assert _shape(answer.lines) == MEMORY
    assert model.sent == [
        [
            {"role": "system", "content": SCHEME_SYSTEM_PROMPT},
            {
                "role": "user",
                "content": scheme_question(
                    "supplier_invoice", "SUP-00002", "Drava Elektro d.o.o.", 2025
                ),
            },
        ]
    ]
    assert answer.evidence and all(e.partner == "Drava Elektro d.o.o." for e in answer.evidence)


def test_an_account_the_chart_lacks_is_never_shown(hr_ais_url: str) -> None:
    invented = [
        ("999999", "debit", "net"),
        ("140000", "debit", "tax at 13%"),
        ("223000", "credit", "gross"),
    ]
    assistant, _, ais = scripted(hr_ais_url, _answer(invented))
    with ais:
        alone = assistant.ask(QUESTION, backend="llm")
        together = assistant.ask(QUESTION, backend="auto")
    assert alone.status == "refused" and not alone.lines
    assert [v.code for v in alone.violations] == ["unknown_account"]
    assert "999999" in alone.explanation
    # auto: the memory's scheme, and why the model's was dropped
    assert together.status == "answered" and _shape(together.lines) == MEMORY
    assert "not used" in together.explanation and "999999" in together.explanation


def test_when_memory_and_model_disagree_both_are_shown_and_neither_chosen(hr_ais_url: str) -> None:
    other = [
        ("140000", "debit", "tax at 13%"),
        ("419000", "debit", "net"),
        ("220000", "credit", "gross"),
    ]
    assistant, _, ais = scripted(hr_ais_url, _answer(other))
    with ais:
        answer = assistant.ask(QUESTION, backend="auto").as_json()
    assert answer["status"] == "disagree" and answer["scheme"] is None
    assert [v["backend"] for v in answer["variants"]] == ["memory", "llm"]
    assert [
        (ln["account"], ln["side"], ln["amount"]) for ln in answer["variants"][1]["lines"]
    ] == other
    assert "disagree" in answer["explanation"]


def test_when_they_agree_the_answer_says_so(hr_ais_url: str) -> None:
    assistant, _, ais = scripted(hr_ais_url, _answer(MEMORY))
    with ais:
        answer = assistant.ask(QUESTION, backend="auto")
    assert answer.status == "answered" and "gives the same scheme" in answer.explanation


def test_the_models_bases_are_bound_to_the_questions_amounts(hr_ais_url: str) -> None:
    assistant, _, ais = scripted(hr_ais_url, _answer(MEMORY))
    with ais:
        answer = assistant.ask(QUESTION.replace("?", " za 565,00 bruto?"), backend="llm").as_json()
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in answer["entry"]["lines"]] == [
        ("140000", "65.00", "0.00"), ("407000", "500.00", "0.00"), ("223000", "0.00", "565.00"),
    ]  # fmt: skip


def test_a_model_answer_that_is_not_a_scheme_is_refused(hr_ais_url: str) -> None:
    assistant, _, ais = scripted(hr_ais_url, "I would post it to electricity, I think.")
    with ais:
        answer = assistant.ask(QUESTION, backend="llm")
    assert answer.status == "refused" and [v.code for v in answer.violations] == ["malformed"]


# ------------------------------------------------------------ the served model over HTTP


@pytest.fixture
def chat_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible chat endpoint at the edge: refuses ``response_format`` (400), as
    servers without structured outputs do, and answers the scheme otherwise."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            received.append(body)
            if "response_format" in body:
                status, reply = 400, {"error": {"message": "response_format is not supported"}}
            else:
                status = 200
                reply = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": _answer(MEMORY)}}],
                }  # fmt: skip
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    server.shutdown()
    server.server_close()


def test_a_served_model_without_structured_output_is_asked_in_plain_text(
    chat_server: tuple[str, list[dict[str, Any]]],
) -> None:
    base_url, received = chat_server
    model = ServedSchemeModel(base_url, "ledgerpilot-scheme")
    messages = scheme_messages("supplier_invoice", "SUP-00002", "Drava Elektro d.o.o.", 2025)
    text = model.complete(messages)
    assert json.loads(text)["lines"][1] == {"account": "407000", "side": "debit", "amount": "net"}
    assert [("response_format" in r) for r in received] == [True, False]
    assert received[1]["messages"] == messages and received[1]["temperature"] == 0.0
