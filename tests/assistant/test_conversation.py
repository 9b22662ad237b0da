"""A follow-up keeps the conversation's context: a LangGraph thread in the store's
checkpointer, which outlives the process that asked (a new assistant and a new connection
continue it)."""

from __future__ import annotations

from pathlib import Path

from ledgerpilot.agent.checkpoints import open_checkpointer
from ledgerpilot.assistant import Assistant, ask, build_ask_graph, new_thread, turns
from ledgerpilot.connectors import ReferenceAIS

from .conftest import store_url


def _lines(turn: dict) -> list[tuple[str, str, str, str | None]]:
    return [
        (ln["account"], ln["side"], ln["amount"], ln.get("value"))
        for ln in turn["answer"]["scheme"]["lines"]
    ]


def test_follow_ups_keep_partner_topic_and_amounts(
    hr_assistant: Assistant, hr_ais_url: str, tmp_path: Path
) -> None:
    store = store_url(tmp_path)
    thread = new_thread("clara")
    with open_checkpointer(store) as checkpointer:
        graph = build_ask_graph(checkpointer)
        first = ask(graph, hr_assistant, thread, "Kako knjižiti račun za struju od Drava Elektro?")
        # another partner, the same topic
        second = ask(graph, hr_assistant, thread, "a za Posavina?")
        # the same partner and topic, an amount
        third = ask(graph, hr_assistant, thread, "što ako je 500,00 neto?")
    assert first["answer"]["partner"]["name"] == "Drava Elektro d.o.o."
    assert second["answer"]["status"] == "answered"
    assert second["answer"]["partner"]["name"] == "Posavina Elektro d.o.o."
    assert second["understood"]["kept"] == ["topic", "kind"]
    assert _lines(second) == [
        ("140000", "debit", "tax at 13%", None), ("407000", "debit", "net", None),
        ("223000", "credit", "gross", None),
    ]  # fmt: skip
    with ReferenceAIS(hr_ais_url) as ais:
        partners = {ais.get_document(i).partner.name for i in second["answer"]["evidence"]}  # type: ignore[union-attr]
    assert partners == {"Posavina Elektro d.o.o."}
    assert third["understood"]["kept"] == ["partner", "topic", "kind"]
    assert _lines(third) == [
        ("140000", "debit", "tax at 13%", "65.00"), ("407000", "debit", "net", "500.00"),
        ("223000", "credit", "gross", "565.00"),
    ]  # fmt: skip

    # Another process: a new assistant over a new connection continues the same thread.
    with ReferenceAIS(hr_ais_url) as ais, open_checkpointer(store) as checkpointer:
        graph = build_ask_graph(checkpointer)
        fourth = ask(graph, Assistant(ais, models=lambda n: None), thread, "a po 25%?")
        kept = turns(graph, thread)
    assert fourth["answer"]["partner"]["name"] == "Posavina Elektro d.o.o."
    assert _lines(fourth)[0] == ("140000", "debit", "tax at 25%", "125.00")
    assert [t["question"] for t in kept] == [
        "Kako knjižiti račun za struju od Drava Elektro?", "a za Posavina?",
        "što ako je 500,00 neto?", "a po 25%?",
    ]  # fmt: skip


def test_a_new_subject_starts_afresh_and_threads_do_not_mix(
    hr_assistant: Assistant, tmp_path: Path
) -> None:
    with open_checkpointer(store_url(tmp_path)) as checkpointer:
        graph = build_ask_graph(checkpointer)
        ours, theirs = new_thread("clara"), new_thread("alice")
        ask(graph, hr_assistant, ours, "Kako knjižiti račun za struju od Drava Elektro?")
        fresh = ask(graph, hr_assistant, ours, "How do I post the office rent?")
        alone = ask(graph, hr_assistant, theirs, "a za Posavina?")
    assert fresh["understood"]["follow_up"] is False
    assert fresh["answer"]["partner"] is None
    assert [ln["account"] for ln in fresh["answer"]["scheme"]["lines"]] == [
        "140000",
        "414000",
        "220000",
    ]
    # The other thread never heard of electricity: a partner alone, not a scheme for it.
    assert alone["understood"]["follow_up"] is False and alone["understood"]["topic"] == []
