"""Chaos drills: many requests through a real router whose tiers inject faults, then an audit.

``run_drill(policy, DrillSettings(...))`` returns a ``DrillReport``: answered, failed by class,
lost inputs, recycles, breaker transitions, child processes left, memory, latency. The policy is
the drill's own chain (``drill_policy``) or a user's with faulty stand-ins (``with_fault_stand_ins``).
``corpus.write_corpus`` writes the bad-input corpus the drill can mix in. ``docroute drill`` is the
command line; see the README's "Chaos drill" section.

Imports ``api``, ``core``, ``observe`` and below (and ``backends.testing`` for its faulty tiers and
synthetic receipts); imported by the CLI (``docroute drill``) and benches.
"""

from router.drill.faults import FaultSpecError, parse_faults
from router.drill.policies import drill_policy, with_fault_stand_ins
from router.drill.report import DrillReport
from router.drill.run import DrillSettings, run_drill

__all__ = [
    "DrillReport",
    "DrillSettings",
    "FaultSpecError",
    "drill_policy",
    "parse_faults",
    "run_drill",
    "with_fault_stand_ins",
]
