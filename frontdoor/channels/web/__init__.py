"""The web channels: the chat widget's JSON turns (chat.py) and the no-JavaScript form (form.py) with
its receipt page (receipt.py), what their pages share (pages.py), their static files and templates.
Both answer within the request and keep nothing in the outbox."""
