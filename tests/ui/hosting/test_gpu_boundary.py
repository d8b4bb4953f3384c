"""The GPU boundary: every path that runs the pipeline enters the ZeroGPU function
(`ui.hosting.zerogpu.run_on_gpu`, `@spaces.GPU` on a Space, the plain function here) once per
batch: a Generate batch image by image, each comparison or ablation batch, a regeneration.

Off Spaces `spaces.GPU` returns the function unchanged, so counting its calls counts what would
be GPU allocations on ZeroGPU; the calls and events must pickle (they cross into the worker
process there)."""

from __future__ import annotations

import pickle
import threading

import pytest
from PIL import Image

from engine.request import GenerationRequest, ImageSpec
from gallery.owners import LOCAL_OWNER
from gallery.store import GalleryStore
from ui.compare import handlers as compare
from ui.gallery_tab.reproduce import regenerate_from_record
from ui.generate.api import generate as generate_api
from ui.generate.handlers import RunRegistry, generate_images, read_form
from ui.hosting import zerogpu
from ui.recording import record_result

SMALL = {"model": "demo", "steps": 2, "width": 64, "height": 64}


@pytest.fixture
def entries(monkeypatch):
    """Each entry into the GPU function: the number of pipeline calls and of images in it."""
    seen: list[tuple[int, int]] = []
    real = zerogpu.run_on_gpu

    def counting(key, calls):
        seen.append((len(calls), sum(call.images for call in calls)))
        return real(key, calls)

    monkeypatch.setattr(zerogpu, "run_on_gpu", counting)
    return seen


@pytest.fixture
def store(tmp_path):
    with GalleryStore.open(tmp_path / "gallery") as opened:
        yield opened.for_owner(LOCAL_OWNER)


def test_a_generate_batch_of_three_is_one_gpu_entry_with_one_worker(hosted, entries):
    workers = set()
    outputs = []
    for out in generate_images(hosted, read_form({"prompt": "a fox", "num_images": 3, **SMALL})):
        outputs.append(out)
        workers.add(len([t for t in threading.enumerate() if t.name == "pipeline"]))
    assert outputs[-1].seeds == [outputs[-1].seeds[0] + k for k in range(3)]  # three kept
    assert sum("image 3 of 3" in str(out.info) for out in outputs) > 0  # streamed per image
    assert entries == [(3, 3)]  # one entry, one pipeline call per image
    assert workers <= {0, 1}  # one thread and queue between the page and the engine


def test_skip_and_stop_act_inside_the_one_entry(hosted, entries):
    runs = RunRegistry()
    form = read_form({"prompt": "a fox", "seed": 4, "num_images": 3, **SMALL, "steps": 3})
    outputs = []
    for out in generate_images(hosted, form, runs=runs):
        outputs.append(out)
        if "Step 1 of 3 · image 2" in str(out.info):
            assert runs.skip("local")
    assert outputs[-1].seeds == [4, 5] and outputs[-1].info.startswith("**Skipped** the rest")
    assert entries == [(3, 3)]


def test_the_api_generate_is_one_gpu_entry(hosted, entries):
    images, summary = generate_api(
        hosted, "demo", None, {"prompt": "a fox", "seed": 2, "num_images": 2, **SMALL}
    )
    assert summary["seeds"] == [2, 3] and len(images) == 2
    assert entries == [(1, 2)]  # one batched pipeline call


def test_a_comparison_is_one_gpu_entry_per_batch(hosted, store, entries):
    page = {"variants": [["a", "a red fox"], ["b", "a blue fox"]], "seeds": "1, 2", **SMALL}
    list(compare.run_comparison(hosted, store, compare.read_form(page)))
    assert entries == [(1, 4)]  # 2 variants × 2 seeds share their settings: one batch
    entries.clear()
    axis = {**page, "axis_name": "steps", "axis_values": "1, 2"}
    list(compare.run_comparison(hosted, store, compare.read_form(axis)))
    assert entries == [(1, 4), (1, 4)]  # two step counts: two batches, one entry each


def test_an_ablation_is_one_gpu_entry_per_batch(hosted, store, entries):
    page = {"ablate": "a fox, snow, night", "seeds": "5", **SMALL}
    events = list(compare.run_comparison(hosted, store, compare.read_form(page)))
    experiment = store.get_experiment(events[-1][2])
    assert experiment.kind == "ablation" and len(experiment.cells) == 4
    assert entries == [(1, 4)]


def test_regenerate_from_record_is_one_gpu_entry(engine, hosted, store, entries):
    result = engine.generate(GenerationRequest("a fox", seed=3, steps=2, width=64, height=64))
    (generation_id,) = record_result(store, result)
    assert "identical" in regenerate_from_record(hosted, store, generation_id)
    assert entries == [(1, 1)]


def test_calls_and_events_cross_a_process_boundary(engine):
    """On ZeroGPU the calls go to a forked worker and the events come back pickled."""
    calls = [
        zerogpu.PipelineCall(
            GenerationRequest("a fox", seed=1, steps=2, width=64, height=64), "demo"
        ),
        zerogpu.PipelineCall(
            GenerationRequest("", steps=2, width=64, height=64),
            "demo",
            rows=(ImageSpec("a red fox", "", 5), ImageSpec("a blue fox", "", 5)),
        ),
    ]
    assert pickle.loads(pickle.dumps(calls)) == calls
    events = list(zerogpu.run_on_gpu(zerogpu.register_engine(engine), calls))
    again = pickle.loads(pickle.dumps(events))
    assert [e.call for e in again] == [e.call for e in events]
    results = [e.result for e in again if e.result is not None]
    assert [r.seeds for r in results] == [[1], [5, 5]]
    assert isinstance(results[1].images[1], Image.Image)
    assert any(e.progress is not None and e.progress.preview is not None for e in again)
