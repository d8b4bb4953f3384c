"""Admission at queue join: a public app counts each visitor's events waiting or running in
Gradio's queue and refuses a join over the bound at once, with one sentence, before Gradio
makes the event (or the page state of a new session hash).

- Each visitor (their rate key: a signed-in account, else their network address) has at most
  `Limits.events_per_visitor` events in the queue, and at most `Limits.runs_per_visitor` of
  the heavy ones (the `generate` concurrency group: Generate, Compare, Regenerate, the API).
- Signed-out callers together hold at most `Limits.anonymous_queued` heavy events, so that
  addresses minted at will cannot fill the queue for signed-in visitors.

Without this, one visitor could join the queue 70 times with fresh session hashes and every
other visitor would read "Queue is full" until the first job ended: the per-visitor checks of
`ui.hosting.admission` run only when a job starts.
"""

from __future__ import annotations

import uuid
from typing import Any

from ui.hosting.mode import Limits
from ui.hosting.visitors import Visitors

HEAVY = "generate"  # the concurrency id of every pipeline run


class JoinGate:
    """Wraps `Queue.push` of a launched app's queue (see the module docstring)."""

    def __init__(self, blocks: Any, visitors: Visitors, limits: Limits) -> None:
        self.blocks = blocks
        self.visitors = visitors
        self.limits = limits
        self._held: dict[str, tuple[str, bool, bool]] = {}  # event id -> key, heavy, signed out

    def install(self) -> None:
        """Put the gate in front of the app's queue."""
        queue = self.blocks._queue
        if getattr(queue, "_atelier_gate", None) is self:
            return
        self._push = queue.push
        queue.push = self.push
        queue._atelier_gate = self

    def refusal(self, key: str, heavy: bool, signed_out: bool) -> str | None:
        """The sentence refusing one more event of `key`, or None when it may join."""
        self._forget_finished()
        mine = [held for held in self._held.values() if held[0] == key]
        if heavy and sum(1 for held in mine if held[1]) >= self.limits.runs_per_visitor:
            return "You already have a generation waiting or running; wait for it to finish."
        if len(mine) >= self.limits.events_per_visitor:
            return "You have too many requests waiting; wait for them to finish."
        if heavy and signed_out:
            waiting = sum(1 for held in self._held.values() if held[1] and held[2])
            if waiting >= self.limits.anonymous_queued:
                return "This app is busy with signed-out visitors; sign in or try again soon."
        return None

    async def push(self, body: Any, request: Any, username: str | None) -> Any:
        """`Queue.push`, after the visitor's bounds; a refused join leaves nothing behind."""
        fn = self.blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        if fn is None:
            return await self._push(body, request, username)
        visitor = self.visitors.visitor(_GateRequest(request, username, body.session_hash))
        key = visitor.rate_key
        heavy = fn.concurrency_id == HEAVY
        signed_out = not visitor.signed_in
        sentence = self.refusal(key, heavy, signed_out)
        if sentence is not None:
            return False, sentence, "error"
        placeholder = "pending:" + uuid.uuid4().hex  # held while Gradio makes the event
        self._held[placeholder] = (key, heavy, signed_out)
        try:
            success, event_id, state = await self._push(body, request, username)
        finally:
            del self._held[placeholder]
        if success and isinstance(event_id, str):
            self._held[event_id] = (key, heavy, signed_out)
        return success, event_id, state

    def _forget_finished(self) -> None:
        live = self.blocks._queue.event_ids_to_events
        for event_id in [e for e in self._held if not e.startswith("pending:")]:
            if event_id not in live:
                del self._held[event_id]


class _GateRequest:
    """What `Visitors.visitor` reads of a request, at queue join (before Gradio's own
    `gr.Request` exists)."""

    def __init__(self, request: Any, username: str | None, session_hash: str | None) -> None:
        self.request = request
        self.username = username
        self.session_hash = session_hash
        self.headers = getattr(request, "headers", None)
        self.client = getattr(request, "client", None)
