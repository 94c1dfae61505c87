"""frontdoor: the public reporting front door of an Internet hotline.

Reports arrive anonymously through channels, are redacted and de-duplicated into
cases on a Redis triage queue, and analysts assess, forward and get them taken down.
"""

__version__ = "0.1.0"
