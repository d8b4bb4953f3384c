"""The gallery's services, one concern each, every owned item filtered by an explicit owner.

`records` (recording, get, lineage), `search` (queries, models, tags), `curation` (rating,
favourite, notes, tags, delete, export), `experiments` (with votes and their export), `scores`,
`styles` (user styles) and `maintenance` (sweep, rebuild, optimize, owner transfer; admin
only). `gallery.store.GalleryStore` composes them; `gallery.views` gives the per-owner faces.
This package exports nothing, so importing one service imports only what it needs.
"""
