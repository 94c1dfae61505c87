"""Channels: one module each (web, email, telegram, whatsapp, sms), added in later issues.

A channel turns its transport's messages into dialog turns and the dialog's replies back
into its transport; it never decides anything about a report itself. Until the dialog
exists, the structured API (`POST /api/v1/reports`, channel "api") is the way in.
"""
