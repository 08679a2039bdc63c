"""Tools that answer questions from the decision log: what happened in an incident, the story of
one request, what another policy would have done, and whether a policy file makes sense.

    reader      JSON-lines logs (rotated files too) merged in time order; torn lines skipped
    recorded    events grouped into requests, attempts and router sessions
    incidents   counts, recycles, breakers, timeline, slowest, poisoning documents, degraded requests
    trail       everything about one request, across the router's and its workers' processes
    replay      re-deciding recorded requests under another policy; the report
    simulate    one request walked through the new policy by the engine's decision core (router.core.decide)
    simstate    tier health and worker state between replayed requests; doubts
    projection  one recorded attempt under a new time limit or quality gate
    lint, diff  findings about a policy file; what differs between two
    schemadoc   docs/log-schema.md, rendered from router.observe.events

See docs/forensics.md.

Imports ``core`` (the decision core and health, for replay), ``observe`` and below; imported only by
the CLI.
"""
