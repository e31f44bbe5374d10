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
    variable RETRIEVAL_BENCH_REQUIRE (comma-separated tool names) lists `tool`."""
    if available:
        return
    required = {name.strip() for name in os.environ.get("RETRIEVAL_BENCH_REQUIRE", "").split(",")}
    message = f"{tool} unavailable: {why}"
    if tool in required:
        pytest.fail(f"{message} (required by RETRIEVAL_BENCH_REQUIRE)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def killed_at_checkpoint(monkeypatch):
    """`with killed_at_checkpoint(epoch): train_task(...)`: the job dies (as killed by the
    scheduler) right after writing the resume checkpoint of `epoch`; the block expects it."""
    import contextlib
    from pathlib import Path

    from retrieval_bench.studies.incremental import train as train_module

    real_save = train_module.save_torch

    @contextlib.contextmanager
    def killed(epoch: int):
        def save_then_die(obj, path):
            real_save(obj, path)
            if Path(path).name == "last.pt" and obj["epoch"] == epoch:
                raise KeyboardInterrupt("killed by the scheduler")

        monkeypatch.setattr(train_module, "save_torch", save_then_die)
        try:
            with pytest.raises(KeyboardInterrupt):
                yield
        finally:
            monkeypatch.setattr(train_module, "save_torch", real_save)

    return killed
