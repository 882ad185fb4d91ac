"""Plots of the Langevin kernels γ1(t), γ2(t), η(t) (Eqs. 4, 5) and the spectral densities.

Each function takes the Dataset written by ``harmosync kernels`` (or built by
``harmosync.cli.analyze.kernels_dataset``) and an optional ``ax``; it returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import labels as lb


def kernels(data, *, ax=None):
    """γ1(t), γ2(t) and η(t) [ω²] against t [ω⁻¹]."""
    ax = ax or plt.gca()
    styles = {"gamma1": (r"$\gamma_1(t)$", "k"), "gamma2": (r"$\gamma_2(t)$", "tab:red"),
              "eta": (r"$\eta(t)$", "tab:blue")}
    present = [n for n in styles if n in data]
    size = {n: float(np.nanmax(np.abs(data[n].values))) for n in present}
    for name in present:  # the smaller kernels on top, so that none hides another
        label, color = styles[name]
        ax.plot(data["time"], data[name], lw=0.8, color=color, label=label,
                zorder=3 + sorted(size.values(), reverse=True).index(size[name]))
    ax.set_xlim(float(data["time"][0]), float(data["time"][-1]))
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel(lb.label("time $t$", data["time"].attrs.get("units", "1/[w]")))
    ax.set_ylabel(lb.label("kernel", data["gamma1"].attrs.get("units", "[w]^2")))
    lb.legend_outside(ax)
    return ax


def spectral_density(data, *, ax=None):
    """J_ss(ω) of each probe normal mode [ω²]: smoothed discrete density (lines) and, for a
    homogeneous chain, the closed-form continuum limit used by the Rayleigh analysis (dashed);
    the normal-mode frequencies Ω_s are marked."""
    ax = ax or plt.gca()
    colors = ["k", "tab:red", "tab:green", "tab:purple"]
    om = data["omega"]
    for i, s in enumerate(data["mode"].values):
        c = colors[i % len(colors)]
        ax.plot(om, data["spectral_density"].sel(mode=s, mode2=s), lw=0.8, color=c, label=f"$J_{{{s}{s}}}$ (smoothed)")
        if "continuum_spectral_density" in data:
            ax.plot(om, data["continuum_spectral_density"].sel(mode=s, mode2=s), lw=0.8, ls="--", color=c,
                    label=f"$J_{{{s}{s}}}$ (continuum)")
        ax.axvline(float(data["system_frequency"].sel(mode=s)), color=c, lw=0.5, ls=":")
    ax.set_xlabel(lb.label(r"frequency $\omega$", om.attrs.get("units", "[w]")))
    ax.set_ylabel(lb.label(r"$J(\omega)$", data["spectral_density"].attrs.get("units", "[w]^2")))
    lb.legend_outside(ax)
    return ax


def kernels_plot(data):
    """The Figure of two panels: kernels and spectral densities."""
    fig, axes = plt.subplots(2, 1, figsize=(9.5, 6.5), layout="constrained")
    kernels(data, ax=axes[0])
    spectral_density(data, ax=axes[1])
    axes[0].set_title("Langevin kernels of the probes' normal modes, Eqs. (4), (5)", fontsize="medium", loc="left")
    axes[1].set_title("spectral densities of the chain seen by the probes' normal modes (dotted: $\\Omega_s$)",
                      fontsize="medium", loc="left")
    return fig


def kernels_figure(data, path, *, overwrite: bool = False):
    """:func:`kernels_plot` written atomically to ``path`` (PNG/PDF/SVG)."""
    from .maps import save_figure

    save_figure(kernels_plot(data), path, overwrite=overwrite, dpi=120)
