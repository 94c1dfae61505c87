"""The Redis-backed triage queue. Never a top-level `queue`: that would hide the stdlib module redis-py imports."""

from .triage import AlreadySubmitted, Submitted, TriageQueue

__all__ = ["AlreadySubmitted", "Submitted", "TriageQueue"]
