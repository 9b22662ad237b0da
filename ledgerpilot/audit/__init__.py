"""Journal entry tests, Benford analysis, model-based surprise and the audit report."""

from .model import AuditResult, AuditSettings, Finding, Reason
from .run import audit_ais, run_audit

__all__ = ["AuditResult", "AuditSettings", "Finding", "Reason", "audit_ais", "run_audit"]
