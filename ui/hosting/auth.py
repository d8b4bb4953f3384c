"""Logins for `--auth`: `user:pass` pairs from the flags and an auth file."""

from __future__ import annotations

from pathlib import Path


class HostingError(ValueError):
    """A hosting flag or variable that cannot be used (one sentence)."""


def parse_auth(pairs: list[str] | None, auth_file: str | None) -> tuple[tuple[str, str], ...]:
    """`user:pass` pairs from flags and a file (one a line, `#` comments); `HostingError` on a
    malformed line (which names the line number, never the password)."""
    lines = [("--auth", n, text) for n, text in enumerate(pairs or [], start=1)]
    if auth_file:
        try:
            content = Path(auth_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise HostingError(f"The auth file cannot be read: {exc.strerror}.") from None
        lines += [("the auth file", n, t) for n, t in enumerate(content.splitlines(), start=1)]
    found: dict[str, str] = {}
    for where, number, text in lines:
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        user, sep, password = text.partition(":")
        if not sep or not user.strip() or not password:
            raise HostingError(f"Entry {number} of {where} is not in the form user:password.")
        found[user.strip()] = password
    return tuple(found.items())
