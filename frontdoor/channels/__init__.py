"""The ways in for reporters, one module or small package each, all to the contract in base.py:
web/ (chat widget and no-JS form), email/, terminal.py (`frontdoor chat`), and messaging.py, the
part every webhook channel (Telegram, WhatsApp, SMS) shares. A channel turns its transport into the
dialog's turns or the intake's submissions, and never decides anything about a report itself.
"""
