"""`read_image_metadata`: which tool made an image, and with what prompt and settings.

Reads PNG, JPEG and WebP (see `gallery.image_container` for where each keeps its text) and
names the tool only from what the file holds, in this order:

1. ours: the `prompt_atelier` JSON chunk;
2. Fooocus: its JSON scheme (`parameters` or UserComment), or A1111 text beside a
   `fooocus_scheme` chunk / MakerNote, or A1111 text whose `Version` is Fooocus's; its forks
   (`gallery.fooocus_forks`): RuinedFooocus's JSON (`"software": "RuinedFooocus"`) and
   FooocusPlus's labelled JSON (a PNG `Comment` chunk, or UserComment with Software
   FooocusPlus);
3. SwarmUI: `sui_image_params` JSON;
4. NovelAI: `Software` = NovelAI with its `Comment` JSON;
5. InvokeAI: `invokeai_metadata` (3.x-5.x), else `sd-metadata` or `Dream` (2.x);
6. ComfyUI: the `prompt` API graph (PNG chunk, or `prompt:` in a WebP's EXIF), `workflow`
   kept beside it;
7. Easy Diffusion: its keys (`use_stable_diffusion_model` among them) as PNG chunks or
   UserComment JSON;
8. Draw Things: JSON in XMP `exif:UserComment`;
9. A1111 / Forge infotext in `parameters` or UserComment (Forge when `Version` starts `f`,
   ours when it names Prompt Atelier); a UserComment only when it holds A1111's settings (a
   camera's or a screenshot's comment is no prompt);
10. JSON with a prompt and settings that names no tool (`gallery.json_settings`): read, the
   tool left unnamed;
11. A1111 stealth info hidden in the pixels' low bits (PNG and WebP only).

Nothing found gives a reading whose `metadata` is None ("no settings found"). All text is
bounded (`gallery.bounds`), so a hostile file costs time linear in the capped text.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import gallery.fooocus_forks as fooocus_forks
import gallery.json_settings as json_settings
import gallery.peer_formats as peer_formats
from gallery.bounds import MAX_FILE_BYTES, Deadline, load_json
from gallery.comfyui import parse_comfyui
from gallery.errors import MetadataError
from gallery.foreign import ForeignResult, parse_invokeai
from gallery.image_container import ImageTexts, read_image_texts
from gallery.metadata import ImageMetadata, from_atelier_chunk, from_infotext
from gallery.records import minimal_recipe
from gallery.stealth import read_stealth_text

TOOL_NAMES = {
    "prompt_atelier": "Prompt Atelier",
    "a1111": "AUTOMATIC1111",
    "forge": "Forge",
    "fooocus": "Fooocus",
    "comfyui": "ComfyUI",
    "invokeai": "InvokeAI",
    "novelai": "NovelAI",
    "swarmui": "SwarmUI",
    "easy_diffusion": "Easy Diffusion",
    "draw_things": "Draw Things",
    "ruined_fooocus": "RuinedFooocus",
    "fooocusplus": "FooocusPlus",
    "json_settings": "an unnamed tool (JSON settings)",
}
NO_SETTINGS = "no settings found"


@dataclass(frozen=True)
class ImageReading:
    """What `read_image_metadata` found: the file's format, the metadata (None when there is
    none we know) and notes (text that was cut, parts that could not be read)."""

    format: str
    metadata: ImageMetadata | None
    notes: tuple[str, ...] = ()

    @property
    def tool(self) -> str | None:
        """The producing tool's display name, or None."""
        if self.metadata is None:
            return None
        return TOOL_NAMES.get(self.metadata.source, self.metadata.source)

    def summary(self) -> str:
        """One line: the tool and format, or that no settings were found."""
        if self.metadata is None:
            return f"{self.format}: {NO_SETTINGS}"
        how = self.metadata.extra.get("read_from")
        where = f", {how}" if isinstance(how, str) else ""
        return f"{self.format}: {self.tool}{where}"


def read_image_metadata(
    source: bytes | str | os.PathLike[str], *, deadline: Deadline | None = None
) -> ImageReading:
    """Read a PNG, JPEG or WebP file (or its bytes); `MetadataError` if it is not one."""
    data = _read_bytes(source)
    deadline = deadline or Deadline()
    texts = read_image_texts(data, deadline)
    notes = list(texts.notes)
    found = _from_texts(texts)
    if found is None and texts.format in ("PNG", "WEBP"):
        deadline.check()
        hidden = read_stealth_text(data, deadline)
        if hidden is not None:
            found = _from_stealth(hidden)
    return ImageReading(texts.format, found, tuple(notes))


def read_metadata(source: bytes | str | os.PathLike[str]) -> ImageMetadata | None:
    """Prompts and settings from a PNG, JPEG or WebP file or bytes; None if it has no
    metadata we know (`read_image_metadata` gives the notes too)."""
    return read_image_metadata(source).metadata


def _read_bytes(source: bytes | str | os.PathLike[str]) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise MetadataError(
                    f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB."
                )
            data = path.read_bytes()
        except FileNotFoundError:
            raise MetadataError("The file does not exist.") from None
        except IsADirectoryError:
            raise MetadataError("That is a folder, not an image file.") from None
        except PermissionError:
            raise MetadataError("The file cannot be read (permission denied).") from None
    if not data:
        raise MetadataError("The file is empty.")
    return data


def _metadata(source: str, parsed: ForeignResult | None, read_from: str) -> ImageMetadata | None:
    if parsed is None:
        return None
    prompt, negative, settings, extra = parsed
    extra = {**extra, "read_from": read_from}
    return ImageMetadata(
        source, prompt, negative, settings, minimal_recipe(prompt, negative), {}, extra
    )


def _from_texts(texts: ImageTexts) -> ImageMetadata | None:
    chunks = texts.chunks
    comment = texts.user_comment
    # 1. ours
    if "prompt_atelier" in chunks:
        ours = from_atelier_chunk(chunks["prompt_atelier"])
        if ours is not None:
            return ours
    candidates = (("parameters", chunks.get("parameters")), ("EXIF UserComment", comment))
    text_sources = [(w, v) for w, v in candidates if isinstance(v, str) and v.strip()]
    documents = [(where, value, load_json(value)) for where, value in text_sources]
    # 2. Fooocus and its forks, 3. SwarmUI (JSON in parameters / UserComment / Comment)
    scheme = chunks.get("fooocus_scheme") or texts.exif_text.get(0x927C)
    fork = _fooocus_fork(texts, documents)
    if fork is not None:
        return fork
    for where, _text, document in documents:
        by_scheme = scheme == "fooocus" and isinstance(document, dict)
        if by_scheme or peer_formats.is_fooocus_json(document):
            return _metadata("fooocus", peer_formats.parse_fooocus(document), where)
        if isinstance(document, dict) and "sui_image_params" in document:
            return _metadata("swarmui", peer_formats.parse_swarmui(document), where)
    # 4. NovelAI
    if chunks.get("Software") == "NovelAI":
        novel = peer_formats.parse_novelai(chunks, load_json(chunks.get("Comment", "")))
        if novel is not None:
            return _metadata("novelai", novel, "Comment")
    # 5. InvokeAI
    for key, parser in (
        ("invokeai_metadata", parse_invokeai),
        ("sd-metadata", peer_formats.parse_invokeai_sd_metadata),
    ):
        if key in chunks:
            found = _metadata("invokeai", parser(load_json(chunks[key])), key)
            if found is not None:
                return found
    if "Dream" in chunks:
        found = _metadata("invokeai", peer_formats.parse_invokeai_dream(chunks["Dream"]), "Dream")
        if found is not None:
            return found
    # 6. ComfyUI
    comfy = _comfyui_graph(texts)
    if comfy is not None:
        return comfy
    # 7. Easy Diffusion
    if peer_formats.is_easy_diffusion(chunks):
        found = _metadata("easy_diffusion", peer_formats.parse_easy_diffusion(chunks), "PNG text")
        if found is not None:
            return found
    for where, _text, document in documents:
        if peer_formats.is_easy_diffusion(document):
            return _metadata("easy_diffusion", peer_formats.parse_easy_diffusion(document), where)
    # 8. Draw Things
    if texts.xmp and "Draw Things" in texts.xmp:
        inner = peer_formats.xmp_user_comment(texts.xmp)
        if inner is not None:
            parsed = peer_formats.parse_draw_things(load_json(inner))
            found = _metadata("draw_things", parsed, "XMP")
            if found is not None:
                return found
    # 9. A1111 / Forge text (a comment field only with A1111's settings in it)
    for where, text, document in documents:
        if document is None:
            found = _from_infotext(text, where, fooocus=scheme == "a1111")
            if where == "parameters" or found.settings or found.negative_prompt:
                return found
    # 10. JSON settings that name no tool
    for where, _text, document in documents:
        parsed = json_settings.parse_json_settings(document)
        if parsed is not None:
            return _metadata("json_settings", parsed, where)
    return None


def _fooocus_fork(
    texts: ImageTexts, documents: list[tuple[str, str, object]]
) -> ImageMetadata | None:
    """RuinedFooocus's JSON, or FooocusPlus's labelled JSON (in a PNG `Comment` chunk)."""
    for where, _text, document in documents:
        if fooocus_forks.is_ruined_fooocus(document):
            return _metadata("ruined_fooocus", fooocus_forks.parse_ruined_fooocus(document), where)
    comment = texts.chunks.get("Comment")
    labelled = [*documents, ("Comment", comment, load_json(comment) if comment else None)]
    software = texts.exif_text.get(0x0131) or texts.chunks.get("Software") or ""
    source = "fooocusplus" if software.startswith("FooocusPlus") else "fooocus"
    for where, _text, document in labelled:
        if fooocus_forks.is_fooocus_labels(document):
            found = _metadata(source, fooocus_forks.parse_fooocus_labels(document), where)
            if found is not None and software:
                found.extra["software"] = software
            return found
    return None


def _comfyui_graph(texts: ImageTexts) -> ImageMetadata | None:
    graph_text = texts.chunks.get("prompt")
    workflow_text = texts.chunks.get("workflow")
    where = "prompt"
    for tag, value in texts.exif_text.items():  # WebP: "prompt:{...}" / "workflow:{...}"
        if value.startswith("prompt:") and graph_text is None:
            graph_text, where = value[len("prompt:") :], f"EXIF tag {tag:#06x}"
        elif value.startswith("workflow:") and workflow_text is None:
            workflow_text = value[len("workflow:") :]
    if graph_text is None:
        return None
    found = _metadata("comfyui", parse_comfyui(load_json(graph_text)), where)
    if found is not None and workflow_text is not None:
        workflow = load_json(workflow_text)
        if isinstance(workflow, dict):
            found.extra["workflow_nodes"] = len(workflow.get("nodes") or [])
    return found


def _from_infotext(text: str, where: str, *, fooocus: bool = False) -> ImageMetadata:
    metadata = from_infotext(text)
    version = metadata.extra.get("Version", "")
    source = "a1111"
    if fooocus or version.startswith("Fooocus"):
        source = "fooocus"
        raw = metadata.extra.get("Raw prompt")
        if raw is not None:  # Fooocus writes the styled prompt first, the typed one here
            metadata.extra["Full prompt"] = metadata.prompt
            metadata.extra["Full negative prompt"] = metadata.negative_prompt
            negative = metadata.extra.get("Raw negative prompt", metadata.negative_prompt)
            return _replace(metadata, source, where, raw, negative)
    elif version.startswith("Prompt Atelier"):
        source = "prompt_atelier"
    elif len(version) > 1 and version[0] == "f" and version[1].isdigit():
        source = "forge"
    return _replace(metadata, source, where, metadata.prompt, metadata.negative_prompt)


def _replace(
    metadata: ImageMetadata, source: str, where: str, prompt: str, negative: str
) -> ImageMetadata:
    return dataclasses.replace(
        metadata,
        source=source,
        prompt=prompt,
        negative_prompt=negative,
        recipe=minimal_recipe(prompt, negative),
        extra={**metadata.extra, "read_from": where},
    )


def _from_stealth(text: str) -> ImageMetadata | None:
    document = load_json(text)
    where = "stealth pixels"
    if isinstance(document, dict):  # NovelAI: its PNG chunks as JSON, Comment a JSON string
        chunks = {k: v for k, v in document.items() if isinstance(v, str)}
        comment = document.get("Comment")
        comment = load_json(comment) if isinstance(comment, str) else comment
        novel = peer_formats.parse_novelai(chunks, comment)
        return _metadata("novelai", novel, where)
    return _from_infotext(text, where)
