"""A run that learns from a reference checks that the reference's codes are of its own split."""

import numpy as np
import pytest

from retrieval_bench.core.errors import UserError
from retrieval_bench.studies.hashing.data.splits import Split
from retrieval_bench.studies.hashing.run import check_reference


def test_a_reference_of_another_split_is_refused(tmp_path):
    split = Split(np.arange(3), np.array([5, 3, 4, 6]), np.array([0, 2]), np.zeros((3, 1), np.int64))
    same, other = tmp_path / "same.npz", tmp_path / "other.npz"
    np.savez(same, database_ids=split.database, train_positions=split.train)
    np.savez(other, database_ids=split.database[::-1], train_positions=split.train)
    check_reference(same, split)
    with pytest.raises(UserError, match="another split"):
        check_reference(other, split)
