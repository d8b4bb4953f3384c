"""An interrogation and a refinement's rounds in words: lines for the terminal, Markdown for
the page (user and vocabulary text escaped with `ui.messages.md_text`)."""

from __future__ import annotations

from collections.abc import Sequence

from engine.interrogate import Interrogation
from engine.refine import Candidate
from ui.messages import md_text


def clip_note(interrogation: Interrogation) -> str:
    """Which CLIP read the picture, and a warning when its scores mean nothing."""
    note = f"Read by {interrogation.clip_name}"
    if not interrogation.meaningful:
        note += " (random weights: these readings are not meaningful)"
    return note + f"; {round(100 * interrogation.confidence)} % sure overall."


def summary_lines(interrogation: Interrogation) -> list[str]:
    """The prompt, then one line per facet: chosen term, how sure, the runners-up."""
    lines = [interrogation.prompt, clip_note(interrogation)]
    for reading in interrogation.readings:
        others = ", ".join(t.term for t in reading.ranked[:3] if t.term != reading.chosen)
        chosen = reading.chosen or "(left out)"
        lines.append(f"{reading.label}: {chosen}  {round(100 * reading.sure)} %  [{others}]")
    return lines


def summary_markdown(interrogation: Interrogation) -> str:
    """A table of the facets: chosen term, how sure (%), the next best terms."""
    rows = [
        f"**Prompt:** {md_text(interrogation.prompt)}",
        "",
        f"*{md_text(clip_note(interrogation))}*",
        "",
        "| Part | Chosen | Sure | Next best |",
        "|---|---|---:|---|",
    ]
    for reading in interrogation.readings:
        others = ", ".join(
            f"{md_text(t.term)} {round(100 * t.probability)} %"
            for t in reading.ranked[:3]
            if t.term != reading.chosen
        )
        chosen = md_text(reading.chosen) if reading.chosen else "—"
        rows.append(
            f"| {md_text(reading.label)} | {chosen} | {round(100 * reading.sure)} % | {others} |"
        )
    return "\n".join(rows)


CHOSEN_BY = {"artist": "picked", "score": "score", "start": "start"}


def chosen_by(candidate: Candidate) -> str:
    """How a step of the lineage was chosen: "picked" (the artist), "score", "start"."""
    return CHOSEN_BY.get(candidate.chosen_by or "", "—")


def candidate_line(candidate: Candidate) -> str:
    """`r2.3  61.20  (+1.40 [0.20, 2.60]) accepted  red -> blue` for one candidate
    (`picked` when the artist picked it)."""
    text = f"{candidate.id:<6} {candidate.score:6.2f}"
    interval = candidate.versus_parent
    if interval is not None:
        text += f"  ({interval.mean:+.2f} [{interval.low:+.2f}, {interval.high:+.2f}])"
    if candidate.picked:
        text += " picked"
    elif candidate.accepted:
        text += " accepted"
    return f"{text}  {candidate.describe()}"


def lineage_markdown(path: Sequence[Candidate]) -> str:
    """The path from the start to the best: each step's edits, score, how it was chosen
    (the artist's pick or the score) and its prompt."""
    rows = ["| Step | Edits | Score | Chosen by | Prompt |", "|---|---|---:|---|---|"]
    for candidate in path:
        rows.append(
            f"| {candidate.id} | {md_text(candidate.describe())} | {candidate.score:.2f} "
            f"| {chosen_by(candidate)} | {md_text(candidate.prompt)} |"
        )
    return "\n".join(rows)
