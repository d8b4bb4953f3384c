"""The default model: a real one when cached (or the hub answers), else the shipped sketch
model (else the demo), said plainly."""

import engine.default_model
from engine.default_model import choose_default_model


def test_offline_without_cache_falls_back_to_the_sketch_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    choice = choose_default_model("stabilityai/sd-turbo")
    assert choice.is_sketch and not choice.is_demo
    assert "sketch model" in choice.reason and "HF_HUB_OFFLINE" in choice.reason
    assert "circle" in choice.reason and "night" in choice.reason  # says what it can draw


def test_without_the_sketch_weights_the_demo_is_the_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(engine.default_model, "sketch_model_available", lambda: False)
    choice = choose_default_model("stabilityai/sd-turbo")
    assert choice.is_demo
    assert "demo model" in choice.reason and "HF_HUB_OFFLINE" in choice.reason


def test_a_cached_real_model_is_preferred(tmp_path, monkeypatch):
    # A hub cache laid out as huggingface_hub writes it (the hub itself cannot be reached here).
    repo = tmp_path / "models--stabilityai--sd-turbo"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "model_index.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    choice = choose_default_model("stabilityai/sd-turbo")
    assert choice.model == "stabilityai/sd-turbo"
    assert not choice.is_demo
