"""Admission at queue join, and the caller's address behind a proxy, without a server (the
server-level flood is in test_abuse.py)."""

from __future__ import annotations

from types import SimpleNamespace

from ui.hosting.join_gate import JoinGate
from ui.hosting.mode import Hosting, Limits
from ui.hosting.visitors import Visitors, client_address


def gate(**limits) -> JoinGate:
    hosting = Hosting(public=True, limits=Limits(**limits))
    blocks = SimpleNamespace(_queue=SimpleNamespace(event_ids_to_events={}), fns={})
    return JoinGate(blocks, Visitors(hosting), hosting.limits)


def test_a_visitor_holds_one_run_and_a_few_events():
    door = gate(runs_per_visitor=1, events_per_visitor=3)
    live = door.blocks._queue.event_ids_to_events
    assert door.refusal("addr:a", heavy=True, signed_out=True) is None
    door._held["e1"], live["e1"] = ("addr:a", True, True), object()
    assert "already have a generation" in door.refusal("addr:a", heavy=True, signed_out=True)
    assert door.refusal("addr:b", heavy=True, signed_out=True) is None
    door._held["e2"], live["e2"] = ("addr:a", False, True), object()
    door._held["e3"], live["e3"] = ("addr:a", False, True), object()
    assert "too many requests" in door.refusal("addr:a", heavy=False, signed_out=True)
    del live["e1"], live["e2"]  # finished: the visitor may join again
    assert door.refusal("addr:a", heavy=True, signed_out=True) is None


def test_signed_out_callers_together_leave_room_for_signed_in_ones():
    door = gate(anonymous_queued=2)
    live = door.blocks._queue.event_ids_to_events
    for n in range(2):
        door._held[f"e{n}"], live[f"e{n}"] = (f"addr:forged-{n}", True, True), object()
    assert "busy with signed-out visitors" in door.refusal("addr:new", True, True)
    assert door.refusal("hf:ada", heavy=True, signed_out=False) is None


def request(forwarded: str, host: str = "10.0.0.1") -> SimpleNamespace:
    client = SimpleNamespace(host=host)
    return SimpleNamespace(headers={"x-forwarded-for": forwarded}, client=client)


def test_the_address_is_the_hop_the_proxy_added_not_what_the_caller_wrote():
    for forged in ("1.2.3.4", "5.6.7.8, 9.9.9.9", "evil"):
        seen = client_address(request(f"{forged}, 198.51.100.4"), behind_proxy=True)
        assert seen == "198.51.100.4"
    assert client_address(request("198.51.100.4, 10.0.0.1"), behind_proxy=True) == "198.51.100.4"
    assert client_address(request("198.51.100.4"), behind_proxy=False) == "10.0.0.1"
