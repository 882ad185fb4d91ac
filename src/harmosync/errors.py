"""Errors that harmosync raises for bad input. Each message is one line: what is wrong, and the fix."""

from __future__ import annotations

import difflib


class HarmosyncError(ValueError):
    """Bad input: a parameter, state, network, time grid or file the user gave. CLI exit status 2."""


class UnstableNetworkError(HarmosyncError):
    """The total potential matrix is not positive definite: no ground state, unbounded motion."""


class UnstableEnvironmentError(UnstableNetworkError):
    """The environment alone has no ground state (or one too close to zero frequency to compute)."""


class UnphysicalStateError(HarmosyncError):
    """A covariance matrix that is not symmetric, not finite, or violates σ + iΩ/2 ≥ 0."""


class NumericalError(HarmosyncError):
    """A computed result failed a check (NaN/inf, or lost physicality beyond tolerance)."""


def suggest(name: str, choices) -> str:
    """' (did you mean "x"?)' for the closest of ``choices``, or ''."""
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{match[0]}"?)' if match else ""
