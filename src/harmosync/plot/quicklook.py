"""Quick-look figure of a ``simulate`` result."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np  # noqa: E402


def moments(ds, *, ax=None):
    """⟨x_i(t)⟩ of every probe."""
    ax = ax or plt.gca()
    for i in ds.probe.values:
        ax.plot(ds.time, ds.x.sel(probe=i), lw=0.7, label=f"⟨x{i}⟩")
    ax.set_ylabel("⟨x⟩  [ω⁻¹ᐟ²]")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def sync(ds, *, ax=None, name="sync"):
    """C(t, Δt) in [−1, 1]."""
    ax = ax or plt.gca()
    ax.plot(ds.time, ds[name], lw=0.8, color="k")
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_ylabel(f"C (Δt = {ds[name].attrs.get('window', np.nan):g})")
    return ax


def correlations(ds, *, ax=None):
    """Mutual information and log negativity [nats]."""
    ax = ax or plt.gca()
    ax.plot(ds.time, ds.mutual_information, lw=0.8, label="mutual information")
    ax.plot(ds.time, ds.log_negativity, lw=0.8, label="log negativity")
    ax.set_ylabel("[nats]")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def quicklook(ds, path, *, overwrite: bool = False, fmt: str | None = None):
    """Moments, C of the means and of ⟨x²⟩, correlations; written atomically (``fmt``: png,
    pdf or svg; default from the file name)."""
    from ..io import atomic_path

    has_pair = "sync" in ds
    rows = 4 if has_pair else 1
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.2 * rows), sharex=True, squeeze=False)
    axes = axes[:, 0]
    moments(ds, ax=axes[0])
    if has_pair:
        sync(ds, ax=axes[1])
        sync(ds, ax=axes[2], name="sync_variance")
        axes[2].set_ylabel("C of ⟨x²⟩")
        correlations(ds, ax=axes[3])
    axes[-1].set_xlabel("t  [1/ω]")
    fig.suptitle("harmosync simulate (ħ = 1, unit masses)", fontsize="small")
    fig.tight_layout()
    suffix = fmt or str(path).rsplit(".", 1)[-1].lower()
    suffix = suffix if suffix in ("png", "pdf", "svg") else "png"
    try:
        if str(path).endswith(".partial"):  # already a temporary file of the caller's
            fig.savefig(path, format=suffix, dpi=120)
        else:
            with atomic_path(path, overwrite=overwrite) as tmp:
                fig.savefig(tmp, format=suffix, dpi=120)
    finally:
        plt.close(fig)
