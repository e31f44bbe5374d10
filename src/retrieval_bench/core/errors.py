"""The errors a user fixes (a config key, an archive, a weights file): the
command line prints their message as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input, its message naming the problem and the fix."""
