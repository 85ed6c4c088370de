"""The backends behind `bot.ports.backend.Backend`: Nemo (cloud) and the local renderer."""
