"""ComfyUI's API graph (the `prompt` chunk) read back into a prompt and settings.

The graph is `{node_id: {"class_type", "inputs"}}`; an input linked to another node's output is
`[node_id, output_index]`. The sampler read is the one whose output reaches the saved image
(walking up from `SaveImage`, else `PreviewImage`), so a second pass or an unused sampler does
not win by its place in the file; a graph without an output node falls back to the first
sampler by node order.

Samplers of every era are read, with ComfyUI's own input names:
- `KSampler` / `KSamplerAdvanced`: seed (noise_seed), steps, cfg, sampler_name, scheduler,
  positive, negative, model, latent_image;
- `SamplerCustom`: noise_seed, cfg, positive, negative, `sampler` (from `KSamplerSelect`),
  `sigmas` (from `BasicScheduler` and its kin: steps, scheduler), model, latent_image;
- `SamplerCustomAdvanced` (FLUX and SD3 workflows): `noise` (`RandomNoise`: noise_seed),
  `guider` (`BasicGuider`: model, conditioning; `CFGGuider`: model, positive, negative, cfg),
  `sampler`, `sigmas` and latent_image.
FLUX's distilled guidance comes from `FluxGuidance` (or `CLIPTextEncodeFlux`) on the positive
conditioning; with it, a CFG above 1 is FLUX's true CFG. The model is the `ckpt_name` of a
checkpoint loader or the `unet_name` of `UNETLoader`, found through LoRA and model-sampling
nodes; `ModelSamplingSD3`/`ModelSamplingAuraFlow` give the shift. Sampler and scheduler names
are mapped to A1111's (`euler` + `simple` is `Euler`, `dpmpp_2m` + `karras` `DPM++ 2M Karras`).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from gallery.foreign import ForeignResult, _float, _int, _put, _strip_extension, k_sampler_name

Nodes = dict[str, dict[str, Any]]

SAMPLER_NODES = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
OUTPUT_NODES = ("SaveImage", "PreviewImage")  # in order of preference
# Scheduler nodes that give sigmas without a scheduler name, as ComfyUI's scheduler names.
_SIGMA_NODES = {
    "KarrasScheduler": "karras",
    "ExponentialScheduler": "exponential",
    "BetaSamplingScheduler": "beta",
    "PolyexponentialScheduler": "polyexponential",
    "SDTurboScheduler": "sd_turbo",
    "AlignYourStepsScheduler": "ays",
}
_TEXT_INPUTS = ("text", "t5xxl", "text_g", "clip_g", "text_l", "clip_l", "prompt")
_MAX_LINK_DEPTH = 12


def parse_comfyui(graph: Any) -> ForeignResult | None:
    """Read a ComfyUI API graph (`prompt` chunk); None if no sampler with a prompt is found."""
    if not isinstance(graph, dict):
        return None
    nodes = {str(key): node for key, node in graph.items() if isinstance(node, dict)}
    key = _saved_sampler(nodes)
    if key is None:
        return None
    sampler = nodes[key]
    inputs = _inputs(sampler)
    kind = sampler.get("class_type")
    guider = _linked(nodes, inputs.get("guider")) if kind == "SamplerCustomAdvanced" else None
    conditions = _inputs(guider) if guider is not None else inputs
    positive = conditions.get("positive", conditions.get("conditioning"))
    prompt = _text(nodes, positive, 0)
    if prompt is None:
        return None
    # The text boxes keep whatever newlines the user left around the prompt.
    prompt = prompt.strip()
    negative = (_text(nodes, conditions.get("negative"), 0) or "").strip()

    settings: dict[str, Any] = {}
    extra: dict[str, Any] = {"comfyui_sampler_node": key}
    noise = _inputs(_linked(nodes, inputs.get("noise")))
    seed = _value(nodes, inputs.get("seed", inputs.get("noise_seed", noise.get("noise_seed"))))
    _put(settings, "seed", _int(seed))
    sampler_name = _value(nodes, inputs.get("sampler_name"))
    selected = _linked(nodes, inputs.get("sampler"))
    if sampler_name is None and selected is not None:
        sampler_name = _value(nodes, _inputs(selected).get("sampler_name"))
    steps, schedule, denoise = _sigmas(nodes, inputs)
    _put(settings, "steps", _int(steps))
    _put(settings, "scheduler", k_sampler_name(sampler_name, schedule))
    if denoise is not None and denoise < 1:
        extra["comfyui_denoise"] = denoise

    cfg = _float(_value(nodes, conditions.get("cfg", inputs.get("cfg"))))
    guidance = _flux_guidance(nodes, positive)
    if guidance is not None:  # FLUX: distilled guidance; a CFG above 1 is true CFG
        settings["guidance_scale"] = guidance
        if cfg is not None and cfg > 1:
            settings["true_cfg_scale"] = cfg
    else:
        _put(settings, "guidance_scale", cfg)

    size = _find_input(nodes, inputs.get("latent_image"), ("width", "height"), 0)
    if size:
        _put(settings, "width", _int(_value(nodes, size.get("width"))))
        _put(settings, "height", _int(_value(nodes, size.get("height"))))
    model_link = conditions.get("model", inputs.get("model"))
    loader = _find_any(nodes, model_link, ("ckpt_name", "unet_name"), 0)
    if loader:
        name = loader.get("ckpt_name", loader.get("unet_name"))
        _put(settings, "model_id", _strip_extension(str(name)))
    shift = _find_input(nodes, model_link, ("shift",), 0)
    if shift:
        _put(settings, "shift", _float(shift.get("shift")))
    flux_shift = _find_input(nodes, model_link, ("max_shift", "base_shift"), 0)
    if flux_shift:
        extra["comfyui_flux_shift"] = {
            name: flux_shift[name] for name in ("max_shift", "base_shift") if name in flux_shift
        }
    layers = [
        _int(_inputs(node).get("stop_at_clip_layer"))
        for node in nodes.values()
        if node.get("class_type") == "CLIPSetLastLayer"
    ]
    if len(layers) == 1 and layers[0] is not None and layers[0] < 0:
        settings["clip_skip"] = -layers[0]
    return prompt, negative, settings, extra


def _saved_sampler(nodes: Nodes) -> str | None:
    """The sampler nearest upstream of the saved image; else the first sampler by node order."""
    for output_class in OUTPUT_NODES:
        outputs = sorted(
            (key for key, node in nodes.items() if node.get("class_type") == output_class),
            key=_node_order,
        )
        for output in outputs:
            found = _nearest_upstream(nodes, output)
            if found is not None:
                return found
    samplers = [key for key, node in nodes.items() if node.get("class_type") in SAMPLER_NODES]
    return min(samplers, key=_node_order) if samplers else None


def _nearest_upstream(nodes: Nodes, start: str) -> str | None:
    """Breadth-first up the links from `start` to the first sampler (each node seen once)."""
    seen = {start}
    queue = deque([start])
    while queue:
        key = queue.popleft()
        for value in _inputs(nodes[key]).values():
            if not (isinstance(value, list) and value and str(value[0]) in nodes):
                continue
            upstream = str(value[0])
            if upstream in seen:
                continue
            if nodes[upstream].get("class_type") in SAMPLER_NODES:
                return upstream
            seen.add(upstream)
            queue.append(upstream)
    return None


def _sigmas(nodes: Nodes, inputs: dict[str, Any]) -> tuple[Any, Any, float | None]:
    """(steps, ComfyUI scheduler name, denoise) from a sampler's own inputs or its sigmas."""
    if "steps" in inputs:
        return _value(nodes, inputs.get("steps")), _value(nodes, inputs.get("scheduler")), None
    node = _linked(nodes, inputs.get("sigmas"))
    if node is None:
        return None, None, None
    sigma_inputs = _inputs(node)
    schedule = _value(nodes, sigma_inputs.get("scheduler"))
    if schedule is None:
        schedule = _SIGMA_NODES.get(str(node.get("class_type")))
    denoise = _float(_value(nodes, sigma_inputs.get("denoise")))
    return _value(nodes, sigma_inputs.get("steps")), schedule, denoise


def _flux_guidance(nodes: Nodes, link: Any) -> float | None:
    """The `guidance` of the nearest FluxGuidance (or CLIPTextEncodeFlux) node up a
    conditioning link."""
    pending = deque([link])
    seen: set[str] = set()
    while pending:
        current = pending.popleft()
        if not (isinstance(current, list) and current and str(current[0]) in nodes):
            continue
        key = str(current[0])
        if key in seen:
            continue
        seen.add(key)
        node, inputs = nodes[key], _inputs(nodes[key])
        if (
            node.get("class_type") in ("FluxGuidance", "CLIPTextEncodeFlux")
            and "guidance" in inputs
        ):
            return _float(_value(nodes, inputs["guidance"]))
        pending.extend(v for n, v in sorted(inputs.items()) if n.startswith("conditioning"))
    return None


def _node_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def _inputs(node: dict[str, Any] | None) -> dict[str, Any]:
    inputs = node.get("inputs") if isinstance(node, dict) else None
    return inputs if isinstance(inputs, dict) else {}


def _linked(nodes: Nodes, link: Any) -> dict[str, Any] | None:
    if isinstance(link, list) and link and str(link[0]) in nodes:
        return nodes[str(link[0])]
    return None


def _value(nodes: Nodes, value: Any) -> Any:
    """A literal input, or the first literal of the node it is linked to (a primitive)."""
    if not isinstance(value, list):
        return value
    node = _linked(nodes, value)
    for item in _inputs(node).values():
        if not isinstance(item, (list, dict)):
            return item
    return None


def _text(nodes: Nodes, link: Any, depth: int) -> str | None:
    """The prompt text behind a conditioning link, following combine/concat/guidance nodes."""
    node = _linked(nodes, link)
    if node is None or depth > _MAX_LINK_DEPTH:
        return None
    inputs = _inputs(node)
    for name in _TEXT_INPUTS:
        value = inputs.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, list):  # text coming from a primitive or string node
            text = _string_value(nodes, value, depth + 1)
            if text is not None:
                return text
    parts = [
        text
        for name, value in sorted(inputs.items())
        if name.startswith(("conditioning", "positive")) and isinstance(value, list)
        if (text := _text(nodes, value, depth + 1))
    ]
    return ", ".join(parts) if parts else None


def _string_value(nodes: Nodes, link: Any, depth: int) -> str | None:
    node = _linked(nodes, link)
    if node is None or depth > _MAX_LINK_DEPTH:
        return None
    for value in _inputs(node).values():
        if isinstance(value, str):
            return value
    return None


def _find_input(
    nodes: Nodes, link: Any, names: tuple[str, ...], depth: int = 0
) -> dict[str, Any] | None:
    """The inputs of the nearest node upstream of `link` (breadth first, each node once, at
    most `_MAX_LINK_DEPTH` links away) that has all of `names` as values."""
    if not (isinstance(link, list) and link and str(link[0]) in nodes):
        return None
    seen = {str(link[0])}
    level = [str(link[0])]
    while level and depth <= _MAX_LINK_DEPTH:
        following = []
        for key in level:
            inputs = _inputs(nodes[key])
            if all(name in inputs and not isinstance(inputs[name], list) for name in names):
                return inputs
            for value in inputs.values():
                if isinstance(value, list) and value and str(value[0]) in nodes:
                    upstream = str(value[0])
                    if upstream not in seen:
                        seen.add(upstream)
                        following.append(upstream)
        level, depth = following, depth + 1
    return None


def _find_any(nodes: Nodes, link: Any, names: tuple[str, ...], depth: int) -> dict[str, Any] | None:
    """The inputs of the first node upstream of `link` that has one of `names`."""
    for name in names:
        found = _find_input(nodes, link, (name,), depth)
        if found:
            return found
    return None
