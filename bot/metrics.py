"""The bot's Prometheus metrics (prometheus-client), kept in one registry, and the few
functions the code calls at named points to move them:

- `answered`, `finished`: a request's intent and outcome — at intake for the quick
  answers, at the request's last state for queued work;
- `refused`: a request turned away at intake, by reason (the gate);
- `clip`: a delivered clip, its time from message to chat and its render time;
- `backend_error`: a backend error by code (Nemo's error codes, HTTP statuses);
- `rate_limited`: a platform made the bot wait (Telegram's flood control, Discord's 429);
- `set_queue`: the requests running and waiting, set when `/metrics` is read.

`exposition()` is what the side server's `/metrics` answers.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

REGISTRY = CollectorRegistry()
# Memory, CPU and open files of the bot's process: the first thing an operator looks at.
ProcessCollector(registry=REGISTRY)

_REQUESTS = Counter(
    "clipbot_requests",
    "Requests by intent and outcome (answered, done, failed, refused).",
    ["intent", "outcome"],
    registry=REGISTRY,
)
_FAILURES = Counter(
    "clipbot_failures", "Failed requests by kind of error.", ["kind"], registry=REGISTRY
)
_REFUSALS = Counter(
    "clipbot_refusals",
    "Requests refused at intake, by reason (not_allowed, blocked, clips_per_day, queue, credits).",
    ["reason"],
    registry=REGISTRY,
)
_CLIPS = Counter(
    "clipbot_clips", "Clips delivered, as a file or a share link.", ["delivery"], registry=REGISTRY
)
_TIME_TO_CLIP = Histogram(
    "clipbot_time_to_clip_seconds",
    "From the user's message to the clip handed to the chat.",
    buckets=(5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200),
    registry=REGISTRY,
)
_RENDER_TIME = Histogram(
    "clipbot_render_seconds",
    "From asking the backend for the MP4 to having it.",
    buckets=(1, 2, 3, 5, 8, 12, 20, 30, 45, 60, 120, 300, 600),
    registry=REGISTRY,
)
_QUEUE = Gauge(
    "clipbot_queue_depth", "Requests in the chats' queues.", ["state"], registry=REGISTRY
)
_BACKEND_ERRORS = Counter(
    "clipbot_backend_errors",
    "Backend errors by code (Nemo's error codes and HTTP statuses; else the error's kind).",
    ["backend", "code"],
    registry=REGISTRY,
)
_RATE_LIMITS = Counter(
    "clipbot_rate_limit_waits",
    "Times a chat platform made the bot wait (HTTP 429).",
    ["platform"],
    registry=REGISTRY,
)
_RATE_LIMIT_SECONDS = Counter(
    "clipbot_rate_limit_wait_seconds",
    "Seconds the bot waited on chat platforms' rate limits.",
    ["platform"],
    registry=REGISTRY,
)


def answered(intent: str) -> None:
    """A request answered at once (help, status, credits, quota, an admin command)."""
    _REQUESTS.labels(intent, "answered").inc()


def finished(intent: str, outcome: str, kind: str | None = None) -> None:
    """A queued request reached its last state; `kind` names a failure's error."""
    _REQUESTS.labels(intent, outcome).inc()
    if outcome == "failed":
        _FAILURES.labels(kind or "unknown").inc()


def refused(intent: str, reason: str) -> None:
    """A request refused before any work."""
    _REQUESTS.labels(intent, "refused").inc()
    _REFUSALS.labels(reason).inc()


def clip(delivery: str, seconds: float, render_s: float) -> None:
    """A clip reached its chat `seconds` after the message; the render took `render_s`."""
    _CLIPS.labels(delivery).inc()
    _TIME_TO_CLIP.observe(seconds)
    _RENDER_TIME.observe(render_s)


def backend_error(backend: str, code: str) -> None:
    """A backend answered with an error."""
    _BACKEND_ERRORS.labels(backend, code).inc()


def rate_limited(platform: str, seconds: float) -> None:
    """A platform asked the bot to wait `seconds` before calling again."""
    _RATE_LIMITS.labels(platform).inc()
    _RATE_LIMIT_SECONDS.labels(platform).inc(max(0.0, seconds))


def set_queue(running: int, waiting: int) -> None:
    """The requests running and waiting now."""
    _QUEUE.labels("running").set(running)
    _QUEUE.labels("waiting").set(waiting)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
