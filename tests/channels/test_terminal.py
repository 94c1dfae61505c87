"""The terminal channel: numbered choices, real queue; and `frontdoor chat` as a real process."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from frontdoor.channels.terminal import TerminalChannel, inbound_for, render
from frontdoor.dialog.messages import Message, QuickReply, ResourceCard
from frontdoor.dialog.store import ConversationStore
from frontdoor.queue import TriageQueue
from support.dialog import dialog_parts


def test_render_numbers_choices_and_shows_resource_phones() -> None:
    text, numbers = render([Message("Pick one", (QuickReply("First", "a"), QuickReply("Second", "b")), "choice"),
                            Message("Help", resources=(ResourceCard("Line", "Call us", "https://example.com/", "0800 000", "tel:0800000"),))],
                           "de")
    assert "  1. First" in text and "  2. Second" in text and "Telefon: 0800 000" in text
    assert numbers == {"1": "a", "2": "b"}
    assert inbound_for("2", numbers).payload == "b"
    assert inbound_for("22", numbers).text == "22"


async def test_chat_walks_a_report_to_its_receipt(redis, keyring) -> None:
    queue = TriageQueue(redis)
    await queue.setup()
    dialog = dialog_parts(queue, keyring).dialog(ConversationStore(redis))
    lines = iter(["1", "1", "https://example.com/terminal", "1", "skip", "2", "4", "skip", "skip", "1", "5"])
    out = io.StringIO()
    last = await TerminalChannel(dialog, read=lambda: next(lines), out=out).converse()
    screen = out.getvalue()
    receipt = re.search(r"receipt code is ([0-9A-Z]{5}-[0-9A-Z]{5})", screen)
    assert receipt, screen
    assert await queue.receipt_status(receipt.group(1)) == "received"
    assert last.status == "closed"  # the last choice was "Goodbye"


def test_frontdoor_chat_as_a_process(redis_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRONTDOOR_")}
    env.update(FRONTDOOR_REDIS_URL=redis_url, FRONTDOOR_DATA_DIR=str(tmp_path), FRONTDOOR_HOTLINE_NAME="Example Hotline")
    answers = "\n".join(["1", "1", "https://example.com/process", "1", "skip", "2", "4", "skip", "skip", "1"]) + "\n"
    result = subprocess.run([sys.executable, "-m", "frontdoor", "chat", "--language", "fr"], input=answers, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Example Hotline" in result.stdout and "Merci" in result.stdout
    assert re.search(r"[0-9A-Z]{5}-[0-9A-Z]{5}", result.stdout)
