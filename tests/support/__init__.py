"""What the tests share: servers, clients and builders."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: tests/support/ is two levels down
