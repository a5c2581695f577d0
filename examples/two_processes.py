"""Run a build as two processes on this machine: ``aedc run --processes 2`` over ``jax.distributed``.

Each process joins the run through a coordinator on localhost (gloo CPU collectives), holds the PEs of
its share of the devices (grouped by chip) and exchanges only the events that cross to the other
process; process 0 writes the run directory. On several machines, run the same ``aedc run`` line on
each with its own ``--process-id`` and the coordinator's ``host:port``.

    python examples/two_processes.py BUILD INPUT.npy [OUTPUT] [-- more 'aedc run' options]

e.g. ``aedc compile examples/nir/cnn_sinabs.nir -o build/cnn`` then
``python examples/two_processes.py build/cnn x.npy build/cnn/run2 -- --schedule async``.
"""

from __future__ import annotations

import socket
import subprocess
import sys


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = argv[: argv.index("--")] if "--" in argv else argv
    if len(args) < 2:
        print(__doc__)
        return 2
    build, x = args[0], args[1]
    output = ["-o", args[2]] if len(args) > 2 else []
    with socket.socket() as s:  # a free port for the coordinator
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "aedc.cli", "run", build, "--input", x, *output, *extra,
           "--processes", "2", "--coordinator", f"127.0.0.1:{port}"]
    procs = [subprocess.Popen([*cmd, "--process-id", str(i)]) for i in range(2)]
    codes = [p.wait() for p in procs]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
