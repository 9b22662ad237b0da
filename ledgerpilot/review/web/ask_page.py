"""The Ask page: the accounting assistant in the web UI (clerks and up).

A conversation lives in the store as a LangGraph thread of its user
(``ask:<user>:<conversation>``, :mod:`ledgerpilot.assistant.conversation`); the page shows
its questions and answers and asks the next one (post/redirect/get). The answers' evidence
links to the posted documents (``/ask/documents/<id>``: the document and its entry with the
chart's account names). A conversation id from the query string is only ever read within
the signed-in user's own threads.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ledgerpilot.ledger import ChartOfAccounts

from .auth import Principal, require
from .forms import Form, field, redirect
from .site import render, root

router = APIRouter(include_in_schema=False)

Asker = Annotated[Principal, Depends(require("ask"))]
MAX_QUESTION = 500
_CONVERSATION = re.compile(r"[A-Za-z0-9_-]{8,64}")
EXAMPLES = (
    "How do I post a phone bill?",
    "Kako knjižiti najam ureda za 1.250,00 bruto po 25%?",
    "Wie buche ich die Stromrechnung?",
)
"""Example questions offered on an empty conversation."""
STATUS_LABELS = {
    "answered": "answered",
    "varies": "posted in several ways",
    "disagree": "backends disagree",
    "nothing_fits": "nothing fits",
    "unclear": "unclear",
    "refused": "not shown",
    "unavailable": "model unavailable",
}


def _service(request: Request) -> Any:
    """The app's assistant (``None`` when the server was started without one)."""
    return getattr(request.app.state, "assistant", None)


def _thread(who: Principal, conversation: str) -> str:
    owner = re.sub(r"[^A-Za-z0-9_.@-]", "-", who.user.name)[:64] or "anyone"
    return f"ask:{owner}:{conversation}"


def _conversation(value: str | None) -> str | None:
    return value if value and _CONVERSATION.fullmatch(value) else None


def _page(
    request: Request,
    who: Principal,
    conversation: str,
    *,
    error: str | None = None,
    question: str = "",
    backend: str | None = None,
    status_code: int = 200,
) -> Response:
    service = _service(request)
    turns: list[dict[str, Any]] = []
    backends: tuple[str, ...] = ()
    if service is not None:
        turns = service.conversation(_thread(who, conversation))
        backends = service.backends
    return render(
        request,
        "ask.html",
        who,
        {
            "available": service is not None,
            "turns": turns,
            "conversation": conversation,
            "backends": backends,
            "backend": backend or (backends[0] if backends else "memory"),
            "question": question,
            "examples": EXAMPLES,
            "labels": STATUS_LABELS,
            "error": error,
        },
        status_code=status_code,
        nav="ask",
    )


@router.get("/ask")
def ask_page(request: Request, who: Asker, c: str | None = None) -> Response:
    """The conversation ``c`` (a new one without it), and the question form."""
    conversation = _conversation(c) or secrets.token_urlsafe(12)
    return _page(request, who, conversation)


@router.post("/ask")
async def ask_question(request: Request, who: Asker, form: Form) -> Response:
    """Ask a question in a conversation; back to the conversation, at its answer."""
    from ledgerpilot.assistant import ModelNotConfigured, QuestionError

    conversation = _conversation(field(form, "c", 64)) or secrets.token_urlsafe(12)
    question = field(form, "question", MAX_QUESTION) or field(form, "example", MAX_QUESTION)
    service = _service(request)
    backend = field(form, "backend", 16) or (service.backends[0] if service else "memory")
    if service is None:
        return await run_in_threadpool(
            _page, request, who, conversation, error="The assistant is not set up on this server.",
            status_code=503,
        )  # fmt: skip
    if backend not in service.backends:
        return await run_in_threadpool(
            _page, request, who, conversation, question=question,
            error=f"The backend {backend!r} is not offered here; choose one of "
            f"{', '.join(service.backends)}.", status_code=422,
        )  # fmt: skip
    try:
        turn = await run_in_threadpool(service.ask, _thread(who, conversation), question, backend)
    except (QuestionError, ModelNotConfigured) as exc:
        return await run_in_threadpool(
            _page, request, who, conversation, question=question, backend=backend,
            error=str(exc), status_code=422,
        )  # fmt: skip
    del turn
    response = redirect(request, "/ask", c=conversation)
    response.headers["location"] += "#latest"
    return response


@router.get("/ask/documents/{document_id}")
def evidence_document(request: Request, who: Asker, document_id: str) -> Response:
    """A posted document an answer rests on, with its entry and the chart's account names."""
    service = _service(request)
    document = service.document(document_id[:200]) if service is not None else None
    if document is None:
        return render(
            request,
            "error.html",
            who,
            {
                "heading": "Not found",
                "message": f"The AIS has no document {document_id[:200]!r}.",
                "back": f"{root(request)}/ask",
            },
            status_code=404,
        )
    chart: ChartOfAccounts = service.assistant.chart()
    lines = []
    if document.entry is not None:
        for ln in document.entry.lines:
            account = chart.get(ln.account)
            lines.append(
                {
                    "account": ln.account,
                    "name": account.name if account else None,
                    "local_name": account.local_name if account else None,
                    "debit": ln.debit,
                    "credit": ln.credit,
                    "description": ln.description,
                }
            )
    return render(
        request,
        "ask_document.html",
        who,
        {"doc": document, "lines": lines},
        nav="ask",
    )
