"""Proposal store, decisions and audit trail, and the approval web UI and JSON API."""
