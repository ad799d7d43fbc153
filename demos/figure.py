"""One figure of the gallery: its PNG, a title, a caption (method, paper, equation) and the numbers
behind it."""
from dataclasses import dataclass, field


@dataclass
class Figure:
    file: str
    title: str
    caption: str
    numbers: dict = field(default_factory=dict)
