"""How the incremental loop reads a protocol: the seam other studies plug into.

A protocol's form says which datasets it reads, how its split is made, which
rows train and test each task, which retrieval sets a model of task t is
scored on, and which runs it shares with other protocols.  The incremental
study's own form is `GroupedProtocol` (one dataset split into class groups);
a study that builds on the incremental loop brings its own form in its
`protocol.py` (the lifelong study's sequence of datasets), found through the
registry by the protocol's marker key.
"""

from __future__ import annotations

import itertools

from retrieval_bench.core import registry
from retrieval_bench.core.config import scale_block


class ProtocolForm:
    """The questions the incremental loop asks of a protocol (a form per study)."""

    reads_decoded_cache = True  # one dataset: its decoded-image cache serves every job
    sort_class_groups = True    # the statistics tables list class groups sorted (else in split order)

    def normalise(self, protocol: dict) -> None:
        """Complete a validated protocol (`groups`: the number of classes trained per task)."""

    def dataset_entries(self, protocol: dict) -> list[tuple[str, str]]:
        """(config key under the protocol, dataset) of every dataset it reads, in order."""
        raise NotImplementedError

    def datasets(self, protocol: dict) -> list[str]:
        return [dataset for _, dataset in self.dataset_entries(protocol)]

    def data_root(self, config: dict, protocol: str) -> str:
        """The folder a protocol's split paths are relative to."""
        raise NotImplementedError

    def shared_protocol(self, config: dict, protocol: str, configuration: str, task: int) -> str:
        """The protocol whose run of (configuration, task) this protocol reuses (its own name: none)."""
        return protocol

    def make_split(self, manifests: dict, protocol: dict):
        raise NotImplementedError

    def split_summary(self, frame):
        """What the split job logs: images and classes per part of the split."""
        raise NotImplementedError

    def class_groups(self, frame):
        """The class group of every split row, as the statistics tables name it."""
        raise NotImplementedError

    def task_rows(self, split, protocol: dict, task: int):
        """(train rows, test rows, first label of each task, label end of each task) of a task's run."""
        raise NotImplementedError

    def evaluation_sets(self, split, task: int) -> dict:
        """Retrieval set name -> its test rows, for a model after `task` (each scored on its own)."""
        raise NotImplementedError

    def task_sets(self, task: int) -> list[str]:
        """The evaluation sets of `task` alone (an auxiliary model is scored on them)."""
        raise NotImplementedError


class GroupedProtocol(ProtocolForm):
    """One dataset split into class groups: task t trains group t (joint: groups 0..t)."""

    def dataset_entries(self, protocol):
        return [("dataset", protocol["dataset"])]

    def data_root(self, config, protocol):
        from retrieval_bench.studies.incremental import plan

        return plan.dataset_manifest(config, scale_block(config)["protocols"][protocol]["dataset"]).rsplit("/", 1)[0]

    def shared_protocol(self, config, protocol, configuration, task):
        """The base model (task 0) is shared by the first protocol with the same
        dataset, split, original classes and base loss (so A(1-100) is trained
        once for the 25-, 100- and 4 x 25-class experiments, and chapter 6's
        triplet-only f_0 apart from chapter 5's L_ce + L_triplet base)."""
        if configuration != "base":
            return protocol
        protocols = scale_block(config)["protocols"]

        def key(p: dict):
            return p["dataset"], p["split"], p["groups"][0], p.get("base_semantic")

        for name, other in protocols.items():
            if "dataset" in other and key(other) == key(protocols[protocol]):
                return name
        return protocol

    def make_split(self, manifests, protocol):
        from retrieval_bench.studies.incremental.splits import make_split

        return make_split(manifests[protocol["dataset"]], protocol["split"], protocol["groups"])

    def split_summary(self, frame):
        from retrieval_bench.studies.incremental.splits import statistics

        return statistics(frame)

    def class_groups(self, frame):
        return frame["group"].map(lambda g: "old" if g == 0 else "new")

    def task_rows(self, split, protocol, task):
        train, test = split[split["split"] == "train"], split[split["split"] == "test"]
        label_end = list(itertools.accumulate(protocol["groups"]))
        return train, test, [0, *label_end[:-1]], label_end

    def evaluation_sets(self, split, task):
        return {f"group{g}": split[(split["split"] == "test") & (split["group"] == g)] for g in range(task + 1)}

    def task_sets(self, task):
        return [f"group{task}"]


FORM = GroupedProtocol()


def form_of(config: dict, protocol: str) -> ProtocolForm:
    """The form of a protocol at the active scale: its study's protocol.FORM."""
    spec = scale_block(config)["protocols"][protocol]
    return registry.study_of_protocol(spec).module("protocol").FORM
