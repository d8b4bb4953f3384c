"""`serve`'s start: the model to start with is chosen while the page's libraries import."""

from __future__ import annotations

import threading

import engine.default_model as default_model
from ui.cli.serve import default_model_in_background


def test_a_chosen_model_is_used_as_given():
    choice = default_model_in_background("demo").result(timeout=5)
    assert choice.model == "demo" and choice.reason == "Using demo."


def test_the_hub_is_asked_in_another_thread_and_its_answer_kept(monkeypatch):
    """The hub is mocked (it cannot be reached here): it answers once the test lets it."""
    answer = threading.Event()
    asked_from: list[str] = []

    def hub_answers(repo_id: str, timeout: float) -> bool:
        asked_from.append(threading.current_thread().name)
        return answer.wait(30)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(default_model, "_in_local_cache", lambda repo_id: False)
    monkeypatch.setattr(default_model, "_hub_answers", hub_answers)
    choosing = default_model_in_background(None)
    assert not choosing.done()  # the caller goes on (importing gradio) meanwhile
    answer.set()
    choice = choosing.result(timeout=30)
    assert choice.model == default_model.DEFAULT_HUB_MODEL
    assert asked_from and asked_from[0] != threading.current_thread().name
