"""One figure kind per file (KIND, a core.figures.FigureKind); base.py holds what they share."""
