"""Celery app, tasks and schedules that run drafting, decisions, polling and audits."""
