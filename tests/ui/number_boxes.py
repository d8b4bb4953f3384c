"""Setting a Gradio number box from a browser test so that the value holds."""

from __future__ import annotations

SETTLE_MS = 400


def set_number(page, elem_id: str, value: float, key: str = "Enter", tries: int = 3) -> None:
    """Type `value` into the number box of `#elem_id` and press `key`, again when it does not
    hold (Gradio's slider can put its old value back when the box is read within a moment of
    Enter); fails the test if it never holds."""
    from playwright.sync_api import expect

    box = page.locator(f"#{elem_id} input[type=number]")
    wanted = str(value)
    for _ in range(tries):
        box.fill(wanted)
        box.press(key)
        page.wait_for_timeout(SETTLE_MS)
        if box.input_value() == wanted:
            break
    expect(box).to_have_value(wanted)
