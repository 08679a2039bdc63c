"""docroute on a Ray cluster (the optional extra ``docroute[ray]``).

Nothing else in ``router`` imports this package, and its modules import ``ray`` only inside the
functions that need it, so a machine without the extra never loads it. Only ``router.cli.ray`` (the
``--engine ray`` commands) imports it; it imports the service, batch, api and below.

The shape: one whole ``Router`` per Ray actor (batch) or Serve replica (service); docroute's own
worker processes, recycling, breakers and decision log stay inside it. Ray restarts an actor only
when its process dies, which a poisoned CUDA context inside a live router never causes.
"""
