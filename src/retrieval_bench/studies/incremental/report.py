"""The incremental loop's lines in the report's run metadata: every dataset a
protocol of the image loop (or the pretraining) reads, with the md5 of its
archives and the sha256 of its manifest."""

from __future__ import annotations

from pathlib import Path

from retrieval_bench.core.config import scale_block
from retrieval_bench.studies.incremental import plan


def datasets_in_use(config: dict) -> list[str]:
    """The active scale's datasets that a protocol or the pretraining reads."""
    from retrieval_bench.core import registry

    block = scale_block(config)
    ours = [name for name, proto in block["protocols"].items()  # another study's protocols read no image dataset
            if "incremental" in (owner := registry.study_of_protocol(proto)).builds_on + (owner.name,)]
    used = {d for name in ours for d in plan.protocol_datasets(config, name)}
    used.add(block["pretraining"].get("dataset"))
    return [name for name in block["datasets"] if name in used]


def dataset_checksums(config: dict, name: str, root: Path) -> str:
    """The md5 of the dataset's archives (real datasets) and the sha256 of its manifest, if built."""
    from retrieval_bench.vision.archives import file_digest
    from retrieval_bench.vision.datasets import archives_for

    spec = scale_block(config)["datasets"][name]
    # the archives actually used: a re-packed archive (`archives:` in config.yaml) has its own md5
    sums = [f"{archive.filename} md5 {archive.md5}" for archive in archives_for(spec["kind"], spec)]
    manifest = plan.dataset_manifest(config, name)
    built = (root / manifest).is_file()
    sums.append(f"{manifest} sha256 {file_digest(root / manifest, 'sha256')}" if built else f"{manifest} not built")
    return "; ".join(sums)


def metadata_rows(config: dict, root: Path) -> list[tuple[str, str]]:
    return [(f"dataset {name}", dataset_checksums(config, name, root)) for name in datasets_in_use(config)]
