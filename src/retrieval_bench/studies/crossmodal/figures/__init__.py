"""The cross-modal study's figure kinds, one file each."""


def pyplot():
    """matplotlib's pyplot on the Agg backend, imported when a figure is drawn (not when kinds are listed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
