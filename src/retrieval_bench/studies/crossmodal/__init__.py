"""Cross-modal retrieval (thesis chapters 3 and 4): image-text pairs, a query
set of one modality against a database of the other.  Chapter 3 learns binary
codes ranked by Hamming distance (DCMH's protocol and alternating schedule)."""
