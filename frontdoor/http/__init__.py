"""What every HTTP route shares: errors as JSON `{error, message}` (errors.py), security headers
(security.py), rate limits (ratelimit.py) and the one template environment (templates.py)."""
