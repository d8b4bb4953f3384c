"""The contact sheet of an experiment: one PNG of the grid with the column labels, each
column's prompt diff against the first variant (added green, removed red, re-weighted orange,
struck through where removed), the seed of each row and the CLIP score under each cell."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from ui.compare.view import ExperimentView

CELL = 192
PAD = 8
ROW_LABEL = 96
LINE = 16
HEADER_LINES = 6
BACKGROUND = (250, 250, 248)
INK = (30, 30, 30)
TAG_COLOURS = {"+": (20, 130, 40), "-": (190, 30, 30), "~": (200, 120, 0), None: (90, 90, 90)}


def _font(size: int = 13) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _wrap_pieces(
    draw: ImageDraw.ImageDraw, pieces: list[tuple[str, str | None]], width: int, font
) -> list[list[tuple[str, str | None]]]:
    lines: list[list[tuple[str, str | None]]] = [[]]
    used = 0.0
    for text, tag in pieces:
        for word in text.replace(",", ", ").split(" "):
            if not word:
                continue
            size = draw.textlength(word + " ", font=font)
            if used + size > width and lines[-1]:
                lines.append([])
                used = 0.0
            lines[-1].append((word, tag))
            used += size
    return lines


def fit(image: Image.Image, size: int) -> Image.Image:
    """The image scaled to fit a `size` square (pixels kept sharp when enlarged)."""
    scale = min(size / image.width, size / image.height)
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    method = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    return image.resize(target, method)


def render_contact_sheet(view: ExperimentView, cell_size: int = CELL) -> Image.Image:
    """The grid as one image (rows = seeds, columns = axis value x variant)."""
    font, small = _font(13), _font(11)
    columns = view.columns
    header = LINE * (HEADER_LINES + 1) + PAD
    width = ROW_LABEL + len(columns) * (cell_size + PAD) + PAD
    height = header + view.rows * (cell_size + LINE + PAD) + PAD
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), view.experiment.name[:60], fill=INK, font=font)
    for column, (_axis, variant_index) in enumerate(columns):
        left = ROW_LABEL + column * (cell_size + PAD)
        draw.text((left, PAD + LINE), view.column_label(column)[:32], fill=INK, font=font)
        pieces = view.header_diff(variant_index)
        for number, line in enumerate(
            _wrap_pieces(draw, pieces, cell_size, small)[: HEADER_LINES - 1]
        ):
            x = float(left)
            y = PAD + LINE * (number + 2)
            for word, tag in line:
                draw.text((x, y), word, fill=TAG_COLOURS.get(tag, INK), font=small)
                advance = draw.textlength(word, font=small)
                if tag == "-":
                    draw.line((x, y + 7, x + advance, y + 7), fill=TAG_COLOURS["-"])
                x += advance + draw.textlength(" ", font=small)
    for row in range(view.rows):
        top = header + row * (cell_size + LINE + PAD)
        draw.text(
            (PAD, top + cell_size // 2), f"seed {view.experiment.seeds[row]}", fill=INK, font=font
        )
        for column in range(len(columns)):
            left = ROW_LABEL + column * (cell_size + PAD)
            cell = view.cell(row, column)
            if cell is None or cell.image_path is None:
                draw.rectangle(
                    (left, top, left + cell_size, top + cell_size), outline=(200, 200, 200)
                )
                draw.text((left + PAD, top + PAD), "not made", fill=(150, 150, 150), font=small)
                continue
            with Image.open(cell.image_path) as image:
                thumb = fit(image.convert("RGB"), cell_size)
            sheet.paste(
                thumb,
                (left + (cell_size - thumb.width) // 2, top + (cell_size - thumb.height) // 2),
            )
            caption = f"#{cell.generation.id}"
            if cell.score is not None:
                caption += f"  CLIP {cell.score.value:.1f}"
            draw.text((left, top + cell_size + 2), caption, fill=(90, 90, 90), font=small)
    return sheet


def contact_sheet_png(view: ExperimentView) -> bytes:
    """The contact sheet as PNG bytes."""
    buffer = io.BytesIO()
    render_contact_sheet(view).save(buffer, format="PNG")
    return buffer.getvalue()
