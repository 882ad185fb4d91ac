"""Review s7 fuzz (not collected): normal_modes.thermal_slack against H_E's thermal state from
60-digit eigenpairs of V_E, on random graphs and defect chains (soft, symmetric/degenerate,
stiff, hot and cold), W̃ from spectrum.dense_spectrum. Prints max |err|/slack per case.
Usage: python tests/fuzz_s7_thermal.py START STOP"""

import sys

import numpy as np

from harmosync import network as nw
from harmosync.dynamics import normal_modes as nm
from harmosync.dynamics import spectrum as sp
from harmosync.states import environment_covariance
from reference_mp import environment_thermal_mp


def environment(rng):
    kind = str(rng.choice(["graph", "defect", "zero", "cycle", "star"]))
    omega0 = 10 ** rng.uniform(-7, 0)
    if kind == "graph":
        m = int(rng.integers(4, 14))
        a = np.triu(10 ** rng.uniform(-1, 2.5, (m, m)) * (rng.uniform(size=(m, m)) < 0.4), 1)
        a[np.arange(m - 1), np.arange(1, m)] = 10 ** rng.uniform(-1, 2.5, m - 1)
        on = np.full(m, omega0)
        on[rng.integers(0, m, int(rng.integers(0, 3)))] = rng.uniform(0.3, 3)
        return kind, nw.graph(a + a.T, on)
    if kind in ("cycle", "star"):  # symmetric: degenerate V_E modes
        m = int(rng.integers(4, 13))
        a = np.zeros((m, m))
        if kind == "cycle":
            a[np.arange(m), (np.arange(m) + 1) % m] = 1.0
        else:
            a[0, 1:] = 1.0
        g = 10 ** rng.uniform(-1, 2)
        return kind, nw.graph(g * (a + a.T), np.full(m, omega0))
    m = int(rng.integers(4, 16))
    on = np.full(m, omega0)
    on[rng.integers(0, m)] = 0.0 if kind == "zero" else rng.uniform(0.05, 3)
    return kind, nw.chain(m, omega0, 10 ** rng.uniform(-1, 3), str(rng.choice(["free", "fixed"])),
                          onsite_frequencies=on)


def run(seed):
    rng = np.random.default_rng(55000 + seed)
    kind, env = environment(rng)
    m = env.sites
    net = nw.couple(env, nw.probes([1.0], 0.0, [int(rng.integers(1, m + 1))], [1e-3]))
    temp = 0.0 if rng.uniform() < 0.25 else 10 ** rng.uniform(-3, 3)
    sites = sorted(set(int(x) for x in rng.integers(0, m, int(rng.integers(1, 4)))))
    rows = tuple([0] + [1 + s for s in sites])
    spec = sp.dense_spectrum(net, rows, None)
    om, w = np.sqrt(spec.env_d), spec.env_rows
    got = environment_covariance(om, w, temp)
    refined = (spec.env_residual, spec.env_rounding[0]) if spec.env_residual is not None else None
    worst = 0.0
    for power, block, exact in zip((-1, 1), got, environment_thermal_mp(net, temp, sites)):
        slack = nm.thermal_slack(om, w, temp, power, refined=refined)
        worst = max(worst, float(np.max(np.abs(block - exact) / slack)))
    return kind, m, float(om[0]), temp, refined is not None, worst


if __name__ == "__main__":
    for seed in range(int(sys.argv[1]), int(sys.argv[2])):
        try:
            kind, m, om0, temp, refined, worst = run(seed)
        except Exception as e:  # noqa: BLE001
            print(f"seed {seed}: {type(e).__name__}: {str(e)[:160]}", flush=True)
            continue
        print(f"seed {seed} {kind} M={m} Ω_E0={om0:.3g} T={temp:.3g} refined={refined} err/slack {worst:.3g}"
              f"{' BAD' if worst > 1 else ''}", flush=True)
