"""One file per hashing method, each a HashingMethod (base.py) named as its file."""
