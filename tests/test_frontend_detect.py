"""Profile auto-detection (``from_nir(path)``, ``profile="auto"``) and the Norse τ·dt correction (issue 14).

Oracles: for detection, ``tests/data/conformance/manifest.json``, which records which framework's own
exporter wrote each golden ``.nir`` (and the dt it ran at); for the correction, the framework's own
forward pass stored beside each file, compared by ``tests/test_conformance.py``'s ``observe``.
Profiles: ``auto`` unless a test names one.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import nir
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from aedc.cli import app
from aedc.frontend import (
    AmbiguousProfileError,
    ProfileDetectedWarning,
    QuirkFixWarning,
    SemanticsWarning,
    detect,
    from_nir,
    read_nir,
)
from aedc.frontend.detect import PROFILE_FOR, fix_norse_tau
from aedc.frontend.nir_reader import raw_from_nir
from aedc.frontend.nir_structure import flatten
from aedc.ir.neurons import CubaLIFModel, LIFModel
from aedc.ir.options import PROFILES

DATA = Path(__file__).parent / "data"
CONFORMANCE = DATA / "conformance"
PAPER = DATA / "nir_paper"
MANIFEST: list[dict[str, Any]] = json.loads((CONFORMANCE / "manifest.json").read_text())["cases"]
F32 = np.float32
pytestmark = pytest.mark.filterwarnings("ignore::aedc.frontend.detect.ProfileDetectedWarning")


def _detect(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the paper files predate NIR 1.0
        raw = read_nir(path)
    return detect(raw, flatten(raw))


@pytest.mark.parametrize("entry", MANIFEST, ids=[c["case"] for c in MANIFEST])
def test_every_golden_case_is_detected_as_the_framework_that_wrote_it(entry: dict[str, Any]) -> None:
    found = _detect(CONFORMANCE / entry["nir"])
    assert found.framework == entry["framework"], found.summary()
    assert found.profile == PROFILE_FOR[entry["framework"]]
    if entry["framework"] != "snntorch":  # snnTorch's dt is inferred by the profile itself
        assert found.dt == entry["dt"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = from_nir(CONFORMANCE / entry["nir"])
    assert graph.semantics.dt == pytest.approx(entry["dt"], rel=1e-9)
    assert graph.meta["framework"] == entry["framework"]


def test_hit_rate_over_the_golden_cases() -> None:
    """The number to report: every case of every framework (52 today) is recognised."""
    hits = {f: [0, 0] for f in ("snntorch", "sinabs", "norse", "rockpool", "spyx")}
    for entry in MANIFEST:
        hits[entry["framework"]][1] += 1
        hits[entry["framework"]][0] += _detect(CONFORMANCE / entry["nir"]).framework == entry["framework"]
    assert {f: tuple(v) for f, v in hits.items()} == {
        "norse": (10, 10), "rockpool": (6, 6), "sinabs": (12, 12), "snntorch": (17, 17), "spyx": (7, 7)}


def test_detection_says_so_and_records_the_evidence() -> None:
    with pytest.warns(ProfileDetectedWarning, match=r"written by sinabs; reading it with profile 'sinabs' "
                                                    r"at dt=1 s\. Evidence: node names 0, 1, 2"):
        g = from_nir(CONFORMANCE / "sinabs" / "lif_single.nir")
    assert g.semantics.profile == "sinabs"
    assert g.meta["framework"] == "sinabs"
    assert g.meta["dt_source"] == "detected"
    assert "r = 1 and τ ≥ 1" in g.meta["profile_evidence"]
    assert "not snntorch: r ≠ τ_mem/dt" in g.meta["profile_evidence"]
    with pytest.warns(ProfileDetectedWarning, match=r"rockpool.*profile 'rockpool' at dt=0\.001 s.*"
                                                    r"Note: Rockpool's LIFTorch emits up to 2\*\*16"):
        g = from_nir(CONFORMANCE / "rockpool" / "lif_single.nir")
    assert g.meta["dt_source"] == "detected"


def test_explicit_profiles_keep_their_behaviour() -> None:
    """An explicit profile is not second-guessed: no detection, no meta keys, Norse's τ·dt left as is."""
    path = CONFORMANCE / "norse" / "lifbox.nir"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = from_nir(path, profile="nir-euler", dt=1e-3)
    assert {w.category for w in caught} == {SemanticsWarning}
    assert "framework" not in g.meta
    assert "quirks_fixed" not in g.meta
    lif = g.population("1").neuron
    assert isinstance(lif, LIFModel)
    np.testing.assert_array_equal(np.unique(lif.tau), F32(1e-3) * F32(0.01))  # as the file stores it


def test_paper_graphs() -> None:
    """The shared NIR paper files: Sinabs' CNN, Rockpool's LIF (its dt = 1e-4 read from r), the two-LIF
    graph (hand-written names: no fingerprint) and Norse's 2023 export (no batch axis then: every
    candidate ruled out, read as nir-euler and said so)."""
    cnn = _detect(PAPER / "02_cnn" / "cnn_sinabs.nir")
    assert (cnn.framework, cnn.profile, cnn.dt) == ("sinabs", "sinabs", 1.0)
    rock = _detect(PAPER / "01_lif" / "lif_rockpool.nir")
    assert (rock.framework, rock.profile, rock.dt) == ("rockpool", "rockpool", 1e-4)
    two = _detect(PAPER / "01_lif" / "two_lif_neurons.nir")
    assert (two.framework, two.profile, two.dt, two.fingerprint) == (None, "nir-euler", None, False)
    norse = _detect(PAPER / "01_lif" / "lif_norse.nir")
    assert (norse.framework, norse.profile, norse.fingerprint) == (None, "nir-euler", True)
    assert any(e.startswith("not norse: no batch axis") for e in norse.evidence)
    with pytest.warns(ProfileDetectedWarning, match="not recognised as any framework's export"):
        from_nir(PAPER / "01_lif" / "lif_norse.nir")


def _lif(n: int, tau: float = 0.01, r: float = 1.0) -> nir.LIF:
    return nir.LIF(tau=np.full(n, tau, F32), r=np.full(n, r, F32), v_leak=np.zeros(n, F32),
                   v_threshold=np.ones(n, F32), v_reset=np.zeros(n, F32))


def _if(n: int) -> nir.IF:
    return nir.IF(r=np.ones(n, F32), v_threshold=np.ones(n, F32), v_reset=np.zeros(n, F32))


def _graph(nodes: dict[str, nir.NIRNode], edges: list[tuple[str, str]], **meta: str) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(meta), type_check=False)


def _sequential(neuron: nir.NIRNode, n: int = 3, **meta: str) -> nir.NIRGraph:
    """input → 0 (neuron) → 1 (Affine) → output: a torch.nn.Sequential's names, no batch axis visible
    (the Input feeds a neuron, the Output an Affine)."""
    return _graph({"input": nir.Input(input_type=np.array([n])), "0": neuron,
                   "1": nir.Affine(weight=np.eye(n, dtype=F32), bias=np.zeros(n, F32)),
                   "output": nir.Output(output_type=np.array([n]))},
                  [("input", "0"), ("0", "1"), ("1", "output")], **meta)


def test_an_ambiguous_graph_names_the_choices_and_how_to_pass_one() -> None:
    """Sequential names and IF(r = 1) without a batch axis to see: Sinabs' IAF or Norse's IAFCell."""
    with pytest.raises(AmbiguousProfileError, match=r"(?s)it fits sinabs, norse:\n  sinabs \(profile "
                                                    r"'sinabs'\).*\n  norse \(profile 'norse'\).*"
                                                    r"from_nir\(path, profile='sinabs'\).*--profile"):
        from_nir(_sequential(_if(3)))
    g = from_nir(_sequential(_if(3)), profile="sinabs")  # the way out the message gives
    assert g.semantics.profile == "sinabs"


def test_parameters_settle_what_names_leave_open() -> None:
    """The same names: r = τ/dt → snnTorch (dt from r); r = 1, τ in steps → Sinabs; Norse's τ·dt → Norse."""
    snn = from_nir(_sequential(_lif(3, tau=2e-3, r=20.0)))
    assert (snn.semantics.profile, snn.semantics.dt, snn.meta["dt_source"]) == ("snntorch", 1e-4, "detected")
    sin = from_nir(_sequential(_lif(3, tau=8.0)))
    assert (sin.semantics.profile, sin.semantics.dt) == ("sinabs", 1.0)
    with pytest.warns(QuirkFixWarning, match=r"'0' \(LIF\) tau 1e-05 → 0\.01 s"):
        nor = from_nir(_sequential(_lif(3, tau=1e-5)))
    assert (nor.semantics.profile, nor.semantics.dt) == ("norse", 1e-3)


def test_metadata_decides_and_conflicting_metadata_is_ambiguous() -> None:
    g = from_nir(_sequential(_if(3), framework="Sinabs 3.1"))
    assert g.meta["framework"] == "sinabs"
    assert "graph metadata framework = 'Sinabs 3.1'" in g.meta["profile_evidence"]
    both = _sequential(_if(3), framework="sinabs")
    both.nodes["0"].metadata = {"exporter": "norse"}
    with pytest.raises(AmbiguousProfileError, match="it fits norse, sinabs"):
        from_nir(both)


def test_hand_built_graphs_are_read_as_nir_euler_without_a_word() -> None:
    """No fingerprint (the names are the user's): NIR's literal reading, as before auto-detection."""
    g = _graph({"x": nir.Input(input_type=np.array([3])), "n": _lif(3, tau=2e-3, r=20.0),
                "y": nir.Output(output_type=np.array([3]))}, [("x", "n"), ("n", "y")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        imported = from_nir(g)
    assert (imported.semantics.profile, imported.semantics.dt) == ("nir-euler", 1e-4)
    assert imported.meta["framework"] == "unknown"


def test_fix_norse_tau_divides_only_sub_tick_time_constants() -> None:
    raw = read_nir(CONFORMANCE / "norse" / "lif.nir")
    fixed, changed = fix_norse_tau(flatten(raw), 1e-3)
    assert changed == ("'1' (CubaLIF) tau_mem 1e-05 → 0.01 s, tau_syn 5e-06 → 0.005 s",
                       "'3' (CubaLIF) tau_mem 1e-05 → 0.01 s, tau_syn 5e-06 → 0.005 s")
    tau = fixed.nodes["1"].fields["tau_mem"]
    assert isinstance(tau, np.ndarray)
    assert tau.dtype == raw.nodes["1"].fields["tau_mem"].dtype  # type: ignore[union-attr]
    assert np.all(tau == tau.dtype.type(0.01))
    _, none = fix_norse_tau(fixed, 1e-3)  # idempotent: nothing is below a tick any more
    assert none == ()
    snn = read_nir(CONFORMANCE / "snntorch" / "synaptic_subtract.nir")  # τ ≥ dt: left alone
    assert fix_norse_tau(flatten(snn), 1e-4)[1] == ()


def test_fix_quirks_switches() -> None:
    path = CONFORMANCE / "norse" / "lifbox.nir"
    with pytest.warns(QuirkFixWarning, match=r"corrected Norse's τ·dt export quirk .* '1' \(LIF\) tau "
                                             r"1e-05 → 0\.01 s; '3' \(LIF\)"):
        auto = from_nir(path)
    assert auto.meta["quirks_fixed"].startswith("Norse τ·dt: '1' (LIF)")
    with pytest.warns(SemanticsWarning, match="looks like Norse's NIR export"):
        kept = from_nir(path, fix_quirks=False)
    assert "quirks_fixed" not in kept.meta
    with pytest.warns(QuirkFixWarning):
        forced = from_nir(path, profile="nir-euler", dt=1e-3, fix_quirks=True)
    lif = forced.population("1").neuron
    assert isinstance(lif, LIFModel)
    np.testing.assert_array_equal(lif.tau, F32(0.01))
    with pytest.warns(QuirkFixWarning, match="tau_syn 5e-06 → 0.005 s"):
        cuba = from_nir(CONFORMANCE / "norse" / "lif.nir", profile="norse", fix_quirks=True).population("1")
    assert isinstance(cuba.neuron, CubaLIFModel)
    np.testing.assert_array_equal(cuba.neuron.tau_syn, F32(0.005))


@pytest.fixture(scope="module")
def conformance() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("_conformance_observe", Path(__file__).parent /
                                                  "test_conformance.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    yield mod
    del sys.modules[spec.name]


# Norse golden cases once τ·dt is corrected (oracle: Norse's own forward pass): the LIFBox ones exact
# under nir-euler and norse, IAFCell exact under norse (v ← v + x), LIFCell's spikes and v under norse
# (its i_syn is recorded after Norse's decay, so the i_syn trace alone differs). The other LIFBox cases
# differ for what the file does not say (subtract reset, v_leak start, v_reset), see expected.json.
FIXED = [("conv_lifbox", "nir-euler", "exact"), ("conv_lifbox", "norse", "exact"),
         ("lifbox", "nir-euler", "exact"), ("lifbox", "norse", "exact"),
         ("lifbox_nobias", "nir-euler", "exact"), ("lifbox_libox_readout", "nir-euler", "exact"),
         ("lifbox_libox_readout", "norse", "exact"), ("iaf", "norse", "exact"),
         ("lif", "norse", "first diverging tick 0 (1 i_syn); spikes agree; spikes 204 aedc / 204 "
                          "framework, 204 coincide; max |dv| 9.5e-07"),
         ("lif_nobias", "norse", "first diverging tick 0 (1 i_syn); spikes agree; spikes 203 aedc / 203 "
                                 "framework, 203 coincide; max |dv| 1.4e-06")]


@pytest.mark.parametrize(("case", "profile", "outcome"), FIXED, ids=[f"{c}-{p}" for c, p, _ in FIXED])
def test_norse_cases_match_norse_once_tau_is_corrected(conformance: ModuleType, monkeypatch:
                                                       pytest.MonkeyPatch, case: str, profile: str,
                                                       outcome: str) -> None:
    fixes: list[str] = []

    def fixing(*args: Any, **kw: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            graph = from_nir(*args, fix_quirks=True, **kw)
        for w in caught:  # observe() calls any other aedc warning a refusal: pass those on
            if w.category is QuirkFixWarning:
                fixes.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return graph

    monkeypatch.setattr(conformance, "from_nir", fixing)
    entry = dict(conformance.ENTRIES[f"norse/{case}"], profile=profile)
    seen = conformance.observe(entry)
    assert bool(fixes) == (case != "iaf"), fixes  # IAFCell has no τ to correct
    assert (seen.outcome if seen.outcome == "exact" else seen.measured) == outcome
    assert seen.outcome in ("exact", "approximate")


def test_the_uncorrected_norse_cases_stay_refused(conformance: ModuleType) -> None:
    """The harness itself (explicit profile, no fix) still sees Norse's τ·dt and refuses."""
    assert conformance.observe(conformance.ENTRIES["norse/lifbox"]).outcome == "refused"


def test_inspect_prints_the_detected_profile_and_evidence() -> None:
    res = CliRunner().invoke(app, ["inspect", str(CONFORMANCE / "snntorch" / "rleaky_bias.nir")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "detected: snntorch → profile snntorch, dt=0.0001s (detected)" in text
    assert "recurrent subgraph '1.lif'" in text
    res = CliRunner().invoke(app, ["inspect", str(CONFORMANCE / "norse" / "lifbox.nir")])
    text = " ".join(res.output.split())
    assert "detected: norse → profile norse, dt=0.001s" in text
    assert "quirks fixed: Norse τ·dt: '1' (LIF) tau 1e-05 → 0.01 s" in text
    res = CliRunner().invoke(app, ["inspect", str(CONFORMANCE / "norse" / "lifbox.nir"), "--profile",
                                   "nir-euler"])
    assert "detected:" not in res.output


def test_an_aedc_export_is_read_back_with_its_own_semantics() -> None:
    """to_nir records the whole semantics; auto restores them (options included), an unreadable record
    falls back to NIR's literal reading and says so."""
    from aedc.frontend import to_nir
    from aedc.ir.options import profile
    from aedc.train import mlp

    sem = profile("snntorch", dt=1e-3, reset="zero", reset_next_tick=False, reset_recheck=True)
    exported = to_nir(mlp([3, 4, 2], seed=0).model_copy(update={"semantics": sem}))
    assert exported.metadata["exporter"] == "aedc"
    with pytest.warns(ProfileDetectedWarning, match="written by aedc; reading it with profile 'snntorch'"):
        back = from_nir(exported)
    assert back.semantics == sem
    assert back.meta["framework"] == "aedc"
    exported.metadata["aedc_semantics"] = '{"profile": "snntorch", "unknown_field": 1}'
    again = from_nir(exported)
    assert (again.semantics.profile, again.semantics.dt) == ("nir-euler", 1e-4)
    assert "no readable aedc_semantics" in again.meta["profile_evidence"]


NAMES = {"sequential": ("0", "1", "2"), "rockpool": ("0_LinearTorch", "1_LIFTorch", "2_LinearTorch"),
         "spyx": ("layer_0", "layer_1", "layer_2"), "hand": ("fc", "lif", "readout")}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(names=st.sampled_from(sorted(NAMES)), kind=st.sampled_from(["LIF", "CubaLIF", "LI", "IF"]),
       tau=st.floats(1e-7, 1e3), r=st.floats(0.0, 1e3), w_in=st.floats(0.0, 1e2),
       batch=st.booleans(), meta=st.sampled_from(["", "snntorch", "Norse", "aedc", "mystery"]))
def test_detection_never_fails_otherwise(names: str, kind: str, tau: float, r: float, w_in: float,
                                         batch: bool, meta: str) -> None:
    """Any parameters, names, batch axis and metadata: a Detection with a real profile, or the
    ambiguity error — never another exception."""
    n = 3
    one = np.ones(n, F32)
    neuron: nir.NIRNode = {
        "LIF": lambda: nir.LIF(tau=one * tau, r=one * r, v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        "CubaLIF": lambda: nir.CubaLIF(tau_syn=one * tau / 2, tau_mem=one * tau, r=one * r, w_in=one * w_in,
                                       v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        "LI": lambda: nir.LI(tau=one * tau, r=one * r, v_leak=0 * one),
        "IF": lambda: nir.IF(r=one * r, v_threshold=one, v_reset=0 * one)}[kind]()
    a, b, c = NAMES[names]
    shape = [1, n] if batch else [n]
    g = _graph({"input": nir.Input(input_type=np.array(shape)),
                a: nir.Affine(weight=np.eye(n, dtype=F32), bias=np.zeros(n, F32)), b: neuron,
                c: nir.Affine(weight=np.eye(n, dtype=F32), bias=np.zeros(n, F32)),
                "output": nir.Output(output_type=np.array(shape))},
               [("input", a), (a, b), (b, c), (c, "output")], **({"exporter": meta} if meta else {}))
    raw = raw_from_nir(g)
    message = ""
    try:
        found = detect(raw, flatten(raw))
    except AmbiguousProfileError as exc:
        message = str(exc)
    if message:
        assert "pass the profile" in message
        return
    assert found.profile in PROFILES, found
    assert found.evidence
    assert found.dt is None or found.dt > 0
