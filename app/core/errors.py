"""The one exception type for bad user input."""


class InputError(ValueError):
    """Raised when a file or an array given by the user cannot be used.

    The message always names the source (a file path, or the argument name) and the
    problem, e.g. ``"arm.obj: 3 vertices have NaN coordinates"``.

    Parameters
    ----------
    source : str
        File path or argument name the problem was found in.
    problem : str
        What is wrong, in words a user understands.
    """

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")
