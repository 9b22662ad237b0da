"""The ``llm`` backend against real OpenAI-compatible servers running here with the tiny model.

``transformers serve`` accepts ``response_format`` and ignores it; llama.cpp's server
(llama-cpp-python) enforces the JSON schema with a grammar. The :class:`EdgeProxy` of
conftest stands in front of the transformers server where a test needs a server that
refuses structured output, fails, or is slow.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import jsonschema
import pytest

from ledgerpilot.agent.backends.answers import DEFAULT_CONFIDENCE
from ledgerpilot.agent.backends.base import BackendUnavailable, DraftRequest, Proposal
from ledgerpilot.agent.backends.llm import LLMBackend
from ledgerpilot.ledger import POSTING_SCHEME_JSON_SCHEMA

from .conftest import EdgeProxy, ModelServer, SmallCompany, free_port


def request_for(company: SmallCompany, n: int = 0) -> DraftRequest:
    """A request for the n-th inbox document, with no examples (a short prompt)."""
    return DraftRequest(company.company.inbox[n], company.company.chart)


def test_random_model_answer_is_a_proposal_with_violations(
    transformers_server: ModelServer, small_company: SmallCompany
) -> None:
    backend = LLMBackend(transformers_server.base_url, transformers_server.model, max_tokens=24)
    proposal = backend.propose(request_for(small_company))
    assert isinstance(proposal, Proposal)
    assert proposal.backend == "llm"
    assert proposal.model == transformers_server.model
    assert proposal.scheme is None
    assert [v.code for v in proposal.parse_violations] == ["malformed"]
    assert proposal.confidence == 0.0
    # The server took the JSON-schema request (and ignored it) and sent no logprobs.
    assert proposal.extra["response_format"] == "json_schema"
    assert proposal.extra["logprobs"] is False
    assert proposal.extra["completion_tokens"] == 24
    assert proposal.extra["finish_reason"] == "length"


def test_falls_back_to_plain_text_when_the_server_refuses_response_format(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    edge_proxy.refuse_response_format = True
    backend = LLMBackend(edge_proxy.base_url, transformers_server.model, max_tokens=8)
    first = backend.propose(request_for(small_company))
    second = backend.propose(request_for(small_company, 1))
    assert first.extra["response_format"] is None and second.extra["response_format"] is None
    assert [v.code for v in first.parse_violations] == ["malformed"]
    sent = [
        (r.get("response_format", {}).get("type"), r.get("logprobs", False))
        for r in edge_proxy.requests
    ]
    # json_schema, then llama-cpp-python's json_object + schema, both with logprobs, then
    # without logprobs, then plain; the second document goes plain at once.
    assert sent == [
        ("json_schema", True),
        ("json_object", True),
        ("json_schema", False),
        ("json_object", False),
        (None, False),
        (None, False),
    ]


def test_insisting_on_structured_output_makes_a_refusing_server_unavailable(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    edge_proxy.refuse_response_format = True
    backend = LLMBackend(
        edge_proxy.base_url, transformers_server.model, structured=True, max_tokens=8
    )
    with pytest.raises(BackendUnavailable, match="refused structured output"):
        backend.propose(request_for(small_company))


def test_plain_mode_never_asks_for_structured_output(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    backend = LLMBackend(
        edge_proxy.base_url,
        transformers_server.model,
        structured=False,
        logprobs=False,
        max_tokens=8,
    )
    proposal = backend.propose(request_for(small_company))
    assert proposal.extra["response_format"] is None
    assert "response_format" not in edge_proxy.requests[0]
    assert "logprobs" not in edge_proxy.requests[0]


def test_transient_failures_are_retried_with_backoff(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    edge_proxy.fail_first = 2
    backend = LLMBackend(
        edge_proxy.base_url, transformers_server.model, max_retries=2, backoff=0.01, max_tokens=8
    )
    proposal = backend.propose(request_for(small_company))
    assert isinstance(proposal, Proposal)
    assert len(edge_proxy.requests) == 3


def test_a_failing_server_is_unavailable_after_the_retries(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    edge_proxy.fail_first = 100
    backend = LLMBackend(
        edge_proxy.base_url, transformers_server.model, max_retries=2, backoff=0.01, max_tokens=8
    )
    with pytest.raises(BackendUnavailable, match="did not answer after 3 tries: HTTP 503"):
        backend.propose(request_for(small_company))
    assert len(edge_proxy.requests) == 3


def test_a_server_that_is_down_is_unavailable_quickly(small_company: SmallCompany) -> None:
    backend = LLMBackend(
        f"http://127.0.0.1:{free_port()}/v1", "tiny", timeout=1, max_retries=2, backoff=0.01
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="after 3 tries: cannot connect"):
        backend.propose(request_for(small_company))
    assert time.monotonic() - started < 5


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_a_server_that_never_answers_times_out(
    silent_port: int, small_company: SmallCompany
) -> None:
    backend = LLMBackend(
        f"http://127.0.0.1:{silent_port}/v1", "tiny", timeout=0.3, max_retries=1, backoff=0.01
    )
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="after 2 tries: timed out"):
        backend.propose(request_for(small_company))
    assert time.monotonic() - started < 5


def test_the_concurrency_limit_holds_across_threads(
    edge_proxy: EdgeProxy, small_company: SmallCompany, transformers_server: ModelServer
) -> None:
    edge_proxy.delay = 0.3
    backend = LLMBackend(
        edge_proxy.base_url, transformers_server.model, max_concurrency=2, max_tokens=4
    )
    results: list[Proposal] = []
    threads = [
        threading.Thread(
            target=lambda n=n: results.append(backend.propose(request_for(small_company, n)))
        )
        for n in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 6
    assert edge_proxy.max_in_flight == 2


def test_llama_cpp_enforces_the_posting_scheme_schema_even_on_a_random_model(
    llama_server: ModelServer, small_company: SmallCompany
) -> None:
    # Sampling (with a seed) rather than greedy decoding: a random model decoding greedily
    # can repeat one token inside an unbounded string until max_tokens.
    backend = LLMBackend(
        llama_server.base_url, llama_server.model, temperature=1.0, seed=6, max_tokens=4000,
        timeout=300,
    )  # fmt: skip
    proposal = backend.propose(request_for(small_company))
    # llama-cpp-python refuses the json_schema form and takes json_object + schema.
    assert proposal.extra["response_format"] == "json_object"
    assert proposal.extra["finish_reason"] == "stop"
    answer = json.loads(proposal.raw, strict=False)  # the grammar lets raw control chars through
    jsonschema.validate(answer, POSTING_SCHEME_JSON_SCHEMA)
    assert proposal.scheme is not None
    assert not [v for v in proposal.parse_violations if v.code == "bad_amount"]
    # Token log-probabilities came back, so the confidence is the model's, not the default.
    assert proposal.extra["logprobs"] is True
    assert proposal.confidence != DEFAULT_CONFIDENCE
    assert 0.0 < proposal.confidence < 0.1
