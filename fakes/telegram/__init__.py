"""A fake Telegram Bot API server and builders of the updates it hands out."""
