"""One figure of the gallery: its PNG, a title, a caption (method, paper, equation), the numbers
behind it as shown on the page, and ``claims``: the measured values its caption rests on (plain
floats, ints or bools), written to ``claims.json`` beside the page so that tests can assert them.
The gallery adds ``code`` (the library calls that made it) and ``notebook`` (the lesson that
explains it; see ``demos.figure_code``)."""
from dataclasses import dataclass, field


@dataclass
class Figure:
    file: str
    title: str
    caption: str
    numbers: dict = field(default_factory=dict)
    claims: dict = field(default_factory=dict)
    code: str = ""
    notebook: str = None
