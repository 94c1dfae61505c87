"""Redis: the one place a client is made (client.py), every key frontdoor writes (keys.py), Lua
loaded from .lua files (scripts.py), and the embedded redis-server `frontdoor serve` runs (server.py)."""
