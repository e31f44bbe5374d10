"""The cross-modal study's table kinds, one file each."""
