"""The decision core: the chain walk as one state machine (``decide``), the engine that drives it with real
attempts (``engine``), a tier at run time (``tiers``) and its health (``health``, ``breaker``), the quality gate
(``quality``), the runners that carry out attempts and turn a backend's exceptions into data (``runners``) and
what a request returns (``result``). Imports ``observe``, ``policy``, ``failures`` and backends' protocol;
never a surface (api, cli, service, batch, drill, scale)."""
