"""``harmosync analyze CONFIG.toml`` (characteristic times, Rayleigh analysis, localized modes)
and ``harmosync kernels CONFIG.toml`` (Langevin kernels γ1, γ2, η and spectral densities)."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from . import handle_errors, one_run, plural

UNITS = {
    "frequency": "[w] (the user's frequency unit; paper: omega1)",
    "time": "1/[w]",
    "velocity": "sites*[w]",
    "damping rate G": "[w]; <q_s> amplitude decays as exp(-G t/2)",
    "kernel": "[w]^2",
    "spectral density J": "[w]^2",
    "coupling": "[w]^2",
    "x": "[w]^(-1/2)",
    "theta": "rad",
}


# ----------------------------------------------------------------------------------------------
# analyze
# ----------------------------------------------------------------------------------------------
def build_report(cfg, *, horizon=None, check=False):
    """The analysis of ``cfg``'s network (``analysis.report``), checking ``--horizon`` first."""
    from ..analysis.summary import check_horizon, report

    net = cfg.build_network()
    if horizon is not None:
        check_horizon(net, horizon, "--horizon")
    return report(net, initial_mean=cfg.build_state().probes.mean, horizon=horizon, check=check,
                  pair=cfg.sync.probes, baths=cfg.build_baths(net))


def report_dict(rep, cfg) -> dict:
    """Everything ``harmosync analyze`` prints and saves, as a JSON-ready dict."""
    from dataclasses import asdict

    from .. import io
    from ..conventions import CONVENTIONS

    out: dict = {
        "title": "harmosync analyze",
        "harmosync_version": io.version(),
        "config": cfg.to_dict(),
        "conventions": CONVENTIONS,
        "units": UNITS,
        "characteristic_times": rep.times.as_dict() if rep.times is not None else None,
        "rayleigh": _rayleigh_dict(rep) if rep.rayleigh is not None else None,
        "localized_modes": [asdict(m) for m in rep.localized_modes],
        "measured_rates": list(rep.measured_rates) if rep.measured_rates is not None else None,
        "prediction": ({"verdict": rep.prediction.verdict.value, "reason_code": rep.prediction.reason.value}
                       if rep.prediction is not None else None),
        "open": _open_dict(rep.open, cfg.time.stop) if rep.open is not None else None,
    }
    return _clean(out)


def _rayleigh_dict(rep) -> dict:
    """The RayleighAnalysis with its prediction flattened and put into words (key order of the
    report before the prediction became data; the structured fields follow)."""
    ray = rep.rayleigh
    d = ray.as_dict()
    p = d.pop("prediction")
    head = {k: d.pop(k) for k in list(d)[:9]}  # theta … tau_sync_eq7
    wcp, grade, small = d.pop("weak_coupling_parameter"), d.pop("markov_grade"), d.pop("cross_damping_small")
    return {
        **head, "time_to_sync": p["time_to_sync"], "surviving_mode": p["surviving_mode"], "kind": p["pattern"],
        "expected": ray.prediction.expected, "reason": _reason_text(rep), **d,
        "validity": _validity_text(rep), "weak_coupling_parameter": wcp, "steady_state": _steady_text(rep),
        "verdict": p["verdict"], "reason_code": p["reason"], "deadline": p["deadline"],
        "deadline_source": p["deadline_source"], "markov_grade": grade, "cross_damping_small": small,
    }


def _reason_text(rep) -> str:
    """Rayleigh's prediction in words (its :class:`~harmosync.analysis.rayleigh.Reason`)."""
    from ..analysis.rayleigh import SYNC_RATIO, Reason

    ray, p = rep.rayleigh, rep.prediction
    surv, t_sync, t_end = p.surviving_mode, p.time_to_sync, p.deadline
    revival = p.deadline_source == "revival"
    after = "the revival τ_R" if revival else (
        f"the Heisenberg time 2π/Δ of the environment's {rep.network.environment.sites} discrete modes (mean spacing Δ)")
    om = ray.frequencies
    text = {
        Reason.NO_GAP: lambda: "no damping gap (G′_11 = G′_22)",
        Reason.ONE_PROBE_MODE: lambda: f"the surviving mode q{surv} lives on one probe (|sin 2θ| small)",
        Reason.GAP_TOO_SMALL: lambda: (f"the gap is too small: the damped mode needs {t_sync:.4g} [1/ω] to fall "
                                       f"{SYNC_RATIO:g}× below q{surv}, after {after} = {t_end:.4g} [1/ω]"),
        Reason.POLE_MERGED: lambda: ("strong coupling: a probe resonance has merged with the band edge (no exact "
                                     "pole found); Rayleigh's approximation does not apply, see the localized modes"),
        Reason.MARKOV_INACCURATE: lambda: (f"Rayleigh's (Markov) approximation does not apply: its rates are off by "
                                           f"{100 * ray.markov_error:.3g}% (strong coupling); see the exact rates and localized modes"),
        Reason.CROSS_DAMPING: lambda: (f"Rayleigh's approximation fails: cross damping |G′_12| = "
                                       f"{max(abs(c) for c in ray.cross_damping):.3g} is not small against "
                                       f"|Ω2 − Ω1| = {abs(om[1] - om[0]):.3g}"),
        Reason.GAP: lambda: (f"gap: q{3 - surv} decays, q{surv} survives; amplitude ratio falls "
                             f"{SYNC_RATIO:g}× by t = {t_sync:.4g} [1/ω]" +
                             (f" < τ_R = {t_end:.4g}" if revival else
                              f" < the Heisenberg time {t_end:.4g} of the environment" if math.isfinite(t_end) else "")),
    }
    return text[p.reason]()


def _validity_text(rep) -> str:
    """How far to trust Rayleigh's rates, in words."""
    from ..analysis.localized import STEADY_WEIGHT

    ray = rep.rayleigh
    if ray.markov_grade == "unchecked":
        parts = ["Markov rates not checked against exact poles"]
    else:
        parts = [f"{ray.markov_grade}: Markov rates differ by {100 * ray.markov_error:.2g}% from the exact continuum poles"]
    if not ray.cross_damping_small:
        parts.append("cross damping not small (Rayleigh's approximation questionable)")
    if rep.steady_modes:
        parts.append(f"{len(rep.steady_modes)} localized mode(s) with probe weight > {100 * STEADY_WEIGHT:g}% "
                     "(undamped steady oscillations)")
    return "; ".join(parts)


def _steady_text(rep) -> str:
    """What the localized modes leave oscillating, in words."""
    from ..analysis.localized import STEADY_WEIGHT

    strong = rep.steady_modes
    if not strong:
        return (f"no localized mode carries more than {100 * STEADY_WEIGHT:g}% of its weight on the probes: their "
                "motion radiates into the environment")
    m = strong[0]
    more = f" (and {len(strong) - 1} more)" if len(strong) > 1 else ""
    kind = rep.steady_pattern
    return (f"localized mode at ω = {m.frequency:.4g} ({m.side} the band, probe weight {m.probe_weight:.2g}, "
            f"{m.pattern}) keeps oscillating{more}" + (f": {kind.value} once the rest has decayed" if kind else ""))


def _clean(obj):
    """NaN/inf → None (strict JSON); tuples → lists."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _f(x, fmt=".4g", unit="") -> str:
    if x is None:
        return "—"
    s = format(x, fmt)
    return f"{s} {unit}".rstrip()


def format_report(report: dict, name: str = "") -> str:
    """The readable text report (units on every number)."""
    cfg = report["config"]
    pr = cfg["probes"]
    lines = [f"harmosync analyze {name}".rstrip()]
    envd = cfg.get("chain") or cfg.get("graph")
    if "chain" in cfg:
        c = cfg["chain"]
        lines.append(f"  chain: M = {plural(c['sites'], 'site')}, Ω0 = {c['omega0']:g} [ω], g = {c['g']:g} [ω²], "
                     f"{c.get('boundary', 'fixed')} ends")
    else:
        lines.append(f"  graph: {plural(envd['sites'], 'site')}")
    lines.append(f"  environment temperature T = {envd.get('temperature', 0.0):g} [ω] (k_B = 1): it sets the "
                 "covariances only; everything below concerns the means ⟨x⟩, ⟨p⟩ and holds at any T")
    lines.append(f"  probes: ω = {', '.join(f'{w:g}' for w in pr['frequencies'])} [ω]; λ = {pr.get('coupling', 0)} [ω²]; "
                 f"K = {pr['strengths']} [ω²] at sites {pr['sites']}")
    ct = report["characteristic_times"]
    if ct:
        lines += [
            "",
            "Characteristic times (dispersion ω² = Ω0² + 4g sin²(k/2)):",
            f"  band                        {_f(ct['band_1'])} … {_f(ct['band_2'])} [ω]",
            f"  max group velocity v_max    {_f(ct['group_velocity_max'])} [sites·ω] at ω* = {_f(ct['frequency_max_velocity'])} [ω]",
            "  group velocity at ω_i       " + ", ".join(_f(ct.get(f"group_velocity_{i}")) for i in range(1, 1 + len(pr["frequencies"])))
            + " [sites·ω] (— = outside the band)",
        ]
        lines.append(_crosstalk_line(ct, cfg))
        lines.append(f"  revival τ_R                 {_f(ct['tau_revival'])} [1/ω] (carrier), {_f(ct['tau_revival_front'])} [1/ω] "
                     f"(front) over {_f(ct['revival_distance'], 'g')} sites; paper's rough 2M/ω1 = {_f(ct['paper_tau_revival'])} [1/ω]")
    r = report["rayleigh"]
    if r:
        g = r["damping_matrix"]
        lines += [
            "",
            "Rayleigh analysis (Sec. III; Markov damping from the spectral density at Ω_s):",
            (f"  normal modes                θ = {_f(r['theta'])} [rad]; Ω1 = {_f(r['frequencies'][0])}, "
             f"Ω2 = {_f(r['frequencies'][1])} [ω]"),
            (f"  damping G′ (normal modes)   G′11 = {_f(g[0][0])}, G′22 = {_f(g[1][1])}, G′12 = {_f(g[0][1])} [ω]"
             "  (⟨q_s⟩ amplitude ∝ e^(−G′ss t/2))"),
            f"  gap |G′11 − G′22|           {_f(r['gap'])} [ω] (relative {_f(r['relative_gap'], '.3g')})",
            (f"  τ_S, Eq. (7)                {_f(r['tau_sync_eq7'])} [1/ω]; damped mode 10× below the survivor at "
             f"t = {_f(r['time_to_sync'])} [1/ω]"),
            (f"  prediction                  {r['kind']} (q{r['surviving_mode']} survives); "
             f"{'EXPECTED' if r['expected'] else 'not expected'}: {r['reason']}"),
            (f"  Ohmic limit, Eq. (9)        (1 + sin 2θ)/(1 − sin 2θ) = {_f(r['ohmic_ratio_eq9'])}"
             f"{'' if r['ohmic_applicable'] else ' (not this geometry)'}; G′11/G′22 here = {_f(r['damping_ratio'])}"),
            (f"  spectral model              {r['spectral_model']}; echoes within {_f(r['horizon'])} [1/ω] "
             f"({_f(r['paths_max_length'])} sites) count as damping"),
        ]
        if any(x is not None for x in r["exact_rates"]):
            lines.append(f"  exact continuum poles       Re ω = {_f(r['exact_frequencies'][0])}, {_f(r['exact_frequencies'][1])} [ω]; "
                         f"rates {_f(r['exact_rates'][0])}, {_f(r['exact_rates'][1])} [ω] (— = merged with the band edge)")
        lines.append(f"  validity                    {r['validity']} (weak-coupling parameter max G′/Ω = "
                     f"{_f(r['weak_coupling_parameter'], '.2g')})")
        if report["measured_rates"]:
            m = report["measured_rates"]
            lines.append(f"  fitted from exact dynamics  {_f(m[0])}, {_f(m[1])} [ω]")
        lines.append(f"  steady state                {r['steady_state']}")
    else:
        lines += ["", f"Rayleigh analysis: not done; it is the two-probe theory of Sec. III and this network has "
                      f"{len(pr['frequencies'])} probe{'s' if len(pr['frequencies']) != 1 else ''}"]
    loc = report["localized_modes"]
    lines += ["", "Localized normal modes (outside the environment's band):"]
    if not loc:
        lines.append("  none")
    for m in loc:
        amp = ", ".join(_f(a, '.3g') for a in m["probe_amplitudes"])
        tail = ""
        if m.get("steady_amplitude"):
            tail = "; keeps ⟨x_i⟩ amplitude " + ", ".join(_f(a, '.3g') for a in m["steady_amplitude"]) + " [ω^-1/2]"
        lines.append(f"  ω = {_f(m['frequency'])} [ω] ({m['side']} the band), probe amplitudes {amp}, "
                     f"weight {_f(m['probe_weight'], '.3g')}, decay length {_f(m['decay_length'], '.3g')} [sites]"
                     f"{', ' + m['pattern'] if m['pattern'] else ''}{tail}")
    return "\n".join(lines)


def _crosstalk_line(ct: dict, cfg: dict) -> str:
    """τ_CT between the probes of ``sync.probes``, or why there is none."""
    head = "  crosstalk τ_CT              "
    n = len(cfg["probes"]["frequencies"])
    if n < 2:
        return head + "— (one probe)"
    a, b = cfg.get("sync", {}).get("probes", [1, 2])
    pair = f"probes {a} and {b}" + (" (sync.probes)" if n > 2 else "")
    if ct.get("tau_crosstalk") is not None:
        return (head + f"{_f(ct['tau_crosstalk'])} [1/ω] (carrier), {_f(ct['tau_crosstalk_front'])} [1/ω] (front) "
                f"over {_f(ct['crosstalk_distance'], 'g')} sites between {pair}")
    sa, sb = (int(ct[f"probe_sites_{i}"]) for i in (a, b))
    if sa and sb:
        return head + f"— ({pair} share site {sa})"
    return head + f"— (probe {a if not sa else b} of {pair} is not plugged into the chain)"


# ----------------------------------------------------------------------------------------------
# analyze: the open system (baths)
# ----------------------------------------------------------------------------------------------
def _open_dict(rep_open, stop: float) -> dict:
    """The :class:`~harmosync.analysis.open.OpenReport` as data, with its reason in words and
    whether the predicted time to synchronize is within the config's run (``stop`` [1/ω])."""
    d = rep_open.as_dict()
    d["run_stop"] = stop
    d["within_run"] = bool(d["time_to_sync"] <= stop)
    d["reason"] = _open_reason_text(d)
    return d


def _open_reason_text(d: dict) -> str:
    """The open-system prediction in words."""
    from ..analysis.open import GAP_MIN
    from ..analysis.rayleigh import ONE_PROBE_LIMIT, SYNC_RATIO

    code, surv = d["reason_code"], d["survivor"]
    if code == "not-two-probes":
        return f"the pattern is a two-probe notion and this network has {len(surv['probe_weights']) if surv else 0} probe(s)"
    if code == "no-probe-mode":
        return "no mode carries weight on the probes"
    if code == "no-gap":
        return (f"no rate gap: the two slowest probe modes decay alike (relative difference ≤ {GAP_MIN:g}); "
                "neither outlives the other")
    if code == "one-probe-mode":
        return f"the surviving mode lives on one probe (√(w1·w2)/(w1 + w2) < {ONE_PROBE_LIMIT:g})"
    kind = "in phase" if d["verdict"] == "sync" else "in anti-phase"
    late = "" if d["within_run"] else f", after this run's last time {d['run_stop']:g}"
    return (f"the slowest probe mode moves the probes {kind} (phase {d['phase']:.3g} rad); the next one's amplitude "
            f"falls {SYNC_RATIO:g}× below it by t = ln {SYNC_RATIO:g}/gap = {d['time_to_sync']:.4g} [1/ω]{late}")


def _mode_line(m: dict) -> str:
    w = ", ".join(_f(x, ".3g") for x in m["probe_weights"])
    ph = m["probe_phases"][1:]
    tail = f", phase {', '.join(_f(x, '.3g') for x in ph)} [rad]" if ph else ""
    return f"rate {_f(m['rate'], '.5g')} [ω], ω = {_f(m['frequency'], '.5g')} [ω]; probe weights {w}{tail}"


def format_open_section(o: dict) -> list[str]:
    """The open system's section of the text report (``report["open"]``)."""
    from ..dynamics.open import PROBE_WEIGHT_MIN

    lines = ["", f"Open system ({o['baths']} [[baths]] table(s); eigenvalues λ = −rate + iω of the drift A, "
                 f"{o['modes']} modes; ⟨x⟩ ∝ e^(−rate·t)):"]
    if o["steady_state"]:
        lines.append(f"  slowest decay rate          {_f(o['slowest_rate'], '.5g')} [ω] (relaxation time "
                     f"{_f(1 / o['slowest_rate'] if o['slowest_rate'] else None)} [1/ω]); unique steady state")
    else:
        if o["noiseless_modes"]:
            lines.append(f"  noiseless modes             {len(o['noiseless_modes'])}: no unique steady state")
            lines += [f"    {_mode_line(m)}" for m in o["noiseless_modes"][:6]]
        if o["growing_modes"]:
            lines.append(f"  growing modes               {len(o['growing_modes'])} (rate < 0: the baths pump "
                         "energy into them): no steady state")
            lines += [f"    {_mode_line(m)}" for m in o["growing_modes"][:6]]
    skipped = o["skipped_slower_modes"]
    lines.append("  slowest modes on the probes" +
                 (f" ({skipped} slower mode(s) carry < {100 * PROBE_WEIGHT_MIN:g}% probe weight)" if skipped else ""))
    lines += [f"    {_mode_line(m)}" for m in o["slowest_modes"]]
    if not o["slowest_modes"]:
        lines.append("    none")
    gap = o["rate_gap"]
    lines.append(f"  rate gap                    {_f(gap, '.4g')} [ω] (1/gap = {_f(1 / gap if gap else None)} [1/ω])")
    lines.append(f"  prediction                  {o['verdict']}: {o['reason']}")
    return lines


def format_probes_alone(report: dict, name: str = "") -> str:
    """The text report of the probes alone with baths (no environment: only the open section)."""
    pr = report["config"]["probes"]
    lines = [f"harmosync analyze {name}".rstrip(),
             f"  probes alone: ω = {', '.join(f'{w:g}' for w in pr['frequencies'])} [ω]; "
             f"λ = {pr.get('coupling', 0)} [ω²]; no environment"]
    return "\n".join(lines + format_open_section(report["open"]))


def format_any_report(report: dict, name: str = "") -> str:
    """The text report: the closed analysis (if there is an environment), then the open section."""
    if report["prediction"] is None:
        return format_probes_alone(report, name)
    text = format_report(report, name)
    if report.get("open"):
        text += "\n" + "\n".join(format_open_section(report["open"]))
        text += ("\n  (with an environment the closed analysis above describes the transient up to τ_R; "
                 "the open modes, the long-time limit)")
    return text


def _open_dataset(ds, o: dict) -> None:
    """The open modes as variables of the report's Dataset (dimension open_mode, slowest first)."""
    if not o:
        return
    k = np.arange(1, len(o["rates"]) + 1)
    ds["open_rate"] = (("open_mode",), np.array(o["rates"], float), {"units": "[w]", "long_name": "-Re λ(A)"})
    ds["open_frequency"] = (("open_mode",), np.array(o["frequencies"], float), {"units": "[w]", "long_name": "Im λ(A)"})
    ds.coords["open_mode"] = k
    for key in ("rate_gap", "time_to_sync", "slowest_rate"):
        ds.attrs[f"open_{key}"] = o[key] if o[key] is not None else "nan"
    ds.attrs["open_verdict"] = o["verdict"]


def _report_dataset(report: dict):
    import xarray as xr

    from .. import io

    ds = xr.Dataset()
    r = report["rayleigh"]
    if r:
        def arr(v):
            return np.array(v, dtype=float)  # None → NaN
        ds = xr.Dataset(
            {
                "damping_matrix": (("mode", "mode2"), arr(r["damping_matrix"]), {"units": "[w]", "long_name": "G' (normal modes)"}),
                "damping_matrix_x": (("probe", "probe2"), arr(r["damping_matrix_x"]), {"units": "[w]", "long_name": "G (x basis, Eq. 6)"}),
                "system_frequency": (("mode",), arr(r["frequencies"]), {"units": "[w]"}),
                "exact_rate": (("mode",), arr([np.nan if x is None else x for x in r["exact_rates"]]), {"units": "[w]"}),
            },
            coords={"mode": [1, 2], "mode2": [1, 2], "probe": [1, 2], "probe2": [1, 2]},
        )
    if report["localized_modes"]:
        loc = report["localized_modes"]
        ds["localized_frequency"] = (("localized",), np.array([m["frequency"] for m in loc]), {"units": "[w]"})
        ds["localized_probe_amplitude"] = (("localized", "probe"), np.array([m["probe_amplitudes"] for m in loc]))
    _open_dataset(ds, report.get("open"))
    ds.attrs.update(io.provenance(report["config"]))
    flat = io.flatten({k: v for k, v in report.items() if k in ("characteristic_times", "rayleigh") and v},)
    ds.attrs.update({k: v for k, v in flat.items() if v is not None})
    ds.attrs["report_json"] = json.dumps(report)
    ds.attrs["title"] = "harmosync analyze"
    return ds


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the report as .json or .nc.")
@click.option("--horizon", type=float, help="Echoes returning within this time [1/ω] count as damping (default: automatic).")
@click.option("--check", is_flag=True, help="Also fit the decay rates from the exact dynamics (adds ~0.5 s for Fig. 1's 300 sites, "
              "~2 s for 3000).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing (only save).")
@handle_errors
@one_run
def analyze(config, output, horizon, check, overwrite, quiet):
    """Characteristic times, Rayleigh's synchronization condition and localized modes.

    Prints the chain's group velocity and the crosstalk and revival times, the probes' normal
    modes, the damping matrix G′ from the spectral density, the gap, τ_S of Eq. (7), whether
    (anti-)synchronization is expected, the Ohmic limit of Eq. (9), the exact continuum poles,
    and the normal modes outside the chain band. Same TOML as `simulate`. With [[baths]], also
    the open system: decay rates and frequencies of the drift's eigenvalues, the slowest modes
    on the probes, the rate gap and its prediction, noiseless modes (probes alone accepted).

    \b
    Example:
      harmosync analyze examples/fig1.toml -o fig1-analysis.json --check
    """
    from .. import config as cfgmod
    from .. import io
    from ..errors import HarmosyncError

    if output:
        if not output.endswith((".json", ".nc")):
            raise HarmosyncError(f"output {output!r} must end in .json or .nc")
        io.check_not_input(config, output)
        io.check_output_path(output, overwrite=overwrite)
    cfg = cfgmod.load(config)
    report = report_dict(build_report(cfg, horizon=horizon, check=check), cfg)
    if not quiet:
        click.echo(format_any_report(report, config))
    if output:
        if output.endswith(".json"):
            with io.atomic_path(output, overwrite=overwrite) as tmp:
                tmp.write_text(json.dumps(report, indent=2, allow_nan=False, ensure_ascii=False))
        else:
            io.write_netcdf(_report_dataset(report), output, overwrite=overwrite)
        if not quiet:
            click.echo(f"\nwrote {output}")


# ----------------------------------------------------------------------------------------------
# kernels
# ----------------------------------------------------------------------------------------------
def kernels_dataset(cfg, times, *, points: int = 2000):
    """xarray Dataset of the kernels (time), coefficients (bath_mode), spectral densities (omega)."""
    import xarray as xr

    from .. import io
    from ..analysis.summary import kernels_report

    rep = kernels_report(cfg.build_network(), times, points=points)
    kern = rep.kernels
    p = kern.coefficients.shape[0]
    modes = np.arange(1, p + 1)
    data = {
        "kernel": (("time", "mode", "mode2"), kern.matrix,
                   {"units": "[w]^2", "long_name": "Gamma'_ss'(t) = sum_j c_s(j) c_s'(j)/Omega_j^2 cos(Omega_j t), Eqs. A12, A13"}),
        "gamma1": (("time",), kern.gamma1, {"units": "[w]^2", "long_name": "gamma_1(t), Eq. 4"}),
        "coefficient": (("mode", "bath_mode"), kern.coefficients, {"units": "[w]^2", "long_name": "c_s(j), Eqs. A9, A10 (generalised)"}),
        "bath_frequency": (("bath_mode",), kern.bath_frequencies, {"units": "[w]", "long_name": "Omega_j, Eq. A8"}),
        "spectral_weight": (("mode", "mode2", "bath_mode"), kern.spectral_weights(),
                            {"units": "[w]^3", "long_name": "(pi/2) c_s c_s'/Omega_j: J = sum_j weight delta(w - Omega_j)"}),
        "spectral_density": (("omega", "mode", "mode2"), rep.spectral_density,
                             {"units": "[w]^2", "long_name": "J_ss'(w), discrete weights smoothed by a Gaussian", "width": rep.width}),
        "system_frequency": (("mode",), kern.system_frequencies, {"units": "[w]", "long_name": "Omega_s, Eq. A7"}),
        "rotation": (("mode", "probe"), kern.rotation, {"long_name": "q = R x, Eqs. A4, A5"}),
    }
    if p >= 2:
        data["gamma2"] = (("time",), kern.gamma2, {"units": "[w]^2", "long_name": "gamma_2(t), Eq. 4"})
        data["eta"] = (("time",), kern.eta, {"units": "[w]^2", "long_name": "eta(t), Eq. 5"})
    attrs = {"theta": kern.theta}
    if rep.continuum_spectral_density is not None:
        data["continuum_spectral_density"] = (("omega", "mode", "mode2"), rep.continuum_spectral_density, {
            "units": "[w]^2", "long_name": "J_ss'(w), closed-form continuum limit (images) used by the Rayleigh analysis",
            "horizon": rep.horizon, "paths_max_length": rep.paths_max_length})
    om = rep.omega
    coords = {"time": kern.times, "mode": modes, "mode2": modes, "probe": modes,
              "bath_mode": np.arange(1, kern.bath_frequencies.size + 1), "omega": om}
    ds = xr.Dataset(data, coords=coords)
    ds["time"].attrs["units"] = "1/[w]"
    ds["omega"].attrs["units"] = "[w]"
    ds.attrs.update(io.provenance(cfg.to_dict()))
    ds.attrs.update({k: (v if np.isfinite(v) else "nan") for k, v in attrs.items()})
    ds.attrs["title"] = "harmosync kernels"
    if cfg.baths:
        ds.attrs["baths"] = BATHS_LEFT_OUT
    return ds


#: what `kernels` says of a config's [[baths]] (on stderr and in the file's attributes)
BATHS_LEFT_OUT = ("not included: these are the closed environment's kernels (Eqs. 4, 5); the [[baths]] "
                  "tables' Markovian damping and noise add to them (see `harmosync analyze`)")


@click.command(short_help="Langevin kernels γ1, γ2, η and spectral densities: save and plot.")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Plot γ1, γ2, η and J(ω) (PNG, PDF or SVG).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the kernels to NetCDF.")
@click.option("--stop", type=float, help="Last time [1/ω] (default: the config's time.stop).")
@click.option("--step", type=float, help="Time step [1/ω] (default: the config's time.step).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@handle_errors
@one_run
def kernels(config, plot_path, output, stop, step, overwrite, quiet):
    """Langevin kernels γ1(t), γ2(t), η(t) (Eqs. 4, 5), coefficients c_s(j), spectral densities.

    Any plugging sites and strengths; the kernels are those of the probes' normal modes
    q = R x (Appendix A). Same TOML as `simulate`. They are the closed environment's: a
    config's [[baths]] are left out, with a warning and a `baths` attribute in the file.

    \b
    Example:
      harmosync kernels examples/fig1.toml --plot kernels.png -o kernels.nc --stop 100
    """
    from .. import config as cfgmod
    from .. import io
    from ..errors import HarmosyncError

    if not plot_path and not output:
        raise HarmosyncError("nothing to do: give --plot OUT.png and/or -o OUT.nc")
    io.check_suffix(output, io.NETCDF_SUFFIXES, "output")
    io.check_suffix(plot_path, io.IMAGE_SUFFIXES, "--plot")
    io.check_not_input(config, plot_path, output)
    for path in (plot_path, output):
        if path:
            io.check_output_path(path, overwrite=overwrite)
    io.check_distinct(plot_path, output)
    cfg = cfgmod.load(config)
    stop = cfg.time.stop if stop is None else stop
    step = cfg.time.step if step is None else step
    if not (math.isfinite(stop) and stop > 0):
        raise HarmosyncError(f"--stop must be a positive time [1/ω], got {stop}")
    if not (math.isfinite(step) and 0 < step < stop):
        raise HarmosyncError(f"--step must be positive and shorter than --stop = {stop:g}, got {step}")
    n = math.floor(stop / step + 1e-9)
    if n > 2_000_000:
        raise HarmosyncError(f"{n:.3g} time points is too many (at most 2e6); use a larger --step or a shorter --stop")
    env = cfg.build_network().environment
    if env.sites == 0:
        raise HarmosyncError("the Langevin kernels are those of an environment, and this config has none (probes "
                             "alone); add a [chain] or [graph], or see the baths' damping with `harmosync analyze`")
    wmax = float(env.frequencies()[-1])
    if step >= np.pi / wmax:
        raise HarmosyncError(f"--step {step:g} aliases the fastest bath mode (frequency {wmax:.4g}); use step < {np.pi / wmax:.4g}")
    ds = kernels_dataset(cfg, step * np.arange(n + 1))
    if cfg.baths:
        click.echo(f"harmosync: warning: the config's [[baths]] are {BATHS_LEFT_OUT}", err=True)
    times = ds.time.values
    if output:
        io.write_netcdf(ds, output, overwrite=overwrite)
    if plot_path:
        from ..plot.kernels import kernels_figure

        kernels_figure(ds, plot_path, overwrite=overwrite)
    if not quiet:
        g0 = ds.kernel.isel(time=0).values
        click.echo(f"kernels to t = {times[-1]:g} [1/ω] ({plural(times.size, 'time')}, {plural(ds.sizes['bath_mode'], 'bath mode')}); "
                   f"Γ′(0) diagonal = {', '.join(f'{x:.4g}' for x in np.diag(g0))} [ω²]")
        for path in (output, plot_path):
            if path:
                click.echo(f"wrote {path}")
