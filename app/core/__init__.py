"""fieldrig.core: what every layer shares and nothing else.

Errors (:mod:`~fieldrig.core.errors`), progress and cancellation
(:mod:`~fieldrig.core.progress`), atomic writes (:mod:`~fieldrig.core.atomic`), SIGINT and
SIGTERM as exceptions until a command commits its outputs (:mod:`~fieldrig.core.interrupts`), reading
users' files (:mod:`~fieldrig.core.files`) and the names the CLI, batch, GUI and exports
agree on (:mod:`~fieldrig.core.vocabulary`). Standard library and numpy only; it imports
no other part of fieldrig.
"""
