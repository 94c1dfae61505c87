"""A submission becoming a report: the one intake (intake.py), which validates and builds it
(build.py, schemas/), normalizes its URLs (urls/) and redacts its free text (redaction.py)."""
