"""The one exception type the library raises for bad input or bad usage."""


class DcbError(Exception):
    """A problem with the user's input or options, stated in one line with the fix.

    The CLI prints it as ``Error: <message>`` and exits with code 1, without a traceback.
    """
