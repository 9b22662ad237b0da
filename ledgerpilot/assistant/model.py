"""Asking a model the ``scheme`` task it was trained on, served or in process.

The messages are exactly the training examples' (:mod:`ledgerpilot.training.scheme_task`:
its system prompt and :func:`~ledgerpilot.training.scheme_task.scheme_question`), so a model
fine-tuned on ``ledgerpilot dataset build --task scheme`` sees at run time what it learnt.
:class:`ServedSchemeModel` asks an OpenAI-compatible server (vLLM with the LoRA adapter)
for JSON-schema output and falls back to plain text when the server refuses it;
:class:`LocalSchemeModel` decodes greedily with the ``local`` backend's transformers model.
Either returns the answer's text; :func:`~ledgerpilot.assistant.bases.read_scheme_answer`
reads it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol

from ledgerpilot.agent.backends import BackendUnavailable
from ledgerpilot.training.scheme_task import SCHEME_SYSTEM_PROMPT, scheme_question

from .bases import SCHEME_ANSWER_JSON_SCHEMA

if TYPE_CHECKING:
    from ledgerpilot.agent.backends.local import LocalBackend
    from ledgerpilot.config import Settings

REFUSAL_STATUSES = frozenset({400, 422, 501})
MAX_TOKENS = 512


class SchemeModel(Protocol):
    """A model that answers the ``scheme`` task."""

    name: str
    """The backend's name: ``llm`` or ``local``."""
    model: str
    """Which model (server model name, or directory and adapters)."""

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's answer to a chat; raises :class:`BackendUnavailable` when it cannot."""
        ...


def scheme_messages(
    kind: str, partner_id: str, partner_name: str, year: int
) -> list[dict[str, str]]:
    """The chat of the ``scheme`` task for a kind of document of a partner in a year."""
    return [
        {"role": "system", "content": SCHEME_SYSTEM_PROMPT},
        {"role": "user", "content": scheme_question(kind, partner_id, partner_name, year)},
    ]


class ServedSchemeModel:
    """The ``scheme`` task asked of an OpenAI-compatible chat server."""

    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        structured: bool | str = "auto",
    ) -> None:
        """Nothing is sent until :meth:`complete`; ``structured`` as the ``llm`` backend's."""
        import openai

        self.base_url = base_url
        self.model = model
        self.structured = structured
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2
        )

    def complete(self, messages: list[dict[str, str]]) -> str:
        """Greedy answer; JSON-schema output unless the server refuses it."""
        import openai

        formats: list[dict[str, Any] | None] = []
        if self.structured is not False:
            formats.append(
                {
                    "type": "json_schema",
                    "json_schema": {"name": "SchemeAnswer", "schema": SCHEME_ANSWER_JSON_SCHEMA},
                }
            )
        if self.structured != True:  # noqa: E712 - "auto" and False both allow plain text
            formats.append(None)
        for n, response_format in enumerate(formats):
            options: dict[str, Any] = {}
            if response_format is not None:
                options["response_format"] = response_format
            try:
                completion = self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=0.0,
                    max_tokens=MAX_TOKENS,
                    **options,
                )
            except openai.APIStatusError as exc:
                if exc.status_code in REFUSAL_STATUSES and n + 1 < len(formats):
                    continue
                raise BackendUnavailable(
                    f"HTTP {exc.status_code} from {self.base_url} for model {self.model!r}: "
                    f"{str(exc.message)[:200]}"
                ) from exc
            except openai.APIConnectionError as exc:
                raise BackendUnavailable(
                    f"cannot reach the model server at {self.base_url}"
                ) from exc
            choice = completion.choices[0] if completion.choices else None
            return (choice.message.content or "") if choice is not None else ""
        raise BackendUnavailable(f"the model server at {self.base_url} refused every request")


class LocalSchemeModel:
    """The ``scheme`` task decoded greedily by the ``local`` backend's model, in process."""

    name = "local"

    def __init__(self, backend: LocalBackend, max_new_tokens: int = MAX_TOKENS) -> None:
        self._backend = backend
        self.model = backend.model_name
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's greedy answer."""
        import torch

        backend = self._backend
        inputs = backend.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(backend.device)
        start = int(inputs["input_ids"].shape[1])
        with self._lock, torch.inference_mode():
            output = backend.model.generate(
                **inputs,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=backend.tokenizer.pad_token_id,
            )
        text: str = backend.tokenizer.decode(output[0, start:], skip_special_tokens=True)
        return text


class ModelNotConfigured(ValueError):
    """A model backend was asked for whose settings are missing."""


def model_from_settings(name: str, settings: Settings) -> SchemeModel | None:
    """The scheme model for backend ``name`` (``llm``, ``local``; ``auto``: whichever is
    configured, else ``None``); raises :class:`ModelNotConfigured` for a named backend whose
    settings are missing, and for ``memory`` returns ``None``."""
    if name == "memory":
        return None
    if name in ("llm", "auto") and settings.llm_base_url:
        return ServedSchemeModel(
            settings.llm_base_url,
            settings.llm_model,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
            structured=settings.llm_structured,
        )
    if name in ("local", "auto") and settings.local_model_dir:
        from ledgerpilot.agent.backends.local import LocalBackend

        return LocalSchemeModel(
            LocalBackend(settings.local_model_dir, adapters=settings.local_adapters)
        )
    if name == "llm":
        raise ModelNotConfigured(
            "the llm backend needs a model server: set LEDGERPILOT_LLM_BASE_URL (and "
            "LEDGERPILOT_LLM_MODEL)"
        )
    if name == "local":
        raise ModelNotConfigured(
            "the local backend needs a model directory: set LEDGERPILOT_LOCAL_MODEL_DIR"
        )
    if name == "auto":
        return None
    raise ModelNotConfigured(f"unknown backend {name!r}; one of memory, llm, local, auto")
