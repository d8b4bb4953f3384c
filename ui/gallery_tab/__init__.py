"""The Gallery tab: search, the detail panel, curation, bulk actions, Regenerate from record."""
