"""The Typer applications that command modules register on. Kept free of heavy imports."""

import typer

app = typer.Typer(
    name="docroute",
    help="Read business documents through a chain of models, OCR and rules, and never fall over.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Check, explain and compare policy files.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

#: Exit code when results could not be written (a full disk, a closed pipe): sysexits' EX_IOERR.
OUTPUT_ERROR_EXIT = 74
POLICY_HELP = (
    "Policy file, or the name of a built-in policy (default, cpu) or of one in $DOCROUTE_POLICY_DIR. "
    "An invalid policy exits 2."
)
#: Each router's Ray resources (--engine ray); by default derived from the policy (docs/scaling.md, "Sizing").
CPUS_HELP = "CPUs per router (--engine ray). Default: 1 + the policy's OCR slots."
GPUS_HELP = (
    "GPUs per router (--engine ray). Default: those the policy's model tiers name (gpu: N needs N + 1); "
    "0.5 puts two routers on each GPU."
)
MEMORY_HELP = (
    "Memory per router in GB (--engine ray). Default: from the policy (the router, its worker processes, "
    "its OCR slots)."
)
