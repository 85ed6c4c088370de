"""The local renderer: the embedded default backend (no account, no network, no GPU)."""
