"""One BioNet run of a whole network, in its own process(es)::

    python -m bmtool_lab.sim.bionet_child RUN_CONFIG MODEL_CONFIG
    mpiexec -n 4 python -m bmtool_lab.sim.bionet_child RUN_CONFIG MODEL_CONFIG --mpi   # or srun

The run config is the model's simulation config resolved by bmtk (absolute paths) with the
output, tstop and an overlay of tuned dynamics files set by :mod:`bmtool_lab.sim.bionet_run`.
Before BioNet builds the network this loads the model's compiled mechanisms (from bmtool_lab's
cache: the model folder holds no build output) and the model's own hooks (``synapses.py``'s
``add_synapse_model`` / ``add_weight_function``, found beside MODEL_CONFIG), as a run script
would. Progress is BioNet's own log ("t_sim:… ms", rank 0) on stdout.

``--mpi``: NEURON's MPI is initialised first (``h.nrnmpi_init()``, before bmtk makes its
ParallelContext), so BioNet spreads the cells over the ranks as under ``nrniv -mpi``.

Stop: a file ``stop_requested`` beside RUN_CONFIG (the lab writes it; ``touch`` it by hand for a
batch job) ends the run at the next block of ``nsteps_block`` steps, on every rank at the same
step; BioNet then writes the spikes up to there as at a normal end. Rank 0 writes
``run_status.json`` in the output folder: ``{"stopped", "t_stop_ms", "tstop_ms", "ranks"}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

STOP_FILE_NAME = "stop_requested"
STATUS_FILE_NAME = "run_status.json"


def main(argv: list[str]) -> int:
    use_mpi = "--mpi" in argv
    stream_spikes = "--stream-spikes" in argv
    args = [a for a in argv if a not in ("--mpi", "--stream-spikes")]
    if use_mpi:
        from neuron import h

        h.nrnmpi_init()
    run_config, model_config = Path(args[0]).resolve(), Path(args[1])
    from neuron import h

    pc = h.ParallelContext()
    rank, nhost = int(pc.id()), int(pc.nhost())

    def say(msg: str) -> None:
        if rank == 0:
            print(f"bmtool_lab: {msg}", flush=True)

    if use_mpi:
        say(f"MPI with {nhost} rank(s)")
    # local: child process only (the kernel imports this module for its file names)
    from bmtool_lab.model.config import load_config
    from bmtool_lab.model.python_hooks import find_model_hooks, model_hook_folders
    from bmtool_lab.sim.cell_overlay import CELL_OVERLAY_NAME, apply_cell_overlay
    from bmtool_lab.sim.mechanisms import load_mechanisms
    from bmtool_lab.sim.model_hooks import load_hooks

    model = load_config(model_config)
    if model.mechanisms_dir is not None and Path(model.mechanisms_dir).is_dir():
        load_mechanisms(model.mechanisms_dir)
    for note in load_hooks(find_model_hooks(model_hook_folders(model))):
        say(note)

    from bmtk.simulator import bionet

    conf = bionet.Config.from_json(str(run_config), validate=True)
    conf.build_env()
    net = bionet.BioNetwork.from_config(conf)
    sim = bionet.BioSimulator.from_config(conf, network=net)
    stopper = _stop_module(run_config.parent / STOP_FILE_NAME, pc, rank)
    sim.add_mod(stopper)
    cell_overlay = run_config.parent / CELL_OVERLAY_NAME
    if cell_overlay.exists():  # the cell profilers' unsaved what-ifs, on the cells BioNet built
        for note in apply_cell_overlay(net, cell_overlay):
            say(note)
    if stream_spikes:  # each block's spikes on stdout, for a live raster (sim/spike_stream.py)
        from bmtool_lab.sim.spike_stream import add_spike_stream  # local: child process only (numpy)

        add_spike_stream(sim)
    sim.run()
    t_end = round(float(h.t), 6)  # t accumulates dt: 249.9999999999 for 250
    stopped = stopper.stopped_at is not None and t_end < float(sim.tstop) - 0.5 * float(sim.dt)
    if rank == 0:
        status = {"stopped": stopped, "t_stop_ms": t_end, "tstop_ms": float(sim.tstop), "ranks": nhost}
        out = Path(conf["output"]["output_dir"])
        (out / STATUS_FILE_NAME).write_text(json.dumps(status) + "\n")
    if stopped:
        say(f"run stopped at t_sim:{t_end:.3f} ms")
    say("run finished")
    pc.barrier()
    return 0


def _stop_module(stop_file: Path, pc, rank: int):
    """A BioNet module that ends the run at a block when ``stop_file`` exists (checked by rank 0,
    agreed by every rank through an allreduce, so they all stop at the same step)."""
    from bmtk.simulator.bionet.modules.sim_module import SimulatorMod
    from neuron import h

    class StopAtBlock(SimulatorMod):
        stopped_at: float | None = None

        def block(self, sim, block_interval):
            asked = 1.0 if rank == 0 and stop_file.exists() else 0.0
            if pc.allreduce(asked, 2) > 0 and self.stopped_at is None:  # 2: max over ranks
                self.stopped_at = float(h.t)
                h.stoprun = 1  # stdrun's continuerun ends after this step

    return StopAtBlock()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
