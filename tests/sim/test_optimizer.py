"""The synapse optimizer with real NEURON on the example network's STP synapse (Exc2SST,
Exp2SynSTP under voltage clamp, CVODE): known parameters recovered, seeded fits identical,
rise time fittable, no state leaking into the tuner, Stop + resume, batch fits, bad input.
Kept light (small populations, few generations): two cores are shared."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bmtool_lab.tuning.optimizer import PENALTY, FitResult, OptimizerError, SynapseOptimizer, fit_many
from bmtool_lab.tuning.synapse import SynapseTuner

pytestmark = pytest.mark.sim

TRUE = {"Use": 0.2, "Dep": 80.0, "Fac": 300.0}
STP_BOUNDS = {"Use": (0.05, 0.6), "Dep": (10.0, 300.0), "Fac": (50.0, 1000.0)}
SMALL = {"popsize": 5, "progress": False}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    from bmtool_lab.examples import build_example

    return build_example(tmp_path_factory.mktemp("optimizer") / "example_network")


@pytest.fixture(scope="module")
def tuner(config):
    with SynapseTuner(config, connection="Exc2SST") as tn:
        yield tn


@pytest.fixture(scope="module")
def stp_targets(tuner) -> dict[str, float]:
    """Metrics of the known parameters, measured exactly as a fit measures them."""
    probe = SynapseOptimizer(tuner, params=STP_BOUNDS, targets={"simple_ppr": 1.0})
    run = probe.evaluate([TRUE])[0].runs["train"]
    return {k: run[k] for k in ("simple_ppr", "ppr", "induction", "recovery", "amplitude")}


@pytest.fixture(autouse=True)
def fresh_params(tuner):
    """Every test starts from the dynamics file's values."""
    tuner.select("Exc2SST")
    start = tuner.params
    yield
    tuner.select("Exc2SST")
    if tuner.params != start:
        tuner.set_params(**start)


# --- recovery of known parameters -------------------------------------------------------------
def test_known_stp_parameters_are_recovered(tuner, stp_targets):
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets, weights={"simple_ppr": 2})
    res = opt.fit(method="de", seed=1, maxiter=10, popsize=6, progress=False)
    for key, target in stp_targets.items():
        got = res.best_metrics[key]
        assert abs(got - target) <= 0.02 * abs(target), (key, got, target)
    # Use, Dep and Fac are identifiable from the train + recovery amplitudes
    for name, value in TRUE.items():
        assert res.best_params[name] == pytest.approx(value, rel=0.1), res.best_params
    assert res.error < 4e-4  # sqrt(error) reads as an RMS relative error: < 2 %
    hist = res.history
    assert len(hist) == res.n_evaluations and {"Use", "Dep", "Fac", "simple_ppr", "error", "status"} <= set(hist)
    assert hist["best_error"].is_monotonic_decreasing
    assert res.best_trace and res.best_trace["train"][0].size > 100
    fig = res.plot()
    assert len(fig.axes) == 2
    assert len(res.plot(backend="bqplot").marks) == 2


def test_seeded_fits_are_identical_and_parallel(tuner, stp_targets, capsys):
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets)
    a = opt.fit(method="de", seed=7, maxiter=2, polish=False, popsize=5, progress=True)
    assert "45/45 evals" in capsys.readouterr().err  # the headless progress bar
    b = opt.fit(method="de", seed=7, maxiter=2, polish=False, **SMALL)
    c = opt.fit(method="de", seed=8, maxiter=2, polish=False, **SMALL)
    assert a.n_evaluations == b.n_evaluations == 45  # population 15, 1 + 2 generations
    assert [e.error for e in a.evaluations] == [e.error for e in b.evaluations]
    assert [e.params for e in a.evaluations] == [e.params for e in b.evaluations]
    assert a.best_params == b.best_params and a.error == b.error
    assert [e.params for e in a.evaluations] != [e.params for e in c.evaluations]
    # a generation is one batch: the whole population goes to the executor at once
    assert a.history.groupby("batch").size().tolist() == [15, 15, 15]
    # the tuner's current values (inside the bounds) are a member of the first population
    assert a.evaluations[0].params == pytest.approx({k: tuner.params[k] for k in STP_BOUNDS})


@pytest.mark.parametrize("method,kw", [("nelder-mead", {"maxiter": 8, "n_starts": 2}),
                                       ("l-bfgs-b", {"maxiter": 2}), ("slsqp", {"maxiter": 2}),
                                       ("least-squares", {"maxiter": 3})])
def test_local_methods_are_parallel_and_reproducible(tuner, stp_targets, method, kw):
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets)
    a = opt.fit(method=method, seed=2, progress=False, **kw)
    b = opt.fit(method=method, seed=2, progress=False, **kw)
    assert [e.error for e in a.evaluations] == [e.error for e in b.evaluations]
    start = opt.evaluate([{k: tuner.params[k] for k in STP_BOUNDS}])[0].error
    assert a.error < start  # it went downhill
    sizes = a.history.groupby("batch").size()
    if method == "nelder-mead":
        assert sizes.max() == 2  # the two restarts run side by side
    else:
        assert sizes.max() == 4  # the point and its 3 finite-difference steps, in one batch


# --- rise time --------------------------------------------------------------------------------
def test_objective_moves_with_tau1_and_a_rise_time_target_is_met(tuner, config):
    opt = SynapseOptimizer(tuner, params={"tau1": (0.1, 3.0)}, targets={"rise_time": 1.2})
    # small tau1 steps move the interpolated rise time smoothly (dt-quantised metrics do not move)
    evs = opt.evaluate([{"tau1": 0.5 + d} for d in (0.0, 0.002, 0.004, 0.006)])
    rise = np.array([e.metrics["rise_time"] for e in evs])
    steps = np.diff(rise)
    assert np.all(steps > 0) and steps.max() < 1.5 * steps.min(), rise
    assert len({e.error for e in evs}) == 4
    with SynapseTuner(config, connection="Exc2SST", convention="bmtool") as old:
        q = SynapseOptimizer(old, params={"tau1": (0.1, 3.0)}, targets={"rise_time": 1.2}).evaluate(
            [{"tau1": 0.5}, {"tau1": 0.502}])
        assert q[0].metrics["rise_time"] == q[1].metrics["rise_time"]  # bmtool's: zero gradient
    res = opt.fit(method="l-bfgs-b", seed=0, maxiter=15, progress=False)
    assert res.best_metrics["rise_time"] == pytest.approx(1.2, rel=0.02), res


def test_tau_constraint_is_a_penalty_never_a_clip(tuner):
    opt = SynapseOptimizer(tuner, params={"tau1": (0.2, 6.0), "tau2": (2.0, 12.0)}, targets={"decay_tau": 9.0})
    bad, good = opt.evaluate([{"tau1": 5.0, "tau2": 3.0}, {"tau1": 0.5, "tau2": 9.0}])
    assert bad.status == "infeasible" and bad.error >= PENALTY and "tau1 < tau2" in bad.message
    assert bad.params == {"tau1": 5.0, "tau2": 3.0}  # recorded as asked, not clipped
    assert good.status == "ok" and good.error < 1e-3
    with pytest.raises(OptimizerError, match="tau1 < tau2"):
        SynapseOptimizer(tuner, params={"tau1": (10.0, 20.0)}, targets={"decay_tau": 9.0})  # tau2 is 9


# --- no leaks, Stop, resume -------------------------------------------------------------------
def test_no_state_leaks_into_the_tuner(tuner, stp_targets):
    before_params = tuner.params
    before = tuner.run_train().metrics
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets)
    res = opt.fit(method="de", seed=1, maxiter=1, polish=False, **SMALL)
    assert tuner.params == before_params
    assert tuner.run_train().metrics == before  # the tuner's runs are untouched by the fit
    tuner.set_params(Use=0.33)  # a slider move gives the slider's value, never the optimizer's
    run = tuner.run_train()
    assert run.params["Use"] == 0.33 and run.metrics["simple_ppr"] != res.best_metrics["simple_ppr"]
    res.apply(tuner)  # explicit, one undoable change
    assert {k: tuner.params[k] for k in STP_BOUNDS} == res.best_params
    tuner.set_params(Use=0.41)
    assert tuner.run_train().params["Use"] == 0.41
    tuner.undo()
    tuner.undo()
    assert tuner.params["Use"] == 0.33


def test_stop_keeps_the_best_and_resume_continues_exactly(tuner, stp_targets, tmp_path):
    kw = {"method": "de", "seed": 4, "maxiter": 3, "polish": False, **SMALL}
    whole = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets).fit(**kw)

    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets)
    seen = []

    def stop_midway(event, payload):
        if event == "evaluation":
            seen.append(payload)
            if len(seen) == 22:  # inside the second generation
                opt.stop()

    opt.add_listener(stop_midway)
    part = opt.fit(**kw)
    assert part.stopped and "stopped" in part.message
    assert 22 <= part.n_evaluations < whole.n_evaluations
    assert part.error == min(e.error for e in part.evaluations)  # the best so far is kept
    path = part.save(tmp_path / "fit.json")
    assert FitResult.load(path).best_params == part.best_params

    resumed = SynapseOptimizer.resume(path, tuner)
    done = resumed.fit(maxiter=3, progress=False)
    assert not done.stopped
    assert done.n_evaluations == whole.n_evaluations  # nothing evaluated twice
    assert done.best_params == whole.best_params and done.error == whole.error
    assert resumed.fit(resume=True, maxiter=4, progress=False).n_evaluations == whole.n_evaluations + 15
    with pytest.raises(OptimizerError, match="method"):
        SynapseOptimizer.resume(path, tuner).fit(method="nelder-mead")
    alone = SynapseOptimizer.resume(path)  # opens its own tuner from the saved config
    try:
        assert alone.tuner.name == "Exc2SST" and alone.targets == part.targets
    finally:
        alone.tuner.close()


def test_fit_async_and_listeners(tuner, stp_targets):
    opt = SynapseOptimizer(tuner, params={"Use": (0.05, 0.6)}, targets={"simple_ppr": stp_targets["simple_ppr"]})
    events: list[str] = []
    opt.add_listener(lambda e, p: events.append(e))
    res = opt.fit_async(method="de", seed=0, maxiter=2, popsize=5).result(timeout=120)
    assert events[0] == "start" and events[-1] == "done"
    assert {"evaluation", "batch", "best"} <= set(events)
    assert res.best_metrics["simple_ppr"] == pytest.approx(stp_targets["simple_ppr"], rel=0.02)


# --- protocols, batch, executors --------------------------------------------------------------
def test_fit_many_from_yaml_with_frequency_targets(config, tmp_path):
    dyn = Path(config).parent / "components" / "synaptic_models" / "Exc2PV.json"
    original = json.loads(dyn.read_text())
    with SynapseTuner(config, connection="Exc2PV") as tn:
        probe = SynapseOptimizer(tn, params={"Use": (0.1, 0.9)},
                                 targets={"induction@20Hz": -0.5, "simple_ppr@10Hz/500ms": 0.5})
        ev = probe.evaluate([{"Use": 0.3}])[0]
    targets = {"induction@20Hz": ev.metrics["induction@20Hz"], "simple_ppr@10Hz/500ms":
               ev.metrics["simple_ppr@10Hz/500ms"]}
    assert targets["induction@20Hz"] != pytest.approx(targets["simple_ppr@10Hz/500ms"])
    spec = (
        "fit: {method: de, seed: 1, maxiter: 4, popsize: 6}\n"
        "connections:\n"
        "  Exc2PV:\n"
        "    params: {Use: [0.1, 0.9]}\n"
        f"    targets: {json.dumps(targets)}\n"
        "  NoSuchConnection:\n"
        "    params: {Use: [0.1, 0.9]}\n"
        "    targets: {simple_ppr: 0.5}\n"
    )
    path = tmp_path / "targets.yaml"
    path.write_text(spec)
    table = fit_many(config, path, save=True, progress=False)
    ok, bad = table.iloc[0], table.iloc[1]
    assert ok["error"] == "" and ok["fit_error"] < 4e-4, ok
    assert ok["best_params"]["Use"] == pytest.approx(0.3, rel=0.03)
    assert Path(ok["result_path"]).is_file() and FitResult.load(ok["result_path"]).connection == "Exc2PV"
    saved = json.loads(dyn.read_text())
    assert saved["Use"] == ok["best_params"]["Use"] != original["Use"]
    assert saved["notes"] == original["notes"]  # the rest of the file is kept
    assert "NoSuchConnection" in bad["error"] and bad["result_path"] == ""


def test_dask_executor_gives_the_same_fit(tuner, stp_targets):
    distributed = pytest.importorskip("distributed")
    opt = SynapseOptimizer(tuner, params={"Use": (0.05, 0.6), "Fac": (50.0, 1000.0)},
                           targets={k: stp_targets[k] for k in ("simple_ppr", "induction")})
    local = opt.fit(method="de", seed=5, maxiter=1, polish=False, **SMALL)
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = opt.fit(method="de", seed=5, maxiter=1, polish=False, executor=client, **SMALL)
    assert [e.error for e in remote.evaluations] == [e.error for e in local.evaluations]


# --- stopping at the targets, at stalled progress; the same fit on every executor -------------
def test_a_fit_that_starts_on_its_targets_stops_after_one_batch(tuner, stp_targets):
    tuner.set_params(**TRUE)  # the tuner's values are a member of DE's first population
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=stp_targets)
    res = opt.fit(method="de", seed=1, maxiter=30, **SMALL)
    assert res.stop_reason == "target_met", res.message
    assert res.n_evaluations == 15  # the first population (5 × 3), no generation, no polish
    assert res.error == 0.0 and res.best_index == 0
    assert FitResult.load(res.save(Path(opt.tuner.config.path).parent / "met.json")).stop_reason == "target_met"


def test_de_stops_at_its_tolerance_as_soon_as_it_is_met(tuner, stp_targets):
    rtol = 0.02
    targets = {k: stp_targets[k] for k in ("simple_ppr", "induction", "recovery")}
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=targets)
    res = opt.fit(method="de", seed=3, maxiter=100, target_rtol=rtol, **SMALL)
    assert res.stop_reason == "target_met", res.message
    scales = res.scales
    for key, target in targets.items():  # every metric of the best is within 2 % of its scale
        assert abs(res.best_metrics[key] - target) <= rtol * scales[key], (key, res.best_metrics[key], target)
    # ... and no evaluation before the last batch met them all: it stopped at the first batch that did
    last = res.evaluations[-1].batch

    def met(ev):
        return ev.status == "ok" and all(abs(ev.metrics[k] - t) <= rtol * scales[k] for k, t in targets.items())
    assert not any(met(ev) for ev in res.evaluations if ev.batch < last)
    assert any(met(ev) for ev in res.evaluations if ev.batch == last)
    assert res.n_evaluations < 15 * 101  # inside the budget of 100 generations


def test_a_fit_that_cannot_improve_stops_as_stalled(tuner, stp_targets):
    # recovery 5 is far outside what Use/Dep/Fac can give: the error plateaus
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets={"recovery": 5.0})
    res = opt.fit(method="de", seed=2, maxiter=40, polish=False, stall_batches=3, stall_rtol=0.01, **SMALL)
    assert res.stop_reason == "stalled", res.message
    assert res.n_evaluations < 15 * 41
    best = res.history.groupby("batch")["best_error"].min().to_numpy()
    assert best[-1] >= best[-4] * (1 - 0.01)  # the last 3 batches improved by less than 1 %
    off = opt.fit(method="de", seed=2, maxiter=4, polish=False, stall_batches=0, **SMALL)
    assert off.stop_reason in ("maxiter", "converged") and off.n_evaluations <= 15 * 5


def test_same_seed_same_fit_on_one_worker_two_workers_and_dask(tuner, stp_targets):
    distributed = pytest.importorskip("distributed")
    from bmtool_lab.sim.executor import LocalPool

    tuner.set_params(Use=0.35, Dep=150.0, Fac=600.0)  # a start away from the answer
    targets = {k: stp_targets[k] for k in ("simple_ppr", "induction", "recovery")}
    opt = SynapseOptimizer(tuner, params=STP_BOUNDS, targets=targets)
    fits = {"least-squares": {"method": "least-squares", "maxiter": 12},
            "de": {"method": "de", "maxiter": 2, "polish": True, "popsize": 4}}
    got: dict = {}
    with LocalPool(n_workers=1) as one, LocalPool(n_workers=2) as two, \
            distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                     dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        for ex_name, ex in (("1 worker", one), ("2 workers", two), ("dask", client)):
            for name, kw in fits.items():
                r = opt.fit(seed=11, executor=ex, progress=False, **kw)
                got[ex_name, name] = (r.n_evaluations, r.best_params, r.error, r.stop_reason,
                                      [(e.params, e.error) for e in r.evaluations])
    for name in fits:
        ref = got["1 worker", name]
        assert ref[0] > 4
        for ex_name in ("2 workers", "dask"):
            assert got[ex_name, name] == ref, (name, ex_name)  # bit-identical: ==, not approx


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"params": {}, "targets": {"simple_ppr": 1}}, "no parameters to fit"),
    ({"params": {"Use": (0.5, 0.5)}, "targets": {"simple_ppr": 1}}, "lower 0.5 must be smaller than upper"),
    ({"params": {"Use": (0.9, 0.1)}, "targets": {"simple_ppr": 1}}, "must be smaller"),
    ({"params": {"Use": (0.1,)}, "targets": {"simple_ppr": 1}}, r"\(lower, upper\)"),
    ({"params": {"Use": (0.1, math.inf)}, "targets": {"simple_ppr": 1}}, "finite"),
    ({"params": {"Nope": (0, 1)}, "targets": {"simple_ppr": 1}}, "no parameter 'Nope'"),
    ({"params": {"tau1": (0.0, 1.0)}, "targets": {"simple_ppr": 1}}, "time constant"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"sharpness": 1}}, "unknown metric 'sharpness'"),
    ({"params": {"Use": (0.1, 1)}, "targets": {}}, "no targets"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"simple_ppr": "big"}}, "finite number"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"amplitude": 0.0}}, "nonzero target"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"simple_ppr": 1}, "weights": {"ppr": 2}}, "not a target"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"simple_ppr": 1}, "weights": {"simple_ppr": -1}}, ">= 0"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"simple_ppr@5 kHz": 1}}, "unknown protocol"),
    ({"params": {"Use": (0.1, 1)}, "targets": {"induction@single": 1}}, "needs a train"),
])
def test_bad_input_gives_clear_errors(tuner, kwargs, match):
    with pytest.raises(OptimizerError, match=match):
        SynapseOptimizer(tuner, **kwargs)


def test_bad_fit_arguments(tuner, tmp_path):
    opt = SynapseOptimizer(tuner, params={"Use": (0.1, 1)}, targets={"simple_ppr": 1.0})
    with pytest.raises(OptimizerError, match="method must be one of"):
        opt.fit(method="genetic")
    with pytest.raises(OptimizerError, match="nothing to resume"):
        opt.fit(resume=True)
    with pytest.raises(OptimizerError, match="outside the bounds"):
        opt.evaluate([{"Use": 2.0}])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(OptimizerError, match="not a saved synapse fit"):
        SynapseOptimizer.resume(tmp_path / "x.json", tuner)
    (tmp_path / "t.json").write_text(json.dumps({"connections": {}, "fits": {}}))
    with pytest.raises(OptimizerError, match="unknown top-level keys"):
        fit_many(tuner.config.path, tmp_path / "t.json")
