"""The channel-neutral guided dialog: one conversation per reporter pseudonym, stored in Redis
(store.py), stepped by the engine (engine.py) through rasa-sdk form actions (form.py, actions.py),
worded per locale (i18n.py, locales/). It submits through the intake like every other channel."""
