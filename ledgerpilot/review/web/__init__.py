"""The approval web UI and its JSON API: :func:`create_app` builds the FastAPI app.

``ledgerpilot web`` serves it; reviewers sign in, work through the queue, look at each
document beside its proposed entry, edit lines with live validation, approve or reject.
"""

from .app import create_app

__all__ = ["create_app"]
