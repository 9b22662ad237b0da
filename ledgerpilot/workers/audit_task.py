"""The nightly audit: beat runs every audit check over the last day's postings.

``nightly_audit(day=None)`` (beat, daily at :data:`NIGHTLY_AT`)
    Audits the entries dated ``day`` (by default yesterday, UTC), with everything before
    it as the history that rarity and surprise are judged against, writes the report
    (``report.html``, its charts, ``findings.csv``) under ``data_dir/audit/<day>/``, and
    stores the run in ledgerpilot's store, where auditors see it on the web UI's Audit page.
    Running it twice for a day writes the same report again and stores a second run (the
    page shows the newest; what auditors recorded about an entry carries over to it).
    A transient AIS error is retried with the app's backoff; the report of a day that
    failed for good can be written later with ``ledgerpilot audit --from DAY --to DAY``.

    When a local model is configured (``LEDGERPILOT_LOCAL_MODEL_DIR``, with
    ``LEDGERPILOT_LOCAL_ADAPTERS``), the day is also scored by ``lm_surprise``
    (:mod:`ledgerpilot.audit.lm_surprise`), at most ``LEDGERPILOT_AUDIT_LM_LIMIT`` entries
    (100; 0 turns it off), with the model loaded as ``ledgerpilot audit --lm-model`` loads
    it, for this run only. A model that cannot be loaded (a directory that does not exist,
    files transformers cannot read) or that fails while scoring costs only that check: the
    report is written and stored with the other checks, and the reason is logged and
    returned. The task returns the day, entries scanned, findings, the report's path, the
    stored run's id and ``lm_surprise``: ``{"scored": N, "fired": N, "model": NAME}`` when
    the model ran, ``{"scored": 0, "skipped": REASON}`` when it did not. torch and
    transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from celery import Task
from celery.schedules import crontab
from celery.utils.log import get_task_logger

from .app import QUEUE, LedgerpilotCelery
from .runtime import is_transient

if TYPE_CHECKING:
    from ledgerpilot.audit.model import AuditResult
    from ledgerpilot.config import Settings

NIGHTLY_AUDIT = "ledgerpilot.nightly_audit"
"""The task's name, as the broker carries it."""
NIGHTLY_AT = crontab(hour=2, minute=15)
"""When beat runs it (UTC): after midnight, once the day's postings are in."""

logger = get_task_logger(__name__)


def report_dir(settings: Settings, day: dt.date) -> Path:
    """Where the report of ``day`` goes: ``data_dir/audit/<day>/``."""
    return settings.data_dir / "audit" / day.isoformat()


def audit_day(settings: Settings, day: dt.date) -> dict[str, Any]:
    """Audit the entries dated ``day`` in the settings' AIS and write the report."""
    # Imported here: matplotlib and the checks are only needed when an audit runs.
    from ledgerpilot.audit.reading import entries_of
    from ledgerpilot.audit.report import JournalProfile, write_report
    from ledgerpilot.audit.run import audit_ais
    from ledgerpilot.connectors import open_ais
    from ledgerpilot.review.audit_store import AuditBook
    from ledgerpilot.review.store import ProposalStore

    out = report_dir(settings, day)
    with open_ais(settings.default_ais_url(), settings.ais_mapping) as ais:
        profile = JournalProfile()  # the report's charts, counted as the audit reads
        result = audit_ais(ais, since=day, until=day, on_document=profile.add)
        result, lm = _lm_surprise(settings, ais, result, day)
        after = day + dt.timedelta(days=1)
        profile.entries = entries_of(ais, (f.entry for f in result.findings), day, after)
        audited = ais.display_url
    paths = write_report(result, out, profile=profile)
    with ProposalStore.create(settings.default_store_url()) as store:
        run = AuditBook(store).save_run(
            result,
            source="nightly",
            ais=audited,
            entries=profile.entries,
            report_dir=str(out.resolve()),
        )
    return {
        "day": day.isoformat(),
        "entries_scanned": result.entries_scanned,
        "findings": len(result.findings),
        "report": str(paths.html),
        "run": run.id,
        "lm_surprise": lm,
    }


def _lm_surprise(
    settings: Settings, ais: Any, result: AuditResult, day: dt.date
) -> tuple[AuditResult, dict[str, Any]]:
    """``result`` with the ``lm_surprise`` check when a local model is configured, and what
    the task returns about it; ``result`` as it is when the model is not configured, cannot
    be loaded or fails (a transient AIS error is raised, for the task's retry)."""
    from ledgerpilot.audit.lm_surprise import CHECK, add_lm_surprise, configured_scorer

    setup = configured_scorer(settings)
    if setup is None:
        if settings.local_model_dir:
            return result, {"scored": 0, "skipped": "turned off (LEDGERPILOT_AUDIT_LM_LIMIT=0)"}
        return result, {"scored": 0, "skipped": "no local model (LEDGERPILOT_LOCAL_MODEL_DIR)"}
    try:
        scorer = setup.load()
    except Exception as exc:  # a broken model must not cost the day its other checks
        return result, _skipped(day, f"cannot load the model {setup.model_dir}: {exc}")
    try:
        scored = add_lm_surprise(result, ais, scorer, since=day, until=day, settings=setup.check)
    except Exception as exc:
        if is_transient(exc):
            raise
        return result, _skipped(day, f"the model {scorer.name} failed while scoring: {exc}")
    summary = scored.checks[CHECK]
    return scored, {k: summary[k] for k in ("scored", "fired", "model")}


def _skipped(day: dt.date, reason: str) -> dict[str, Any]:
    """What the task returns when ``lm_surprise`` could not run, logged with its traceback."""
    logger.warning("nightly audit of %s: lm_surprise skipped: %s", day, reason, exc_info=True)
    return {"scored": 0, "skipped": reason}


def nightly_audit(self: Task[Any, Any], day: str | None = None) -> dict[str, Any]:
    """Audit ``day`` (ISO date; yesterday, UTC, by default); see the module's docstring."""
    app = cast(LedgerpilotCelery, self.app)
    when = dt.date.fromisoformat(day) if day else dt.datetime.now(dt.UTC).date() - dt.timedelta(1)
    try:
        return audit_day(app.options.settings, when)
    except Exception as exc:
        retry = app.options.retry
        if not is_transient(exc) or self.request.retries >= retry.max_retries:
            raise
        delay = min(retry.first_delay * 2**self.request.retries, retry.max_delay)
        raise self.retry(
            exc=exc,
            countdown=delay * (1 + 0.2 * random.random()),
            args=(when.isoformat(),),
            max_retries=retry.max_retries,
        ) from exc


def register(app: LedgerpilotCelery) -> None:
    """Register the task on ``app`` and put it on beat's schedule."""
    app.task(name=NIGHTLY_AUDIT, bind=True)(nightly_audit)
    app.conf.beat_schedule = {
        **app.conf.beat_schedule,
        "nightly-audit": {
            "task": NIGHTLY_AUDIT,
            "schedule": NIGHTLY_AT,
            "options": {"queue": QUEUE},
        },
    }
