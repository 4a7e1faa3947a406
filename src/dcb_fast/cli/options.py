"""Option groups shared by several commands, as plain decorators, and the error translation."""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings

import click

from .gates import fail_under_option


class Command(click.Command):
    """A command where an option that takes one value is an error when given twice (click keeps
    the last one silently: ``-a x -a y`` would act on ``y`` alone). Flags and list options
    (see :func:`list_option`) may repeat."""

    def parse_args(self, ctx, args):
        if not ctx.resilient_parsing:
            _, _, order = self.make_parser(ctx).parse_args(args=list(args))
            seen = set()
            for param in order:
                single = isinstance(param, click.Option) and not (param.multiple or param.count or param.is_flag)
                if single and param.name in seen:
                    names = "/".join(param.opts)
                    raise click.UsageError(f"option {names} is given more than once; it takes one value, give it once",
                                           ctx)
                seen.add(param.name)
        return super().parse_args(ctx, args)


def split_names(value: str) -> list[str]:
    """Column names from one comma-separated option value (spaces around names are dropped). A
    name that contains a comma is written in double quotes, as in a CSV header:
    ``-e '"price, usd",lang'``; a double quote inside quotes is doubled.

    >>> split_names('lang, domain')
    ['lang', 'domain']
    >>> split_names('"price, usd",lang')
    ['price, usd', 'lang']
    """
    import csv

    try:
        row = next(csv.reader([value], skipinitialspace=True, strict=True))
    except (csv.Error, StopIteration):
        raise click.BadParameter(f"cannot read column names from '{value}': an unbalanced double quote; "
                                 "quote a name with a comma as \"a,b\" and double a quote inside it") from None
    items = [v.strip() for v in row]
    if not items or any(not v for v in items):
        raise click.BadParameter(f"empty name in '{value}'; give comma-separated column names")
    return items


def _csv_list(ctx, param, value):
    """A list option: comma-separated names, and repeats accumulate (``-e a -e b`` = ``-e a,b``)."""
    if value is None or value == ():
        return None
    values = [value] if isinstance(value, str) else list(value)
    return [name for v in values for name in split_names(v)]


def list_option(*decls, **kwargs):
    """An option that takes comma-separated column names and may be repeated (the lists join)."""
    return click.option(*decls, multiple=True, callback=_csv_list, **kwargs)


def columns(fn):
    """--evidence, --action, --weight, --nulls, --rule."""
    for opt in reversed([
        list_option("--evidence", "-e", required=True, metavar="COLS",
                    help="Evidence columns, comma-separated or repeated (their joint value is the fiber key); "
                         'quote a name that holds a comma: \'"a,b",c\'.'),
        click.option("--action", "-a", required=True, metavar="COL", help="The action (decision) column."),
        click.option("--weight", "-w", default=None, metavar="COL",
                     help="Weight column: traffic each row stands for (non-negative, finite)."),
        click.option("--nulls", type=click.Choice(["drop", "value"]), default="drop", show_default=True,
                     help="Drop rows with a null evidence or action value (counted), or keep null as a value."),
        click.option("--rule", "rules", multiple=True, metavar="COL=RULE",
                     help="Fiber rule for a numeric evidence column: exact, edges:E1,E2,..., width:W[,ORIGIN]. Repeatable."),
    ]):
        fn = opt(fn)
    return fn


def _column_types(ctx, param, value):
    out = {}
    for item in value or ():
        col, sep, typ = item.rpartition("=")
        if not sep or not col.strip() or not typ.strip():
            raise click.BadParameter(f"'{item}' is not COL=TYPE (e.g. code=string)")
        out[col.strip()] = typ.strip()
    return out


column_type_option = click.option(
    "--column-type", "column_types", multiple=True, callback=_column_types, metavar="COL=TYPE",
    help="Type of a CSV column instead of the one inferred from its first rows (string, int64, float64, bool, "
         "date32, ...). Repeatable.")


def reading(fn):
    """--batch-rows, --threads, --quiet, --column-type."""
    for opt in reversed([
        column_type_option,
        click.option("--batch-rows", type=click.IntRange(min=1), default=1 << 20, show_default=True,
                     help="Rows per batch read from the input (memory per batch)."),
        click.option("--threads", "-j", type=click.IntRange(min=1), default=None,
                     help="Worker threads [default: DCB_FAST_THREADS or the usable CPUs]."),
        click.option("--quiet", "-q", is_flag=True, help="No progress or notes on stderr."),
    ]):
        fn = opt(fn)
    return fn


def parse_rules(items) -> dict:
    out = {}
    for item in items or ():
        col, sep, rule = item.partition("=")
        if not sep or not col.strip() or not rule.strip():
            raise click.BadParameter(f"'{item}' is not COL=RULE (e.g. score=width:0.1)", param_hint="--rule")
        out[col.strip()] = rule.strip()
    return out


def handle_errors(fn):
    """Library errors become one ``Error: ...`` line and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..errors import DcbError
        from ..io import result_dir

        result_dir.committed.clear()
        try:
            from ..io.sources import column_types

            with input_notes(kwargs.get("quiet", False)), column_types(kwargs.pop("column_types", None) or {}):
                return fn(*args, **kwargs)
        except DcbError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo(interrupt_message(result_dir.committed), err=True)
            sys.exit(130)
        except MemoryError:
            raise click.ClickException(
                "out of memory: the input has more distinct fibers than fit; audit fewer evidence columns, "
                "use coarser rules, or run on a larger machine") from None

    return wrapper


@contextlib.contextmanager
def input_notes(quiet: bool):
    """The library's notes (``InputNote`` warnings: files skipped in an input directory, an output
    name that shadows a package) become ``note: ...`` lines on stderr, each once; other warnings
    show as usual."""
    from ..io.sources import InputNote

    with warnings.catch_warnings():
        shown, said = warnings.showwarning, set()

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, InputNote):
                if str(message) not in said:
                    said.add(str(message))
                    note(quiet, f"note: {message}")
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def interrupt_message(committed: list[str]) -> str:
    """What an interrupted command wrote: result directories are renamed into place whole, so
    each one is either the new complete set (listed) or still holds its previous set."""
    if not committed:
        return "Interrupted; no output was written (an existing --out directory keeps its previous results)."
    return ("Interrupted; complete results were written to " + ", ".join(committed)
            + " before the interrupt; nothing else was written.")


def note(quiet: bool, message: str) -> None:
    """A line for the user on stderr (logs never go to stdout)."""
    if not quiet:
        click.echo(message, err=True)


def fail_under(command: str):
    """--fail-under METRIC=VALUE[,...] (exit code 3 when a figure is below its floor; see ``cli.gates``)."""
    return fail_under_option(command)


def confidence(fn):
    """--confidence, --max-minority (statistical confidence of certification; ``confidence.py``)."""
    for opt in reversed([
        click.option("--confidence", type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True), default=0.95,
                     show_default=True,
                     help="Level of each fiber's minority_upper (Clopper-Pearson) and of the certified fraction's "
                          "interval (Wilson)."),
        click.option("--max-minority", type=click.FloatRange(0.0, 1.0, max_open=True), default=None, metavar="EPS",
                     help="Tolerant certification: certify a fiber when its support reaches --min-support and "
                          "minority_upper <= EPS [default: off, the strict rule]."),
    ]):
        fn = opt(fn)
    return fn
