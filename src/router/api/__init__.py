"""The library surface: ``Router`` (``router``), reading a user's input into a document (``inputs``) and the
opt-in allocator settings of a long-running host (``memory``). Imports ``workers``, ``core`` and below;
imported by the other surfaces (cli, service, batch, drill, scale) and through ``from router import Router``."""
