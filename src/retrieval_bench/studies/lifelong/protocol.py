"""Chapter 7's protocol on the incremental loop: a sequence of datasets, task
t being dataset t, each split by class into seen classes (trained and tested)
and unseen ones (evaluation only)."""

from __future__ import annotations

from retrieval_bench.core.config import scale_block
from retrieval_bench.studies.incremental.protocol import ProtocolForm


class SequenceProtocol(ProtocolForm):
    # its rows come from several datasets, the decoded-image cache is one per dataset: PIL reads the files
    reads_decoded_cache = False
    sort_class_groups = False  # datasets in sequence order, seen before unseen

    def normalise(self, protocol):
        protocol["groups"] = [entry["seen"] for entry in protocol["sequence"]]  # a task's trained classes

    def dataset_entries(self, protocol):
        return [(f"sequence.{i}.dataset", entry["dataset"]) for i, entry in enumerate(protocol["sequence"])]

    def data_root(self, config, protocol):
        return f"data/{config['scale']}"  # the split's paths name their dataset's folder

    def shared_protocol(self, config, protocol, configuration, task):
        """The first protocol with the same datasets 0..task (same entries)
        and the same protocol settings, so CUB -> Dogs -> Cars trains only its
        Cars task (its base and Dogs task are CUB -> Dogs's) and the base model
        is shared by every sequence starting with CUB."""
        protocols = scale_block(config)["protocols"]

        def key(p: dict):
            rest = {k: v for k, v in p.items() if k not in ("sequence", "groups")}
            return repr(p["sequence"][: task + 1]), repr(sorted(rest.items()))

        for name, other in protocols.items():
            if "sequence" in other and len(other["sequence"]) > task and key(other) == key(protocols[protocol]):
                return name
        return protocol

    def make_split(self, manifests, protocol):
        from retrieval_bench.studies.lifelong.sequences import make_sequence_split

        return make_sequence_split(manifests, protocol["sequence"])

    def split_summary(self, frame):
        from retrieval_bench.studies.lifelong.sequences import sequence_statistics

        return sequence_statistics(frame)

    def class_groups(self, frame):
        return frame["name"] + " " + frame["part"]

    def task_rows(self, split, protocol, task):
        """Only the seen classes train; labels run on through the unseen ones."""
        seen = split[split["part"] == "seen"]
        train, test = seen[seen["split"] == "train"], seen[seen["split"] == "test"]
        label_end = [int(split.loc[split["task"] <= t, "label"].max()) + 1 for t in range(len(protocol["groups"]))]
        return train, test, [0, *label_end[:-1]], label_end

    def evaluation_sets(self, split, task):
        """The seen test images (s<d>) and all unseen images (u<d>) of every
        dataset so far, each its own retrieval set (spec 4.4)."""
        return {f"{part[0]}{d}": split[(split["task"] == d) & (split["part"] == part) & (split["split"] == "test")]
                for d in range(task + 1) for part in ("seen", "unseen")}

    def task_sets(self, task):
        return [f"s{task}", f"u{task}"]


FORM = SequenceProtocol()
