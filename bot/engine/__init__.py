"""The conversation engine: every platform's messages in, replies and clips out.

- `intake`: accepting a message — quick answers at once, work into the chat's lane;
- `request`: running one request — upload, the agent's turn, the answer, recovery;
- `export`: rendering the project and delivering the clip.
"""

from __future__ import annotations

from bot.engine.intake import Engine

__all__ = ["Engine"]
