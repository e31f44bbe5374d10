"""One table kind per file (KIND, a core.tables.TableKind); base.py holds what they share."""
