// Keyboard shortcuts of the page, the way AUTOMATIC1111 users know them:
//   Ctrl/Cmd+Enter  generate (Generate tab) or run the comparison (Compare tab)
//   Esc             stop the running generation or comparison
//   (and in a term picker, text typed but not taken with Enter is dropped on leaving the box)
//   Ctrl/Cmd+Up/Down  raise/lower the weight of the word, selection or (group) under the
//                   cursor in any prompt box, by 0.1 (0.05 inside <lora:...>), writing
//                   A1111's (text:1.1) syntax and dropping the brackets again at 1.0.
(() => {
  const DELIMITERS = ".,\\/!?%^*;:{}=`~() \r\n\t"; // A1111's default word delimiters
  const STEP = 0.1;
  const EXTRA_STEP = 0.05;

  const visible = (element) => element && element.offsetParent !== null;
  // The first of these buttons on the tab shown that can be pressed (only one tab shows).
  const firstUsable = (ids) =>
    ids.map((id) => document.getElementById(id)).find((b) => visible(b) && !b.disabled) || null;

  // The span inside the innermost open/close pair around the cursor, up to its last colon.
  function enclosingGroup(text, cursor, open, close) {
    let depth = 0;
    let start = -1;
    for (let i = cursor - 1; i >= 0; i--) {
      if (text[i] === close) depth++;
      else if (text[i] === open) {
        if (depth === 0) { start = i; break; }
        depth--;
      }
    }
    if (start < 0) return null;
    depth = 0;
    let end = -1;
    for (let i = cursor; i < text.length; i++) {
      if (text[i] === open) depth++;
      else if (text[i] === close) {
        if (depth === 0) { end = i; break; }
        depth--;
      }
    }
    if (end < 0) return null;
    const colon = text.lastIndexOf(":", end);
    if (colon <= start) return null;
    return [start + 1, colon];
  }

  function currentWord(text, cursor) {
    let start = cursor;
    let end = cursor;
    while (start > 0 && !DELIMITERS.includes(text[start - 1])) start--;
    while (end < text.length && !DELIMITERS.includes(text[end])) end++;
    return [start, end];
  }

  function formatWeight(weight) {
    const rounded = parseFloat(weight.toPrecision(12));
    const text = String(rounded);
    return text.length === 1 ? text + ".0" : text;
  }

  // Returns [newText, selectionStart, selectionEnd], or null when nothing changes.
  function reweight(text, selStart, selEnd, up) {
    let start = selStart;
    let end = selEnd;
    if (start === end) {
      const group =
        enclosingGroup(text, start, "<", ">") || enclosingGroup(text, start, "(", ")");
      [start, end] = group || currentWord(text, start);
    }
    let close = ")";
    let delta = STEP;
    if (start > 0 && text[start - 1] === "<") {
      close = ">";
      delta = EXTRA_STEP;
    } else if (start === 0 || text[start - 1] !== "(") {
      while (end > start && text[end - 1] === " ") end--;
      if (start === end) return null;
      text = text.slice(0, start) + "(" + text.slice(start, end) + ":1.0)" + text.slice(end);
      start += 1;
      end += 1;
    }
    if (text[end] !== ":") return null;
    const closeAt = text.indexOf(close, end + 1);
    if (closeAt < 0) return null;
    let weight = parseFloat(text.slice(end + 1, closeAt));
    if (Number.isNaN(weight)) return null;
    weight += up ? delta : -delta;
    const written = formatWeight(weight);
    if (close === ")" && parseFloat(written) === 1) {
      text = text.slice(0, start - 1) + text.slice(start, end) + text.slice(closeAt + 1);
      return [text, start - 1, end - 1];
    }
    text = text.slice(0, end + 1) + written + text.slice(closeAt);
    return [text, start, end];
  }
  window.atelierReweight = reweight; // for tests and the curious

  // Builder pickers: Enter takes the suggestion shown for what was typed ("rembr" ->
  // "Rembrandt lighting") instead of adding the typed fragment; with no suggestion the typed
  // term is added as before.
  function pickSuggestion(event, target) {
    if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.shiftKey) return false;
    if (!(target instanceof HTMLInputElement) || target.getAttribute("role") !== "combobox") {
      return false;
    }
    if (!target.closest(".picker") || !target.value.trim()) return false;
    const list = document.getElementById(target.getAttribute("aria-controls") || "");
    if (!list) return false;
    const items = Array.from(list.querySelectorAll("li[role=option]"));
    if (!items.length || items.some((item) => item.classList.contains("active"))) return false;
    const typed = target.value.trim().toLowerCase();
    const exact = items.find((item) => item.getAttribute("aria-label").toLowerCase() === typed);
    const choice = exact || items[0];
    event.preventDefault();
    event.stopImmediatePropagation();
    choice.dispatchEvent(new MouseEvent("mousedown", { bubbles: true, cancelable: true }));
    return true;
  }

  function onKeyDown(event) {
    const target = event.composedPath ? event.composedPath()[0] : event.target;
    if (pickSuggestion(event, target)) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      if (!(target instanceof HTMLTextAreaElement) || !target.closest(".prompt")) return;
      const changed = reweight(
        target.value, target.selectionStart, target.selectionEnd, event.key === "ArrowUp"
      );
      event.preventDefault();
      if (!changed) return;
      target.value = changed[0];
      target.setSelectionRange(changed[1], changed[2]);
      target.dispatchEvent(new Event("input", { bubbles: true }));
      return;
    }
    if (mod && event.key === "Enter") {
      const button = firstUsable(["generate", "compare-run"]);
      if (button) {
        event.preventDefault();
        button.click();
      }
      return;
    }
    if (event.key === "Escape") {
      const stop = firstUsable(["stop", "compare-stop"]);
      if (stop) {
        event.preventDefault();
        stop.click();
      }
    }
  }
  document.addEventListener("keydown", onKeyDown, true);

  // Text typed into a picker only searches its list until Enter takes it: leaving the box
  // (Esc, a click elsewhere) clears it before Gradio's own blur handler would add it as a term.
  function dropHalfTyped(event) {
    const target = event.target;
    if (!(target instanceof HTMLInputElement) || target.getAttribute("role") !== "combobox") {
      return;
    }
    if (!target.closest(".picker") || !target.value) return;
    target.value = "";
    target.dispatchEvent(new Event("input", { bubbles: true }));
  }
  document.addEventListener("blur", dropHalfTyped, true);
})();
