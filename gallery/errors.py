"""Errors raised by the gallery; each carries one sentence fit to show a user."""

from __future__ import annotations


class GalleryError(ValueError):
    """Bad input to the gallery (a rating out of range, an unknown id, an unreadable file)."""


class NotFoundError(GalleryError, LookupError):
    """No generation, experiment, variant or style has the requested id or name."""


class MetadataError(GalleryError):
    """Image metadata could not be read or written."""


class DiskFullError(GalleryError):
    """The disk has no room left: one sentence saying how much to free (never "rebuild")."""


class GalleryUnavailableError(GalleryError):
    """The database cannot be reached right now (a stopped or restarting server)."""
