"""The e-mail channel: an SMTP server (server.py) that reads a message defensively into a submission
for the intake (parse.py, through limits.py's caps and refusals, mime.py's parts, headers.py, links.py,
decode.py, html.py's linear reader, topic.py's guesses, clean.py), and replies through the outbox
(replies.py)."""
