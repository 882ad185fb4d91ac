"""Compare two trees' outputs variable by variable (values, attributes), for refactors that must keep results.

    python benchmarks/compare_outputs.py BEFORE_DIR AFTER_DIR

Reads every *.nc and *.zarr under BEFORE_DIR and the same path under AFTER_DIR; prints
IDENTICAL or, per variable, the largest |difference| and any attribute that changed. The
renamed sweep dimension (window -> interval, store format 2) is mapped before comparing.
"""
import sys, warnings, numpy as np, xarray as xr, pathlib
warnings.filterwarnings("ignore")
a, b = map(pathlib.Path, sys.argv[1:3])
rename = {"window": "interval", "window_start": "interval_start", "window_stop": "interval_stop"}
def load(p):
    return xr.open_zarr(p) if p.suffix == ".zarr" else xr.open_dataset(p)
files = sorted([p.relative_to(a) for p in a.rglob("*.nc")] + [p.relative_to(a) for p in a.glob("*.zarr")])
for f in files:
    if not (b / f).exists():
        print(f, "MISSING"); continue
    x, y = load(a / f), load(b / f)
    if "interval" in y.dims and "window" in x.dims:
        x = x.rename({k: v for k, v in rename.items() if k in x.variables or k in x.dims})
    def same_attr(a, b):
        a, b = np.asarray(a), np.asarray(b)
        return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc" and b.dtype.kind in "fc")

    msgs = []
    for name in sorted(set(x.variables) | set(y.variables)):
        if name not in x.variables or name not in y.variables:
            msgs.append(f"var {name} only in {'after' if name in y.variables else 'before'}"); continue
        u, v = x[name].values, y[name].values
        if u.shape != v.shape: msgs.append(f"{name} shape {u.shape} vs {v.shape}"); continue
        if u.dtype.kind in "fc":
            same = np.array_equal(u, v, equal_nan=True)
            if not same:
                d = np.nanmax(np.abs(u - v)); msgs.append(f"{name} max|diff| = {d:.3g} (nan mismatch: {int((np.isnan(u) != np.isnan(v)).sum())})")
        elif not np.array_equal(u, v): msgs.append(f"{name} differs")
        ax, ay = x[name].attrs, y[name].attrs
        for k in sorted(set(ax) | set(ay)):
            if k not in ax or k not in ay or not same_attr(ax[k], ay[k]):
                msgs.append(f"attr {name}.{k}: {ax.get(k)!r} -> {ay.get(k)!r}")
    for k in sorted(set(x.attrs) | set(y.attrs)):
        if k in ("harmosync_version",): continue
        if k not in x.attrs or k not in y.attrs or not same_attr(x.attrs[k], y.attrs[k]):
            msgs.append(f"global attr {k}: {str(x.attrs.get(k))[:80]!r} -> {str(y.attrs.get(k))[:80]!r}")
    print(f, "IDENTICAL" if not msgs else "")
    for m in msgs: print("   ", m)
