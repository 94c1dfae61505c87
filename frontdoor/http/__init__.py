"""What every HTTP route shares: errors as JSON `{error, message}` (errors.py), security headers
(security.py), rate limits per client (ratelimit.py), a global pace for receipt look-ups (pace.py)
and the one template environment (templates.py)."""
