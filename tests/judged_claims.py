"""The claims check on tables written to CSV files, for the claims tests of every study."""

import pandas as pd

from retrieval_bench.core.claims import check_claims


def judged(tables: dict[str, pd.DataFrame], tmp_path, scale="thesis") -> pd.DataFrame:
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in tables.items():
        paths.append(tmp_path / f"{name}.csv")
        frame.to_csv(paths[-1], index=False)
    return check_claims(paths, tmp_path / "claims.csv", scale).set_index("id")
