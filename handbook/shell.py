"""A command as the bash text a reader pastes.

Words keep their ${NAME} references so that the reader's shell expands them from the
export block; everything else is quoted so that bash hands the CLI exactly the
argv that apply.py passes without a shell. tests/proof/test_shell_equivalence.py runs the
text through a real bash to prove it.
"""

from __future__ import annotations

import re
import shlex

from .steps import HEREDOC_DELIMITER, Command
from .variables import REFERENCE

_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def quote_word(word: str) -> str:
    if word == "":
        return "''"
    literals = REFERENCE.split(word)[::2]  # split() interleaves literals with captured names
    if len(literals) == 1:
        return word if _SAFE.fullmatch(word) else shlex.quote(word)
    if all(part == "" or _SAFE.fullmatch(part) for part in literals):
        return word
    out: list[str] = []
    position = 0
    for match in REFERENCE.finditer(word):
        out.append(_escape_in_double_quotes(word[position : match.start()]))
        out.append(match.group(0))
        position = match.end()
    out.append(_escape_in_double_quotes(word[position:]))
    return '"' + "".join(out) + '"'


def _escape_in_double_quotes(text: str) -> str:
    return re.sub(r'([\\"$`])', r"\\\1", text)


def command_text(command: Command) -> str:
    """One line of bash, followed by a heredoc when the command reads standard input."""
    line = " ".join(quote_word(word) for word in command.argv)
    if command.stdin is None:
        return line
    body = command.stdin if command.stdin.endswith("\n") else command.stdin + "\n"
    return f"{line} <<{HEREDOC_DELIMITER}\n{body}{HEREDOC_DELIMITER}"
