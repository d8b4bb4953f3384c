"""A public app's quotas per owner, on a real gallery: images kept, bytes kept and imports a
minute, each refused with one sentence before anything is written."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio.context import LocalContext
from PIL import Image

from gallery.errors import GalleryError
from gallery.records import NewGeneration
from gallery.store import GalleryStore
from ui.hosting.mode import Hosting, Limits
from ui.hosting.visitors import VisitorGallery, Visitors


@contextlib.contextmanager
def visiting(name: str):
    token = LocalContext.request.set(SimpleNamespace(username=name, session_hash=f"s-{name}"))
    try:
        yield
    finally:
        LocalContext.request.reset(token)


def item(seed: int) -> NewGeneration:
    image = Image.new("RGB", (32, 32), (seed * 30 % 256, 10, 10))
    return NewGeneration(prompt="a fox", seed=seed, image=image, model_id="demo")


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, seed * 30 % 256, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened


def gallery(store, **limits) -> VisitorGallery:
    hosting = Hosting(public=True, limits=Limits(**limits))
    return VisitorGallery(store, Visitors(hosting))


def test_an_owner_keeps_at_most_so_many_images(store):
    visitor = gallery(store, max_images_per_owner=3)
    with visiting("ada"):
        visitor.record_generations([item(1), item(2)])
        with pytest.raises(GalleryError, match="Your gallery is full \\(3 images here\\)"):
            visitor.record_generations([item(3), item(4)])
        assert visitor.usage()[0] == 2  # nothing of the refused batch was written
        visitor.record_generation(item(5))
    with visiting("grace"):  # another owner has their own room
        visitor.record_generation(item(6))


def test_an_owner_keeps_at_most_so_many_bytes(store, tmp_path):
    visitor = gallery(store, max_bytes_per_owner=2000)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.png").write_bytes(png(1))
    with visiting("ada"):
        visitor.import_folder(folder)
        used = visitor.usage()[1]
        assert 0 < used < 2000
        (folder / "one.png").unlink()
        (folder / "big.png").write_bytes(png(2) + b"\0" * 2000)
        with pytest.raises(GalleryError, match="Your gallery is full \\(0 MB here\\)"):
            visitor.import_folder(folder)
        assert visitor.usage()[1] == used


def test_deleting_removes_gradios_copies(store):
    from gradio.processing_utils import save_file_to_cache
    from gradio.utils import get_upload_folder

    visitor = gallery(store)
    with visiting("ada"):
        made = visitor.record_generation(item(9))
        record = visitor.get(made)
        copies = [
            Path(save_file_to_cache(path, get_upload_folder()))  # as the Gallery tab shows it
            for path in (record.image.path, record.image.thumbnail_path)
        ]
        assert all(copy.exists() for copy in copies)
        assert visitor.delete(made) == 1
    assert not any(copy.exists() for copy in copies)


def test_imports_a_minute(store, tmp_path):
    visitor = gallery(store, imports_per_minute=2)
    folder = tmp_path / "in"
    folder.mkdir()
    with visiting("ada"):
        for seed in range(2):
            (folder / "fox.png").write_bytes(png(seed))
            assert len(visitor.import_folder(folder).imported) == 1
        with pytest.raises(GalleryError, match="import 2 times a minute here"):
            visitor.import_folder(folder)
    with visiting("grace"):
        visitor.import_folder(folder)
