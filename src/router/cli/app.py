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

POLICY_HELP = (
    "Policy file, or the name of a built-in policy (default, cpu) or of one in $DOCROUTE_POLICY_DIR. "
    "An invalid policy exits 2."
)
