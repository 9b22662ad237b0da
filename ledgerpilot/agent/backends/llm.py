"""The ``llm`` backend: any OpenAI-compatible chat server (vLLM, llama.cpp, Ollama, ...).

It sends the prompt of :mod:`ledgerpilot.agent.prompts` and asks for the posting-scheme
JSON schema as structured output (``response_format`` of type ``json_schema``, vLLM's
structured outputs). A server that refuses the request's optional features (HTTP 400, 422
or 501 for ``response_format`` or ``logprobs``) is asked again in plain text, and the
backend remembers it; the answer is then read with a tolerant extractor (fences, prose).

It talks to the server with the ``openai`` client itself rather than LangChain's
``ChatOpenAI``: with a ``response_format`` LangChain routes the call through
``chat.completions.parse``, which raises on an answer cut off at ``max_tokens`` instead of
returning its text, and hides the status code that tells a refused feature from a broken
server. Both matter here: a bad answer must become violations for the repair loop, and a
refusal must fall back to plain text.

Transient failures (no connection, timeout, HTTP 429 and 5xx) are retried with exponential
backoff; when the retries are spent, or the server rejects the backend's settings (401,
403, 404), :class:`BackendUnavailable` tells the caller to keep the document pending.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

import openai

from ...ledger import POSTING_SCHEME_JSON_SCHEMA
from ..prompts import DEFAULT_MAX_CHARS, prompt_for
from .answers import DEFAULT_CONFIDENCE, answer_confidence, read_answer
from .base import BackendUnavailable, DraftRequest, Proposal

RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "PostingScheme", "schema": POSTING_SCHEME_JSON_SCHEMA, "strict": True},
}
"""The structured-output request of the OpenAI API (vLLM, Ollama, llama.cpp's llama-server)."""


def _portable_patterns(schema: Any) -> Any:
    """``schema`` with ``\\.`` in patterns written ``[.]``: the same regular expression, but
    llama-cpp-python's grammar writer copies ``\\.`` into a grammar that llama.cpp cannot
    parse, and its server dies of it."""
    if isinstance(schema, dict):
        return {
            k: v.replace("\\.", "[.]")
            if k == "pattern" and isinstance(v, str)
            else _portable_patterns(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_portable_patterns(v) for v in schema]
    return schema


RESPONSE_FORMAT_JSON_OBJECT: dict[str, Any] = {
    "type": "json_object",
    "schema": _portable_patterns(POSTING_SCHEME_JSON_SCHEMA),
}
"""The same schema in the older ``json_object`` + ``schema`` form (llama-cpp-python's server)."""

REFUSAL_STATUSES = frozenset({400, 422, 501})
"""Statuses with which servers refuse a request field they do not support."""
OPTIONAL_FIELDS = ("response_format", "logprobs")


@dataclass(frozen=True)
class _Request:
    """One rung of the ladder of requests tried until the server accepts one."""

    response_format: dict[str, Any] | None
    logprobs: bool


def _ladder(structured: bool | Literal["auto"], logprobs: bool) -> tuple[_Request, ...]:
    """Requests from the richest to the plainest that ``structured`` allows."""
    if structured is False:
        rungs = [_Request(None, logprobs), _Request(None, False)]
    else:
        rungs = [
            _Request(RESPONSE_FORMAT, logprobs),
            _Request(RESPONSE_FORMAT_JSON_OBJECT, logprobs),
            _Request(RESPONSE_FORMAT, False),
            _Request(RESPONSE_FORMAT_JSON_OBJECT, False),
        ]
        if structured == "auto":
            rungs.append(_Request(None, False))
    unique: list[_Request] = []
    for rung in rungs:
        if rung not in unique:
            unique.append(rung)
    return tuple(unique)


class LLMBackend:
    """Posting schemes from a model behind an OpenAI-compatible chat completions API."""

    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        max_concurrency: int = 4,
        structured: bool | Literal["auto"] = "auto",
        logprobs: bool = True,
        max_tokens: int = 1024,
        backoff: float = 0.5,
        max_chars: int = DEFAULT_MAX_CHARS,
        seed: int | None = 0,
        temperature: float = 0.0,
    ) -> None:
        """Configure the backend; nothing is sent until :meth:`propose`.

        ``model`` is the served model's name (with vLLM, the LoRA adapter's name).
        ``structured``: ``"auto"`` asks for JSON-schema output and falls back to plain text
        when the server refuses it; ``True`` insists (a refusal makes the backend
        unavailable); ``False`` never asks. ``logprobs`` asks for token log-probabilities,
        from which the confidence is computed (see
        :func:`~ledgerpilot.agent.backends.answers.answer_confidence`); without them a
        readable scheme gets :data:`~ledgerpilot.agent.backends.answers.DEFAULT_CONFIDENCE`.
        ``max_retries`` retries follow a transient failure, the n-th after about
        ``backoff * 2**n`` seconds. At most ``max_concurrency`` requests of this instance
        are in flight at once, whatever the number of calling threads. ``temperature`` 0
        (the default) is greedy decoding: the same document gets the same answer; sampling
        (with ``seed``) is for generating varied data.
        """
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = base_url
        self.model = model
        self.structured = structured
        self.logprobs = logprobs
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_chars = max_chars
        self.seed = seed
        self.temperature = temperature
        self._client = openai.OpenAI(
            base_url=base_url,
            # Local servers want no key, but the client insists on one.
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=0,  # retried here, with our backoff and error mapping
        )
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._ladder = _ladder(structured, logprobs)
        self._rung = 0
        """The richest request the server has not refused; refused ones are not sent again."""

    def propose(self, request: DraftRequest) -> Proposal:
        """Ask the model for ``request.document``'s scheme; never raises for a bad answer.

        Raises :class:`BackendUnavailable` when the server cannot be reached or keeps
        failing after the retries.
        """
        prompt = prompt_for(request, self.max_chars)
        started = time.monotonic()
        with self._slots:
            completion, sent = self._complete(prompt.messages())
        structured = sent.response_format is not None
        seconds = time.monotonic() - started
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content or "") if choice is not None else ""
        scheme, found = read_answer(text)
        tokens = _token_logprobs(choice)
        if scheme is None:
            confidence = 0.0
        elif tokens:
            confidence = answer_confidence(tokens, text)
        else:
            confidence = DEFAULT_CONFIDENCE
        usage = completion.usage
        return Proposal(
            backend=self.name,
            scheme=scheme,
            confidence=confidence,
            evidence=prompt.examples,
            raw=text,
            parse_violations=found,
            model=self.model,
            note=_note(scheme is not None, len(prompt.examples), structured),
            extra={
                "seconds": round(seconds, 3),
                "response_format": (sent.response_format or {}).get("type"),
                "logprobs": bool(tokens),
                "finish_reason": choice.finish_reason if choice is not None else None,
                "served_model": completion.model,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
                "prompt_chars": prompt.chars,
            },
        )

    def _complete(self, messages: list[dict[str, str]]) -> tuple[Any, _Request]:
        """One completion, stepping down the ladder of requests while the server refuses.

        The rung that worked is remembered for the next documents, but only once a request
        succeeded: an error that no rung escapes (a prompt too long, say) says nothing
        about the server's features.
        """
        rung = self._rung
        while True:
            request = self._ladder[rung]
            try:
                completion = self._create(messages, request)
            except openai.APIStatusError as exc:
                if _is_refusal(exc) and rung + 1 < len(self._ladder):
                    rung += 1
                    continue
                if _is_refusal(exc) and self.structured is True:
                    raise BackendUnavailable(
                        f"the server refused structured output: {_describe(exc, self)}; "
                        "use structured='auto' to fall back to plain text"
                    ) from exc
                raise BackendUnavailable(_describe(exc, self)) from exc
            self._rung = max(self._rung, rung)
            return completion, request

    def _create(self, messages: list[dict[str, str]], request: _Request) -> Any:
        """Send one request, retrying transient failures with exponential backoff.

        Raises :class:`BackendUnavailable` when the retries are spent, and
        ``openai.APIStatusError`` for a refusal or a client error.
        """
        options: dict[str, Any] = {}
        if request.response_format is not None:
            options["response_format"] = request.response_format
        if request.logprobs:
            # llama-cpp-python sends log-probabilities only when top_logprobs is set.
            options["logprobs"] = True
            options["top_logprobs"] = 1
        if self.seed is not None:
            options["seed"] = self.seed
        attempt = 0
        while True:
            try:
                return self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                    **options,
                )
            except openai.APIConnectionError as exc:  # timeouts included
                failure: Exception = exc
            except openai.APIStatusError as exc:
                transient = exc.status_code == 429 or exc.status_code >= 500
                extras = request.response_format is not None or request.logprobs
                if not transient or (extras and _is_refusal(exc)):
                    raise
                failure = exc
            if attempt >= self.max_retries:
                raise BackendUnavailable(
                    f"the model server did not answer after {attempt + 1} tries: "
                    f"{_describe(failure, self)}"
                ) from failure
            # Full jitter keeps parallel workers from retrying in step.
            time.sleep(self.backoff * 2**attempt * (0.5 + random.random() / 2))
            attempt += 1


def _is_refusal(exc: openai.APIStatusError) -> bool:
    """Whether the server refused an optional field rather than failed.

    400, 422 and 501 are how servers say so; some (llama-cpp-python's) answer 500 to a
    request field they cannot validate, so an error that names the field counts too.
    """
    if exc.status_code in REFUSAL_STATUSES:
        return True
    text = f"{exc.message} {exc.body}"
    return any(name in text for name in OPTIONAL_FIELDS)


def _token_logprobs(choice: Any) -> list[tuple[str, float]]:
    """The generated tokens with their log-probabilities, when the server sent them."""
    logprobs = getattr(choice, "logprobs", None)
    content = getattr(logprobs, "content", None) or []
    return [(item.token, float(item.logprob)) for item in content if item.logprob is not None]


def _describe(exc: Exception, backend: LLMBackend) -> str:
    """A short reason for the operator: what failed and where."""
    if isinstance(exc, openai.APITimeoutError):
        return f"timed out talking to {backend.base_url}"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect to {backend.base_url}"
    if isinstance(exc, openai.APIStatusError):
        return (
            f"HTTP {exc.status_code} from {backend.base_url} for model {backend.model!r}: "
            f"{str(exc.message)[:200]}"
        )
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _note(readable: bool, examples: int, structured: bool) -> str:
    """A short word for the accountant on what the proposal rests on."""
    how = "structured output" if structured else "plain text"
    if not readable:
        return f"the model's answer ({how}) could not be read as a posting scheme"
    return f"proposed by the model ({how}) from {examples} similar posted document(s)"
