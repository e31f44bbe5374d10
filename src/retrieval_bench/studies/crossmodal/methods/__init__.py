"""Cross-modal methods, one file each, behind `base.CrossModalMethod`."""
