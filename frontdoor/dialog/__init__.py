"""The channel-neutral guided reporting dialog (rasa-sdk based), added in the next issue."""
