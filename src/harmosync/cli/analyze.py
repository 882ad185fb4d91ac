"""``harmosync analyze CONFIG.toml`` (characteristic times, Rayleigh analysis, localized modes)
and ``harmosync kernels CONFIG.toml`` (Langevin kernels γ1, γ2, η and spectral densities)."""

from __future__ import annotations

import json
import math

import click
import numpy as np

from . import handle_errors

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
def _check_horizon(cfg, horizon: float) -> None:
    """Echo paths are counted up to ``horizon``; past the revival they are not damping, and their
    number grows without bound, so refuse a horizon beyond the revival time."""
    import math

    from ..errors import HarmosyncError

    net = cfg.build_network()
    limit = 1e4
    if net.environment.kind == "chain" and net.environment.g:
        from ..analysis.times import characteristic_times

        limit = characteristic_times(net).tau_revival_front
    if not (math.isfinite(horizon) and horizon > 0):
        raise HarmosyncError(f"--horizon {horizon:g} must be a positive time [1/ω]; give one ≤ {limit:.4g} or leave it automatic")
    if horizon > limit:
        raise HarmosyncError(f"--horizon {horizon:g} is beyond the revival time {limit:.4g} [1/ω]; "
                             f"give a horizon ≤ {limit:.4g} or leave it automatic")


def build_report(cfg, *, horizon=None, check=False) -> dict:
    """Everything ``harmosync analyze`` prints and saves, as a JSON-ready dict."""
    from .. import io
    from ..analysis import rayleigh as ry
    from ..analysis.times import characteristic_times
    from ..conventions import CONVENTIONS

    net = cfg.build_network()
    mean0 = cfg.build_state().probes.mean
    env = net.environment
    report: dict = {
        "title": "harmosync analyze",
        "harmosync_version": io.version(),
        "config": cfg.to_dict(),
        "conventions": CONVENTIONS,
        "units": UNITS,
        "characteristic_times": None,
        "rayleigh": None,
        "localized_modes": [],
        "measured_rates": None,
    }
    if env.kind == "chain" and env.g:
        report["characteristic_times"] = characteristic_times(net).as_dict()
    if net.n_probes == 2:
        res = ry.analyze(net, horizon=horizon, initial_mean=mean0)
        d = res.as_dict()
        report["localized_modes"] = d.pop("localized_modes")
        d.pop("times")
        report["rayleigh"] = d
        if check:
            report["measured_rates"] = [float(x) for x in ry.measure_decay_rates(net, horizon=horizon)]
    else:
        report["localized_modes"] = [_asdict(m) for m in ry.localized_modes(net, mean0)]
    return _clean(report)


def _asdict(m):
    from dataclasses import asdict

    return asdict(m)


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
        lines.append(f"  chain: M = {c['sites']} sites, Ω0 = {c['omega0']:g} [ω], g = {c['g']:g} [ω²], "
                     f"{c.get('boundary', 'fixed')} ends")
    else:
        lines.append(f"  graph: {envd['sites']} sites")
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
        if ct.get("tau_crosstalk") is not None:
            lines.append(f"  crosstalk τ_CT              {_f(ct['tau_crosstalk'])} [1/ω] (carrier), "
                         f"{_f(ct['tau_crosstalk_front'])} [1/ω] (front) over {_f(ct['crosstalk_distance'], 'g')} sites")
        else:
            why = "the probes share a site" if len(pr["frequencies"]) >= 2 else "one probe"
            lines.append(f"  crosstalk τ_CT              — ({why})")
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
@click.option("--check", is_flag=True, help="Also fit the decay rates from the exact dynamics (a few seconds).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing (only save).")
@handle_errors
def analyze(config, output, horizon, check, overwrite, quiet):
    """Characteristic times, Rayleigh's synchronization condition and localized modes.

    Prints the chain's group velocity and the crosstalk and revival times, the probes' normal
    modes, the damping matrix G′ from the spectral density, the gap, τ_S of Eq. (7), whether
    (anti-)synchronization is expected, the Ohmic limit of Eq. (9), the exact continuum poles,
    and the normal modes outside the chain band. Same TOML as `simulate`.

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
    if horizon is not None:
        _check_horizon(cfg, horizon)
    report = build_report(cfg, horizon=horizon, check=check)
    if not quiet:
        click.echo(format_report(report, config))
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
    from ..analysis import langevin as lg
    from ..analysis import rayleigh as ry

    net = cfg.build_network()
    kern = lg.kernels(net, times)
    p = net.n_probes
    modes = np.arange(1, p + 1)
    top = 1.1 * max(float(kern.bath_frequencies[-1]), float(kern.system_frequencies[-1]))
    om = np.linspace(0.0, top, points)
    width = kern.default_width()
    data = {
        "kernel": (("time", "mode", "mode2"), kern.matrix,
                   {"units": "[w]^2", "long_name": "Gamma'_ss'(t) = sum_j c_s(j) c_s'(j)/Omega_j^2 cos(Omega_j t), Eqs. A12, A13"}),
        "gamma1": (("time",), kern.gamma1, {"units": "[w]^2", "long_name": "gamma_1(t), Eq. 4"}),
        "coefficient": (("mode", "bath_mode"), kern.coefficients, {"units": "[w]^2", "long_name": "c_s(j), Eqs. A9, A10 (generalised)"}),
        "bath_frequency": (("bath_mode",), kern.bath_frequencies, {"units": "[w]", "long_name": "Omega_j, Eq. A8"}),
        "spectral_weight": (("mode", "mode2", "bath_mode"), kern.spectral_weights(),
                            {"units": "[w]^3", "long_name": "(pi/2) c_s c_s'/Omega_j: J = sum_j weight delta(w - Omega_j)"}),
        "spectral_density": (("omega", "mode", "mode2"), kern.spectral_density(om, width=width),
                             {"units": "[w]^2", "long_name": "J_ss'(w), discrete weights smoothed by a Gaussian", "width": width}),
        "system_frequency": (("mode",), kern.system_frequencies, {"units": "[w]", "long_name": "Omega_s, Eq. A7"}),
        "rotation": (("mode", "probe"), kern.rotation, {"long_name": "q = R x, Eqs. A4, A5"}),
    }
    if p >= 2:
        data["gamma2"] = (("time",), kern.gamma2, {"units": "[w]^2", "long_name": "gamma_2(t), Eq. 4"})
        data["eta"] = (("time",), kern.eta, {"units": "[w]^2", "long_name": "eta(t), Eq. 5"})
    env = net.environment
    attrs = {"theta": kern.theta}
    if env.homogeneous_chain and env.g:
        h, max_len = ry.model_horizon(net)
        j_site = lg.continuum_spectral_density(net, om, max_length=max_len)
        cont = np.einsum("sa,wab,tb->wst", kern.rotation, j_site, kern.rotation)
        data["continuum_spectral_density"] = (("omega", "mode", "mode2"), cont, {
            "units": "[w]^2", "long_name": "J_ss'(w), closed-form continuum limit (images) used by the Rayleigh analysis",
            "horizon": h, "paths_max_length": max_len})
    coords = {"time": kern.times, "mode": modes, "mode2": modes, "probe": modes,
              "bath_mode": np.arange(1, kern.bath_frequencies.size + 1), "omega": om}
    ds = xr.Dataset(data, coords=coords)
    ds["time"].attrs["units"] = "1/[w]"
    ds["omega"].attrs["units"] = "[w]"
    ds.attrs.update(io.provenance(cfg.to_dict()))
    ds.attrs.update({k: (v if np.isfinite(v) else "nan") for k, v in attrs.items()})
    ds.attrs["title"] = "harmosync kernels"
    return ds


@click.command(short_help="Langevin kernels γ1, γ2, η and spectral densities: save and plot.")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Plot γ1, γ2, η and J(ω) (PNG, PDF or SVG).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Save the kernels to NetCDF.")
@click.option("--stop", type=float, help="Last time [1/ω] (default: the config's time.stop).")
@click.option("--step", type=float, help="Time step [1/ω] (default: the config's time.step).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@handle_errors
def kernels(config, plot_path, output, stop, step, overwrite, quiet):
    """Langevin kernels γ1(t), γ2(t), η(t) (Eqs. 4, 5), coefficients c_s(j), spectral densities.

    Any plugging sites and strengths; the kernels are those of the probes' normal modes
    q = R x (Appendix A). Same TOML as `simulate`.

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
        raise HarmosyncError(f"{n} time points is too many; use a larger --step or a shorter --stop")
    wmax = float(cfg.build_network().environment.frequencies()[-1])
    if step >= np.pi / wmax:
        raise HarmosyncError(f"--step {step:g} aliases the fastest bath mode (frequency {wmax:.4g}); use step < {np.pi / wmax:.4g}")
    ds = kernels_dataset(cfg, step * np.arange(n + 1))
    times = ds.time.values
    if output:
        io.write_netcdf(ds, output, overwrite=overwrite)
    if plot_path:
        from ..plot.kernels import kernels_figure

        kernels_figure(ds, plot_path, overwrite=overwrite)
    if not quiet:
        g0 = ds.kernel.isel(time=0).values
        click.echo(f"kernels to t = {times[-1]:g} [1/ω] ({times.size} times, {ds.sizes['bath_mode']} bath modes); "
                   f"Γ′(0) diagonal = {', '.join(f'{x:.4g}' for x in np.diag(g0))} [ω²]")
        for path in (output, plot_path):
            if path:
                click.echo(f"wrote {path}")
