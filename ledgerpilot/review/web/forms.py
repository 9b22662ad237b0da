"""What the HTML pages share: reading forms, redirecting after a post, who may do what.

Forms post back and are answered with a redirect (post/redirect/get) when they succeed, or
the same page with the error and its status code (403, 409, 422) when they do not. A
browser that is not signed in is sent to the sign-in page (303) rather than shown a 401.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from .auth import Principal, require
from .site import root

NOTICES = {
    "approved": "Approved. The workers have been asked to post it to the AIS.",
    "approved-held": "Approved. No worker took it yet: it is posted by the workers' next "
    "sweep, or by `ledgerpilot post`.",
    "unchanged": "It was approved already; nothing changed.",
    "rejected": "Rejected. The document may be drafted again.",
    "edited": "Lines saved. The proposal waits for an approver.",
    "user-added": "User added.",
    "user-deactivated": "User deactivated; their sessions have ended.",
    "user-activated": "User activated.",
}
"""Messages shown after a redirect (``?done=...``): fixed texts, never echoed input."""

Viewer = Annotated[Principal, Depends(require("view"))]
Editor = Annotated[Principal, Depends(require("edit"))]
Approver = Annotated[Principal, Depends(require("decide"))]
BulkApprover = Annotated[Principal, Depends(require("bulk_approve"))]
Auditor = Annotated[Principal, Depends(require("audit"))]
Admin = Annotated[Principal, Depends(require("users"))]
SignedIn = Annotated[Principal, Depends(require(None))]


async def read_form(request: Request) -> FormData:
    """The request's form (parsed once; the CSRF check reads the same)."""
    return await request.form()


Form = Annotated[FormData, Depends(read_form)]


def field(form: FormData, name: str, limit: int = 2000) -> str:
    """A form field's text, stripped and cut at ``limit`` (blank when absent)."""
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def fields(form: FormData, name: str, limit: int = 1000) -> list[str]:
    """Every value of a repeated form field (the columns of the line editor)."""
    return [v[:limit] if isinstance(v, str) else "" for v in form.getlist(name)]


def redirect(request: Request, path: str, **query: str) -> RedirectResponse:
    """See-other to a path of the app."""
    suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
    return RedirectResponse(f"{root(request)}{path}{suffix}", status_code=303)


def notice(done: str | None) -> str | None:
    """The message for a ``?done=`` code, if it is one of ours."""
    return NOTICES.get(done or "")
