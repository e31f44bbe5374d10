import os
import warnings

import pytest
import torch

warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(autouse=True)
def _single_thread():
    # Tests are small; one thread keeps them deterministic and leaves a core free.
    torch.set_num_threads(1)


def require(tool: str, available: bool, why: str) -> None:
    """Skip the calling test when `tool` is missing, or fail it when the environment
    variable INCREMENTAL_RETRIEVAL_REQUIRE (comma-separated tool names) lists `tool`."""
    if available:
        return
    required = {name.strip() for name in os.environ.get("INCREMENTAL_RETRIEVAL_REQUIRE", "").split(",")}
    message = f"{tool} unavailable: {why}"
    if tool in required:
        pytest.fail(f"{message} (required by INCREMENTAL_RETRIEVAL_REQUIRE)", pytrace=False)
    pytest.skip(message)
