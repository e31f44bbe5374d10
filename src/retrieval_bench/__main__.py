import logging
import multiprocessing
import os
import sys

from retrieval_bench.cli import main

if __name__ == "__main__":
    main()
    # Success: every output is written and closed.  Tearing down the
    # interpreter's modules after torch (and torch._dynamo, which the
    # optimiser imports) cost 0.4-0.8 s per job, about a tenth of a mini
    # training job; skip it unless child processes (DataLoader workers) still
    # need the normal shutdown.  Errors leave through the normal path above.
    if not multiprocessing.active_children():
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
