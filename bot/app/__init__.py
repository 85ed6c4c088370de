"""The composition root: the one place that picks the store, the backend and the
adapters and wires them to the engine — `core` (what every way of running shares),
`serve` (`clipbot run` and `chat`), `oneshot` (`clipbot animate`)."""
