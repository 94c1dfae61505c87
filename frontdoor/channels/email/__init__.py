"""The e-mail channel: an SMTP server (server.py) that reads a message defensively (parse.py,
decode.py, html.py, topic.py) into a submission for the intake, and replies through the outbox
(replies.py)."""
