"""Tools that answer questions from the decision log: what happened in an incident, the story of
one request, what another policy would have done, and whether a policy file makes sense.

    reader     JSON-lines logs (rotated files too) merged in time order; torn lines skipped
    recorded   events grouped into requests, attempts and router sessions
    incidents  counts, recycles, breakers, timeline, slowest, sticky documents, degraded requests
    trail      everything about one request, across the router's and its workers' processes
    replay     re-deciding recorded requests under another policy (simulate: one request)
    lint       findings about a policy file; diff: what differs between two
"""
