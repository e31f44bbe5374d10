"""The core: config, registry of studies and kinds, io, reference data, claims,
the table / figure / report engines, runtime.  It imports no study."""
